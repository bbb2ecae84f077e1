//! Hostile input on every route of both facades, on both backends: NUL (which PostgreSQL's text
//! cannot hold, and SQLite can), SQL and LIKE metacharacters, very long and right-to-left text,
//! and `%00` (and broken UTF-8) in paths and queries. The rule (issue 8, item 8a): input a backend
//! cannot store or compare is refused at the edge with the dialect's 4xx, identically on both
//! backends; nothing answers 5xx, hands out a token, or creates an account.

use crate::helpers::*;
use gatehouse_core::users::NewUser;
use gatehouse_core::{Email, Password, Scope};
use jsonwebtoken::{encode, EncodingKey, Header};
use reqwest::header::AUTHORIZATION;
use reqwest::Method;
use serde_json::{json, Value};

const ADMIN_EMAIL: &str = "admin@example.com";
const ADMIN_PASSWORD: &str = "admin-password";

/// The strings sent in every field; those holding NUL must be refused wherever they are read.
fn hostile() -> Vec<String> {
    vec![
        "a\u{0}b@x.io".into(),
        "\u{0}".into(),
        "%00".into(),
        "' OR 1=1 --".into(),
        "'; DROP TABLE users; --".into(),
        "%".into(),
        "_".into(),
        "\\".into(),
        "\"}{".into(),
        "\u{202E}gnp.exe\u{202D} مرحبا 🎉👩‍👩‍👧".into(),
        "\u{FEFF}\u{200B}".into(),
        "x".repeat(10_000),
    ]
}

/// Raw path segments and query values: `%00` and UTF-8 that does not decode (an overlong NUL, a
/// lone surrogate, a stray byte).
const RAW_ENCODED: [&str; 5] = ["%00", "a%00b", "%C0%80", "%ED%A0%80", "%FF"];

/// Every byte but letters and digits percent-encoded.
fn pct(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

struct Fixture {
    appmixer_admin: String,
    tiledesk_agent: String,
    /// A plain user the admin routes change (not the admin, who must stay one).
    user_id: String,
    project_id: String,
}

async fn fixture(app: &TestApp) -> Fixture {
    let t = app.tenant("demo").await;
    let mut new = NewUser::new(
        Email::parse(ADMIN_EMAIL).unwrap(),
        Some(Password::new(ADMIN_PASSWORD, 8).unwrap()),
    );
    new.scopes.push(Scope::admin());
    new.is_active = true;
    let admin = app.core.create_user(&t, new).await.unwrap();
    let login = json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD});
    let appmixer_admin = format!("Bearer {}", app.token_of(DEMO, "/user/auth", &login).await);
    let tiledesk_agent = app.token_of(DEMO, "/v1/auth/signin", &login).await;
    let project = app
        .core
        .create_project(&t, "Support", &admin)
        .await
        .unwrap();
    let plain = NewUser::new(
        Email::parse("plain@example.com").unwrap(),
        Some(Password::new("plain-password", 8).unwrap()),
    );
    let plain = app.core.create_user(&t, plain).await.unwrap();
    Fixture {
        appmixer_admin,
        tiledesk_agent,
        user_id: plain.id,
        project_id: project.id,
    }
}

/// One request of the table: method, path, JSON body (or none), Authorization.
struct Probe {
    method: Method,
    path: String,
    body: Option<Value>,
    auth: Option<String>,
    /// Whether the route reads the hostile part (so NUL there must be a 4xx).
    reads_it: bool,
}

fn probe(method: Method, path: String, body: Option<Value>, auth: Option<&str>) -> Probe {
    Probe {
        method,
        path,
        body,
        auth: auth.map(str::to_owned),
        reads_it: true,
    }
}

/// Every route of both facades, with `h` in each field, path segment and query value it takes.
fn probes(f: &Fixture, h: &str) -> Vec<Probe> {
    let (am, td) = (
        Some(f.appmixer_admin.as_str()),
        Some(f.tiledesk_agent.as_str()),
    );
    let e = pct(h);
    let uid = &f.user_id;
    let mut all = vec![
        // Appmixer
        probe(
            Method::POST,
            "/user".into(),
            Some(json!({"username": h, "email": h, "password": h, "metadata": {h: h}})),
            None,
        ),
        probe(
            Method::POST,
            "/user".into(),
            Some(json!({"username": h, "email": h, "password": h})),
            am,
        ),
        probe(
            Method::POST,
            "/user/auth".into(),
            Some(json!({"username": h, "password": h})),
            None,
        ),
        probe(
            Method::POST,
            "/user/auth".into(),
            Some(json!({"email": h, "password": h})),
            None,
        ),
        probe(
            Method::POST,
            "/user/auth".into(),
            Some(json!({"username": ADMIN_EMAIL, "password": h})),
            None,
        ),
        probe(
            Method::POST,
            "/user/change-password".into(),
            Some(json!({"oldPassword": h, "newPassword": h})),
            am,
        ),
        probe(
            Method::POST,
            "/user/reset-password".into(),
            Some(json!({"email": h, "password": h})),
            am,
        ),
        probe(Method::GET, format!("/users?pattern={e}"), None, am),
        probe(
            Method::GET,
            format!("/users?limit={e}&offset={e}"),
            None,
            am,
        ),
        probe(Method::GET, format!("/users/{e}"), None, am),
        probe(
            Method::PUT,
            format!("/users/{e}"),
            Some(json!({"plan": h})),
            am,
        ),
        probe(
            Method::PUT,
            format!("/users/{uid}"),
            Some(json!({"email": h})),
            am,
        ),
        probe(
            Method::PUT,
            format!("/users/{uid}"),
            Some(json!({"scope": [h]})),
            am,
        ),
        probe(
            Method::PUT,
            format!("/users/{uid}"),
            Some(json!({h: h})),
            am,
        ),
        probe(Method::DELETE, format!("/users/{e}"), None, am),
        probe(
            Method::POST,
            "/config".into(),
            Some(json!({"key": h, "value": h})),
            am,
        ),
        probe(
            Method::POST,
            "/config".into(),
            Some(json!({"key": "TOKEN_TTL_SECONDS", "value": h})),
            am,
        ),
        probe(Method::DELETE, format!("/config/{e}"), None, am),
        // Tiledesk
        probe(
            Method::POST,
            "/v1/auth/signup".into(),
            Some(json!({"email": h, "password": h, "firstname": h, "lastname": h})),
            None,
        ),
        probe(
            Method::POST,
            "/v1/auth/signin".into(),
            Some(json!({"email": h, "password": h})),
            None,
        ),
        probe(
            Method::POST,
            "/v1/auth/signin".into(),
            Some(json!({"email": ADMIN_EMAIL, "password": h})),
            None,
        ),
        probe(
            Method::POST,
            "/v1/auth/signinAnonymously".into(),
            Some(json!({"id_project": h, "firstname": h, "email": h, "attributes": {h: h}})),
            None,
        ),
        probe(
            Method::POST,
            "/v1/auth/signinAnonymously".into(),
            Some(json!({"id_project": f.project_id, "email": h})),
            None,
        ),
        probe(
            Method::PUT,
            "/v1/users/changepsw".into(),
            Some(json!({"oldpsw": h, "newpsw": h})),
            td,
        ),
        probe(Method::POST, format!("/v1/{e}/keys/generate"), None, td),
        probe(Method::POST, format!("/v3/{e}/keys/generate"), None, td),
    ];
    // A project name is free text: a hostile but storable one makes a project (no account, no
    // token); one with NUL must be refused.
    all.push(Probe {
        reads_it: true,
        ..probe(
            Method::POST,
            "/v1/projects".into(),
            Some(json!({"name": h})),
            td,
        )
    });
    // A custom token whose claims carry `h`, signed with a key that is not the project's: never
    // a token, whatever its claims hold.
    let claims = json!({
        "aud": format!("https://tiledesk.com/projects/{}", f.project_id),
        "_id": h, "firstname": h, "email": h, "role": "owner",
        "exp": chrono::Utc::now().timestamp() + 600,
    });
    let forged = encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(b"not-the-secret"),
    )
    .unwrap();
    all.push(Probe {
        reads_it: false,
        ..probe(
            Method::POST,
            "/v1/auth/signinWithCustomToken".into(),
            None,
            Some(&format!("JWT {forged}")),
        )
    });
    all
}

async fn send(app: &TestApp, p: &Probe) -> Resp {
    let mut rb = app.request(p.method.clone(), DEMO, &p.path);
    if let Some(body) = &p.body {
        rb = rb.json(body);
    }
    if let Some(a) = &p.auth {
        rb = rb.header(AUTHORIZATION, a);
    }
    app.send(rb).await
}

async fn users_of_every_tenant(app: &TestApp) -> Vec<i64> {
    let mut counts = Vec::new();
    for slug in ["demo", "acme", "globex"] {
        let t = app.tenant(slug).await;
        counts.push(app.core.count_users(&t).await.unwrap());
    }
    counts
}

fn assert_harmless(r: &Resp, what: &str) {
    assert!(r.status < 500, "{what}: {} {}", r.status, r.body);
    assert!(
        !r.body.contains("\"token\""),
        "{what} gave a token: {}",
        r.body
    );
}

async fn hostile_strings_never_give_a_5xx_a_token_or_an_account(app: TestApp) {
    let f = fixture(&app).await;
    let before = users_of_every_tenant(&app).await;
    for h in hostile() {
        let shown: String = h.chars().take(24).collect();
        for p in probes(&f, &h) {
            let r = send(&app, &p).await;
            let what = format!(
                "{} {} with {shown:?}",
                p.method,
                p.path.chars().take(60).collect::<String>()
            );
            assert_harmless(&r, &what);
            if h.contains('\u{0}') && p.reads_it {
                assert!(
                    (400..500).contains(&r.status),
                    "{what}: NUL must be a 4xx, got {} {}",
                    r.status,
                    r.body
                );
            }
        }
    }
    for raw in RAW_ENCODED {
        let (am, td) = (
            Some(f.appmixer_admin.as_str()),
            Some(f.tiledesk_agent.as_str()),
        );
        for p in [
            probe(Method::GET, format!("/users?pattern={raw}"), None, am),
            probe(Method::GET, format!("/users/{raw}"), None, am),
            probe(
                Method::PUT,
                format!("/users/{raw}"),
                Some(json!({"plan": "x"})),
                am,
            ),
            probe(Method::DELETE, format!("/users/{raw}"), None, am),
            probe(Method::DELETE, format!("/config/{raw}"), None, am),
            probe(Method::POST, format!("/v1/{raw}/keys/generate"), None, td),
            probe(Method::GET, format!("/v1/users?x={raw}"), None, td),
            probe(
                Method::POST,
                format!("/user/auth?username={raw}"),
                Some(json!({"username": "nobody", "password": "x"})),
                None,
            ),
        ] {
            let r = send(&app, &p).await;
            let what = format!("{} {}", p.method, p.path);
            assert_harmless(&r, &what);
        }
    }
    assert_eq!(
        users_of_every_tenant(&app).await,
        before,
        "hostile input created an account"
    );
}

/// The three requests of the finding, which answered 500 on PostgreSQL: now the dialect's 4xx,
/// the same on both backends.
async fn a_nul_byte_is_refused_with_the_dialects_4xx_on_both_backends(app: TestApp) {
    let f = fixture(&app).await;
    let am = Some(f.appmixer_admin.as_str());
    let r = app
        .post(
            DEMO,
            "/user/auth",
            &json!({"username": "a\u{0}b@x.io", "password": "x"}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["error"], "Bad Request", "Boom's shape: {}", r.body);
    let r = app.get(DEMO, "/users?pattern=%00", am).await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = app
        .send(
            app.request(Method::DELETE, DEMO, "/users/%00")
                .header(AUTHORIZATION, f.appmixer_admin.as_str()),
        )
        .await;
    assert_eq!(r.status, 404, "no user has that id: {}", r.body);
    // Tiledesk: a field with NUL is refused as express-validator reports a bad field (422).
    let r = app
        .post(
            DEMO,
            "/v1/auth/signin",
            &json!({"email": "a\u{0}b@x.io", "password": "x"}),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.json()["errors"][0]["param"], "email", "{}", r.body);
    // A NUL inside an object that is stored as it is (Appmixer metadata, Tiledesk attributes).
    let r = app
        .post(DEMO, "/user", &json!({"username": "m", "email": "m@example.com", "password": "long-enough", "metadata": {"k": "v\u{0}"}}))
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.json()["message"].as_str().unwrap().contains("metadata"),
        "{}",
        r.body
    );
    let r = app
        .post(
            DEMO,
            "/v1/auth/signinAnonymously",
            &json!({"id_project": f.project_id, "attributes": {"k\u{0}": 1}}),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    // A custom token signed with the project's real secret but carrying NUL in a claim that
    // would be stored: refused before any write.
    let t = app.tenant("demo").await;
    let secret = app
        .core
        .project(&t, &f.project_id)
        .await
        .unwrap()
        .jwt_secret;
    let claims = json!({
        "aud": format!("https://tiledesk.com/projects/{}", f.project_id),
        "_id": "ext-1", "department": "sales\u{0}",
        "exp": chrono::Utc::now().timestamp() + 600,
    });
    let jwt = encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.expose().as_bytes()),
    )
    .unwrap();
    let r = app
        .send(
            app.request(Method::POST, DEMO, "/v1/auth/signinWithCustomToken")
                .header(AUTHORIZATION, format!("JWT {jwt}")),
        )
        .await;
    assert!((400..500).contains(&r.status), "{} {}", r.status, r.body);
    assert!(!r.body.contains("\"token\""), "{}", r.body);
}

on_both!(
    hostile_strings_never_give_a_5xx_a_token_or_an_account,
    a_nul_byte_is_refused_with_the_dialects_4xx_on_both_backends
);
