//! Token introspection (issue 20, finding 5; RFC 7662): `POST /oauth/introspect` on a tenant's
//! host tells a resource server whether a token is live now. A JWKS verifier sees a logout only at
//! `exp`; this endpoint sees it at once, on every node: a live token is answered with its claims,
//! a logged-out (either dialect), revoked, expired, disabled user's, retired key's or another
//! tenant's token with exactly `{"active": false}`. Only a tenant admin's token or a client the
//! operator registered for the tenant may ask; anyone else gets 401 with `WWW-Authenticate`.

use crate::helpers::*;
use gatehouse_core::users::NewUser;
use gatehouse_core::{Email, ManualClock, Password, Scope};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::Arc;

const PASSWORD: &str = "long-enough-pw";
fn inactive() -> Value {
    json!({"active": false})
}

/// A second node on `a`'s database. On PostgreSQL it never polls (refresh once an hour), so what
/// reaches it can only have come through NOTIFY; on SQLite it polls every second, as `a` does.
async fn second_node(a: &TestApp) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let push_only = a.backend == Backend::Postgres;
    spawn_app_tweaked(a.backend, dir, a.db_url.clone(), "", move |c| {
        if push_only {
            c.tenants.refresh_seconds = 3600;
        }
    })
    .await
}

/// An admin of `slug`, made as a tenant's first admin is (through core, as the CLI does); returns
/// an Appmixer `Authorization` value.
async fn admin_of(app: &TestApp, slug: &str, host: &str, email: &str) -> String {
    let t = app.tenant(slug).await;
    let mut new = NewUser::new(
        Email::parse(email).unwrap(),
        Some(Password::new(PASSWORD, 8).unwrap()),
    );
    new.scopes.push(Scope::admin());
    new.is_active = true;
    app.core.create_user(&t, new).await.unwrap();
    let token = app
        .token_of(
            host,
            "/user/auth",
            &json!({"email": email, "password": PASSWORD}),
        )
        .await;
    format!("Bearer {token}")
}

async fn signup(app: &TestApp, host: &str, name: &str) -> String {
    let email = format!("{name}@example.com");
    let r = app
        .post(
            host,
            "/user",
            &json!({"username": name, "email": email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    email
}

/// A fresh Appmixer sign-in: the bare token.
async fn appmixer_token(app: &TestApp, host: &str, email: &str) -> String {
    app.token_of(
        host,
        "/user/auth",
        &json!({"email": email, "password": PASSWORD}),
    )
    .await
}

/// A fresh Tiledesk sign-in: the token as Tiledesk hands it out (`JWT ...`).
async fn tiledesk_token(app: &TestApp, host: &str, email: &str) -> String {
    app.token_of(
        host,
        "/v1/auth/signin",
        &json!({"email": email, "password": PASSWORD}),
    )
    .await
}

/// `POST /oauth/introspect` on `host` with `token` in a form body and `auth` as `Authorization`.
async fn introspect(app: &TestApp, host: &str, auth: Option<&str>, token: &str) -> Resp {
    let mut rb = app
        .request(Method::POST, host, "/oauth/introspect")
        .form(&[("token", token)]);
    if let Some(a) = auth {
        rb = rb.header(AUTHORIZATION, a);
    }
    app.send(rb).await
}

/// The answer for `token`, which must be a 200.
async fn state(app: &TestApp, auth: &str, token: &str) -> Value {
    let r = introspect(app, DEMO, Some(auth), token).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

async fn inactive_within_the_bound(node: &TestApp, auth: &str, token: &str) -> bool {
    eventually(10, || async {
        state(node, auth, token).await == inactive()
    })
    .await
}

/// HTTP Basic for a registered client.
fn basic(id: &str, secret: &str) -> String {
    use base64::Engine;
    let pair = format!("{id}:{secret}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// Registers a client of `slug` through the operator API; returns its Basic `Authorization`.
async fn client_of(app: &TestApp, slug: &str, name: &str) -> (String, String, String) {
    let key = app.operator_key(&format!("ops-{name}")).await;
    let r = app
        .admin(
            Method::POST,
            &format!("/admin/v1/tenants/{slug}/introspection-clients"),
            Some(&json!({"name": name})),
            Some(key.as_str()),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let v = r.json();
    let (id, secret) = (
        v["client_id"].as_str().unwrap().to_owned(),
        v["client_secret"].as_str().unwrap().to_owned(),
    );
    (basic(&id, &secret), id, secret)
}

fn claims_of(token: &str) -> Value {
    let jwt = token.split_once(' ').map_or(token, |(_, t)| t);
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    v.insecure_disable_signature_validation();
    v.validate_aud = false;
    jsonwebtoken::decode::<Value>(jwt, &jsonwebtoken::DecodingKey::from_secret(b""), &v)
        .expect("a JWT")
        .claims
}

async fn a_live_token_is_active_with_its_claims_in_both_dialects(app: TestApp) {
    let admin = admin_of(&app, "demo", DEMO, "root@example.com").await;
    let email = signup(&app, DEMO, "alive").await;
    let am = appmixer_token(&app, DEMO, &email).await;
    let td = tiledesk_token(&app, DEMO, &email).await;
    let demo = app.tenant("demo").await;

    let v = state(&app, &admin, &am).await;
    let c = claims_of(&am);
    assert_eq!(v["active"], true, "{v}");
    assert_eq!(v["sub"], c["id"]);
    assert_eq!(v["tid"], demo.id.as_str());
    assert_eq!(v["tenant"], "demo");
    for claim in ["exp", "iat", "jti", "iss"] {
        assert_eq!(v[claim], c[claim], "{claim}");
    }
    assert!(v.get("aud").is_none(), "Appmixer tokens carry no aud: {v}");
    assert_eq!(v["scope"], "user");
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["dialect"], "appmixer");
    assert_eq!(v["username"], "alive");
    assert_eq!(v["email"], email.as_str());

    // The Tiledesk token, with or without the `JWT ` its sign-in put before it.
    let c = claims_of(&td);
    for token in [td.as_str(), td.trim_start_matches("JWT ")] {
        let v = state(&app, &admin, token).await;
        assert_eq!(v["active"], true, "{v}");
        assert_eq!(v["sub"], c["_id"]);
        assert_eq!(v["aud"], "https://tiledesk.com");
        assert_eq!(v["iss"], "https://tiledesk.com");
        assert_eq!(v["jti"], c["jti"]);
        assert_eq!(v["dialect"], "tiledesk");
    }
    // The answer is never cached, and a JSON body is not what the endpoint takes.
    let r = introspect(&app, DEMO, Some(admin.as_str()), &am).await;
    assert!(r.content_type.starts_with("application/json"));
    let rb = app
        .request(Method::POST, DEMO, "/oauth/introspect")
        .header(AUTHORIZATION, &admin)
        .json(&json!({"token": am}));
    let r = app.send(rb).await;
    assert_eq!(r.status, 415, "{}", r.body);
    assert_eq!(r.json()["error"], "invalid_request");
    // No token, or two: RFC 6749's invalid_request.
    let rb = app
        .request(Method::POST, DEMO, "/oauth/introspect")
        .header(AUTHORIZATION, &admin)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(format!("token={am}&token={am}"));
    assert_eq!(app.send(rb).await.status, 400);
    let rb = app
        .request(Method::POST, DEMO, "/oauth/introspect")
        .header(AUTHORIZATION, &admin)
        .form(&[("token_type_hint", "access_token")]);
    let r = app.send(rb).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["error"], "invalid_request");
    // Garbage is simply not active.
    for junk in ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.e30."] {
        assert_eq!(state(&app, &admin, junk).await, inactive(), "{junk}");
    }
}

/// Logged out in either dialect, revoked by `jti` from the CLI, every token ended
/// (revoke-tokens), a disabled user's: inactive at once on the node that took it, and within the
/// bound on a second node; the user's other tokens stay active on both.
async fn ended_tokens_are_inactive_on_every_node(a: TestApp) {
    let b = second_node(&a).await;
    let admin = admin_of(&a, "demo", DEMO, "root@example.com").await;
    let email = signup(&a, DEMO, "leaver").await;
    let (am1, am2) = (
        appmixer_token(&a, DEMO, &email).await,
        appmixer_token(&a, DEMO, &email).await,
    );
    let td = tiledesk_token(&a, DEMO, &email).await;
    for node in [&a, &b] {
        for t in [&am1, &am2, &td] {
            assert_eq!(state(node, &admin, t).await["active"], true);
        }
    }

    // Appmixer's logout.
    let r = a
        .post_auth(DEMO, "/user/logout", &json!({}), &format!("Bearer {am1}"))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(state(&a, &admin, &am1).await, inactive());
    assert!(inactive_within_the_bound(&b, &admin, &am1).await);
    // Tiledesk's logout.
    let r = a.post_auth(DEMO, "/v1/auth/logout", &json!({}), &td).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(state(&a, &admin, &td).await, inactive());
    assert!(inactive_within_the_bound(&b, &admin, &td).await);
    for node in [&a, &b] {
        assert_eq!(state(node, &admin, &am2).await["active"], true);
    }

    // `gatehouse token revoke` (another process) by the token's jti.
    let jti = claims_of(&am2)["jti"].as_str().unwrap().to_owned();
    let out = a.cli(&["token", "revoke", "--tenant", "demo", &jti]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(inactive_within_the_bound(&a, &admin, &am2).await);
    assert!(inactive_within_the_bound(&b, &admin, &am2).await);

    // Every token of the user ended (the CLI's revoke-tokens).
    let am3 = appmixer_token(&a, DEMO, &email).await;
    assert_eq!(state(&b, &admin, &am3).await["active"], true);
    let out = a.cli(&["user", "revoke-tokens", "--tenant", "demo", &email]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(inactive_within_the_bound(&a, &admin, &am3).await);
    assert!(inactive_within_the_bound(&b, &admin, &am3).await);

    // A disabled user's token; enabled again, a fresh sign-in is active.
    let other = signup(&a, DEMO, "suspended").await;
    let am4 = appmixer_token(&a, DEMO, &other).await;
    assert_eq!(state(&b, &admin, &am4).await["active"], true);
    let out = a.cli(&["user", "disable", "--tenant", "demo", &other]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(inactive_within_the_bound(&a, &admin, &am4).await);
    assert!(inactive_within_the_bound(&b, &admin, &am4).await);
    // A deleted user's token.
    let gone = signup(&a, DEMO, "gone").await;
    let am5 = appmixer_token(&a, DEMO, &gone).await;
    let id = claims_of(&am5)["id"].as_str().unwrap().to_owned();
    let r = a
        .json(
            Method::DELETE,
            DEMO,
            &format!("/users/{id}"),
            &json!({}),
            Some(admin.as_str()),
        )
        .await;
    assert!(r.status == 200 || r.status == 204, "{}", r.body);
    assert!(inactive_within_the_bound(&a, &admin, &am5).await);
    assert!(inactive_within_the_bound(&b, &admin, &am5).await);
}

/// Expiry is read from the server's clock, with no leeway: active a second before `exp`,
/// inactive at `exp` (the caller, a registered client, does not expire).
async fn an_expired_token_is_inactive(app: TestApp, clock: Arc<ManualClock>) {
    app.set("demo", "TOKEN_TTL_SECONDS", "600").await;
    let (client, _, _) = client_of(&app, "demo", "billing").await;
    let email = signup(&app, DEMO, "shortlived").await;
    let am = appmixer_token(&app, DEMO, &email).await;
    let td = tiledesk_token(&app, DEMO, &email).await;
    clock.advance_secs(599);
    assert_eq!(state(&app, &client, &am).await["active"], true);
    assert_eq!(state(&app, &client, &td).await["active"], true);
    clock.advance_secs(1);
    assert_eq!(state(&app, &client, &am).await, inactive());
    assert_eq!(state(&app, &client, &td).await, inactive());
}

mod an_expired_token_is_inactive {
    use super::*;

    async fn run(backend: Backend) {
        let clock = Arc::new(ManualClock::new(chrono::Utc::now().timestamp_millis()));
        match spawn_app_clocked(backend, "", clock.clone()).await {
            Some(app) => super::an_expired_token_is_inactive(app, clock).await,
            None => eprintln!("skipped the PostgreSQL variant: no PostgreSQL server"),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        run(Backend::Sqlite).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        run(Backend::Postgres).await
    }
}

/// Another tenant's tokens are inactive here (an admin's included), and a retired key's tokens too.
async fn another_tenants_and_a_retired_keys_tokens_are_inactive(app: TestApp) {
    let admin = admin_of(&app, "demo", DEMO, "root@example.com").await;
    let acme_admin = admin_of(&app, "acme", ACME, "root@acme.example").await;
    let email = signup(&app, ACME, "elsewhere").await;
    let am = appmixer_token(&app, ACME, &email).await;
    let td = tiledesk_token(&app, ACME, &email).await;
    for t in [
        am.as_str(),
        td.as_str(),
        acme_admin.trim_start_matches("Bearer "),
    ] {
        assert_eq!(state(&app, &admin, t).await, inactive());
    }
    // At home they are live.
    let r = introspect(&app, ACME, Some(acme_admin.as_str()), &am).await;
    assert_eq!(r.json()["active"], true, "{}", r.body);

    let email = signup(&app, DEMO, "rotated").await;
    let old = appmixer_token(&app, DEMO, &email).await;
    let kid = jsonwebtoken::decode_header(&old).unwrap().kid.unwrap();
    let demo = app.tenant("demo").await;
    app.core
        .rotate_key(&demo, gatehouse_core::token::KeyAlg::Hs256, 0)
        .await
        .unwrap();
    let demo = app.tenant("demo").await;
    app.core.retire_key(&demo, &kid).await.unwrap();
    let admin = admin_of(&app, "demo", DEMO, "root2@example.com").await;
    assert_eq!(state(&app, &admin, &old).await, inactive());
    let fresh = appmixer_token(&app, DEMO, &email).await;
    assert_eq!(state(&app, &admin, &fresh).await["active"], true);
}

fn challenges(app_resp: &reqwest::Response) -> Vec<String> {
    app_resp
        .headers()
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect()
}

/// Only a tenant admin or a registered client of this tenant may ask: no credentials, a user who
/// is not an admin, a wrong secret, a removed client or another tenant's admin or client get 401
/// with `WWW-Authenticate`; past 10 failed client authentications from one address in a minute,
/// 429 (the right secret included, until the minute ends).
async fn only_a_tenant_admin_or_a_registered_client_may_ask(app: TestApp) {
    let email = signup(&app, DEMO, "plain").await;
    let token = appmixer_token(&app, DEMO, &email).await;
    let acme_admin = admin_of(&app, "acme", ACME, "root@acme.example").await;
    let (acme_client, _, _) = client_of(&app, "acme", "acme-api").await;
    let (client, id, secret) = client_of(&app, "demo", "demo-api").await;

    // A registered client of this tenant asks, and the answer is right.
    assert_eq!(state(&app, &client, &token).await["active"], true);

    within_one_rate_window_for(20).await;
    let td = tiledesk_token(&app, DEMO, &email).await;
    let refused: Vec<(&str, String)> = vec![
        ("no credentials", String::new()),
        ("a plain user's Appmixer token", format!("Bearer {token}")),
        ("a plain user's Tiledesk token", td.clone()),
        ("another tenant's admin", acme_admin.clone()),
        ("another tenant's client", acme_client.clone()),
        ("a wrong secret", basic(&id, &format!("{secret}x"))),
        (
            "an unknown client",
            basic("0123456789abcdef01234567", &secret),
        ),
        ("a password in place of a secret", basic(&email, PASSWORD)),
    ];
    for (what, auth) in &refused {
        let mut rb = app
            .request(Method::POST, DEMO, "/oauth/introspect")
            .form(&[("token", token.as_str())]);
        if !auth.is_empty() {
            rb = rb.header(AUTHORIZATION, auth);
        }
        let res = rb.send().await.unwrap();
        let status = res.status().as_u16();
        let challenges = challenges(&res);
        let body: Value = res.json().await.unwrap();
        assert_eq!(status, 401, "{what}: {body}");
        assert!(
            challenges
                .iter()
                .any(|c| c.starts_with("Basic realm=\"demo\""))
                && challenges
                    .iter()
                    .any(|c| c.starts_with("Bearer realm=\"demo\"")),
            "{what}: {challenges:?}"
        );
        assert!(body.get("active").is_none(), "{what}: {body}");
    }
    // The non-admin is told why (RFC 6750's insufficient_scope).
    let r = introspect(&app, DEMO, Some(format!("Bearer {token}").as_str()), &token).await;
    assert_eq!(r.json()["error"], "insufficient_scope");

    // Four client failures so far (acme's client, the wrong secret, the unknown client, the
    // password; tokens are not counted); six more reach the limit of 10, and then even the right
    // secret waits for the next minute.
    let r = introspect(&app, DEMO, Some(basic(&id, "ghi_wrong").as_str()), &token).await;
    assert_eq!(r.json()["error"], "invalid_client");
    for _ in 0..5 {
        let r = introspect(&app, DEMO, Some(basic(&id, "ghi_wrong").as_str()), &token).await;
        assert_eq!(r.status, 401, "{}", r.body);
    }
    let r = introspect(&app, DEMO, Some(client.as_str()), &token).await;
    assert_eq!(r.status, 429, "{}", r.body);
    // Another tenant's counter is its own, and tenant admins are not counted.
    let r = introspect(&app, ACME, Some(acme_client.as_str()), &token).await;
    assert_eq!(r.json(), inactive(), "{}", r.body);
    let admin = admin_of(&app, "demo", DEMO, "root@example.com").await;
    assert_eq!(state(&app, &admin, &token).await["active"], true);

    // Removing: once (then 404), and the list is empty (a removed client's next call is refused:
    // see the CLI's test, where no limit was reached).
    let key = app.operator_key("remover").await;
    let r = app
        .admin(
            Method::DELETE,
            &format!("/admin/v1/tenants/demo/introspection-clients/{id}"),
            None,
            Some(key.as_str()),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = app
        .admin(
            Method::DELETE,
            &format!("/admin/v1/tenants/demo/introspection-clients/{id}"),
            None,
            Some(key.as_str()),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    let listed = app
        .admin(
            Method::GET,
            "/admin/v1/tenants/demo/introspection-clients",
            None,
            Some(key.as_str()),
        )
        .await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.json()["items"], json!([]));
    // Another tenant's client cannot be removed through this tenant.
    let acme_listed = app
        .admin(
            Method::GET,
            "/admin/v1/tenants/acme/introspection-clients",
            None,
            Some(key.as_str()),
        )
        .await
        .json();
    let acme_id = acme_listed["items"][0]["id"].as_str().unwrap().to_owned();
    assert!(
        acme_listed.to_string().find("ghi_").is_none(),
        "a secret listed"
    );
    let r = app
        .admin(
            Method::DELETE,
            &format!("/admin/v1/tenants/demo/introspection-clients/{acme_id}"),
            None,
            Some(key.as_str()),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
}

/// The CLI's `introspection-client add|list|remove`: the secret printed once works at once on the
/// tenant's host; removing ends it; both are on the audit record.
async fn the_cli_adds_lists_and_removes_clients(app: TestApp) {
    let email = signup(&app, DEMO, "viacli").await;
    let token = appmixer_token(&app, DEMO, &email).await;
    let out = app.cli(&[
        "introspection-client",
        "add",
        "--tenant",
        "demo",
        "--name",
        "reports",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let line = stdout(&out);
    let (id, secret) = line
        .trim()
        .strip_prefix("client_id=")
        .and_then(|rest| rest.split_once(" client_secret="))
        .unwrap_or_else(|| panic!("unexpected output: {line}"));
    let (id, secret) = (id.to_owned(), secret.to_owned());
    assert!(stderr(&out).contains("shown once"));
    let out = app.cli(&["introspection-client", "list", "--tenant", "demo"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with(&format!("{id} name=reports created=")));
    assert!(!stdout(&out).contains(&secret));
    // The same name twice is refused.
    let out = app.cli(&[
        "introspection-client",
        "add",
        "--tenant",
        "demo",
        "--name",
        "reports",
    ]);
    assert!(!out.status.success());

    assert_eq!(
        state(&app, &basic(&id, &secret), &token).await["active"],
        true
    );
    let out = app.cli(&["introspection-client", "remove", "--tenant", "acme", &id]);
    assert!(!out.status.success(), "removed through another tenant");
    let out = app.cli(&["introspection-client", "remove", "--tenant", "demo", &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    let r = introspect(&app, DEMO, Some(basic(&id, &secret).as_str()), &token).await;
    assert_eq!(r.status, 401, "{}", r.body);

    let out = app.cli(&["audit", "--tenant", "demo", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let kinds: Vec<String> = stdout(&out)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|e| e["kind"].as_str().map(str::to_owned))
        .collect();
    for kind in [
        "introspection_client_created",
        "introspection_client_removed",
    ] {
        assert_eq!(
            kinds.iter().filter(|k| *k == kind).count(),
            1,
            "{kind} in {kinds:?}"
        );
    }
    assert!(
        !stdout(&out).contains(&secret),
        "the audit log holds the secret"
    );
}

on_both!(
    a_live_token_is_active_with_its_claims_in_both_dialects,
    ended_tokens_are_inactive_on_every_node,
    another_tenants_and_a_retired_keys_tokens_are_inactive,
    only_a_tenant_admin_or_a_registered_client_may_ask,
    the_cli_adds_lists_and_removes_clients,
);
