//! The binary's edge: decisions on the path the router matches (percent-encoding, slashes), CORS,
//! the request-body deadline and per-address cap, the metrics listener, forwarded headers, host
//! resolution and HEAD. Paths a client library would normalise are sent over a raw socket.

use crate::helpers::*;
use gatehouse::Config;
use gatehouse_core::Api;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A response read off a raw socket.
#[derive(Debug)]
struct Raw {
    status: u16,
    head: String,
    body: String,
}

impl Raw {
    fn header(&self, name: &str) -> Option<String> {
        let prefix = format!("{}:", name.to_ascii_lowercase());
        self.head.lines().find_map(|l| {
            l.to_ascii_lowercase()
                .starts_with(&prefix)
                .then(|| l[prefix.len()..].trim().to_owned())
        })
    }
}

fn parse_raw(text: &str) -> Raw {
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    Raw {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

/// Sends `request` (a whole HTTP/1.1 message, which should say `Connection: close`) as written and
/// reads the answer until the server closes. A generous bound keeps a broken server from hanging
/// the suite; it is not a timing assertion.
async fn raw_on(port: u16, request: &str) -> Raw {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut out))
        .await
        .expect("the server answers and closes")
        .unwrap();
    parse_raw(&String::from_utf8_lossy(&out))
}

/// A JSON request as raw text.
fn raw_json(method: &str, target: &str, host: &str, body: &Value) -> String {
    let body = body.to_string();
    format!(
        "{method} {target} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// A second node over the same database with `[server]` changed by `tweak`.
async fn node_with(app: &TestApp, tweak: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    spawn_app_tweaked(app.backend, dir, app.db_url.clone(), "", tweak).await
}

const PASSWORD: &str = "edge-password-1";

// ---- 8.1: every decision is made on the path the router matches ----

/// Issue 8.1: `POST /%76%31/auth/signup` on an Appmixer-only tenant created a user and `POST /%75ser`
/// on a Tiledesk-only tenant returned a token, because the dialect switch read the raw path while
/// the router matched the decoded one. Now the switch is the gate of the scope the router chose.
async fn the_dialect_switch_is_decided_on_the_path_the_router_matches(app: TestApp) {
    app.create_tenant("onlyam", &["onlyam.test"], &[Api::Appmixer])
        .await;
    app.create_tenant("onlytd", &["onlytd.test"], &[Api::Tiledesk])
        .await;
    let td_signup = json!({"email": "enc@example.com", "password": PASSWORD, "firstname": "E", "lastname": "N"});
    for target in [
        "/%76%31/auth/signup",
        "/%76%33/auth/signup",
        "/v1/auth/%73ignup",
        "/%56%31/auth/signup",
        "/V1/auth/signup",
        "/v1%2Fauth/signup",
        "/v1%2fauth%2fsignup",
        "//v1/auth/signup",
        "/v1//auth/signup",
        "/v1/./auth/signup",
        "/v1/x/../auth/signup",
        "/v1/auth/signup/",
        "/v1/auth/signup?x=/user",
    ] {
        let r = raw_on(
            app.port,
            &raw_json("POST", target, "onlyam.test", &td_signup),
        )
        .await;
        assert_eq!(r.status, 404, "{target}: {r:?}");
        assert!(!r.body.contains("token"), "{target}: {r:?}");
    }
    let am_signup = json!({"username": "enc", "email": "enc@example.com", "password": PASSWORD});
    for target in [
        "/%75ser",
        "/%75ser/",
        "/%75%73%65%72",
        "/%75ser/auth",
        "/user/%61uth",
        "/User",
        "/user%2Fauth",
        "//user",
        "/user//auth",
        "/./user",
        "/users/../user",
    ] {
        let r = raw_on(
            app.port,
            &raw_json("POST", target, "onlytd.test", &am_signup),
        )
        .await;
        assert_eq!(r.status, 404, "{target}: {r:?}");
        assert!(!r.body.contains("token"), "{target}: {r:?}");
    }
    for slug in ["onlyam", "onlytd"] {
        let tenant = app.tenant(slug).await;
        assert_eq!(app.core.count_users(&tenant).await.unwrap(), 0, "{slug}");
    }
    // The router does decode `%75`: on a tenant that enables Appmixer, the same path is `/user`.
    let r = raw_on(
        app.port,
        &raw_json("POST", "/%75ser", "onlyam.test", &am_signup),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    // And a refused request is refused in the gateway's shape, naming the facade the router chose.
    let r = raw_on(
        app.port,
        &raw_json("POST", "/%76%31/auth/signup", "onlyam.test", &td_signup),
    )
    .await;
    let j: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(j["error"], "api_disabled", "{r:?}");
    assert!(j["message"].as_str().unwrap().contains("tiledesk"));
}

on_both!(the_dialect_switch_is_decided_on_the_path_the_router_matches);

// ---- 9.3: trailing slashes ----

/// Issue 9.3. Express's router is not strict by default ("When false, /foo and /foo/ are treated
/// the same by the router", express.Router `strict` option), and the dashboard calls
/// `PUT users/changepsw/` and `POST projects/`. The path is normalised before routing, so the
/// routes and every decision see the same path.
async fn trailing_slashes_are_ignored_as_express_does(app: TestApp) {
    let signup = json!({"email": "slash@example.com", "password": PASSWORD, "firstname": "S", "lastname": "L"});
    assert_eq!(
        app.post(DEMO, "/v1/auth/signup/", &signup).await.status,
        200
    );
    let token = app
        .token_of(
            DEMO,
            "/v1/auth/signin/",
            &json!({"email": "slash@example.com", "password": PASSWORD}),
        )
        .await;
    let r = app
        .json(
            Method::POST,
            DEMO,
            "/v1/projects/",
            &json!({"name": "slashed"}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Before the password change, which ends the token.
    assert_eq!(app.get(DEMO, "/v1/users/", Some(&token)).await.status, 200);
    let r = app
        .json(
            Method::PUT,
            DEMO,
            "/v1/users/changepsw/",
            &json!({"oldpsw": PASSWORD, "newpsw": "edge-password-2"}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Appmixer too, and the gateway's own endpoints.
    let am = json!({"username": "slasher", "email": "slasher@example.com", "password": PASSWORD});
    assert_eq!(app.post(DEMO, "/user/", &am).await.status, 200);
    let am_token = app
        .token_of(
            DEMO,
            "/user/auth/",
            &json!({"username": "slasher", "password": PASSWORD}),
        )
        .await;
    let r = app
        .get(DEMO, "/user/", Some(&format!("Bearer {am_token}")))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(app.get("any.host", "/healthz/", None).await.status, 200);
}

on_both!(trailing_slashes_are_ignored_as_express_does);

// ---- 9.2: CORS ----

const ORIGIN: &str = "https://widget.example.com";

fn header(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn preflight(app: &TestApp, host: &str, path: &str, origin: &str) -> reqwest::Response {
    app.request(Method::OPTIONS, host, path)
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "authorization,content-type,x-requested-with",
        )
        .send()
        .await
        .unwrap()
}

/// Issue 9.2. tiledesk-server runs `app.use(cors())` for every route, and its own header block
/// says `Access-Control-Allow-Headers: Origin, X-Requested-With, Content-Type, Accept,
/// Authorization` (app.js); the `cors` package answers a preflight `204` (optionsSuccessStatus),
/// with methods `GET,HEAD,PUT,PATCH,POST,DELETE` and the request's own
/// `Access-Control-Request-Headers` reflected. No credentials are allowed.
async fn cors_preflights_are_answered_204_with_methods_and_requested_headers(app: TestApp) {
    for path in [
        "/v1/auth/signin",
        "/v3/auth/signinWithCustomToken",
        "/v1/users/changepsw",
        "/user/auth",
        "/users/count",
        "/config",
        // The mail routes (issue 12) and the audit read (issue 13) sit behind the same layer.
        "/v1/auth/requestresetpsw",
        "/v3/auth/resetpsw/some-code",
        "/user/forgot-password",
        "/forgot-password/reset",
        "/audit",
    ] {
        let r = preflight(&app, DEMO, path, ORIGIN).await;
        assert_eq!(r.status().as_u16(), 204, "{path}");
        let allow_origin = header(&r, "access-control-allow-origin").unwrap();
        assert!(allow_origin == ORIGIN || allow_origin == "*", "{path}");
        let methods = header(&r, "access-control-allow-methods").unwrap();
        for m in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            assert!(methods.contains(m), "{path}: {methods}");
        }
        let headers = header(&r, "access-control-allow-headers")
            .unwrap()
            .to_ascii_lowercase();
        for h in ["authorization", "content-type", "x-requested-with"] {
            assert!(headers.contains(h), "{path}: {headers}");
        }
        assert!(header(&r, "access-control-allow-credentials").is_none());
        assert!(r.text().await.unwrap().is_empty());
    }
}

on_both!(cors_preflights_are_answered_204_with_methods_and_requested_headers);

/// Issue 9.2: the browser reads an answer only with `Access-Control-Allow-Origin`, errors included
/// (the widget must see a 401 to sign in again).
async fn cors_allow_origin_is_on_normal_and_error_responses(app: TestApp) {
    let signup = json!({"username": "cors", "email": "cors@example.com", "password": PASSWORD});
    let with_origin = |rb: reqwest::RequestBuilder| rb.header("Origin", ORIGIN);
    let sends = [
        with_origin(app.request(Method::POST, DEMO, "/user").json(&signup)),
        with_origin(
            app.request(Method::POST, DEMO, "/user/auth")
                .json(&json!({"username": "cors", "password": PASSWORD})),
        ),
        with_origin(
            app.request(Method::POST, DEMO, "/user/auth")
                .json(&json!({"username": "cors", "password": "not-the-password"})),
        ),
        with_origin(app.request(Method::GET, DEMO, "/v1/users")),
        with_origin(
            app.request(Method::POST, DEMO, "/v1/auth/signin")
                .json(&json!({"email": "cors@example.com", "password": PASSWORD})),
        ),
        with_origin(
            app.request(Method::POST, DEMO, "/v1/auth/signin")
                .body("{bad json"),
        ),
        with_origin(app.request(Method::GET, DEMO, "/v1/no-such-route")),
        // Refusals of the mail and audit routes reach the page too.
        with_origin(app.request(Method::GET, DEMO, "/audit")),
        with_origin(
            app.request(Method::POST, DEMO, "/forgot-password/reset")
                .json(&json!({"code": "not-a-code", "password": PASSWORD})),
        ),
        with_origin(app.request(Method::GET, DEMO, "/v1/auth/checkpswresetkey/not-a-code")),
    ];
    let mut statuses = Vec::new();
    for rb in sends {
        let r = rb.send().await.unwrap();
        statuses.push(r.status().as_u16());
        let allow = header(&r, "access-control-allow-origin");
        assert!(
            allow.as_deref() == Some(ORIGIN) || allow.as_deref() == Some("*"),
            "{:?} {allow:?}",
            r.status()
        );
        assert!(header(&r, "access-control-allow-credentials").is_none());
    }
    // Appmixer refuses a wrong password with Boom's 403; Tiledesk with 401.
    assert_eq!(statuses[..4], [200, 200, 403, 401], "{statuses:?}");
    assert!(statuses[5] >= 400 && statuses[5] < 500, "{statuses:?}");
    for s in &statuses[7..] {
        assert!((400..500).contains(s), "{statuses:?}");
    }
}

on_both!(cors_allow_origin_is_on_normal_and_error_responses);

/// `CORS_ALLOWED_ORIGINS` narrows the default `*` to a list; an origin not on it gets no
/// `Access-Control-Allow-Origin` (so the browser withholds the answer), on preflights and
/// requests alike, and other tenants keep their own setting.
async fn cors_origins_a_tenant_does_not_allow_get_no_allow_origin(app: TestApp) {
    app.set(
        "demo",
        "CORS_ALLOWED_ORIGINS",
        "https://app.example.com, http://localhost:4200",
    )
    .await;
    let evil = "https://evil.example.com";
    let r = preflight(&app, DEMO, "/v1/auth/signin", evil).await;
    assert_ne!(r.status().as_u16(), 204);
    assert!(header(&r, "access-control-allow-origin").is_none());
    let r = app
        .request(Method::GET, DEMO, "/healthz")
        .header("Origin", evil)
        .send()
        .await
        .unwrap();
    assert!(header(&r, "access-control-allow-origin").is_none());
    let r = app
        .request(Method::POST, DEMO, "/user/auth")
        .header("Origin", evil)
        .json(&json!({"username": "x", "password": "y-y-y-y-y"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert!(header(&r, "access-control-allow-origin").is_none());
    for allowed in ["https://app.example.com", "http://localhost:4200"] {
        let r = preflight(&app, DEMO, "/v1/auth/signin", allowed).await;
        assert_eq!(r.status().as_u16(), 204);
        assert_eq!(
            header(&r, "access-control-allow-origin").as_deref(),
            Some(allowed)
        );
    }
    // globex keeps the default: any origin.
    let r = preflight(&app, GLOBEX, "/v1/auth/signin", evil).await;
    assert_eq!(r.status().as_u16(), 204);
    // A bad value is refused, through the admin API as through core.
    let t = app.tenant("demo").await;
    assert!(app
        .core
        .set_setting(&t, "CORS_ALLOWED_ORIGINS", "evil.example.com")
        .await
        .is_err());
}

on_both!(cors_origins_a_tenant_does_not_allow_get_no_allow_origin);

// ---- 8.3a: request bodies have a deadline; one address has a cap ----

/// Issue 8.3a: headers announcing a body and then no body (or a trickle) held a connection open
/// indefinitely. The body must arrive within `server.body_timeout_seconds`, else 408 and the
/// connection closes.
async fn a_body_that_does_not_arrive_in_time_is_answered_408(app: TestApp) {
    let node = node_with(&app, |c| c.server.body_timeout_seconds = 1).await;
    let head = "POST /user/auth HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 60000\r\n\r\n";
    let r = raw_on(node.port, head).await;
    assert_eq!(r.status, 408, "{r:?}");
    assert_eq!(r.header("connection").as_deref(), Some("close"), "{r:?}");
    // A trickle: a byte now and then never completes the body either.
    let mut s = TcpStream::connect(("127.0.0.1", node.port)).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    let (mut rd, mut wr) = s.split();
    let mut out = Vec::new();
    let trickle = async {
        // Stops once the server has closed the connection (the write fails).
        for _ in 0..40 {
            if wr.write_all(b" ").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    };
    // The read may end in a reset (our trailing bytes are unread when the server closes);
    // what was read before it is the answer.
    let _ = tokio::time::timeout(Duration::from_secs(30), async {
        tokio::join!(trickle, rd.read_to_end(&mut out))
    })
    .await
    .expect("the server answers and closes");
    let r = parse_raw(&String::from_utf8_lossy(&out));
    assert_eq!(r.status, 408, "{r:?}");
    // A body that does arrive is served as before.
    let r = raw_on(
        node.port,
        &raw_json(
            "POST",
            "/user/auth",
            DEMO,
            &json!({"username": "n", "password": "p-p-p-p-p"}),
        ),
    )
    .await;
    assert_eq!(r.status, 403, "{r:?}");
}

on_both!(a_body_that_does_not_arrive_in_time_is_answered_408);

/// Issue 8.3a: a cap on requests in flight per client address (`server.max_in_flight_per_ip`):
/// the (N+1)th held request from one address is refused at once, other addresses are served.
async fn the_per_address_cap_refuses_one_more_held_request_while_others_work(app: TestApp) {
    let node = node_with(&app, |c| {
        c.server.max_in_flight_per_ip = 2;
        c.server.body_timeout_seconds = 60;
        c.server.trust_forwarded_for = true;
    })
    .await;
    let held = |ip: &str| {
        format!("POST /user/auth HTTP/1.1\r\nHost: localhost\r\nX-Forwarded-For: {ip}\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{{")
    };
    let mut holders = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(("127.0.0.1", node.port)).await.unwrap();
        s.write_all(held("10.0.0.1").as_bytes()).await.unwrap();
        holders.push(s);
    }
    let probe = |ip: &'static str| {
        let node = &node;
        async move {
            node.send(
                node.request(Method::POST, DEMO, "/user/auth")
                    .header("X-Forwarded-For", ip)
                    .json(&json!({"username": "n", "password": "p-p-p-p-p"})),
            )
            .await
        }
    };
    // Both held requests are counted once the server has read their headers.
    assert!(eventually(10, || async { probe("10.0.0.1").await.status == 429 }).await);
    let refused = probe("10.0.0.1").await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.json()["error"], "too_many_requests");
    assert_eq!(probe("10.0.0.2").await.status, 403);
    assert_eq!(node.get(DEMO, "/healthz", None).await.status, 200);
    drop(holders);
    assert!(eventually(10, || async { probe("10.0.0.1").await.status == 403 }).await);
}

on_both!(the_per_address_cap_refuses_one_more_held_request_while_others_work);

// ---- 8.5: metrics ----

/// Issue 8.5: `/metrics` answered on any host, without auth. It now has its own listener
/// (`server.metrics_bind`, loopback by default, "" turns it off) and no tenant host serves it.
async fn metrics_are_served_only_on_their_own_listener(app: TestApp) {
    for host in [DEMO, GLOBEX, "unknown.example.org"] {
        let r = app.get(host, "/metrics", None).await;
        assert_eq!(r.status, 404, "{host}: {}", r.body);
        assert!(!r.body.contains("gatehouse_"), "{host}");
    }
    let m = app.metrics().await;
    assert_eq!(m.status, 200);
    assert!(m.body.contains("gatehouse_http_requests_total"));
    assert!(m.body.contains("gatehouse_hash_queue_depth"));
    let off = node_with(&app, |c| c.server.metrics_bind = String::new()).await;
    assert!(off.metrics_port.is_none());
    assert_eq!(off.get(DEMO, "/metrics", None).await.status, 404);
}

on_both!(metrics_are_served_only_on_their_own_listener);

/// Issue 8.5: the sign-in outcome counter told unknown accounts from wrong passwords, answering a
/// question the API refuses to answer. Both are now `failure`.
async fn signin_metrics_do_not_tell_unknown_accounts_from_wrong_passwords(app: TestApp) {
    let signup = json!({"username": "metric", "email": "metric@example.com", "password": PASSWORD});
    assert_eq!(app.post(DEMO, "/user", &signup).await.status, 200);
    for body in [
        json!({"username": "metric", "password": "not-the-password"}),
        json!({"username": "nobody-at-all", "password": "not-the-password"}),
    ] {
        assert_eq!(app.post(DEMO, "/user/auth", &body).await.status, 403);
    }
    let m = app.metrics().await.body;
    assert!(
        m.lines()
            .any(|l| l == r#"gatehouse_signins_total{outcome="failure"} 2"#),
        "{m}"
    );
    for leak in ["unknown_account", "wrong_password"] {
        assert!(!m.contains(leak), "{leak} in {m}");
    }
}

on_both!(signin_metrics_do_not_tell_unknown_accounts_from_wrong_passwords);

// ---- 8.6: forwarded headers ----

/// Issue 8.6: with `trust_forwarded_for` the client's own (leftmost) X-Forwarded-For entry was
/// taken, so prepending addresses escaped every per-address limit. The entry the trusted proxy
/// appended (the rightmost, or `server.trusted_hops` from the right) is taken now.
async fn forwarded_for_takes_the_address_the_trusted_proxy_added(app: TestApp) {
    let one = node_with(&app, |c| c.server.trust_forwarded_for = true).await;
    let two = node_with(&app, |c| {
        c.server.trust_forwarded_for = true;
        c.server.trusted_hops = 2;
    })
    .await;
    let signup = |node: &TestApp, i: u32, xff: &str| {
        node.request(Method::POST, DEMO, "/user")
            .header("X-Forwarded-For", xff)
            .json(&json!({"username": format!("xff{i}"), "email": format!("xff{i}@example.com"), "password": PASSWORD}))
    };
    within_one_rate_window().await;
    app.set("demo", "SIGNUP_PER_IP_PER_MINUTE", "1").await;
    for node in [&one, &two] {
        assert!(
            eventually(5, || async {
                node.tenant("demo").await.settings.signup_per_ip_per_minute == 1
            })
            .await
        );
    }
    assert_eq!(
        one.send(signup(&one, 1, "1.1.1.1, 9.9.9.9")).await.status,
        200
    );
    // The client changes what it sends; the proxy's entry is the same address: limited.
    assert_eq!(
        one.send(signup(&one, 2, "2.2.2.2, 9.9.9.9")).await.status,
        429
    );
    assert_eq!(
        one.send(signup(&one, 3, "1.1.1.1, 9.9.9.8")).await.status,
        200
    );
    // Two proxies: the outer one wrote the second entry from the right.
    assert_eq!(
        two.send(signup(&two, 4, "5.5.5.5, 8.8.8.8, 10.0.0.1"))
            .await
            .status,
        200
    );
    assert_eq!(
        two.send(signup(&two, 5, "6.6.6.6, 8.8.8.8, 10.0.0.2"))
            .await
            .status,
        429
    );
}

on_both!(forwarded_for_takes_the_address_the_trusted_proxy_added);

/// Issue 8.6, the same rule for X-Forwarded-Host: the host the trusted proxy appended names the
/// tenant, not one the client put before it.
async fn forwarded_host_takes_the_host_the_trusted_proxy_added(app: TestApp) {
    app.create_tenant("onlyam", &["onlyam.test"], &[Api::Appmixer])
        .await;
    let node = node_with(&app, |c| c.server.trust_forwarded_host = true).await;
    let probe = |xfh: &'static str| {
        let node = &node;
        async move {
            node.send(
                node.request(Method::GET, "ignored.example", "/v1/__probe__")
                    .header("X-Forwarded-Host", xfh),
            )
            .await
            .json()["error"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    assert!(eventually(5, || async { probe("onlyam.test").await == "api_disabled" }).await);
    assert_eq!(probe("onlyam.test, localhost").await, "not_found");
    assert_eq!(probe("localhost, onlyam.test").await, "api_disabled");
    assert_eq!(probe("localhost, nobody.example").await, "unknown_tenant");
}

on_both!(forwarded_host_takes_the_host_the_trusted_proxy_added);

// ---- 8.13: host resolution ----

/// Issue 8.13: patterns reached every tenant by slug, even one given explicit hosts (a tenant
/// that moved to its own domain stayed reachable on the shared one). A pattern now reaches only
/// tenants with no host of their own.
async fn host_patterns_reach_only_tenants_without_hosts(app: TestApp) {
    // acme has no host: the pattern serves it. globex and demo have hosts: it does not.
    assert_eq!(
        app.get(ACME, "/v1/__probe__", None).await.json()["error"],
        "not_found"
    );
    for host in ["api.globex.localhost", "api.demo.localhost"] {
        let r = app.get(host, "/v1/__probe__", None).await;
        assert_eq!(r.json()["error"], "unknown_tenant", "{host}: {}", r.body);
    }
    assert_eq!(
        app.get(GLOBEX, "/v1/__probe__", None).await.json()["error"],
        "not_found"
    );
}

on_both!(host_patterns_reach_only_tenants_without_hosts);

/// Issue 8.13, RFC 9112 section 3.2.2: "When an origin server receives a request with an
/// absolute-form of request-target, the origin server MUST ignore the received Host header field
/// (if any) and instead use the host information of the request-target."
async fn an_absolute_uri_host_wins_over_the_host_header(app: TestApp) {
    app.create_tenant("onlyam", &["onlyam.test"], &[Api::Appmixer])
        .await;
    let probe = |target: &str, host: &str| {
        format!("GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
    };
    let error = |r: Raw| {
        serde_json::from_str::<Value>(&r.body).unwrap()["error"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let r = raw_on(
        app.port,
        &probe("http://onlyam.test/v1/__probe__", "localhost"),
    )
    .await;
    assert_eq!(error(r), "api_disabled");
    let r = raw_on(
        app.port,
        &probe("http://localhost/v1/__probe__", "onlyam.test"),
    )
    .await;
    assert_eq!(error(r), "not_found");
    let r = raw_on(
        app.port,
        &probe("http://nobody.example:8080/v1/__probe__", "localhost"),
    )
    .await;
    assert_eq!(error(r), "unknown_tenant");
}

on_both!(an_absolute_uri_host_wins_over_the_host_header);

// ---- 8.14: HEAD ----

/// Issue 8.14: HEAD answered 404 on the operations endpoints and the GET routes, and health
/// checkers often probe with HEAD. Express serves HEAD on every GET route (without a body), and
/// so does hapi; so does Gatehouse now.
async fn head_is_served_like_get_without_a_body(app: TestApp) {
    let head = |path: &str, auth: &str| {
        format!("HEAD {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Connection: close\r\n\r\n")
    };
    for path in ["/healthz", "/readyz", "/openapi.json"] {
        let r = raw_on(app.port, &head(path, "")).await;
        assert_eq!(r.status, 200, "{path}: {r:?}");
        assert!(r.body.is_empty(), "{path}: {r:?}");
    }
    let port = app.metrics_port.unwrap();
    let r = raw_on(port, &head("/metrics", "")).await;
    assert_eq!((r.status, r.body.as_str()), (200, ""), "{r:?}");
    // The Tiledesk and Appmixer GET routes.
    let signup = json!({"email": "head@example.com", "password": PASSWORD, "firstname": "H", "lastname": "D"});
    assert_eq!(app.post(DEMO, "/v1/auth/signup", &signup).await.status, 200);
    let td = app
        .token_of(
            DEMO,
            "/v1/auth/signin",
            &json!({"email": "head@example.com", "password": PASSWORD}),
        )
        .await;
    let r = raw_on(
        app.port,
        &head("/v1/users", &format!("Authorization: {td}\r\n")),
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (200, ""), "{r:?}");
    let r = raw_on(app.port, &head("/v1/users", "")).await;
    assert_eq!((r.status, r.body.as_str()), (401, ""), "{r:?}");
    let am = app
        .token_of(
            DEMO,
            "/user/auth",
            &json!({"username": "head@example.com", "password": PASSWORD}),
        )
        .await;
    let r = raw_on(
        app.port,
        &head("/user", &format!("Authorization: Bearer {am}\r\n")),
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (200, ""), "{r:?}");
    // HEAD where only POST is served answers as GET does there (Appmixer: Boom's 405).
    let r = raw_on(app.port, &head("/user/auth", "")).await;
    assert_eq!((r.status, r.body.as_str()), (405, ""), "{r:?}");
}

on_both!(head_is_served_like_get_without_a_body);
