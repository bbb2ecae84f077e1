//! Sign-in under attack (issue 8, items 3, 7, 9 and 12): the operator's cap on bcrypt costs, each
//! tenant's fair share of the hashing pool and its queue deadline, start-up that never waits on a
//! tenant's cost, the per-address limit on failed sign-ins, the (login, address) lock with a tarpit
//! across addresses, and the Tiledesk setting that hides which accounts exist.

use crate::helpers::*;
use gatehouse_core::users::Login;
use gatehouse_core::Email;
use serde_json::{json, Value};

const PASSWORD: &str = "right-password";

/// A second node on the app's database, with its configuration changed by `tweak`.
async fn node_with(
    app: &TestApp,
    extra: &str,
    tweak: impl FnOnce(&mut gatehouse::Config),
) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    spawn_app_tweaked(app.backend, dir, app.db_url.clone(), extra, tweak).await
}

/// A node that takes the client address from `X-Forwarded-For`, as behind a trusted proxy.
async fn behind_a_proxy(app: &TestApp) -> TestApp {
    node_with(app, "", |c| c.server.trust_forwarded_for = true).await
}

async fn appmixer_user(app: &TestApp, host: &str, name: &str) {
    let body =
        json!({"username": name, "email": format!("{name}@example.com"), "password": PASSWORD});
    let r = app.post(host, "/user", &body).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

async fn admin_bearer(app: &TestApp) -> String {
    let out = app.cli(&[
        "user",
        "create",
        "--tenant",
        "demo",
        "--email",
        "boss@example.com",
        "--password",
        "boss-password",
        "--scope",
        "admin",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let token = app
        .token_of(
            DEMO,
            "/user/auth",
            &json!({"username": "boss@example.com", "password": "boss-password"}),
        )
        .await;
    format!("Bearer {token}")
}

/// A sign-in in either dialect, from `ip` (seen only by a node behind a proxy).
async fn signin_from(app: &TestApp, ip: &str, path: &str, login: &str, password: &str) -> Resp {
    let body = if path.starts_with("/v") {
        json!({"email": login, "password": password})
    } else {
        json!({"username": login, "password": password})
    };
    app.send(
        app.request(reqwest::Method::POST, DEMO, path)
            .header("X-Forwarded-For", ip)
            .json(&body),
    )
    .await
}

// ---- 8.3: hashing is bounded, shared fairly, and never holds up start-up ----

async fn bcrypt_costs_are_capped_by_the_operator(app: TestApp) {
    let admin = admin_bearer(&app).await;
    for cost in [31, 15] {
        let r = app
            .post_auth(
                DEMO,
                "/config",
                &json!({"key": "BCRYPT_COST", "value": cost}),
                &admin,
            )
            .await;
        assert_eq!(r.status, 400, "{}", r.body);
        assert_eq!(r.json()["error"], "Bad Request");
        assert!(
            r.json()["message"].as_str().unwrap().contains("max_cost"),
            "{}",
            r.body
        );
    }
    let out = app.cli(&["tenant", "set", "demo", "BCRYPT_COST", "15"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("max_cost"), "{}", stderr(&out));
    assert_eq!(app.tenant("demo").await.settings.bcrypt_cost, 4);

    // An operator who allows 15 lets the tenant admin choose it.
    let generous = node_with(&app, "", |c| c.hashing.max_cost = 15).await;
    let r = generous
        .post_auth(
            DEMO,
            "/config",
            &json!({"key": "BCRYPT_COST", "value": 15}),
            &admin,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // A node with the default cap finds 15 stored, and hashes at 14.
    app.core.refresh_tenants().await.unwrap();
    appmixer_user(&app, DEMO, "clamped").await;
    let t = app.tenant("demo").await;
    let stored = app
        .core
        .user_by_email(&t, &Email::parse("clamped@example.com").unwrap())
        .await
        .unwrap()
        .expect("user exists");
    let hash = app
        .core
        .db()
        .run_tenant(&t.id, move |c| {
            use diesel::prelude::*;
            use gatehouse_core::storage::schema::users::dsl::*;
            Ok(users
                .filter(id.eq(&stored.id))
                .select(password_hash)
                .first::<Option<String>>(c)?)
        })
        .await
        .unwrap()
        .unwrap();
    assert!(hash.starts_with("$2b$14$"), "hashed at {}", &hash[..7]);
}

async fn one_tenants_burst_of_sign_ins_does_not_stop_another_tenants(app: TestApp) {
    // Two hashing threads, one each per tenant at most, and a short queue deadline.
    let node = node_with(&app, "", |c| {
        c.hashing.threads = 2;
        c.hashing.queue_timeout_ms = 400;
    })
    .await;
    node.set("acme", "BCRYPT_COST", "12").await;
    appmixer_user(&node, ACME, "busy").await;
    appmixer_user(&node, DEMO, "calm").await;
    assert!(eventually(60, || async { node.core.hashing_prewarmed() }).await);

    let mut burst = Vec::new();
    for i in 0..24 {
        let (path, body) = if i % 3 == 0 {
            (
                "/v1/auth/signin",
                json!({"email": "busy@example.com", "password": PASSWORD}),
            )
        } else {
            (
                "/user/auth",
                json!({"username": "busy", "password": PASSWORD}),
            )
        };
        let rb = node.request(reqwest::Method::POST, ACME, path).json(&body);
        burst.push(tokio::spawn(async move {
            let res = rb.send().await.expect("sent");
            let status = res.status().as_u16();
            (
                path,
                status,
                res.json::<Value>().await.unwrap_or(Value::Null),
            )
        }));
    }
    assert!(eventually(30, || async { node.core.hashing_queue_depth() >= 4 }).await);
    // While acme's sign-ins queue, demo's sign-ins (both dialects) go through.
    let r = node
        .post(
            DEMO,
            "/user/auth",
            &json!({"username": "calm", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = node
        .post(
            DEMO,
            "/v1/auth/signin",
            &json!({"email": "calm@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    let mut unavailable = 0;
    for task in burst {
        let (path, status, body) = task.await.unwrap();
        match status {
            200 => {}
            503 if path.starts_with("/v1") => {
                unavailable += 1;
                assert_eq!(
                    body,
                    json!({"success": false, "msg": "Service temporarily unavailable. Try again later."})
                );
            }
            503 => {
                unavailable += 1;
                assert_eq!(body["statusCode"], 503);
                assert_eq!(body["error"], "Service Unavailable");
            }
            other => panic!("{path}: {other} {body}"),
        }
    }
    // The queue deadline answered the excess instead of letting it wait without end.
    assert!(unavailable > 0);
}

async fn start_up_does_not_wait_for_a_tenants_bcrypt_cost(app: TestApp) {
    let slow_tenant = r#"
[[tenants.bootstrap]]
slug = "slowco"
apis = ["appmixer"]
settings = { BCRYPT_COST = "14" }
"#;
    // Two threads: the server's own prewarm holds at most one (its share), as a tenant would.
    let node = node_with(&app, slow_tenant, |c| c.hashing.threads = 2).await;
    // The dummy hash at cost 14 takes a second or more: the server is up before it is ready.
    assert!(!node.core.hashing_prewarmed());
    let r = node.get(DEMO, "/healthz", None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = node
        .post(
            DEMO,
            "/user/auth",
            &json!({"username": "nobody", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    // ...and it is made in the background.
    assert!(eventually(120, || async { node.core.hashing_prewarmed() }).await);
}

// ---- 8.7: failed sign-ins per client address ----

async fn failed_sign_ins_are_limited_per_client_address(app: TestApp) {
    // About a hundred sequential requests must fall into one minute's window.
    within_one_rate_window_for(40).await;
    appmixer_user(&app, DEMO, "office").await;
    // Successes are not counted: an office behind one address signs in freely.
    for _ in 0..35 {
        let r = app
            .post(
                DEMO,
                "/user/auth",
                &json!({"username": "office", "password": PASSWORD}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    // A spray of wrong passwords meets the default limit (30 a minute) before 60 attempts.
    let mut answers = Vec::new();
    for i in 0..60 {
        let body = json!({"email": format!("spray{i}@example.com"), "password": "guess-123"});
        answers.push(app.post(DEMO, "/v1/auth/signin", &body).await);
    }
    assert!(answers[..30].iter().all(|r| r.status == 401));
    let limited = &answers[30];
    assert_eq!(
        (limited.status, limited.json()),
        (
            429,
            json!({"success": false, "msg": "Too many requests. Try again later."})
        )
    );
    // The address has spent its failures for this minute in both dialects, good password or not.
    let r = app
        .post(
            DEMO,
            "/user/auth",
            &json!({"username": "office", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(r.json()["error"], "Too Many Requests");
    // Another tenant's counter is its own.
    let r = app
        .post(
            ACME,
            "/user/auth",
            &json!({"username": "office", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);

    // Appmixer meets the limit on its own too, and 0 turns it off.
    app.set("globex", "SIGNIN_FAILURES_PER_IP_PER_MINUTE", "3")
        .await;
    let guess = |i: u32| json!({"username": format!("guess{i}"), "password": "guess-123"});
    for i in 0..3 {
        assert_eq!(app.post(GLOBEX, "/user/auth", &guess(i)).await.status, 403);
    }
    let r = app.post(GLOBEX, "/user/auth", &guess(3)).await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(r.json()["statusCode"], 429);
    app.set("globex", "SIGNIN_FAILURES_PER_IP_PER_MINUTE", "0")
        .await;
    assert_eq!(app.post(GLOBEX, "/user/auth", &guess(4)).await.status, 403);
}

// ---- 8.9: the lock stops a (login, address) pair; across addresses, a tarpit ----

async fn a_lock_stops_one_login_from_one_address_and_unknown_logins_alike(app: TestApp) {
    let node = behind_a_proxy(&app).await;
    node.set("demo", "SIGNIN_MAX_FAILURES", "3").await;
    node.set("demo", "SIGNIN_TARPIT_MAX_MS", "100").await;
    appmixer_user(&node, DEMO, "ann").await;
    let attacker = "203.0.113.7";
    for login in ["ann@example.com", "ghost@example.com"] {
        for _ in 0..3 {
            let r = signin_from(&node, attacker, "/user/auth", login, "guess-123").await;
            assert_eq!(r.status, 403, "{}", r.body);
        }
    }
    // From the attacker's address both logins are locked, in both dialects, with one answer.
    let known = signin_from(&node, attacker, "/user/auth", "ann@example.com", PASSWORD).await;
    let unknown = signin_from(&node, attacker, "/user/auth", "ghost@example.com", PASSWORD).await;
    assert_eq!(known.status, 429, "{}", known.body);
    assert_eq!(
        (known.status, known.json()),
        (unknown.status, unknown.json())
    );
    let known = signin_from(
        &node,
        attacker,
        "/v1/auth/signin",
        "ann@example.com",
        PASSWORD,
    )
    .await;
    let unknown = signin_from(
        &node,
        attacker,
        "/v1/auth/signin",
        "ghost@example.com",
        PASSWORD,
    )
    .await;
    assert_eq!(
        (known.status, known.json()),
        (
            429,
            json!({"success": false, "msg": "Too many failed attempts. Try again later."})
        )
    );
    assert_eq!(
        (known.status, known.json()),
        (unknown.status, unknown.json())
    );
    // The owner, elsewhere, signs in with the right password: slowed down (a tarpit), not locked.
    let t = node.tenant("demo").await;
    let ann = Login::Email(Email::parse("ann@example.com").unwrap());
    assert!(!node.core.signin_delay(&t, &ann).is_zero());
    let r = signin_from(
        &node,
        "198.51.100.2",
        "/v1/auth/signin",
        "ann@example.com",
        PASSWORD,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = signin_from(&node, "198.51.100.2", "/user/auth", "ann", PASSWORD).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

// ---- 8.12: Tiledesk's "User not found" ----

async fn tiledesk_sign_in_hides_unknown_accounts_when_the_tenant_says_so(app: TestApp) {
    // tiledesk-server routes/auth.js, POST /signin:
    //   res.status(401).send({ success: false, msg: 'Authentication failed. User not found.' });
    //   res.status(401).send({ success: false, msg: 'Authentication failed. Wrong password.' });
    appmixer_user(&app, DEMO, "ann").await;
    let attempt = |email: &'static str| {
        let app = &app;
        async move {
            let r = app
                .post(
                    DEMO,
                    "/v1/auth/signin",
                    &json!({"email": email, "password": "guess-123"}),
                )
                .await;
            (r.status, r.json())
        }
    };
    let wrong = json!({"success": false, "msg": "Authentication failed. Wrong password."});
    let not_found = json!({"success": false, "msg": "Authentication failed. User not found."});
    // The default keeps the original's two messages.
    assert_eq!(attempt("ann@example.com").await, (401, wrong.clone()));
    assert_eq!(attempt("nobody@example.com").await, (401, not_found));
    app.set("demo", "SIGNIN_HIDE_UNKNOWN_ACCOUNT", "true").await;
    assert_eq!(attempt("ann@example.com").await, (401, wrong.clone()));
    assert_eq!(attempt("nobody@example.com").await, (401, wrong));
}

on_both!(
    bcrypt_costs_are_capped_by_the_operator,
    one_tenants_burst_of_sign_ins_does_not_stop_another_tenants,
    start_up_does_not_wait_for_a_tenants_bcrypt_cost,
    failed_sign_ins_are_limited_per_client_address,
    a_lock_stops_one_login_from_one_address_and_unknown_logins_alike,
    tiledesk_sign_in_hides_unknown_accounts_when_the_tenant_says_so,
);
