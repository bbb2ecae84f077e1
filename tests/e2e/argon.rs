//! argon2id per tenant and transparent rehash (issue 13 item 5), end to end: a `$2a$` hash such as
//! tiledesk-server writes (models/user.js: `bcrypt.genSalt(10, ...)` then `bcrypt.hash`, bcryptjs's
//! `$2a$`) becomes `$argon2id$` on the first good sign-in under policy argon2id, and the next
//! sign-in works in both dialects; under policy bcrypt with a higher cost the cost is raised; a
//! new tenant hashes with OWASP's argon2id parameters (m=19456 KiB, t=2, p=1).
//! Tests use small argon2 parameters (m=1024) except the one that checks the defaults.

use crate::helpers::*;
use crate::tiledesk::{signin, signup_body, PASSWORD};
use serde_json::json;

async fn stored_hash(app: &TestApp, slug: &str, email: &str) -> String {
    let tid = app.tenant(slug).await.id.clone();
    let email = email.to_owned();
    app.core
        .db()
        .run(move |c| {
            use diesel::prelude::*;
            use gatehouse_core::storage::schema::users::dsl as u;
            Ok(u::users
                .filter(u::tenant_id.eq(&tid))
                .filter(u::email.eq(&email))
                .select(u::password_hash)
                .first::<Option<String>>(c)?)
        })
        .await
        .unwrap()
        .expect("a password hash")
}

async fn put_hash(app: &TestApp, slug: &str, email: &str, hash: String) {
    let tid = app.tenant(slug).await.id.clone();
    let email = email.to_owned();
    app.core
        .db()
        .run(move |c| {
            use diesel::prelude::*;
            use gatehouse_core::storage::schema::users::dsl as u;
            diesel::update(
                u::users
                    .filter(u::tenant_id.eq(&tid))
                    .filter(u::email.eq(&email)),
            )
            .set(u::password_hash.eq(Some(hash)))
            .execute(c)?;
            Ok(())
        })
        .await
        .unwrap();
}

async fn appmixer_signin(app: &TestApp, email: &str, password: &str) -> u16 {
    let body = json!({"username": email, "password": password});
    app.post(DEMO, "/user/auth", &body).await.status
}

async fn a_2a_hash_becomes_argon2id_after_one_signin_and_then_bcrypt_at_a_higher_cost(
    app: TestApp,
) {
    // The demo tenant starts on bcrypt (as imported tenants do); ann's hash is made `$2a$`, the
    // form tiledesk-server stores.
    let email = "ann@example.com";
    let r = app.post(DEMO, "/v1/auth/signup", &signup_body(email)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.json()["user"]["_id"].as_str().unwrap().to_owned();
    let made = stored_hash(&app, "demo", email).await;
    assert!(made.starts_with("$2b$04$"), "{made}");
    put_hash(&app, "demo", email, made.replacen("$2b$", "$2a$", 1)).await;

    app.set("demo", "ARGON2_MEMORY_KIB", "1024").await;
    app.set("demo", "ARGON2_ITERATIONS", "1").await;
    app.set("demo", "PASSWORD_HASH", "argon2id").await;
    let r = signin(&app, DEMO, "/v1", email, PASSWORD).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["user"]["_id"],
        json!(id),
        "the client sees nothing new"
    );
    let rehashed = stored_hash(&app, "demo", email).await;
    assert!(
        rehashed.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"),
        "{rehashed}"
    );
    // The next sign-ins work in both dialects, and leave a hash that follows the policy alone.
    assert_eq!(appmixer_signin(&app, email, PASSWORD).await, 200);
    assert_eq!(signin(&app, DEMO, "/v3", email, PASSWORD).await.status, 200);
    assert_eq!(stored_hash(&app, "demo", email).await, rehashed);
    // Appmixer answers a wrong password with its 403 "Invalid credentials".
    assert_eq!(appmixer_signin(&app, email, "wrong-password").await, 403);

    // Back to bcrypt, at a higher cost: the next good sign-in (Appmixer this time) moves it.
    app.set("demo", "PASSWORD_HASH", "bcrypt").await;
    app.set("demo", "BCRYPT_COST", "5").await;
    assert_eq!(appmixer_signin(&app, email, PASSWORD).await, 200);
    let raised = stored_hash(&app, "demo", email).await;
    assert!(raised.starts_with("$2b$05$"), "{raised}");
    assert_eq!(signin(&app, DEMO, "/v1", email, PASSWORD).await.status, 200);
    // Audited as an ordinary sign-in, with a note that the hash was replaced.
    app.core.flush_audit().await.unwrap();
    let tenant = app.tenant("demo").await;
    let q = gatehouse_core::audit::AuditQuery {
        kind: Some("signin".into()),
        ..Default::default()
    };
    let noted = app
        .core
        .audit_events(&tenant, q)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.detail.as_deref().is_some_and(|d| d.contains("rehashed")))
        .count();
    assert_eq!(noted, 2);
}

async fn new_tenants_hash_with_owasp_argon2id_and_unknown_accounts_cost_the_same(app: TestApp) {
    // A tenant made by the CLI takes the defaults: argon2id, m=19456 KiB, t=2, p=1.
    let out = app.cli(&["tenant", "create", "fresh", "--host", "fresh.test"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = app.cli(&[
        "user",
        "create",
        "--tenant",
        "fresh",
        "--email",
        "eve@example.com",
        "--password",
        "eve-secret-pass",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let hash = stored_hash(&app, "fresh", "eve@example.com").await;
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    app.core.refresh_tenants().await.unwrap();
    let ok = app
        .post(
            "fresh.test",
            "/v1/auth/signin",
            &json!({"email": "eve@example.com", "password": "eve-secret-pass"}),
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(
        stored_hash(&app, "fresh", "eve@example.com").await,
        hash,
        "no rehash"
    );

    // An unknown account costs one verification under the tenant's policy, as a known one does.
    let jobs = |m: &str| {
        m.lines()
            .find(|l| l.starts_with("gatehouse_hash_jobs_total "))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap()
    };
    // The first unknown sign-in may make the dummy; after it, each costs exactly one job.
    let unknown = json!({"email": "nobody@example.com", "password": "whatever-pass"});
    app.post("fresh.test", "/v1/auth/signin", &unknown).await;
    let before = jobs(&app.metrics().await.body);
    let r = app.post("fresh.test", "/v1/auth/signin", &unknown).await;
    assert_eq!(r.status, 401, "{}", r.body);
    let wrong = json!({"email": "eve@example.com", "password": "wrong-pass-123"});
    let r = app.post("fresh.test", "/v1/auth/signin", &wrong).await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(jobs(&app.metrics().await.body) - before, 2.0);

    // Settings are checked: bad values and values above the operator's caps are refused.
    for (key, value) in [
        ("PASSWORD_HASH", "md5"),
        ("ARGON2_MEMORY_KIB", "512"),
        ("ARGON2_MEMORY_KIB", "1048576"),
        ("ARGON2_ITERATIONS", "11"),
        ("ARGON2_PARALLELISM", "0"),
    ] {
        let out = app.cli(&["tenant", "set", "fresh", key, value]);
        assert!(!out.status.success(), "{key}={value} accepted");
    }
}

on_both!(
    a_2a_hash_becomes_argon2id_after_one_signin_and_then_bcrypt_at_a_higher_cost,
    new_tenants_hash_with_owasp_argon2id_and_unknown_accounts_cost_the_same,
);
