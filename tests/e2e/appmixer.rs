//! The Appmixer facade end to end: every route and every error row of spec/appmixer.md, over real
//! HTTP on both backends. Boom bodies are checked whole; hostile input must never reach a 500 nor
//! write anything.

use crate::helpers::*;
use gatehouse_core::Tenant;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::{json, Value};

// ---- helpers ----

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn new_user(username: &str, email: &str, password: &str) -> Value {
    json!({"username": username, "email": email, "password": password})
}

/// Asserts a Boom answer: status, the JSON shape with exactly its three keys, and the message.
fn assert_boom(r: &Resp, status: u16, message: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    assert!(r.content_type.starts_with("application/json"), "{r:?}");
    let reason = reqwest::StatusCode::from_u16(status)
        .unwrap()
        .canonical_reason()
        .unwrap()
        .to_owned();
    assert_eq!(
        r.json(),
        json!({"statusCode": status, "error": reason, "message": message}),
        "{}",
        r.body
    );
}

/// Asserts a 400 Boom whose message mentions `needle` (usually the field's name).
fn assert_bad_request(r: &Resp, needle: &str) {
    assert_eq!(r.status, 400, "{}", r.body);
    let body = r.json();
    assert_eq!(body["statusCode"], 400);
    assert_eq!(body["error"], "Bad Request");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains(needle), "{message:?} lacks {needle:?}");
}

fn token_in(r: &Resp) -> String {
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["token"].as_str().expect("a token").to_owned()
}

/// Creates a user through `POST /user` and returns its token.
async fn signup(app: &TestApp, host: &str, username: &str, email: &str) -> String {
    let r = app
        .post(host, "/user", &new_user(username, email, "long-enough-pw"))
        .await;
    token_in(&r)
}

async fn signin(app: &TestApp, host: &str, login: &str, password: &str) -> Resp {
    app.post(
        host,
        "/user/auth",
        &json!({"username": login, "password": password}),
    )
    .await
}

/// An admin made the way a tenant's first admin is made (the CLI), signed in; returns its
/// `Authorization` header value.
async fn admin(app: &TestApp, slug: &str, host: &str) -> String {
    let email = format!("admin@{slug}.example.com");
    let out = app.cli(&[
        "user",
        "create",
        "--tenant",
        slug,
        "--email",
        &email,
        "--password",
        "admin-password",
        "--scope",
        "admin",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    bearer(&token_in(
        &signin(app, host, &email, "admin-password").await,
    ))
}

async fn count(app: &TestApp, slug: &str) -> i64 {
    let t = app.tenant(slug).await;
    app.core.count_users(&t).await.unwrap()
}

async fn me(app: &TestApp, host: &str, auth: &str) -> Resp {
    app.get(host, "/user", Some(auth)).await
}

async fn delete(app: &TestApp, host: &str, path: &str, auth: &str) -> Resp {
    app.json(Method::DELETE, host, path, &json!({}), Some(auth))
        .await
}

/// Asserts the `200 {}` of a change that returns nothing.
fn assert_empty_ok(r: &Resp) {
    assert_eq!((r.status, r.json()), (200, json!({})), "{}", r.body);
}

/// The claims of a JWT, unverified (the test only reads what the server wrote).
fn claims_of(jwt: &str) -> Value {
    let mut v = jsonwebtoken::Validation::new(Algorithm::HS256);
    v.insecure_disable_signature_validation();
    v.validate_exp = false;
    v.required_spec_claims.clear();
    jsonwebtoken::decode::<Value>(jwt, &jsonwebtoken::DecodingKey::from_secret(b""), &v)
        .unwrap()
        .claims
}

/// Signs `claims` with the tenant's real key, to probe what the server accepts beyond the signature.
fn forge(tenant: &Tenant, claims: &Value) -> String {
    let key = tenant.keys.signing_key().unwrap();
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(key.kid.clone());
    encode(
        &header,
        claims,
        &EncodingKey::from_secret(key.secret.expose()),
    )
    .unwrap()
}

fn base64url(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

// ---- the seed's examples and the happy paths ----

async fn the_seed_curl_examples_work_as_written(app: TestApp) {
    let create =
        json!({"username":"abc@example.com","email":"abc@example.com","password":"abc321"});
    let login = json!({"username":"abc@example.com","password":"abc321"});
    // Under the default PASSWORD_MIN_LENGTH of 8, "abc321" is too short.
    assert_bad_request(&app.post(DEMO, "/user", &create).await, "password");
    app.set("demo", "PASSWORD_MIN_LENGTH", "6").await;

    let r = app.post(DEMO, "/user", &create).await;
    let created = token_in(&r);
    assert_eq!(r.json().as_object().unwrap().len(), 1, "{}", r.body);

    let r = app.post(DEMO, "/user/auth", &login).await;
    let token = token_in(&r);
    let user = r.json()["user"].clone();
    assert_eq!(
        user,
        json!({"id": user["id"], "username": "abc@example.com", "isActive": false,
               "email": "abc@example.com", "plan": "free"})
    );
    let id = user["id"].as_str().unwrap();
    assert_eq!(id.len(), 24);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));

    for t in [&created, &token] {
        let c = claims_of(t);
        assert_eq!(c["id"], id);
        assert_eq!(c["scope"], json!(["user"]));
        assert_eq!(c["tid"], app.tenant("demo").await.id.as_str());
        assert_eq!(
            c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
            2_592_000
        );
        assert!(c["jti"].is_string());
        assert!(c.get("aud").is_none() && c.get("sub").is_none());
        let r = me(&app, DEMO, &bearer(t)).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            r.json(),
            json!({"id": id, "username": "abc@example.com", "isActive": false,
                   "email": "abc@example.com", "scope": ["user"], "plan": "free", "metadata": {}})
        );
    }
    // The other tenants keep their own minimum.
    assert_bad_request(&app.post(ACME, "/user", &create).await, "password");
}

async fn sign_in_matches_username_or_email_case_insensitively(app: TestApp) {
    let body = json!({"username": "MixedCase", "email": " Mixed@Example.COM ",
                      "password": "long-enough-pw", "metadata": {"team": "blue", "n": [1, 2]}});
    token_in(&app.post(DEMO, "/user", &body).await);
    for login in [
        json!({"username": "mixedcase", "password": "long-enough-pw"}),
        json!({"username": "MIXEDCASE", "password": "long-enough-pw"}),
        json!({"username": "MIXED@example.com", "password": "long-enough-pw"}),
        json!({"email": "mixed@EXAMPLE.com", "password": "long-enough-pw"}),
    ] {
        let r = app.post(DEMO, "/user/auth", &login).await;
        assert_eq!(r.status, 200, "{login}: {}", r.body);
        assert_eq!(r.json()["user"]["username"], "MixedCase");
        assert_eq!(r.json()["user"]["email"], "mixed@example.com");
    }
    let token = token_in(&signin(&app, DEMO, "mixedcase", "long-enough-pw").await);
    let r = me(&app, DEMO, &bearer(&token)).await;
    assert_eq!(r.json()["metadata"], json!({"team": "blue", "n": [1, 2]}));
}

// ---- sign-in errors ----

async fn sign_in_failures_get_one_answer(app: TestApp) {
    signup(&app, DEMO, "known", "known@example.com").await;
    for (login, password) in [
        ("known", "wrong-password"),
        ("known@example.com", "wrong-password"),
        ("nobody", "long-enough-pw"),
        ("nobody@example.com", "long-enough-pw"),
    ] {
        assert_boom(
            &signin(&app, DEMO, login, password).await,
            403,
            "Invalid credentials",
        );
    }
    // The same account in another tenant does not exist there.
    assert_boom(
        &signin(&app, ACME, "known", "long-enough-pw").await,
        403,
        "Invalid credentials",
    );
    let cases = [
        (json!({"username": "known"}), "password"),
        (json!({"password": "long-enough-pw"}), "username"),
        (json!({}), "password"),
        (json!({"username": "", "password": "x"}), "username"),
        (json!({"username": 5, "password": "x"}), "username"),
        (json!({"username": ["known"], "password": "x"}), "username"),
        (json!({"email": null, "password": "x"}), "email"),
        (
            json!({"username": "known", "password": 12345678}),
            "password",
        ),
        (json!({"username": "known", "password": null}), "password"),
        (
            json!({"username": "known", "password": {"$gt": ""}}),
            "password",
        ),
    ];
    for (body, field) in cases {
        assert_bad_request(&app.post(DEMO, "/user/auth", &body).await, field);
    }
}

async fn an_account_locks_after_max_failures(app: TestApp) {
    app.set("demo", "SIGNIN_MAX_FAILURES", "3").await;
    signup(&app, DEMO, "lockme", "lockme@example.com").await;
    for _ in 0..3 {
        assert_eq!(signin(&app, DEMO, "lockme", "wrong-pass").await.status, 403);
    }
    let r = signin(&app, DEMO, "lockme", "long-enough-pw").await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(r.json()["statusCode"], 429);
    assert_eq!(r.json()["error"], "Too Many Requests");
    assert!(r.json()["message"].as_str().unwrap().len() > 5);
    // The lock belongs to the account: another user signs in.
    signup(&app, DEMO, "other", "other@example.com").await;
    assert_eq!(
        signin(&app, DEMO, "other", "long-enough-pw").await.status,
        200
    );
}

// ---- creating users ----

async fn create_user_validates_every_field(app: TestApp) {
    let long = "x".repeat(73);
    let cases = [
        (
            json!({"email": "a@example.com", "password": "long-enough-pw"}),
            "username",
        ),
        (
            json!({"username": "a", "password": "long-enough-pw"}),
            "email",
        ),
        (
            json!({"username": "a", "email": "a@example.com"}),
            "password",
        ),
        (new_user("a", "not-an-email", "long-enough-pw"), "email"),
        (new_user("a", "a@localhost", "long-enough-pw"), "email"),
        (new_user("a", "a@example.com", "short"), "password"),
        (new_user("a", "a@example.com", &long), "password"),
        (new_user("a", "a@example.com", &"é".repeat(37)), "password"),
        (
            new_user("   ", "a@example.com", "long-enough-pw"),
            "username",
        ),
        (
            new_user("a\u{7}b", "a@example.com", "long-enough-pw"),
            "username",
        ),
        (
            json!({"username": 1, "email": "a@example.com", "password": "long-enough-pw"}),
            "username",
        ),
        (
            json!({"username": "a", "email": ["a@example.com"], "password": "long-enough-pw"}),
            "email",
        ),
        (
            json!({"username": "a", "email": "a@example.com", "password": null}),
            "password",
        ),
        (
            json!({"username": "a", "email": "a@example.com", "password": true}),
            "password",
        ),
        (
            json!({"username": "a", "email": "a@example.com", "password": "long-enough-pw", "metadata": "x"}),
            "metadata",
        ),
        (
            json!({"username": "a", "email": "a@example.com", "password": "long-enough-pw", "metadata": [1]}),
            "metadata",
        ),
        (
            json!({"username": "a", "email": "a@example.com", "password": "long-enough-pw", "metadata": null}),
            "metadata",
        ),
    ];
    for (body, field) in cases {
        assert_bad_request(&app.post(DEMO, "/user", &body).await, field);
    }
    assert_eq!(count(&app, "demo").await, 0);
    // 72 bytes exactly is accepted.
    token_in(
        &app.post(
            DEMO,
            "/user",
            &new_user("a", "a@example.com", &"y".repeat(72)),
        )
        .await,
    );
}

async fn a_taken_username_or_email_is_a_conflict(app: TestApp) {
    signup(&app, DEMO, "taken", "taken@example.com").await;
    for body in [
        new_user("fresh", "taken@example.com", "long-enough-pw"),
        new_user("fresh", "  TAKEN@Example.com", "long-enough-pw"),
        new_user("TAKEN", "fresh@example.com", "long-enough-pw"),
        new_user("taken", "taken@example.com", "long-enough-pw"),
    ] {
        assert_boom(
            &app.post(DEMO, "/user", &body).await,
            409,
            "User already exists",
        );
    }
    assert_eq!(count(&app, "demo").await, 1);
    // The same person may exist in another tenant.
    signup(&app, ACME, "taken", "taken@example.com").await;
}

async fn concurrent_signups_with_one_email_create_one_user(app: TestApp) {
    let bodies: Vec<Value> = (0..8)
        .map(|i| new_user(&format!("racer{i}"), "race@example.com", "long-enough-pw"))
        .collect();
    let attempts = bodies.iter().map(|body| app.post(DEMO, "/user", body));
    let results = futures_util::future::join_all(attempts).await;
    let mut statuses: Vec<u16> = results.iter().map(|r| r.status).collect();
    statuses.sort_unstable();
    assert_eq!(
        statuses,
        [200, 409, 409, 409, 409, 409, 409, 409],
        "{results:?}"
    );
    for r in results.iter().filter(|r| r.status == 409) {
        assert_boom(r, 409, "User already exists");
    }
    assert_eq!(count(&app, "demo").await, 1);
}

async fn post_user_is_rate_limited_per_client(app: TestApp) {
    within_one_rate_window().await;
    app.set("demo", "SIGNUP_PER_IP_PER_MINUTE", "2").await;
    signup(&app, DEMO, "r1", "r1@example.com").await;
    signup(&app, DEMO, "r2", "r2@example.com").await;
    let r = app
        .post(
            DEMO,
            "/user",
            &new_user("r3", "r3@example.com", "long-enough-pw"),
        )
        .await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(r.json()["error"], "Too Many Requests");
    assert_eq!(count(&app, "demo").await, 2);
    // Sign-in is not a signup: it is not counted.
    assert_eq!(signin(&app, DEMO, "r1", "long-enough-pw").await.status, 200);
}

// ---- API_USER_CREATE_SCOPE ----

async fn api_user_create_scope_closes_and_reopens_signup(app: TestApp) {
    signup(&app, DEMO, "early", "early@example.com").await;
    let plain = bearer(&token_in(
        &signin(&app, DEMO, "early", "long-enough-pw").await,
    ));
    let admin = admin(&app, "demo", DEMO).await;

    let r = app
        .post_auth(
            DEMO,
            "/config",
            &json!({"key": "API_USER_CREATE_SCOPE", "value": "admin"}),
            &admin,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"key": "API_USER_CREATE_SCOPE", "value": "admin"})
    );

    let late = new_user("late", "late@example.com", "long-enough-pw");
    assert_boom(
        &app.post(DEMO, "/user", &late).await,
        401,
        "Missing authentication",
    );
    // Authentication is asked for before the body is read.
    assert_boom(
        &app.post(DEMO, "/user", &json!({"nonsense": 1})).await,
        401,
        "Missing authentication",
    );
    assert_boom(
        &app.post_auth(DEMO, "/user", &late, &plain).await,
        403,
        "Insufficient scope",
    );
    assert_boom(
        &app.post_auth(DEMO, "/user", &late, "Bearer not.a.jwt")
            .await,
        401,
        "Invalid JWT: key or signature is invalid",
    );
    assert_eq!(count(&app, "demo").await, 2);

    // The admin creates the user; the token it gets back is the new user's.
    let made = token_in(&app.post_auth(DEMO, "/user", &late, &admin).await);
    let r = me(&app, DEMO, &bearer(&made)).await;
    assert_eq!(r.json()["email"], "late@example.com");
    assert_eq!(r.json()["scope"], json!(["user"]));
    // Only the demo tenant closed its signup.
    signup(&app, ACME, "late", "late@example.com").await;

    let r = delete(&app, DEMO, "/config/API_USER_CREATE_SCOPE", &admin).await;
    assert_empty_ok(&r);
    signup(&app, DEMO, "reopened", "reopened@example.com").await;
    assert_eq!(count(&app, "demo").await, 4);
}

async fn api_user_create_scope_set_through_the_cli(app: TestApp) {
    let out = app.cli(&[
        "tenant",
        "set",
        "demo",
        "API_USER_CREATE_SCOPE",
        "ops, admin",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let closed = eventually(5, || async {
        let body = new_user("cli", "cli@example.com", "long-enough-pw");
        app.post(DEMO, "/user", &body).await.status == 401
    })
    .await;
    assert!(closed, "signup stayed open after `tenant set`");
    // A user holding any one of the listed scopes may create users.
    let out = app.cli(&[
        "user",
        "create",
        "--tenant",
        "demo",
        "--email",
        "ops@example.com",
        "--password",
        "ops-password",
        "--scope",
        "ops",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let ops = bearer(&token_in(
        &signin(&app, DEMO, "ops@example.com", "ops-password").await,
    ));
    let body = new_user("byops", "byops@example.com", "long-enough-pw");
    token_in(&app.post_auth(DEMO, "/user", &body, &ops).await);

    let out = app.cli(&["tenant", "unset", "demo", "API_USER_CREATE_SCOPE"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let open = eventually(5, || async {
        let body = new_user("open", "open@example.com", "long-enough-pw");
        app.post(DEMO, "/user", &body).await.status == 200
    })
    .await;
    assert!(open, "signup stayed closed after `tenant unset`");
}

// ---- tokens ----

async fn token_errors_are_told_apart(app: TestApp) {
    let token = signup(&app, DEMO, "tok", "tok@example.com").await;
    let acme = signup(&app, ACME, "tok", "tok@example.com").await;
    signup(&app, GLOBEX, "tok", "tok@example.com").await;
    let invalid = "Invalid JWT: key or signature is invalid";

    let r = app.get(DEMO, "/user", None).await;
    assert_boom(&r, 401, "Missing authentication");
    for auth in [format!("Basic {token}"), token.clone(), "Bearer".into()] {
        assert_boom(&me(&app, DEMO, &auth).await, 401, "Missing authentication");
    }
    let demo = app.tenant("demo").await;
    let kid = demo.keys.signing_key().unwrap().kid.clone();
    let claims = claims_of(&token);
    let alg_none = format!(
        "{}.{}.",
        base64url(
            json!({"alg": "none", "typ": "JWT", "kid": kid})
                .to_string()
                .as_bytes()
        ),
        base64url(claims.to_string().as_bytes())
    );
    let mut unknown_key_header = Header::new(Algorithm::HS256);
    unknown_key_header.kid = Some(kid.clone());
    let unknown_key = encode(
        &unknown_key_header,
        &claims,
        &EncodingKey::from_secret(b"a key nobody was given"),
    )
    .unwrap();
    let (head, rest) = token.split_once('.').unwrap();
    let (_, sig) = rest.split_once('.').unwrap();
    let mut other = claims.clone();
    other["scope"] = json!(["user", "admin"]);
    let tampered = format!("{head}.{}.{sig}", base64url(other.to_string().as_bytes()));
    for bad in [
        "garbage".to_owned(),
        "a.b.c".to_owned(),
        acme.clone(),
        alg_none,
        unknown_key,
        tampered,
        format!("{token}x"),
    ] {
        assert_boom(&me(&app, DEMO, &bearer(&bad)).await, 401, invalid);
    }
    // Another tenant's token, where the same email exists.
    assert_boom(&me(&app, GLOBEX, &bearer(&acme)).await, 401, invalid);

    // Signed with the right key but not an Appmixer token: the shape is checked too.
    let id = claims["id"].clone();
    let tid = claims["tid"].clone();
    let exp = claims["exp"].clone();
    for shape in [
        json!({"id": id, "scope": ["user"], "tid": tid, "exp": exp, "aud": "https://tiledesk.com"}),
        json!({"id": id, "scope": ["user"], "tid": tid, "exp": exp, "sub": "signin"}),
        json!({"id": id, "tid": tid, "exp": exp}),
        json!({"id": id, "scope": "user", "tid": tid, "exp": exp}),
        json!({"_id": id, "scope": ["user"], "tid": tid, "exp": exp}),
        json!({"id": 42, "scope": ["user"], "tid": tid, "exp": exp}),
        json!({"id": id, "scope": ["user"], "exp": exp}),
        json!({"id": id, "scope": ["user"], "tid": tid}),
    ] {
        let forged = forge(&demo, &shape);
        assert_boom(&me(&app, DEMO, &bearer(&forged)).await, 401, invalid);
    }
    let good = forge(
        &demo,
        &json!({"id": id, "scope": ["user"], "tid": tid, "exp": exp}),
    );
    assert_eq!(me(&app, DEMO, &bearer(&good)).await.status, 200);
    let past = forge(
        &demo,
        &json!({"id": id, "scope": ["user"], "tid": tid, "exp": 1_000_000}),
    );
    assert_boom(&me(&app, DEMO, &bearer(&past)).await, 401, "Token expired");
    // A token for a user id that was never made.
    let ghost = forge(
        &demo,
        &json!({"id": "0123456789abcdef01234567", "scope": ["user"], "tid": tid, "exp": exp}),
    );
    assert_boom(
        &me(&app, DEMO, &bearer(&ghost)).await,
        404,
        "User not found",
    );
}

async fn a_token_expires_after_token_ttl_seconds(app: TestApp) {
    app.set("demo", "TOKEN_TTL_SECONDS", "1").await;
    let token = signup(&app, DEMO, "brief", "brief@example.com").await;
    let c = claims_of(&token);
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 1);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_boom(&me(&app, DEMO, &bearer(&token)).await, 401, "Token expired");
}

async fn a_deleted_users_token_is_a_404(app: TestApp) {
    let admin = admin(&app, "demo", DEMO).await;
    let token = signup(&app, DEMO, "gone", "gone@example.com").await;
    let id = claims_of(&token)["id"].as_str().unwrap().to_owned();
    let r = delete(&app, DEMO, &format!("/users/{id}"), &admin).await;
    assert_empty_ok(&r);
    assert_boom(
        &me(&app, DEMO, &bearer(&token)).await,
        404,
        "User not found",
    );
    assert_boom(
        &signin(&app, DEMO, "gone", "long-enough-pw").await,
        403,
        "Invalid credentials",
    );
}

async fn a_disabled_user_is_refused(app: TestApp) {
    let token = signup(&app, DEMO, "dis", "dis@example.com").await;
    let out = app.cli(&["user", "disable", "--tenant", "demo", "dis@example.com"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let r = me(&app, DEMO, &bearer(&token)).await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(r.json()["statusCode"], 401);
    // Sign-in does not say that the account is disabled.
    assert_boom(
        &signin(&app, DEMO, "dis", "long-enough-pw").await,
        403,
        "Invalid credentials",
    );
    let out = app.cli(&["user", "enable", "--tenant", "demo", "dis@example.com"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Enabled again, the user signs in; the token from before the disabling stays ended.
    // (The node hears of the CLI's change, another process's, within refresh_seconds.)
    let fresh = token_in(&signin(&app, DEMO, "dis", "long-enough-pw").await);
    assert!(
        eventually(10, || async {
            me(&app, DEMO, &bearer(&fresh)).await.status == 200
        })
        .await
    );
    assert_boom(
        &me(&app, DEMO, &bearer(&token)).await,
        401,
        "Invalid JWT: key or signature is invalid",
    );
}

// ---- the caller's own account ----

async fn change_password_needs_the_old_one(app: TestApp) {
    let auth = bearer(&signup(&app, DEMO, "chg", "chg@example.com").await);
    let path = "/user/change-password";
    let change = |old: &str, new: &str| json!({"oldPassword": old, "newPassword": new});
    let r = app
        .post(DEMO, path, &change("long-enough-pw", "new-password"))
        .await;
    assert_boom(&r, 401, "Missing authentication");
    let r = app
        .post_auth(DEMO, path, &change("wrong-password", "new-password"), &auth)
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.json()["error"], "Forbidden");
    for (body, field) in [
        (change("long-enough-pw", "short"), "newPassword"),
        (change("long-enough-pw", "long-enough-pw"), "newPassword"),
        (json!({"oldPassword": "long-enough-pw"}), "newPassword"),
        (json!({"newPassword": "new-password"}), "oldPassword"),
        (
            json!({"oldPassword": 1, "newPassword": "new-password"}),
            "oldPassword",
        ),
        (
            json!({"oldPassword": "long-enough-pw", "newPassword": null}),
            "newPassword",
        ),
    ] {
        assert_bad_request(&app.post_auth(DEMO, path, &body, &auth).await, field);
    }
    let r = app
        .post_auth(DEMO, path, &change("long-enough-pw", "new-password"), &auth)
        .await;
    assert_empty_ok(&r);
    assert_eq!(
        signin(&app, DEMO, "chg", "long-enough-pw").await.status,
        403
    );
    assert_eq!(signin(&app, DEMO, "chg", "new-password").await.status, 200);
}

// ---- admin routes ----

async fn admin_routes_need_an_admin_token(app: TestApp) {
    let user = bearer(&signup(&app, DEMO, "plain", "plain@example.com").await);
    let id = claims_of(user.trim_start_matches("Bearer "))["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let item = format!("/users/{id}");
    let reset = json!({"email": "plain@example.com", "password": "hijacked-pw"});
    let setting = json!({"key": "PASSWORD_MIN_LENGTH", "value": "1"});
    let routes: [(Method, &str, Value); 9] = [
        (Method::GET, "/users", json!({})),
        (Method::GET, "/users/count", json!({})),
        (Method::GET, &item, json!({})),
        (Method::PUT, &item, json!({"scope": ["admin"]})),
        (Method::DELETE, &item, json!({})),
        (Method::POST, "/user/reset-password", reset),
        (Method::GET, "/config", json!({})),
        (Method::POST, "/config", setting),
        (Method::DELETE, "/config/PASSWORD_MIN_LENGTH", json!({})),
    ];
    for (method, path, body) in &routes {
        let r = app.json(method.clone(), DEMO, path, body, None).await;
        assert_boom(&r, 401, "Missing authentication");
        let r = app
            .json(method.clone(), DEMO, path, body, Some(&user))
            .await;
        assert_boom(&r, 403, "Insufficient scope");
    }
    // Nothing changed: the user is still a plain user with the old password, the setting unset.
    assert_eq!(me(&app, DEMO, &user).await.json()["scope"], json!(["user"]));
    assert_eq!(
        signin(&app, DEMO, "plain", "long-enough-pw").await.status,
        200
    );
    assert!(!app
        .tenant("demo")
        .await
        .stored_settings
        .contains_key("PASSWORD_MIN_LENGTH"));
    // An admin of another tenant is nobody here.
    let acme_admin = admin(&app, "acme", ACME).await;
    let r = app.get(DEMO, "/users", Some(&acme_admin)).await;
    assert_boom(&r, 401, "Invalid JWT: key or signature is invalid");
    assert_boom(
        &app.get(ACME, &item, Some(&acme_admin)).await,
        404,
        "User not found",
    );
}

async fn admins_list_count_and_read_users(app: TestApp) {
    let admin = admin(&app, "demo", DEMO).await;
    for i in 0..5 {
        signup(
            &app,
            DEMO,
            &format!("user{i}"),
            &format!("user{i}@example.com"),
        )
        .await;
    }
    signup(&app, DEMO, "under_score", "percent%x@example.com").await;
    signup(&app, ACME, "elsewhere", "elsewhere@example.com").await;

    let r = app.get(DEMO, "/users/count", Some(&admin)).await;
    assert_eq!(
        (r.status, r.json()),
        (200, json!({"count": 7})),
        "{}",
        r.body
    );

    let r = app.get(DEMO, "/users", Some(&admin)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let all = r.json();
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 7);
    let row = &all[1];
    let mut keys: Vec<&str> = row
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["created", "email", "id", "isActive", "plan", "scope", "username"]
    );
    let created = row["created"].as_str().unwrap();
    assert!(created.ends_with('Z') && created.len() == 24, "{created}");
    assert!(!r.body.contains("$2"), "a hash leaked: {}", r.body);
    assert_eq!(all[0]["scope"], json!(["user", "admin"]));
    assert!(all.iter().all(|u| u["email"] != "elsewhere@example.com"));

    let page = app
        .get(DEMO, "/users?limit=2&offset=1", Some(&admin))
        .await
        .json();
    assert_eq!(page.as_array().unwrap(), &all[1..3]);
    let page = app
        .get(DEMO, "/users?offset=100", Some(&admin))
        .await
        .json();
    assert_eq!(page, json!([]));
    let found = app
        .get(DEMO, "/users?pattern=USER3", Some(&admin))
        .await
        .json();
    assert_eq!(found.as_array().unwrap().len(), 1);
    assert_eq!(found[0]["username"], "user3");
    // LIKE wildcards in a pattern are literal.
    for (pattern, n) in [("%25", 1), ("_", 1), ("%25%25", 0), ("'%20OR%201=1", 0)] {
        let r = app
            .get(DEMO, &format!("/users?pattern={pattern}"), Some(&admin))
            .await;
        assert_eq!(
            r.json().as_array().unwrap().len(),
            n,
            "{pattern}: {}",
            r.body
        );
    }
    for query in [
        "limit=0",
        "limit=1001",
        "limit=x",
        "limit=-1",
        "offset=-1",
        "offset=1.5",
    ] {
        let r = app
            .get(DEMO, &format!("/users?{query}"), Some(&admin))
            .await;
        let field = query.split('=').next().unwrap();
        assert_bad_request(&r, field);
    }
    assert_eq!(
        app.get(DEMO, "/users?limit=1000", Some(&admin))
            .await
            .status,
        200
    );

    let id = all[2]["id"].as_str().unwrap();
    let r = app.get(DEMO, &format!("/users/{id}"), Some(&admin)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["email"], all[2]["email"]);
    assert_eq!(r.json()["metadata"], json!({}));
    assert_eq!(r.json()["created"], all[2]["created"]);
    for missing in ["0123456789abcdef01234567", "nope", "'; DROP TABLE users;--"] {
        let path = format!("/users/{}", missing.replace(' ', "%20"));
        assert_boom(
            &app.get(DEMO, &path, Some(&admin)).await,
            404,
            "User not found",
        );
    }
}

async fn admins_update_and_delete_users(app: TestApp) {
    let admin = admin(&app, "demo", DEMO).await;
    let token = signup(&app, DEMO, "target", "target@example.com").await;
    signup(&app, DEMO, "bystander", "bystander@example.com").await;
    let id = claims_of(&token)["id"].as_str().unwrap().to_owned();
    let path = format!("/users/{id}");
    let put = |body: Value| {
        let (path, admin) = (path.clone(), admin.clone());
        let app = &app;
        async move {
            app.json(Method::PUT, DEMO, &path, &body, Some(&admin))
                .await
        }
    };

    let r = put(
        json!({"scope": ["user", "ops"], "email": "Moved@Example.com",
                       "metadata": {"k": "v"}, "isActive": true, "plan": "pro"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let u = r.json();
    assert_eq!(
        (
            &u["scope"],
            &u["email"],
            &u["metadata"],
            &u["isActive"],
            &u["plan"]
        ),
        (
            &json!(["user", "ops"]),
            &json!("moved@example.com"),
            &json!({"k": "v"}),
            &json!(true),
            &json!("pro")
        )
    );
    let mine = me(&app, DEMO, &bearer(&token)).await.json();
    assert_eq!(mine["plan"], "pro");
    assert_eq!(
        signin(&app, DEMO, "moved@example.com", "long-enough-pw")
            .await
            .status,
        200
    );
    // An empty update changes nothing.
    assert_eq!(put(json!({})).await.json()["plan"], "pro");

    for (body, needle) in [
        (json!({"password": "new-password"}), "password"),
        (json!({"username": "renamed"}), "username"),
        (json!({"scope": "admin"}), "scope"),
        (json!({"scope": []}), "scope"),
        (json!({"scope": [1]}), "scope"),
        (json!({"scope": ["bad scope"]}), "scope"),
        (json!({"email": "nope"}), "email"),
        (json!({"email": null}), "email"),
        (json!({"metadata": 3}), "metadata"),
        (json!({"isActive": "yes"}), "isActive"),
        (json!({"plan": 1}), "plan"),
        (json!({"plan": "p".repeat(65)}), "plan"),
    ] {
        assert_bad_request(&put(body).await, needle);
    }
    assert_boom(
        &put(json!({"email": "bystander@example.com"})).await,
        409,
        "User already exists",
    );
    let r = app
        .json(
            Method::PUT,
            DEMO,
            "/users/0123456789abcdef01234567",
            &json!({"plan": "x"}),
            Some(&admin),
        )
        .await;
    assert_boom(&r, 404, "User not found");

    let r = delete(&app, DEMO, &path, &admin).await;
    assert_empty_ok(&r);
    assert_boom(
        &delete(&app, DEMO, &path, &admin).await,
        404,
        "User not found",
    );
    assert_boom(
        &app.get(DEMO, &path, Some(&admin)).await,
        404,
        "User not found",
    );
    assert_eq!(count(&app, "demo").await, 2);
}

async fn admins_reset_another_users_password(app: TestApp) {
    let admin = admin(&app, "demo", DEMO).await;
    signup(&app, DEMO, "forgetful", "forgetful@example.com").await;
    let path = "/user/reset-password";
    let r = app
        .post_auth(
            DEMO,
            path,
            &json!({"email": "Forgetful@example.com", "password": "reset-password"}),
            &admin,
        )
        .await;
    assert_empty_ok(&r);
    assert_eq!(
        signin(&app, DEMO, "forgetful", "long-enough-pw")
            .await
            .status,
        403
    );
    assert_eq!(
        signin(&app, DEMO, "forgetful", "reset-password")
            .await
            .status,
        200
    );
    let r = app
        .post_auth(
            DEMO,
            path,
            &json!({"email": "nobody@example.com", "password": "reset-password"}),
            &admin,
        )
        .await;
    assert_boom(&r, 404, "User not found");
    for (body, field) in [
        (json!({"password": "reset-password"}), "email"),
        (json!({"email": "forgetful@example.com"}), "password"),
        (
            json!({"email": "not-an-email", "password": "reset-password"}),
            "email",
        ),
        (
            json!({"email": "forgetful@example.com", "password": "short"}),
            "password",
        ),
        (json!({"email": 7, "password": "reset-password"}), "email"),
    ] {
        assert_bad_request(&app.post_auth(DEMO, path, &body, &admin).await, field);
    }
    assert_eq!(
        signin(&app, DEMO, "forgetful", "reset-password")
            .await
            .status,
        200
    );
}

// ---- /config ----

async fn config_lists_sets_and_unsets_validated_settings(app: TestApp) {
    let admin = admin(&app, "demo", DEMO).await;
    let r = app.get(DEMO, "/config", Some(&admin)).await;
    assert_eq!(
        (r.status, r.json()),
        (200, json!([{"key": "BCRYPT_COST", "value": "4"}])),
        "{}",
        r.body
    );
    let set = |body: Value| {
        let admin = admin.clone();
        let app = &app;
        async move { app.post_auth(DEMO, "/config", &body, &admin).await }
    };
    let r = set(json!({"key": "PASSWORD_MIN_LENGTH", "value": 12})).await;
    assert_eq!(
        r.json(),
        json!({"key": "PASSWORD_MIN_LENGTH", "value": "12"}),
        "{}",
        r.body
    );
    let r = set(json!({"key": "API_USER_CREATE_SCOPE", "value": ["admin", "ops"]})).await;
    assert_eq!(
        r.json(),
        json!({"key": "API_USER_CREATE_SCOPE", "value": "admin,ops"})
    );
    let r = set(json!({"key": "CUSTOM_TOKEN_REQUIRE_EXP", "value": true})).await;
    assert_eq!(r.json()["value"], "true");
    let r = app.get(DEMO, "/config", Some(&admin)).await;
    assert_eq!(
        r.json(),
        json!([
            {"key": "API_USER_CREATE_SCOPE", "value": "admin,ops"},
            {"key": "BCRYPT_COST", "value": "4"},
            {"key": "CUSTOM_TOKEN_REQUIRE_EXP", "value": "true"},
            {"key": "PASSWORD_MIN_LENGTH", "value": "12"},
        ])
    );
    // The new minimum holds at once.
    let r = app
        .post_auth(
            DEMO,
            "/user",
            &new_user("twelve", "twelve@example.com", "eleven-char"),
            &admin,
        )
        .await;
    assert_bad_request(&r, "12");

    for (body, needle) in [
        (json!({"key": "NOPE", "value": "1"}), "NOPE"),
        (
            json!({"key": "PASSWORD_MIN_LENGTH", "value": "0"}),
            "PASSWORD_MIN_LENGTH",
        ),
        (
            json!({"key": "PASSWORD_MIN_LENGTH", "value": "eight"}),
            "PASSWORD_MIN_LENGTH",
        ),
        (json!({"key": "BCRYPT_COST", "value": 99}), "BCRYPT_COST"),
        (
            json!({"key": "API_USER_CREATE_SCOPE", "value": ""}),
            "API_USER_CREATE_SCOPE",
        ),
        (
            json!({"key": "API_USER_CREATE_SCOPE", "value": [1]}),
            "value",
        ),
        (json!({"key": "TOKEN_TTL_SECONDS", "value": null}), "value"),
        (
            json!({"key": "TOKEN_TTL_SECONDS", "value": {"a": 1}}),
            "value",
        ),
        (json!({"key": "TOKEN_TTL_SECONDS"}), "value"),
        (json!({"value": "1"}), "key"),
        (json!({"key": 5, "value": "1"}), "key"),
    ] {
        assert_bad_request(&set(body).await, needle);
    }
    let r = delete(&app, DEMO, "/config/NOPE", &admin).await;
    assert_bad_request(&r, "NOPE");
    for key in [
        "PASSWORD_MIN_LENGTH",
        "API_USER_CREATE_SCOPE",
        "CUSTOM_TOKEN_REQUIRE_EXP",
        "TOKEN_TTL_SECONDS",
    ] {
        let r = delete(&app, DEMO, &format!("/config/{key}"), &admin).await;
        assert_empty_ok(&r);
    }
    let r = app.get(DEMO, "/config", Some(&admin)).await;
    assert_eq!(r.json(), json!([{"key": "BCRYPT_COST", "value": "4"}]));
    // Other tenants were never touched.
    let acme = app.tenant("acme").await;
    assert_eq!(acme.stored_settings.len(), 1);
}

// ---- hostile and malformed input ----

async fn malformed_and_oversized_bodies_are_refused(app: TestApp) {
    let admin = admin(&app, "demo", DEMO).await;
    let raw = |path: &str, content_type: Option<&str>, body: Vec<u8>| {
        let mut rb = app.request(Method::POST, DEMO, path).body(body);
        if let Some(ct) = content_type {
            rb = rb.header(reqwest::header::CONTENT_TYPE, ct);
        }
        app.send(rb.header(reqwest::header::AUTHORIZATION, admin.clone()))
    };
    let json_ct = Some("application/json");
    for path in [
        "/user",
        "/user/auth",
        "/config",
        "/user/reset-password",
        "/user/change-password",
    ] {
        assert_boom(
            &raw(path, json_ct, b"{\"username\": ".to_vec()).await,
            400,
            "Invalid request payload JSON format",
        );
        assert_bad_request(&raw(path, json_ct, b"[1, 2]".to_vec()).await, "object");
        assert_bad_request(&raw(path, json_ct, b"\"text\"".to_vec()).await, "object");
        let big = format!("{{\"username\": \"{}\"}}", "x".repeat(1024 * 1024));
        let r = raw(path, json_ct, big.into_bytes()).await;
        assert_eq!(r.status, 413, "{path}: {}", r.body);
        assert_eq!(r.json()["error"], "Payload Too Large");
        let body = new_user("plain", "plain@example.com", "long-enough-pw").to_string();
        for ct in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
        ] {
            let r = raw(path, Some(ct), body.clone().into_bytes()).await;
            assert_eq!(r.status, 415, "{path} {ct}: {}", r.body);
            assert_eq!(r.json()["error"], "Unsupported Media Type");
        }
    }
    // Just under the limit is read (and then judged on its fields).
    let padding = "p".repeat(64 * 1024 - 200);
    let body = json!({"username": "big", "email": "big@example.com", "password": "long-enough-pw",
                      "metadata": {"padding": padding}});
    let r = raw("/user", json_ct, body.to_string().into_bytes()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // A charset parameter and no content type at all are both JSON.
    let body = new_user("nocontent", "nocontent@example.com", "long-enough-pw").to_string();
    assert_eq!(raw("/user", None, body.into_bytes()).await.status, 200);
    let body = new_user("charset", "charset@example.com", "long-enough-pw").to_string();
    let r = raw(
        "/user",
        Some("application/json; charset=utf-8"),
        body.into_bytes(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(count(&app, "demo").await, 4);
}

async fn hostile_strings_are_data_never_errors(app: TestApp) {
    let hostile = [
        "'; DROP TABLE users;--",
        "\" OR 1=1",
        "\" OR \"\"=\"",
        "admin'--",
        "%_\\",
        "ünïcødé 🔐 名前",
        "\u{202e}rtl",
        "{\"$gt\": \"\"}",
    ];
    for s in hostile {
        // In the email: never a valid address, so a 400 and nothing written.
        let r = app
            .post(DEMO, "/user", &new_user("h", s, "long-enough-pw"))
            .await;
        assert_bad_request(&r, "email");
        // At sign-in, in every field: the one answer for a failed sign-in.
        for body in [
            json!({"username": s, "password": s}),
            json!({"email": s, "password": "long-enough-pw"}),
            json!({"username": "h", "password": s}),
        ] {
            let r = app.post(DEMO, "/user/auth", &body).await;
            assert_boom(&r, 403, "Invalid credentials");
        }
    }
    assert_eq!(count(&app, "demo").await, 0);
    // As a username or password they are stored as given and round-trip exactly.
    for (i, s) in hostile.iter().enumerate() {
        let email = format!("h{i}@example.com");
        let password = format!("{s}-padding");
        let r = app
            .post(DEMO, "/user", &new_user(s, &email, &password))
            .await;
        let token = token_in(&r);
        assert_eq!(me(&app, DEMO, &bearer(&token)).await.json()["username"], *s);
        let r = signin(&app, DEMO, s, &password).await;
        assert_eq!(r.status, 200, "{s}: {}", r.body);
        assert_eq!(r.json()["user"]["email"], email);
    }
    assert_eq!(count(&app, "demo").await, hostile.len() as i64);
    // A NUL or other control character is refused, not stored.
    for s in ["nul\u{0}byte", "bell\u{7}"] {
        let r = app
            .post(
                DEMO,
                "/user",
                &new_user(s, "ctl@example.com", "long-enough-pw"),
            )
            .await;
        assert_bad_request(&r, "username");
    }
    // A unicode email is fine, and so is a long unicode password within 72 bytes.
    let token = token_in(
        &app.post(
            DEMO,
            "/user",
            &new_user("jose", "josé@exämple.com", &"🔐".repeat(18)),
        )
        .await,
    );
    assert_eq!(
        me(&app, DEMO, &bearer(&token)).await.json()["email"],
        "josé@exämple.com"
    );
    assert_eq!(count(&app, "demo").await, hostile.len() as i64 + 1);
}

async fn unknown_paths_and_methods_answer_in_boom(app: TestApp) {
    for path in ["/user/nope", "/users/a/b", "/config/a/b", "/user/auth/x"] {
        assert_boom(&app.get(DEMO, path, None).await, 404, "Not Found");
    }
    for (method, path) in [
        (Method::DELETE, "/user"),
        (Method::GET, "/user/auth"),
        (Method::PATCH, "/users/count"),
        (Method::POST, "/users"),
        (Method::PUT, "/config"),
        (Method::GET, "/config/PASSWORD_MIN_LENGTH"),
    ] {
        let r = app.json(method.clone(), DEMO, path, &json!({}), None).await;
        assert_boom(&r, 405, "Method Not Allowed");
    }
}

on_both!(
    the_seed_curl_examples_work_as_written,
    sign_in_matches_username_or_email_case_insensitively,
    sign_in_failures_get_one_answer,
    an_account_locks_after_max_failures,
    create_user_validates_every_field,
    a_taken_username_or_email_is_a_conflict,
    concurrent_signups_with_one_email_create_one_user,
    post_user_is_rate_limited_per_client,
    api_user_create_scope_closes_and_reopens_signup,
    api_user_create_scope_set_through_the_cli,
    token_errors_are_told_apart,
    a_token_expires_after_token_ttl_seconds,
    a_deleted_users_token_is_a_404,
    a_disabled_user_is_refused,
    change_password_needs_the_old_one,
    admin_routes_need_an_admin_token,
    admins_list_count_and_read_users,
    admins_update_and_delete_users,
    admins_reset_another_users_password,
    config_lists_sets_and_unsets_validated_settings,
    malformed_and_oversized_bodies_are_refused,
    hostile_strings_are_data_never_errors,
    unknown_paths_and_methods_answer_in_boom,
);
