//! The audit log end to end (issue 13 item 6): every event kind, recorded once for its action with
//! the request's address, user agent, dialect and request id (or the operator's context for the
//! CLI), read back through `gatehouse audit` and the admin route `GET /audit`, and never holding a
//! password, token or secret (the test searches every read-out for the ones it used).
//!
//! Neither original has an audit log: tiledesk-server logs sign-ins with winston
//! ("winston.debug('auth.js signin')") and Appmixer keeps none its API exposes. `GET /audit`
//! follows Appmixer's admin routes ("GET /users ... Get all users. Admin token required.").

use crate::helpers::*;
use crate::tiledesk::{aud, custom, exchange, project_of, signin, signup_body, PASSWORD};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeMap;

const AGENT: &str = "audit-test/1.0 (e2e)";
const NEW_PASSWORD: &str = "a-brand-new-secret-77";
const WRONG: &str = "not-the-password-42";
const ADMIN_PASSWORD: &str = "admin-secret-pass-9";

/// A request through `host` with this test's user agent and a request id.
fn tagged(app: &TestApp, method: Method, path: &str, request_id: &str) -> reqwest::RequestBuilder {
    app.request(method, DEMO, path)
        .header("user-agent", AGENT)
        .header("x-request-id", request_id)
}

fn all_events_json(events: &[gatehouse_core::audit::AuditEvent]) -> String {
    serde_json::to_string(events).unwrap()
}

fn ok_cli(app: &TestApp, args: &[&str]) -> String {
    let out = app.cli(args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    stdout(&out)
}

async fn every_event_kind_is_recorded_once_with_its_context_and_no_secret(app: TestApp) {
    app.set("demo", "SIGNIN_MAX_FAILURES", "2").await;
    let mut secrets: Vec<String> = vec![
        PASSWORD.into(),
        NEW_PASSWORD.into(),
        WRONG.into(),
        ADMIN_PASSWORD.into(),
    ];

    // Sign-up, a wrong password, a good sign-in (Tiledesk).
    let r = app
        .send(
            tagged(&app, Method::POST, "/v1/auth/signup", "req-signup")
                .json(&signup_body("ann@example.com")),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let ann = r.json()["user"]["_id"].as_str().unwrap().to_owned();
    let r = signin(&app, DEMO, "/v1", "ann@example.com", WRONG).await;
    assert_eq!(r.status, 401);
    let r = signin(&app, DEMO, "/v1", "ann@example.com", PASSWORD).await;
    assert_eq!(r.status, 200);
    let token = r.json()["token"].as_str().unwrap().to_owned();
    secrets.push(token.trim_start_matches("JWT ").to_owned());

    // An unknown login fails twice (the second locks it), then is refused as locked. The login
    // typed is never recorded (people type passwords there).
    for _ in 0..2 {
        assert_eq!(
            signin(&app, DEMO, "/v1", "bob@example.com", WRONG)
                .await
                .status,
            401
        );
    }
    assert_ne!(
        signin(&app, DEMO, "/v1", "bob@example.com", WRONG)
            .await
            .status,
        200
    );

    // Anonymous and custom-token sign-ins in ann's project.
    let project = project_of(&app, "demo", "ann@example.com").await;
    secrets.push(project.jwt_secret.expose().to_owned());
    let body = json!({"id_project": project.id, "firstname": "Guest"});
    let r = app.post(DEMO, "/v1/auth/signinAnonymously", &body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let claims = json!({"_id": "ext-1", "sub": "userexternal", "aud": aud(&project.id)});
    let custom_token = custom(project.jwt_secret.expose(), &claims);
    secrets.push(custom_token.clone());
    let r = exchange(&app, DEMO, "/v1", &format!("JWT {custom_token}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    secrets.push(
        r.json()["token"]
            .as_str()
            .unwrap()
            .trim_start_matches("JWT ")
            .to_owned(),
    );

    // A password change, a logout.
    let body = json!({"oldpsw": PASSWORD, "newpsw": NEW_PASSWORD});
    let r = app
        .json(
            Method::PUT,
            DEMO,
            "/v1/users/changepsw",
            &body,
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = signin(&app, DEMO, "/v1", "ann@example.com", NEW_PASSWORD).await;
    let token = r.json()["token"].as_str().unwrap().to_owned();
    secrets.push(token.trim_start_matches("JWT ").to_owned());
    let r = app
        .send(
            tagged(&app, Method::POST, "/v1/auth/logout", "req-logout")
                .header("authorization", &token),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // The operator's actions.
    ok_cli(
        &app,
        &["user", "disable", "--tenant", "demo", "ann@example.com"],
    );
    ok_cli(
        &app,
        &["user", "enable", "--tenant", "demo", "ann@example.com"],
    );
    ok_cli(
        &app,
        &[
            "user",
            "revoke-tokens",
            "--tenant",
            "demo",
            "ann@example.com",
        ],
    );
    ok_cli(
        &app,
        &["tenant", "set", "demo", "AUDIT_RETENTION_DAYS", "30"],
    );
    let rotated = ok_cli(&app, &["tenant", "rotate-key", "demo"]);
    let kid = rotated.split_whitespace().nth(4).unwrap().to_owned();
    ok_cli(&app, &["tenant", "retire-key", "demo", &kid]);
    // The admin who reads the log (created by the CLI: a sign-up too).
    ok_cli(
        &app,
        &[
            "user",
            "create",
            "--tenant",
            "demo",
            "--email",
            "boss@example.com",
            "--password",
            ADMIN_PASSWORD,
            "--scope",
            "admin",
        ],
    );

    // The account deletes itself (Tiledesk), after one more sign-in.
    let r = signin(&app, DEMO, "/v1", "ann@example.com", NEW_PASSWORD).await;
    let token = r.json()["token"].as_str().unwrap().to_owned();
    secrets.push(token.trim_start_matches("JWT ").to_owned());
    let r = app
        .json(Method::DELETE, DEMO, "/v1/users", &json!({}), Some(&token))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    app.core.flush_audit().await.unwrap();
    let tenant = app.tenant("demo").await;
    let query = gatehouse_core::audit::AuditQuery {
        limit: 10_000,
        ..Default::default()
    };
    let events = app.core.audit_events(&tenant, query).await.unwrap();
    let mut counts: BTreeMap<(String, String), usize> = BTreeMap::new();
    for e in &events {
        *counts
            .entry((e.kind.clone(), e.outcome.clone()))
            .or_default() += 1;
    }
    let expected: BTreeMap<(String, String), usize> = [
        ("signup", "success", 2),
        // ann x3 (after signup, after the change, before deletion)
        ("signin", "success", 3),
        // ann's wrong password, bob's two
        ("signin", "failure", 3),
        ("signin", "locked", 1),
        ("lockout", "locked", 1),
        ("anonymous_signin", "success", 1),
        ("custom_token_signin", "success", 1),
        ("password_change", "success", 1),
        ("logout", "success", 1),
        ("user_disabled", "success", 1),
        ("user_enabled", "success", 1),
        ("tokens_revoked", "success", 1),
        ("setting_changed", "success", 2),
        ("key_rotated", "success", 1),
        ("key_retired", "success", 1),
        ("user_deleted", "success", 1),
    ]
    .into_iter()
    .map(|(k, o, n)| ((k.to_owned(), o.to_owned()), n))
    .collect();
    assert_eq!(counts, expected, "{events:#?}");

    // The fields: a request's context, or the operator's.
    let signup = events
        .iter()
        .find(|e| e.kind == "signup" && e.user_id.as_deref() == Some(ann.as_str()))
        .unwrap();
    assert_eq!(signup.client_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(signup.user_agent.as_deref(), Some(AGENT));
    assert_eq!(signup.dialect, "tiledesk");
    assert_eq!(signup.request_id.as_deref(), Some("req-signup"));
    let logout = events.iter().find(|e| e.kind == "logout").unwrap();
    assert_eq!(logout.request_id.as_deref(), Some("req-logout"));
    assert_eq!(logout.user_id.as_deref(), Some(ann.as_str()));
    let disabled = events.iter().find(|e| e.kind == "user_disabled").unwrap();
    assert_eq!(
        (disabled.dialect.as_str(), disabled.client_ip.as_deref()),
        ("cli", None)
    );
    assert_eq!(disabled.user_id.as_deref(), Some(ann.as_str()));
    let lockout = events.iter().find(|e| e.kind == "lockout").unwrap();
    assert_eq!(lockout.user_id, None, "an unknown login has no account");
    let rotated = events.iter().find(|e| e.kind == "key_rotated").unwrap();
    assert!(rotated.detail.as_deref().unwrap().contains(&kid));
    // Every request's and command's event has a request id (the test's own core call has none).
    assert!(events
        .iter()
        .all(|e| e.at > 0 && (e.request_id.is_some() || e.dialect == "internal")));

    // The same through the CLI (text and JSON), filtered by user and kind, and through GET /audit.
    let text = ok_cli(&app, &["audit", "--tenant", "demo"]);
    assert_eq!(text.lines().count(), events.len(), "{text}");
    let jsonl = ok_cli(
        &app,
        &[
            "audit", "--tenant", "demo", "--json", "--kind", "signin", "--since", "1h",
        ],
    );
    assert_eq!(jsonl.lines().count(), 7, "{jsonl}");
    for line in jsonl.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["kind"], "signin");
    }
    let boss_signin = app
        .post(
            DEMO,
            "/user/auth",
            &json!({"username": "boss@example.com", "password": ADMIN_PASSWORD}),
        )
        .await;
    assert_eq!(boss_signin.status, 200, "{}", boss_signin.body);
    let admin = format!("Bearer {}", boss_signin.json()["token"].as_str().unwrap());
    secrets.push(admin.trim_start_matches("Bearer ").to_owned());
    let r = app
        .get(
            DEMO,
            &format!("/audit?user={ann}&kind=password_change"),
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let rows = r.json();
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
    assert_eq!(rows[0]["userId"], json!(ann));
    assert!(rows[0]["at"].as_str().unwrap().ends_with('Z'));
    let r = app.get(DEMO, "/audit?limit=1000", Some(&admin)).await;
    let route_dump = r.body.clone();
    assert!(
        route_dump.contains("\"dialect\":\"appmixer\""),
        "the boss's own sign-in"
    );

    // Never a password, token or secret, in the table or in any read-out.
    app.core.flush_audit().await.unwrap();
    let query = gatehouse_core::audit::AuditQuery {
        limit: 10_000,
        ..Default::default()
    };
    let table = all_events_json(&app.core.audit_events(&tenant, query).await.unwrap());
    let cli_json = ok_cli(&app, &["audit", "--tenant", "demo", "--json"]);
    for dump in [&table, &text, &cli_json, &route_dump] {
        for secret in &secrets {
            assert!(!dump.contains(secret.as_str()), "a secret in the audit log");
        }
        assert!(
            !dump.contains("bob@example.com"),
            "a typed login in the audit log"
        );
    }
}

async fn the_admin_route_needs_an_admin_token_and_checks_its_query(app: TestApp) {
    let r = app.get(DEMO, "/audit", None).await;
    assert_eq!(r.status, 401, "{}", r.body);
    let user = app
        .token_of(
            DEMO,
            "/user",
            &json!({"username": "joe@example.com", "password": "joe-secret-1"}),
        )
        .await;
    let r = app
        .get(DEMO, "/audit", Some(&format!("Bearer {user}")))
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let out = app.cli(&[
        "user",
        "create",
        "--tenant",
        "demo",
        "--email",
        "root@example.com",
        "--password",
        "root-secret-1",
        "--scope",
        "admin",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let admin = app
        .token_of(
            DEMO,
            "/user/auth",
            &json!({"username": "root@example.com", "password": "root-secret-1"}),
        )
        .await;
    let admin = format!("Bearer {admin}");
    for bad in [
        "limit=0",
        "limit=1001",
        "since=yesterday",
        "kind=",
        "since=-1d",
    ] {
        let r = app.get(DEMO, &format!("/audit?{bad}"), Some(&admin)).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
        assert_eq!(r.json()["error"], "Bad Request", "{bad}: Boom shape");
    }
    let r = app
        .get(DEMO, "/audit?since=1h&kind=signup", Some(&admin))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    app.core.flush_audit().await.unwrap();
    let r = app.get(DEMO, "/audit?kind=signup", Some(&admin)).await;
    let rows = r.json();
    assert_eq!(
        rows.as_array().unwrap().len(),
        2,
        "joe (appmixer) and root (cli): {rows}"
    );
    // Another tenant's admin sees none of this tenant's events.
    let r = app.get(ACME, "/audit", Some(&admin)).await;
    assert_eq!(r.status, 401, "a token of another tenant: {}", r.body);
}

on_both!(
    every_event_kind_is_recorded_once_with_its_context_and_no_secret,
    the_admin_route_needs_an_admin_token_and_checks_its_query,
);
