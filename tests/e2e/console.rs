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

/// The flash message once it contains `want`, or whatever it is after 10 s: the page a click
/// leads to may not have replaced the one before (with its own flash) when the click returns.
async fn flash_with(c: &Client, want: &str) -> String {
    let mut now = String::new();
    for _ in 0..100 {
        now = text_of(c, "#flash").await;
        if now.contains(want) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    now
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

/// An operator's console session over plain HTTP: (the session cookie, the session's CSRF token
/// as its forms carry it).
async fn operator_session(app: &TestApp, key: &str) -> (String, String) {
    let url = |p: &str| app.admin_url(p);
    let res = app.client.get(url("/console/signin")).send().await.unwrap();
    let signin_cookie = res
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let signin_csrf = signin_cookie.split_once('=').unwrap().1.to_owned();
    let res = app
        .client
        .post(url("/console/signin/operator"))
        .header("cookie", &signin_cookie)
        .form(&[("csrf", signin_csrf.as_str()), ("key", key)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let sid = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("gh_console="))
        .expect("a session cookie")
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let page = app
        .send(
            app.client
                .get(url("/console/tenants"))
                .header("cookie", &sid),
        )
        .await;
    (sid, csrf_of(&page.body))
}

/// The CSRF token a console page's forms carry.
fn csrf_of(page: &str) -> String {
    let at = page
        .find(r#"name="csrf" value=""#)
        .unwrap_or_else(|| panic!("no form on the page: {page}"));
    let rest = &page[at + r#"name="csrf" value=""#.len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}

/// The settings page's row for `key`: (in effect, from).
fn setting_row(page: &str, key: &str) -> (String, String) {
    let at = page
        .find(&format!(r#"<tr data-key="{key}">"#))
        .unwrap_or_else(|| panic!("no row {key}: {page}"));
    let row = &page[at..];
    let cell = |class: &str| {
        let open = format!(r#"<td class="{class}">"#);
        let s = &row[row.find(&open).unwrap() + open.len()..];
        s[..s.find("</td>").unwrap()].to_owned()
    };
    (cell("effective"), cell("source"))
}

/// Issue 20: the Users page deletes a user and grants or removes the admin scope (CSRF-checked,
/// audited, through core's paths: a deleted user's token is refused at once, a removed admin
/// loses the admin routes at once); the settings page shows each value in effect and where it
/// comes from; the audit page names people by email, with the id on hover.
async fn the_console_manages_admins_deletes_users_and_explains_settings(app: TestApp) {
    within_one_rate_window_for(20).await;
    let (_, key) = app.core.create_operator_key("ops").await.unwrap();
    let (sid, csrf) = operator_session(&app, key.expose()).await;
    let url = |p: &str| app.admin_url(p);
    let t = app.tenant("demo").await;
    let user = app
        .core
        .operator_create_user(
            &t,
            OperatorNewUser {
                email: "pat@demo.test".into(),
                password: Secret::new("pat-pass-1".into()),
                username: None,
                scopes: vec![],
                firstname: String::new(),
                lastname: String::new(),
            },
        )
        .await
        .unwrap();
    let token = app
        .token_of(
            DEMO,
            "/user/auth",
            &json!({"username": "pat@demo.test", "password": "pat-pass-1"}),
        )
        .await;
    let bearer = format!("Bearer {token}");
    let action = |what: &str, form_csrf: &str| {
        app.client
            .post(url(&format!(
                "/console/tenants/demo/users/{}/{what}",
                user.id
            )))
            .header("cookie", &sid)
            .form(&[("csrf", form_csrf)])
    };
    // Appmixer's GET /config is an admin route: refused before, allowed once granted.
    assert_eq!(app.get(DEMO, "/config", Some(&bearer)).await.status, 403);
    let r = app.send(action("grant-admin", "forged")).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(!app
        .core
        .user(&t, &user.id)
        .await
        .unwrap()
        .has_scope("admin"));
    let r = app.send(action("grant-admin", &csrf)).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let scopes = app.core.user(&t, &user.id).await.unwrap().scopes;
    assert_eq!(scopes, vec!["user".to_owned(), "admin".to_owned()]);
    assert_eq!(app.get(DEMO, "/config", Some(&bearer)).await.status, 200);
    let users = app
        .send(
            app.client
                .get(url("/console/tenants/demo/users"))
                .header("cookie", &sid),
        )
        .await;
    assert!(
        users.body.contains("The user is now an admin"),
        "{}",
        users.body
    );
    assert!(users.body.contains("/remove-admin"), "{}", users.body);

    // Settings: defaults in effect, an operator's value, a tenant admin's (Appmixer's /config).
    let r = app
        .json(
            reqwest::Method::POST,
            DEMO,
            "/config",
            &json!({"key": "TOKEN_TTL_SECONDS", "value": 7200}),
            Some(&bearer),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app
        .send(
            app.client
                .post(url("/console/tenants/demo/settings"))
                .header("cookie", &sid)
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("key", "SIGNIN_MAX_FAILURES"),
                    ("value", "7"),
                ]),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let settings = app
        .send(
            app.client
                .get(url("/console/tenants/demo/settings"))
                .header("cookie", &sid),
        )
        .await
        .body;
    assert_eq!(
        setting_row(&settings, "TOKEN_TTL_SECONDS"),
        ("7200".into(), "tenant admin".into())
    );
    assert_eq!(
        setting_row(&settings, "SIGNIN_MAX_FAILURES"),
        ("7".into(), "operator".into())
    );
    assert_eq!(
        setting_row(&settings, "SIGNIN_LOCK_SECONDS"),
        ("300".into(), "default".into())
    );
    assert_eq!(
        setting_row(&settings, "AUDIT_RETENTION_DAYS"),
        ("90".into(), "default".into())
    );
    // The bootstrap tenant's own settings come from the operator's config.
    assert_eq!(
        setting_row(&settings, "BCRYPT_COST"),
        ("4".into(), "operator".into())
    );
    // An operator setting the same key again takes it over.
    let r = app
        .send(
            app.client
                .post(url("/console/tenants/demo/settings"))
                .header("cookie", &sid)
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("key", "TOKEN_TTL_SECONDS"),
                    ("value", "3600"),
                ]),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let settings = app
        .send(
            app.client
                .get(url("/console/tenants/demo/settings"))
                .header("cookie", &sid),
        )
        .await
        .body;
    assert_eq!(
        setting_row(&settings, "TOKEN_TTL_SECONDS"),
        ("3600".into(), "operator".into())
    );

    // Removing the admin scope takes the admin routes away at once, from the same token.
    let r = app.send(action("remove-admin", &csrf)).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(!app
        .core
        .user(&t, &user.id)
        .await
        .unwrap()
        .has_scope("admin"));
    assert_eq!(app.get(DEMO, "/config", Some(&bearer)).await.status, 403);

    // Delete: refused without the session's token; then the user, and their token, are gone.
    assert_eq!(app.get(DEMO, "/user", Some(&bearer)).await.status, 200);
    let r = app.send(action("delete", "forged")).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(app.core.user(&t, &user.id).await.is_ok());
    let r = app.send(action("delete", &csrf)).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(app.core.user(&t, &user.id).await.is_err());
    // Appmixer answers a deleted user's token as it answers the operator API's delete: 401 or 404.
    let refused = app.get(DEMO, "/user", Some(&bearer)).await.status;
    assert!(matches!(refused, 401 | 404), "{refused}");
    // Deleting again: a clear "not found", nothing else.
    app.send(action("delete", &csrf)).await;
    let users = app
        .send(
            app.client
                .get(url("/console/tenants/demo/users"))
                .header("cookie", &sid),
        )
        .await;
    assert!(users.body.contains("user not found"), "{}", users.body);

    // Every action is on the audit log; the page shows people by email, ids on hover.
    app.core.flush_audit().await.unwrap();
    let audit = app
        .send(
            app.client
                .get(url("/console/tenants/demo/audit"))
                .header("cookie", &sid),
        )
        .await
        .body;
    for done in ["user.grant_admin", "user.remove_admin", "user.delete"] {
        assert!(
            audit.contains(&format!("{done} {} by operator:ops", user.id)),
            "{done}: {audit}"
        );
    }
    let boss = app
        .core
        .operator_create_user(
            &t,
            OperatorNewUser {
                email: "boss@demo.test".into(),
                password: Secret::new("boss-pass-1".into()),
                username: None,
                scopes: vec!["admin".into()],
                firstname: String::new(),
                lastname: String::new(),
            },
        )
        .await
        .unwrap();
    app.token_of(
        DEMO,
        "/user/auth",
        &json!({"username": "boss@demo.test", "password": "boss-pass-1"}),
    )
    .await;
    app.core.flush_audit().await.unwrap();
    let audit = app
        .send(
            app.client
                .get(url("/console/tenants/demo/audit"))
                .header("cookie", &sid),
        )
        .await
        .body;
    assert!(
        audit.contains(&format!(
            r#"<span title="{}">boss@demo.test</span>"#,
            boss.id
        )),
        "{audit}"
    );
    // A deleted user's events keep their id.
    assert!(
        audit.contains(&format!(r#"<span title="{0}">{0}</span>"#, user.id)),
        "{audit}"
    );
}

on_both!(the_console_manages_admins_deletes_users_and_explains_settings);

/// Issue 20 in a real browser, as a tenant admin: make a user an admin and take it back, delete
/// them (behind a second click), not delete oneself; the audit page at 1280 px wraps instead of
/// clipping its Detail column, and names people by email with the id on hover.
async fn a_tenant_admin_manages_users_in_a_browser(app: TestApp) {
    let t = app.tenant("demo").await;
    let mut ids = Vec::new();
    for (email, scopes) in [
        ("chief@demo.test", vec!["admin".to_owned()]),
        ("sam@demo.test", vec![]),
    ] {
        let u = app
            .core
            .operator_create_user(
                &t,
                OperatorNewUser {
                    email: email.into(),
                    password: Secret::new("pass-word-1".into()),
                    username: None,
                    scopes,
                    firstname: String::new(),
                    lastname: String::new(),
                },
            )
            .await
            .unwrap();
        ids.push(u.id);
    }
    let (chief, sam) = (ids[0].clone(), ids[1].clone());
    let token = app
        .token_of(
            DEMO,
            "/user/auth",
            &json!({"username": "sam@demo.test", "password": "pass-word-1"}),
        )
        .await;
    let bearer = format!("Bearer {token}");

    let console = |p: &str| app.admin_url(p);
    let driver = start_driver().await;
    let c = browser(&driver).await;
    c.set_window_size(1280, 900).await.ok();
    c.goto(&console("/console/signin")).await.unwrap();
    fill(&c, "#admin-tenant", "demo").await;
    fill(&c, "#admin-email", "chief@demo.test").await;
    fill(&c, "#admin-password", "pass-word-1").await;
    click(&c, "#tenant-signin button").await;
    assert_eq!(
        path_becomes(&c, "/console/tenants/demo").await,
        "/console/tenants/demo"
    );

    let sam_row = r#"#users tr[data-email="sam@demo.test"]"#;
    c.goto(&console("/console/tenants/demo/users"))
        .await
        .unwrap();
    click(&c, &format!("{sam_row} button.grant-admin")).await;
    let flash = flash_with(&c, "now an admin").await;
    assert!(flash.contains("now an admin"), "{flash}");
    assert!(text_of(&c, sam_row).await.contains("admin"));
    assert_eq!(app.get(DEMO, "/config", Some(&bearer)).await.status, 200);
    click(&c, &format!("{sam_row} button.remove-admin")).await;
    let flash = flash_with(&c, "no longer an admin").await;
    assert!(flash.contains("no longer an admin"), "{flash}");
    assert_eq!(app.get(DEMO, "/config", Some(&bearer)).await.status, 403);
    screenshot(&c, "users-admin.png").await;

    // One's own account: refused, with the reason.
    let chief_row = r#"#users tr[data-email="chief@demo.test"]"#;
    click(&c, &format!("{chief_row} details.confirm summary")).await;
    click(&c, &format!("{chief_row} button.delete-user")).await;
    let flash = flash_with(&c, "your own account").await;
    assert!(flash.contains("your own account"), "{flash}");
    assert!(app.core.user(&t, &chief).await.is_ok());

    // Delete: the button shows only once "Delete…" is opened.
    let hidden = on_element(
        &c,
        &format!("{sam_row} button.delete-user"),
        |el| async move { el.is_displayed().await },
    )
    .await;
    assert!(!hidden, "the delete button is behind a second click");
    click(&c, &format!("{sam_row} details.confirm summary")).await;
    click(&c, &format!("{sam_row} button.delete-user")).await;
    let flash = flash_with(&c, "User deleted").await;
    assert!(flash.contains("User deleted"), "{flash}");
    assert!(!text_of(&c, "#users tbody").await.contains("sam@demo.test"));
    assert!(app.core.user(&t, &sam).await.is_err());
    let refused = app.get(DEMO, "/user", Some(&bearer)).await.status;
    assert!(matches!(refused, 401 | 404), "{refused}");

    // The audit page at 1280 px: the table fits its box (Detail is not clipped), people by email.
    // A long word in a detail (a free-form key, 120 characters) is what used to push it out.
    let long_key = format!("WEBHOOK_{}", "X".repeat(112));
    app.core.set_config(&t, &long_key, "1").await.unwrap();
    app.core.flush_audit().await.unwrap();
    c.goto(&console("/console/tenants/demo/audit"))
        .await
        .unwrap();
    screenshot(&c, "audit-wrapped.png").await;
    let fits = c
        .execute(
            "const box = document.querySelector('#audit').parentElement; \
             const detail = document.querySelector('#audit td.detail'); \
             return box.scrollWidth <= box.clientWidth + 1 && \
                    detail.getBoundingClientRect().right <= box.getBoundingClientRect().right + 1;",
            vec![],
        )
        .await
        .expect("script runs");
    assert_eq!(fits, json!(true), "the audit table overflows at 1280 px");
    let title = on_element(&c, "#audit td.user span[title]", |el| async move {
        el.attr("title").await
    })
    .await;
    assert!(title.is_some_and(|id| id == chief || id == sam));
    let people = text_of(&c, "#audit tbody").await;
    assert!(people.contains("chief@demo.test"), "{people}");
    assert!(
        people.contains(&format!("user.delete {sam} by tenant-admin:{chief}")),
        "{people}"
    );
    c.close().await.ok();
}

on_both!(a_tenant_admin_manages_users_in_a_browser);
