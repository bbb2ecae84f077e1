//! Real front ends in a real browser: headless Chromium, driven over WebDriver (chromedriver and
//! `fantoccini`), loads pages from ANOTHER origin (a tiny static server in the test) that call the
//! gateway as the Tiledesk widget and the Appmixer SDK do, with plain `fetch`, so every call is a
//! cross-origin request the browser lets through only if the CORS answers are right. The pages
//! write what they saw into the DOM; the test reads it back.
//!
//! Chromium and chromedriver must be installed (Debian: `chromium`, `chromium-driver`; `.ci/run`
//! installs them). Without them these tests FAIL: a browser test that skips proves nothing.

use crate::helpers::*;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

// ---- the browser ----

/// chromedriver on a free port, with its browser; killed when dropped.
pub(crate) struct Driver {
    child: Child,
    port: u16,
    profile: tempfile::TempDir,
}

/// chromedriver leads its own process group, so the browsers it started go with it even when a
/// test fails before closing its session.
impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

pub(crate) async fn start_driver() -> Driver {
    let port = free_port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "chromedriver could not start ({e}): install Debian's chromium and \
                 chromium-driver (apt-get install chromium chromium-driver; .ci/run does)"
            )
        });
    let driver = Driver {
        child,
        port,
        profile: tempfile::tempdir().expect("profile dir"),
    };
    let status = format!("http://127.0.0.1:{port}/status");
    let up = eventually(20, || {
        let status = status.clone();
        async move { reqwest::get(&status).await.is_ok() }
    })
    .await;
    assert!(up, "chromedriver did not answer on port {port}");
    driver
}

/// A fresh headless Chromium: its own empty profile, and nothing running in the background that
/// could reach the network on its own.
pub(crate) async fn browser(driver: &Driver) -> Client {
    let profile = driver.profile.path().display().to_string();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({"args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            format!("--user-data-dir={profile}"),
        ]}),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a Chromium session (is the chromium package installed?)")
}

// ---- the other origin ----

/// Serves `pages` (path, HTML) on 127.0.0.1 and a free port: another origin than the gateway's
/// `localhost`. Answers every request on its own task until the test ends.
async fn static_site(pages: Vec<(&'static str, String)>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let origin = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let pages = std::sync::Arc::new(pages);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let pages = pages.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head);
                let path = head.split_whitespace().nth(1).unwrap_or("/");
                let page = pages.iter().find(|(p, _)| *p == path);
                let (status, body) = match page {
                    Some((_, html)) => ("200 OK", html.clone()),
                    None => ("404 Not Found", String::new()),
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    origin
}

/// A page that runs `steps` (the body of an async function that fills `out`) and writes `out`
/// as JSON into `#result`, also when a step throws (a CORS refusal is a `TypeError` from fetch).
fn page(api: &str, steps: &str) -> String {
    format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><title>gatehouse browser test</title></head>
<body><pre id="result"></pre><script>
const API = "{api}";
async function call(method, path, headers, body) {{
  const r = await fetch(API + path, {{method, headers, body: body === undefined ? undefined : JSON.stringify(body)}});
  const text = await r.text();
  let json = null;
  try {{ json = JSON.parse(text); }} catch (e) {{}}
  return {{status: r.status, json, text}};
}}
(async () => {{
  const out = {{}};
  try {{
{steps}
  }} catch (e) {{
    out.error = String(e);
  }}
  const el = document.getElementById("result");
  el.textContent = JSON.stringify(out);
  el.setAttribute("data-done", "1");
}})();
</script></body></html>"#
    )
}

/// Loads `url` and returns what its script wrote.
async fn run_page(client: &Client, url: &str) -> Value {
    client.goto(url).await.expect("page loads");
    let el = client
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("#result[data-done]"))
        .await
        .expect("the page finishes");
    let text = el.text().await.expect("result text");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

// ---- the pages ----

/// What the chat widget does on every page load (chat21-web-widget's `signInWithCustomToken`,
/// also chat21-ionic and the dashboard's autologin): it posts the Tiledesk token it holds,
/// `Authorization: JWT ...`, Content-Type `application/json` and no body, to
/// `/auth/signinWithCustomToken`; tiledesk-server (routes/auth.js, the generic-audience branch)
/// answers `{success: true, token: <the same header token>, user}`. Then it reads the user.
const TILEDESK_STEPS: &str = r#"
    const json = {"Content-Type": "application/json"};
    let r = await call("POST", "/v1/auth/signin", json, {email: "widget@example.com", password: "widget-pass-1"});
    out.signin = r.status;
    const token = r.json && r.json.token;
    out.tokenScheme = token ? token.split(" ")[0] : null;
    r = await call("POST", "/v1/auth/signinWithCustomToken", {"Content-Type": "application/json", "Authorization": token});
    out.recheck = r.status;
    out.recheckSuccess = r.json && r.json.success;
    out.recheckEchoes = !!(r.json && r.json.token === token);
    r = await call("GET", "/v1/users", {"Authorization": (r.json && r.json.token) || token});
    out.users = r.status;
    out.email = r.json && r.json.email;
"#;

/// The Appmixer SDK's calls (docs.appmixer.com, User: "Sign-in User ... POST /user/auth", then
/// "Get Current User Information ... -H "Authorization: Bearer [ACCESS_TOKEN]"").
const APPMIXER_STEPS: &str = r#"
    let r = await call("POST", "/user/auth", {"Content-Type": "application/json"}, {email: "abc@example.com", password: "abc321"});
    out.auth = r.status;
    const token = r.json && r.json.token;
    r = await call("GET", "/user", {"Authorization": "Bearer " + token});
    out.user = r.status;
    out.username = r.json && r.json.username;
"#;

async fn real_browser_clients_work_across_origins(app: TestApp) {
    // The accounts, made the ordinary way: a Tiledesk agent, and the Appmixer docs' own example
    // (five-character minimum: `abc321` is valid).
    let r = app
        .post(
            DEMO,
            "/v1/auth/signup",
            &json!({"email": "widget@example.com", "password": "widget-pass-1",
                    "firstname": "Wid", "lastname": "Get"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app
        .post(
            DEMO,
            "/user",
            &json!({"username": "abc@example.com", "email": "abc@example.com", "password": "abc321"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // The demo tenant answers on `localhost`; the pages come from 127.0.0.1: another origin.
    let api = format!("http://localhost:{}", app.port);
    let site = static_site(vec![
        ("/tiledesk.html", page(&api, TILEDESK_STEPS)),
        ("/appmixer.html", page(&api, APPMIXER_STEPS)),
    ])
    .await;
    assert!(!site.starts_with(&api));

    let driver = start_driver().await;
    let client = browser(&driver).await;
    let tiledesk = run_page(&client, &format!("{site}/tiledesk.html")).await;
    let appmixer = run_page(&client, &format!("{site}/appmixer.html")).await;
    let _ = client.close().await;

    // Both pages at once, so a failure shows everything each page saw.
    assert_eq!(
        json!({"tiledesk": tiledesk, "appmixer": appmixer}),
        json!({
            "tiledesk": {"signin": 200, "tokenScheme": "JWT", "recheck": 200,
                         "recheckSuccess": true, "recheckEchoes": true, "users": 200,
                         "email": "widget@example.com"},
            "appmixer": {"auth": 200, "user": 200, "username": "abc@example.com"},
        }),
        "pages served from {site}, API at {api}"
    );
}

on_both!(real_browser_clients_work_across_origins);
