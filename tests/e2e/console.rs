//! The web console at `/console` on the admin listener: in a real headless Chromium (an operator
//! signs in, creates a tenant, closes its signup; a tenant admin sees only their tenant), and over
//! plain HTTP for what a browser hides (cookie attributes, CSRF refusals, the sign-in limit).
//!
//! With `GATEHOUSE_CONSOLE_SCREENSHOTS=DIR` the browser test saves its pages there as PNGs (how
//! docs/console/ was made).

use crate::browser::{browser, start_driver};
use crate::helpers::*;
use fantoccini::{Client, Locator};
use gatehouse_core::operator::OperatorNewUser;
use gatehouse_core::secret::Secret;
use serde_json::json;
use std::time::Duration;

async fn fill(c: &Client, css: &str, text: &str) {
    let el = c
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"));
    el.clear().await.ok();
    el.send_keys(text).await.expect("typed");
}

/// `act` on the first element matching `css`, once there is one. A navigation a click started
/// may replace the page between finding the element and acting on it (a stale element): then it
/// is found again on the new page.
async fn on_element<T, F, Fut>(c: &Client, css: &str, act: F) -> T
where
    F: Fn(fantoccini::elements::Element) -> Fut,
    Fut: std::future::Future<Output = Result<T, fantoccini::error::CmdError>>,
{
    let mut last = None;
    for _ in 0..20 {
        let el = c
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"));
        match act(el).await {
            Ok(out) => return out,
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css}: {last:?}")
}

/// Clicks the first element matching `css`.
async fn click(c: &Client, css: &str) {
    on_element(c, css, |el| async move { el.click().await }).await
}

/// The text of the first element matching `css`.
async fn text_of(c: &Client, css: &str) -> String {
    on_element(c, css, |el| async move { el.text().await }).await
}

async fn path_of(c: &Client) -> String {
    c.current_url().await.expect("url").path().to_owned()
}

/// The page's path once it is `want`, or whatever it is after 10 s: a click starts a navigation
/// that the browser may not have finished when the click returns.
async fn path_becomes(c: &Client, want: &str) -> String {
    for _ in 0..100 {
        let now = path_of(c).await;
        if now == want {
            return now;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    path_of(c).await
}

async fn screenshot(c: &Client, name: &str) {
    if let Ok(dir) = std::env::var("GATEHOUSE_CONSOLE_SCREENSHOTS") {
        let png = c.screenshot().await.expect("screenshot");
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        std::fs::write(std::path::Path::new(&dir).join(name), png).expect("screenshot written");
    }
}

async fn an_operator_and_a_tenant_admin_use_the_console_in_a_browser(app: TestApp) {
    let (_, key) = app.core.create_operator_key("console").await.unwrap();
    let console = |p: &str| app.admin_url(p);
    let driver = start_driver().await;
    let c = browser(&driver).await;
    c.set_window_size(1200, 900).await.ok();

    // Signed out, the console sends the browser to sign in.
    c.goto(&console("/console")).await.unwrap();
    assert_eq!(path_becomes(&c, "/console/signin").await, "/console/signin");
    screenshot(&c, "signin.png").await;
    fill(&c, "#operator-key", key.expose()).await;
    click(&c, "#operator-signin button").await;
    assert_eq!(text_of(&c, "#who").await, "operator console");
    assert_eq!(
        path_becomes(&c, "/console/tenants").await,
        "/console/tenants"
    );

    // Create a tenant with a host.
    fill(&c, "#new-slug", "browserco").await;
    fill(&c, "#new-name", "Browser Co").await;
    fill(&c, "#new-hosts", "browserco.test").await;
    click(&c, "#create-tenant-submit").await;
    assert!(text_of(&c, "#flash").await.contains("browserco created"));
    assert_eq!(
        path_becomes(&c, "/console/tenants/browserco").await,
        "/console/tenants/browserco"
    );
    assert_eq!(text_of(&c, "#signup-state").await, "open");
    app.set("browserco", "BCRYPT_COST", "4").await;

    // The tenants page finds it by search.
    c.goto(&console("/console/tenants?q=browser"))
        .await
        .unwrap();
    let rows = text_of(&c, "#tenants tbody").await;
    assert!(
        rows.contains("browserco") && !rows.contains("globex"),
        "{rows}"
    );
    c.goto(&console("/console/tenants")).await.unwrap();
    screenshot(&c, "tenants.png").await;

    // Close its signup on the settings page.
    c.goto(&console("/console/tenants/browserco/settings"))
        .await
        .unwrap();
    click(&c, "#close-signup").await;
    assert!(text_of(&c, "#flash")
        .await
        .contains("API_USER_CREATE_SCOPE set"));
    assert!(text_of(&c, "#signup-state").await.starts_with("closed"));
    screenshot(&c, "settings.png").await;

    // Over HTTP: POST /user on the tenant's host now needs an admin token. Appmixer, with
    // API_USER_CREATE_SCOPE set: "it needs `Authorization: Bearer <token>` whose user holds one of
    // those scopes: no token `401`" (shared/spec/appmixer.md, from docs.appmixer.com's User API).
    let worker = json!({"username": "w@browserco.test", "email": "w@browserco.test", "password": "worker-pass"});
    let r = app.post("browserco.test", "/user", &worker).await;
    assert_eq!(r.status, 401, "{}", r.body);
    let t = app.tenant("browserco").await;
    app.core
        .operator_create_user(
            &t,
            OperatorNewUser {
                email: "boss@browserco.test".into(),
                password: Secret::new("boss-pass-1".into()),
                username: None,
                scopes: vec!["admin".into()],
                firstname: String::new(),
                lastname: String::new(),
            },
        )
        .await
        .unwrap();
    let token = app
        .token_of(
            "browserco.test",
            "/user/auth",
            &json!({"username": "boss@browserco.test", "password": "boss-pass-1"}),
        )
        .await;
    let r = app
        .post_auth(
            "browserco.test",
            "/user",
            &worker,
            &format!("Bearer {token}"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // Users: search, disable.
    c.goto(&console("/console/tenants/browserco/users?q=w%40"))
        .await
        .unwrap();
    let rows = text_of(&c, "#users tbody").await;
    assert!(
        rows.contains("w@browserco.test") && !rows.contains("boss@"),
        "{rows}"
    );
    click(&c, "#users tbody form button.danger").await;
    assert!(text_of(&c, "#flash").await.contains("disabled"));
    // A disabled account signs in no more (Appmixer answers it as bad credentials, 403).
    assert_eq!(
        app.post(
            "browserco.test",
            "/user/auth",
            &json!({"username": "w@browserco.test", "password": "worker-pass"})
        )
        .await
        .status,
        403
    );
    c.goto(&console("/console/tenants/browserco/users"))
        .await
        .unwrap();
    screenshot(&c, "users.png").await;

    // Keys: rotate one in, see the JWKS link.
    c.goto(&console("/console/tenants/browserco/keys"))
        .await
        .unwrap();
    click(&c, "#rotate-key button").await;
    assert!(text_of(&c, "#flash").await.contains("New signing key"));
    assert!(text_of(&c, "#jwks-link")
        .await
        .ends_with("browserco.test/.well-known/jwks.json"));
    assert_eq!(app.tenant("browserco").await.keys.all().len(), 2);
    screenshot(&c, "keys.png").await;
    c.goto(&console("/console/tenants/browserco/audit"))
        .await
        .unwrap();
    screenshot(&c, "audit.png").await;

    // On a phone's width the settings page still fits.
    c.set_window_size(390, 844).await.ok();
    c.goto(&console("/console/tenants/browserco/settings"))
        .await
        .unwrap();
    screenshot(&c, "settings-phone.png").await;
    let overflow = c
        .execute(
            "return document.documentElement.scrollWidth <= window.innerWidth + 1;",
            vec![],
        )
        .await
        .expect("script runs");
    assert_eq!(
        overflow,
        json!(true),
        "the settings page scrolls sideways on a phone"
    );
    c.set_window_size(1200, 900).await.ok();

    // Sign out; the tenant admin signs in and sees only their tenant.
    click(&c, "#signout").await;
    assert_eq!(path_becomes(&c, "/console/signin").await, "/console/signin");
    fill(&c, "#admin-tenant", "browserco").await;
    fill(&c, "#admin-email", "boss@browserco.test").await;
    fill(&c, "#admin-password", "boss-pass-1").await;
    click(&c, "#tenant-signin button").await;
    assert_eq!(
        path_becomes(&c, "/console/tenants/browserco").await,
        "/console/tenants/browserco"
    );
    assert!(text_of(&c, "#who").await.contains("admin of browserco"));
    screenshot(&c, "tenant-admin.png").await;
    let page = c.source().await.unwrap();
    assert!(
        !page.contains("/console/tenants/demo") && !page.contains("globex"),
        "{page}"
    );
    // The tenants list is not theirs to see, nor is another tenant.
    c.goto(&console("/console/tenants")).await.unwrap();
    assert_eq!(
        path_becomes(&c, "/console/tenants/browserco").await,
        "/console/tenants/browserco"
    );
    c.goto(&console("/console/tenants/demo/settings"))
        .await
        .unwrap();
    assert!(c.source().await.unwrap().contains("tenant not found"));
    c.goto(&console("/console/tenants/browserco/settings"))
        .await
        .unwrap();
    click(&c, "#open-signup").await;
    assert!(text_of(&c, "#signup-state").await.starts_with("open"));
    c.close().await.ok();
}

on_both!(an_operator_and_a_tenant_admin_use_the_console_in_a_browser);

/// What a browser keeps from the test: the cookies' attributes, the CSRF refusals, the sign-in
/// limit, and a revoked key ending its console session.
async fn the_console_guards_its_sessions_and_forms(app: TestApp) {
    // Every sign-in below falls into one minute of the per-address limit.
    within_one_rate_window_for(20).await;
    let (_, key) = app.core.create_operator_key("ops").await.unwrap();
    let url = |p: &str| app.admin_url(p);
    let page = app.send(app.client.get(url("/console/signin"))).await;
    assert_eq!(page.status, 200);
    assert!(page.content_type.starts_with("text/html"));
    let res = app.client.get(url("/console/signin")).send().await.unwrap();
    let cookie = res
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Strict")
            && cookie.contains("Path=/console"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    let csrf = cookie
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned();
    let signin = |token: &str, form_csrf: &str, key: &str| {
        app.client
            .post(url("/console/signin/operator"))
            .header("cookie", format!("gh_console_signin={token}"))
            .form(&[("csrf", form_csrf), ("key", key)])
    };
    // Without the matching double-submit token: refused before the key is looked at.
    let r = app.send(signin(&csrf, "forged", key.expose())).await;
    assert_eq!(r.status, 403, "{}", r.body);
    // A good sign-in: a session cookie with the same attributes.
    let res = signin(&csrf, &csrf, key.expose()).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let session = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("gh_console="))
        .expect("a session cookie");
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Strict"),
        "{session}"
    );
    let sid = session.split(';').next().unwrap().to_owned();
    let tenants = app
        .send(
            app.client
                .get(url("/console/tenants"))
                .header("cookie", &sid),
        )
        .await;
    assert_eq!(tenants.status, 200);
    assert!(tenants.body.contains("globex"));
    // A form without the session's CSRF token changes nothing.
    let r = app
        .send(
            app.client
                .post(url("/console/tenants"))
                .header("cookie", &sid)
                .form(&[("csrf", "wrong"), ("slug", "forged")]),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = app
        .send(
            app.client
                .post(url("/console/tenants"))
                .header("cookie", &sid)
                .form(&[("slug", "forged")]),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(app.core.tenant_by_slug("forged").is_none());
    // Revoking the key ends the session at once.
    app.core.revoke_operator_key("ops").await.unwrap();
    let r = app
        .send(
            app.client
                .get(url("/console/tenants"))
                .header("cookie", &sid),
        )
        .await;
    assert_eq!(r.status, 303);
    // Sign-in attempts are limited per address: ten a minute (the good one above was the first).
    let mut statuses = Vec::new();
    for _ in 0..10 {
        statuses.push(app.send(signin(&csrf, &csrf, "gho_wrong")).await.status);
    }
    assert_eq!(statuses[..9], [401; 9], "{statuses:?}");
    assert_eq!(statuses[9], 429, "{statuses:?}");
}

on_both!(the_console_guards_its_sessions_and_forms);
