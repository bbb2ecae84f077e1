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

/// Asserts the `200 {"ok": true}` of `DELETE /config/:key`.
fn assert_ok_true(r: &Resp) {
    assert_eq!(
        (r.status, r.json()),
        (200, json!({"ok": true})),
        "{}",
        r.body
    );
}

/// Asserts the `200 {"ticket"}` of `DELETE /users/:id` and returns the ticket.
fn ticket_in(r: &Resp) -> String {
    assert_eq!(r.status, 200, "{}", r.body);
    let body = r.json();
    assert_eq!(body.as_object().map(|o| o.len()), Some(1), "{}", r.body);
    body["ticket"].as_str().expect("a ticket").to_owned()
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
    // docs.appmixer.com, User, "Create User": curl -XPOST "https://api.appmixer.com/user" -d
    // '{ "username": "abc@example.com", "email": "abc@example.com", "password": "abc321" }'.
    // Appmixer's minimum is five characters, so the docs' example works with no setting at all.
    let r = app.post(DEMO, "/user", &create).await;
    let created = token_in(&r);
    assert_eq!(r.json().as_object().unwrap().len(), 1, "{}", r.body);

    let r = app.post(DEMO, "/user/auth", &login).await;
    let token = token_in(&r);
    let user = r.json()["user"].clone();
    assert_eq!(
        user,
        // The docs' current example of `POST /user/auth` carries `"metadata": {}` (issue 22.10).
        json!({"id": user["id"], "username": "abc@example.com", "isActive": false,
               "email": "abc@example.com", "plan": "free", "metadata": {}})
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
}

/// Appmixer documents a five-character minimum (its examples use `abc321`); Tiledesk's dashboard
/// asks for 8. A tenant's `PASSWORD_MIN_LENGTH` overrides both, up or down.
async fn password_minimum_is_each_dialects_unless_the_tenant_sets_one(app: TestApp) {
    let five = |name: &str| json!({"username": name, "email": format!("{name}@example.com"), "password": "abcde"});
    assert_bad_request(
        &app.post(DEMO, "/user", &new_user("four", "four@example.com", "abcd"))
            .await,
        "at least 5 characters",
    );
    token_in(&app.post(DEMO, "/user", &five("five")).await);
    // The same tenant's Tiledesk signup keeps Tiledesk's 8.
    let td = |pw: &str| json!({"email": "td@example.com", "password": pw, "firstname": "T", "lastname": "D"});
    let r = app.post(DEMO, "/v1/auth/signup", &td("abcdefg")).await;
    assert_eq!(r.status, 422, "{}", r.body);
    let r = app.post(DEMO, "/v1/auth/signup", &td("abcdefgh")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // The tenant's setting wins over both dialects' defaults.
    app.set("acme", "PASSWORD_MIN_LENGTH", "10").await;
    assert_bad_request(&app.post(ACME, "/user", &five("acme5")).await, "10");
    let r = app.post(ACME, "/v1/auth/signup", &td("abcdefghi")).await;
    assert_eq!(r.status, 422, "{}", r.body);
    app.set("globex", "PASSWORD_MIN_LENGTH", "3").await;
    let r = app.post(GLOBEX, "/v1/auth/signup", &td("abc")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    token_in(
        &app.post(
            GLOBEX,
            "/user",
            &new_user("three", "three@example.com", "abc"),
        )
        .await,
    );
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

/// The lock stops this login from this address (every request here comes from 127.0.0.1); the
/// same login from another address is `signin_limits::a_lock_stops_one_login_from_one_address...`.
async fn repeated_failures_lock_the_login_for_that_address(app: TestApp) {
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
    // The lock belongs to that login: another user signs in from the same address.
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
        // Only the password is required, but one of username or email must name the account.
        (
            json!({"password": "long-enough-pw"}),
            "\"value\" must contain at least one of [username, email]",
        ),
        (
            json!({"username": "a", "email": "a@example.com"}),
            "password",
        ),
        (new_user("a", "not-an-email", "long-enough-pw"), "email"),
        (new_user("a", "a@localhost", "long-enough-pw"), "email"),
        (new_user("a", "a@example.com", "abcd"), "password"),
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
    assert_ok_true(&r);
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
    ticket_in(&r);
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
        (change("long-enough-pw", "abcd"), "newPassword"),
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
    let status = format!("/users/{id}/delete-status/{}", uuid::Uuid::new_v4());
    let routes: [(Method, &str, Value); 10] = [
        (Method::GET, "/users", json!({})),
        (Method::GET, "/users/count", json!({})),
        (Method::GET, &item, json!({})),
        (Method::PUT, &item, json!({"scope": ["admin"]})),
        (Method::DELETE, &item, json!({})),
        (Method::GET, &status, json!({})),
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
    ticket_in(&r);
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
            json!({"email": "forgetful@example.com", "password": "abcd"}),
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
        (
            200,
            json!([
                {"key": "BCRYPT_COST", "value": "4"},
                {"key": "PASSWORD_HASH", "value": "bcrypt"}
            ])
        ),
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
            {"key": "PASSWORD_HASH", "value": "bcrypt"},
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
        // Not a setting, and not shaped like a configuration key: refused, not kept.
        (json!({"key": "nope", "value": "1"}), "nope"),
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
    let r = delete(&app, DEMO, "/config/nope", &admin).await;
    assert_bad_request(&r, "nope");
    for key in [
        "PASSWORD_MIN_LENGTH",
        "API_USER_CREATE_SCOPE",
        "CUSTOM_TOKEN_REQUIRE_EXP",
        "TOKEN_TTL_SECONDS",
    ] {
        let r = delete(&app, DEMO, &format!("/config/{key}"), &admin).await;
        assert_ok_true(&r);
    }
    let r = app.get(DEMO, "/config", Some(&admin)).await;
    assert_eq!(
        r.json(),
        json!([
            {"key": "BCRYPT_COST", "value": "4"},
            {"key": "PASSWORD_HASH", "value": "bcrypt"}
        ])
    );
    // Other tenants were never touched.
    let acme = app.tenant("acme").await;
    assert_eq!(
        acme.stored_settings.len(),
        2,
        "BCRYPT_COST and PASSWORD_HASH, as created"
    );
}

// ---- the admin contract as the docs state it (issue 9, item 7) ----

/// docs.appmixer.com, User, "Create User", Request Body: `password*` string "Password.";
/// `email` string "Email address."; `username` string "Email address."; `metadata` object
/// "Optional metadata.". Only the password is required; Gatehouse asks for one of username or
/// email besides, or the account could never sign in again.
async fn post_user_needs_only_a_password_and_a_name(app: TestApp) {
    // A username alone: the account has no email, and signs in by its username.
    let r = app
        .post(
            DEMO,
            "/user",
            &json!({"username": "nomail", "password": "abc321"}),
        )
        .await;
    let token = token_in(&r);
    let mine = me(&app, DEMO, &bearer(&token)).await.json();
    assert_eq!(mine["username"], "nomail");
    assert!(mine.get("email").is_none(), "{mine}");
    let r = signin(&app, DEMO, "NoMail", "abc321").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.json()["user"].get("email").is_none(), "{}", r.body);
    // Two accounts without email can coexist (NULL is not a duplicate).
    token_in(
        &app.post(
            DEMO,
            "/user",
            &json!({"username": "nomail2", "password": "abc321"}),
        )
        .await,
    );
    // An email alone: its username is the email, as for an account made through Tiledesk.
    let r = app
        .post(
            DEMO,
            "/user",
            &json!({"email": "only@example.com", "password": "abc321", "metadata": {"k": 1}}),
        )
        .await;
    let token = token_in(&r);
    let mine = me(&app, DEMO, &bearer(&token)).await.json();
    assert_eq!(
        (&mine["username"], &mine["email"], &mine["metadata"]),
        (
            &json!("only@example.com"),
            &json!("only@example.com"),
            &json!({"k": 1})
        )
    );
    // The docs' usernames are email addresses: such a username alone makes the account's email,
    // so nobody else can take that address and make a sign-in by it ambiguous.
    let r = app
        .post(
            DEMO,
            "/user",
            &json!({"username": "Mail@Example.com", "password": "abc321"}),
        )
        .await;
    let token = token_in(&r);
    assert_eq!(
        me(&app, DEMO, &bearer(&token)).await.json()["email"],
        "mail@example.com"
    );
    let r = app
        .post(
            DEMO,
            "/user",
            &json!({"username": "other", "email": "mail@example.com", "password": "abc321"}),
        )
        .await;
    assert_boom(&r, 409, "User already exists");
    // An account with an email is a Tiledesk account too (that dialect signs in by email only).
    let r = app
        .post(
            DEMO,
            "/v1/auth/signin",
            &json!({"email": "only@example.com", "password": "abc321"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(count(&app, "demo").await, 4);
}

/// docs.appmixer.com, User, "Get all users": "Get the first 30 users with a scope "acme1":
/// curl -XGET "https://api.appmixer.com/users?filter=scope:acme1&sort=created:-1&limit=30&offset=0""
async fn get_users_honours_filter_and_sort(app: TestApp) {
    let admin = admin(&app, "demo", DEMO).await;
    let mut ids = Vec::new();
    for i in 0..4 {
        let t = signup(&app, DEMO, &format!("u{i}"), &format!("u{i}@example.com")).await;
        ids.push(claims_of(&t)["id"].as_str().unwrap().to_owned());
    }
    let put = |id: &str, body: Value| {
        let (path, admin, app) = (format!("/users/{id}"), admin.clone(), &app);
        async move {
            let r = app
                .json(Method::PUT, DEMO, &path, &body, Some(&admin))
                .await;
            assert_eq!(r.status, 200, "{}", r.body);
        }
    };
    put(
        &ids[0],
        json!({"scope": ["user", "acme1"], "vendor": "acme"}),
    )
    .await;
    put(
        &ids[2],
        json!({"scope": ["acme1"], "plan": "pro", "isActive": true,
                        "vendor": ["globex", "acme"]}),
    )
    .await;
    // `acme10` holds `acme1` as a prefix, never as a scope.
    put(
        &ids[3],
        json!({"scope": ["acme10", "user"], "vendor": "acme10"}),
    )
    .await;

    let list = |query: &str| {
        let (path, admin, app) = (format!("/users?{query}"), admin.clone(), &app);
        async move {
            let r = app.get(DEMO, &path, Some(&admin)).await;
            assert_eq!(r.status, 200, "{path}: {}", r.body);
            r.json()
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    let all = list("").await;
    assert_eq!(all.len(), 5);
    let mut newest_first = all.clone();
    newest_first.reverse();
    assert_eq!(list("sort=created:-1").await, newest_first);
    assert_eq!(list("sort=created:1").await, all);
    assert_eq!(
        list("filter=scope:acme1&sort=created:-1&limit=30&offset=0").await,
        [ids[2].clone(), ids[0].clone()]
    );
    assert_eq!(
        list("filter=scope:acme1&limit=1&offset=1").await,
        [ids[2].clone()]
    );
    assert_eq!(
        list("filter=vendor:acme").await,
        [ids[0].clone(), ids[2].clone()]
    );
    assert_eq!(list("filter=plan:pro").await, [ids[2].clone()]);
    assert_eq!(
        list("filter=isActive:true").await,
        [all[0].clone(), ids[2].clone()]
    );
    assert_eq!(list("filter=email:U1@example.com").await, [ids[1].clone()]);
    assert_eq!(list("filter=username:U3").await, [ids[3].clone()]);
    // Filters add up.
    assert_eq!(
        list("filter=scope:user&filter=vendor:acme").await,
        [ids[0].clone()]
    );
    assert_eq!(
        list("filter=scope:acme1&pattern=u0").await,
        [ids[0].clone()]
    );
    // The admin (made by the CLI) has no username: last when ascending, on both backends.
    let by_name = list("sort=username:1").await;
    assert_eq!((&by_name[..4], &by_name[4]), (&ids[..], &all[0]));
    let by_name = list("sort=username:-1").await;
    assert_eq!(by_name[0], all[0]);
    // Wildcards are data.
    assert!(list("filter=plan:pr%25").await.is_empty());
    for (query, field) in [
        ("filter=scope", "filter"),
        ("filter=shoe:size", "filter"),
        ("filter=scope:", "filter"),
        ("filter=isActive:yes", "filter"),
        ("filter=scope:bad%20scope", "scope"),
        ("sort=created:0", "sort"),
        ("sort=password:1", "sort"),
    ] {
        let r = app
            .get(DEMO, &format!("/users?{query}"), Some(&admin))
            .await;
        assert_bad_request(&r, field);
    }
}

/// docs.appmixer.com, User, "Update user", Request Body: `vendor` String|Array "One or more
/// vendors."
async fn put_user_accepts_vendor(app: TestApp) {
    let admin = admin(&app, "demo", DEMO).await;
    let token = signup(&app, DEMO, "vend", "vend@example.com").await;
    let path = format!("/users/{}", claims_of(&token)["id"].as_str().unwrap());
    let put = |body: Value| {
        let (path, admin, app) = (path.clone(), admin.clone(), &app);
        async move {
            app.json(Method::PUT, DEMO, &path, &body, Some(&admin))
                .await
        }
    };
    assert!(me(&app, DEMO, &bearer(&token))
        .await
        .json()
        .get("vendor")
        .is_none());
    let r = put(json!({"vendor": "acme"})).await;
    assert_eq!(
        (r.status, &r.json()["vendor"]),
        (200, &json!("acme")),
        "{}",
        r.body
    );
    let r = put(json!({"vendor": ["acme", "globex"]})).await;
    assert_eq!(r.json()["vendor"], json!(["acme", "globex"]));
    assert_eq!(
        me(&app, DEMO, &bearer(&token)).await.json()["vendor"],
        json!(["acme", "globex"])
    );
    for bad in [
        json!(1),
        json!(null),
        json!([1]),
        json!("two words"),
        json!(["a\"b"]),
    ] {
        assert_bad_request(&put(json!({"vendor": bad})).await, "vendor");
    }
    assert_eq!(
        app.get(DEMO, &path, Some(&admin)).await.json()["vendor"],
        json!(["acme", "globex"])
    );
}

/// docs.appmixer.com, User, "Delete user": "The response is a ticket, the operation may take a
/// long time. You can use the ticket and poll for the result with the next API method", GET
/// /users/:userId/delete-status/:ticket: `{"status": "in-progress | completed | failed |
/// cancelled", "stepsDone", "stepsTotal"}`. Gatehouse deletes before it answers: completed.
async fn delete_answers_a_ticket_and_its_status_is_completed(app: TestApp) {
    let admin = admin(&app, "demo", DEMO).await;
    let token = signup(&app, DEMO, "leaving", "leaving@example.com").await;
    let id = claims_of(&token)["id"].as_str().unwrap().to_owned();
    let stays = claims_of(&signup(&app, DEMO, "staying", "staying@example.com").await)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ticket = ticket_in(&delete(&app, DEMO, &format!("/users/{id}"), &admin).await);
    let r = app
        .get(
            DEMO,
            &format!("/users/{id}/delete-status/{ticket}"),
            Some(&admin),
        )
        .await;
    assert_eq!(
        (r.status, r.json()),
        (
            200,
            json!({"status": "completed", "stepsDone": 1, "stepsTotal": 1})
        ),
        "{}",
        r.body
    );
    // A ticket is not a way to learn anything else: not for a user that exists, nor junk.
    for path in [
        format!("/users/{stays}/delete-status/{ticket}"),
        format!("/users/{id}/delete-status/not-a-ticket"),
    ] {
        assert_boom(
            &app.get(DEMO, &path, Some(&admin)).await,
            404,
            "Ticket not found",
        );
    }
    assert_eq!(count(&app, "demo").await, 2);
}

/// The Appmixer configuration takes any key (the docs' example: `WEBHOOK_FLOW_COMPONENT_ERROR`)
/// and its DELETE answers `{"ok": true}`. Gatehouse keeps keys it does not know as free-form
/// tenant configuration and does not interpret them; its own settings stay validated.
async fn config_takes_any_key_and_keeps_unknown_ones_free_form(app: TestApp) {
    let admin = admin(&app, "demo", DEMO).await;
    let set = |body: Value| {
        let (admin, app) = (admin.clone(), &app);
        async move { app.post_auth(DEMO, "/config", &body, &admin).await }
    };
    let hook = "https://hooks.example.com/flow-error?x=1";
    let r = set(json!({"key": "WEBHOOK_FLOW_COMPONENT_ERROR", "value": hook})).await;
    assert_eq!(
        (r.status, r.json()),
        (
            200,
            json!({"key": "WEBHOOK_FLOW_COMPONENT_ERROR", "value": hook})
        ),
        "{}",
        r.body
    );
    let r = set(json!({"key": "APP_NAME", "value": "Acme Flows"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app.get(DEMO, "/config", Some(&admin)).await;
    assert_eq!(
        r.json(),
        json!([
            {"key": "APP_NAME", "value": "Acme Flows"},
            {"key": "BCRYPT_COST", "value": "4"},
            {"key": "PASSWORD_HASH", "value": "bcrypt"},
            {"key": "WEBHOOK_FLOW_COMPONENT_ERROR", "value": hook},
        ])
    );
    // Stored for the tenant, uninterpreted: the typed settings are the defaults still.
    let t = app.tenant("demo").await;
    assert_eq!(t.settings.bcrypt_cost, 4);
    assert_eq!(t.settings.password_min_length, None);
    // Known keys are validated as before; a bad value of an unknown key's shape is refused too.
    assert_bad_request(
        &set(json!({"key": "BCRYPT_COST", "value": 99})).await,
        "BCRYPT_COST",
    );
    let huge = "v".repeat(4097);
    assert_bad_request(&set(json!({"key": "BIG", "value": huge})).await, "BIG");
    for key in ["WEBHOOK_FLOW_COMPONENT_ERROR", "APP_NAME", "NEVER_SET"] {
        assert_ok_true(&delete(&app, DEMO, &format!("/config/{key}"), &admin).await);
    }
    let r = app.get(DEMO, "/config", Some(&admin)).await;
    assert_eq!(
        r.json(),
        json!([
            {"key": "BCRYPT_COST", "value": "4"},
            {"key": "PASSWORD_HASH", "value": "bcrypt"}
        ])
    );
    // Another tenant never saw any of it.
    assert_eq!(app.tenant("acme").await.stored_settings.len(), 2);
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
    password_minimum_is_each_dialects_unless_the_tenant_sets_one,
    sign_in_matches_username_or_email_case_insensitively,
    sign_in_failures_get_one_answer,
    repeated_failures_lock_the_login_for_that_address,
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
    post_user_needs_only_a_password_and_a_name,
    get_users_honours_filter_and_sort,
    put_user_accepts_vendor,
    delete_answers_a_ticket_and_its_status_is_completed,
    config_takes_any_key_and_keeps_unknown_ones_free_form,
    malformed_and_oversized_bodies_are_refused,
    hostile_strings_are_data_never_errors,
    unknown_paths_and_methods_answer_in_boom,
);
