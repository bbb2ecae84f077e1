//! The isolation matrix (issue 14, item 2): every operation the gateway documents at
//! `/openapi.json` that takes a token (a `security` requirement, or an `Authorization` header
//! parameter) is sent every kind of token another tenant issues, under every prefix, and must
//! refuse it with 401; afterwards no row of any table has changed. The list of routes is read from
//! the running app, not kept here, so a route added later is in the matrix without anyone editing
//! this file (and the facades' unit tests hold the document to the routes they mount).
//!
//! What the originals do, and so what "refused" means here: tiledesk-server's `passport.authenticate(
//! ['basic', 'jwt'])` answers a token it cannot verify with a bare 401 `Unauthorized`
//! (routes/users.js, middleware/passport.js), and its `signinWithCustomToken` answers a custom
//! token that no project's secret verifies with the same 401; Appmixer's user API answers
//! `401 Invalid JWT` (hapi-auth-jwt2 behind its `/user` and `/users` routes). A 403 would mean
//! the token was believed and only its scope was short: for a token of another tenant, that is
//! already a breach, so only 401 passes.

use crate::helpers::*;
use crate::tiledesk::{agent, aud, custom, project_of};
use gatehouse_core::storage::db::AnyConnection;
use gatehouse_core::users::NewUser;
use gatehouse_core::{Email, Password, Scope};
use reqwest::header::AUTHORIZATION;
use reqwest::Method;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Ids of the victim tenant's rows, put into the path parameters so that a route which forgot
/// its tenant check would find (and change) something real.
struct Victim {
    user_id: String,
    project_id: String,
    config_key: String,
}

/// One credential of the attacker's tenant: what kind it is, and the bare token.
struct Stolen {
    kind: &'static str,
    token: String,
}

const PREFIXES: [&str; 3] = ["JWT ", "Bearer ", ""];

fn bare(token: &str) -> String {
    token
        .trim_start_matches("JWT ")
        .trim_start_matches("Bearer ")
        .to_owned()
}

/// An admin of `slug` made as a tenant's first admin is (through core, as the CLI does).
async fn appmixer_admin(app: &TestApp, slug: &str, host: &str, email: &str) -> String {
    let t = app.tenant(slug).await;
    let mut new = NewUser::new(
        Email::parse(email).unwrap(),
        Some(Password::new("admin-password", 8).unwrap()),
    );
    new.scopes.push(Scope::admin());
    new.is_active = true;
    app.core.create_user(&t, new).await.unwrap();
    let login = json!({"email": email, "password": "admin-password"});
    app.token_of(host, "/user/auth", &login).await
}

async fn victim(app: &TestApp) -> Victim {
    agent(app, DEMO, "owner@demo.example").await;
    let project = project_of(app, "demo", "owner@demo.example").await;
    let admin = appmixer_admin(app, "demo", DEMO, "admin@demo.example").await;
    let signup =
        json!({"username": "plain", "email": "plain@demo.example", "password": "plain-password"});
    assert_eq!(app.post(DEMO, "/user", &signup).await.status, 200);
    let users = app
        .get(DEMO, "/users", Some(&format!("Bearer {admin}")))
        .await;
    assert_eq!(users.status, 200, "{}", users.body);
    let user_id = users
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "plain@demo.example")
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .unwrap();
    // Signup closed to all but admins: `POST /user` then takes a token like every other route
    // here (open, it ignores one, as Appmixer does), and the key is one `DELETE /config/{key}`
    // would really remove.
    let config_key = "API_USER_CREATE_SCOPE";
    let set = app
        .post_auth(
            DEMO,
            "/config",
            &json!({"key": config_key, "value": "admin"}),
            &format!("Bearer {admin}"),
        )
        .await;
    assert_eq!(set.status, 200, "{}", set.body);
    Victim {
        user_id,
        project_id: project.id,
        config_key: config_key.into(),
    }
}

/// One token of every kind that tenant `acme` issues: agent, guest, external (a custom-token
/// exchange), Appmixer user and Appmixer admin.
async fn attacker(app: &TestApp) -> Vec<Stolen> {
    let (agent_token, _) = agent(app, ACME, "mallory@acme.example").await;
    let project = project_of(app, "acme", "mallory@acme.example").await;
    let guest = app
        .token_of(
            ACME,
            "/v1/auth/signinAnonymously",
            &json!({"id_project": project.id}),
        )
        .await;
    let claims = json!({"_id": "ext-7", "aud": aud(&project.id), "email": "ext@acme.example"});
    let custom_token = custom(project.jwt_secret.expose(), &claims);
    let r = app
        .send(
            app.request(Method::POST, ACME, "/v1/auth/signinWithCustomToken")
                .header(AUTHORIZATION, format!("JWT {custom_token}")),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let external = r.json()["token"].as_str().unwrap().to_owned();
    let signup =
        json!({"username": "mallory", "email": "user@acme.example", "password": "mallory-pass"});
    assert_eq!(app.post(ACME, "/user", &signup).await.status, 200);
    let user = app
        .token_of(
            ACME,
            "/user/auth",
            &json!({"email": "user@acme.example", "password": "mallory-pass"}),
        )
        .await;
    let admin = appmixer_admin(app, "acme", ACME, "admin@acme.example").await;
    let all = vec![
        Stolen {
            kind: "tiledesk agent",
            token: bare(&agent_token),
        },
        Stolen {
            kind: "tiledesk guest",
            token: bare(&guest),
        },
        Stolen {
            kind: "tiledesk external",
            token: bare(&external),
        },
        Stolen {
            kind: "appmixer user",
            token: bare(&user),
        },
        Stolen {
            kind: "appmixer admin",
            token: bare(&admin),
        },
    ];
    // Each is good at home: the matrix proves a refusal, not a broken token. Tiledesk's
    // `signinWithCustomToken` hands back any token its tenant issued (tiledesk-server's
    // generic-audience branch); Appmixer's `GET /user` takes a user or an admin.
    for s in &all {
        let r = if s.kind.starts_with("tiledesk") {
            app.send(
                app.request(Method::POST, ACME, "/v1/auth/signinWithCustomToken")
                    .header(AUTHORIZATION, format!("JWT {}", s.token)),
            )
            .await
        } else {
            app.get(ACME, "/user", Some(&format!("Bearer {}", s.token)))
                .await
        };
        assert_eq!(
            r.status, 200,
            "{} token refused in its own tenant: {}",
            s.kind, r.body
        );
    }
    all
}

/// Whether an operation takes a token: a security requirement, or an `Authorization` header.
fn takes_token(op: &Value) -> bool {
    let secured = op["security"].as_array().is_some_and(|reqs| {
        reqs.iter()
            .any(|r| r.as_object().is_some_and(|r| !r.is_empty()))
    });
    let header = op["parameters"].as_array().is_some_and(|ps| {
        ps.iter().any(|p| {
            p["in"] == "header"
                && p["name"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case("authorization"))
        })
    });
    secured || header
}

/// A plausible value for a body field, so that a route refuses the token and not the body.
fn field_value(name: &str, schema: &Value) -> Value {
    match schema["type"].as_str() {
        Some("object") => json!({}),
        Some("array") => json!([]),
        Some("boolean") => json!(true),
        Some("integer") | Some("number") => json!(1),
        _ if name.contains("email") => json!("probe@demo.example"),
        _ if name.to_ascii_lowercase().contains("password") || name.contains("psw") => {
            json!("probe-password-1")
        }
        _ => json!("probe"),
    }
}

/// A body built from the operation's JSON (or form) schema: every property given.
fn body_for(op: &Value) -> Option<Value> {
    let content = &op["requestBody"]["content"];
    let schema = content["application/json"]["schema"].as_object()?;
    let mut body = Map::new();
    for (name, s) in schema
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        body.insert(name.clone(), field_value(name, s));
    }
    Some(Value::Object(body))
}

fn concrete(path: &str, v: &Victim) -> String {
    path.replace("{id}", &v.user_id)
        .replace("{project_id}", &v.project_id)
        .replace("{key}", &v.config_key)
        .replace("{ticket}", "ticket-1")
}

/// `(METHOD, path template, operation)` for every documented operation.
fn operations(doc: &Value) -> Vec<(Method, String, Value)> {
    let mut all = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if let Ok(m) = Method::from_bytes(method.to_ascii_uppercase().as_bytes()) {
                if method != "parameters" {
                    all.push((m, path.clone(), op.clone()));
                }
            }
        }
    }
    all
}

#[derive(diesel::QueryableByName)]
struct Line {
    #[diesel(sql_type = diesel::sql_types::Text)]
    j: String,
}

/// Every row of every table (but diesel's own), each as one text line, sorted per table.
async fn snapshot(app: &TestApp) -> BTreeMap<String, Vec<String>> {
    // The audit log is written by a batching thread: what earlier requests recorded must be in
    // its table before the rows are read, or a later flush would look like a change.
    app.core.flush_audit().await.expect("audit flushed");
    app.core
        .db()
        .run_system(|c| {
            use diesel::{sql_query, RunQueryDsl};
            let mut out = BTreeMap::new();
            match c {
                AnyConnection::Sqlite(c) => {
                    let tables: Vec<Line> = sql_query(
                        "SELECT name AS j FROM sqlite_master WHERE type = 'table' \
                         AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '__diesel%'",
                    )
                    .load(c)?;
                    for t in tables {
                        let cols: Vec<Line> = sql_query(format!(
                            "SELECT name AS j FROM pragma_table_info('{}')",
                            t.j
                        ))
                        .load(c)?;
                        let row = cols
                            .iter()
                            .map(|col| format!("quote(\"{}\")", col.j))
                            .collect::<Vec<_>>()
                            .join(" || '|' || ");
                        let lines: Vec<Line> =
                            sql_query(format!("SELECT {row} AS j FROM \"{}\"", t.j)).load(c)?;
                        let mut rows: Vec<String> = lines.into_iter().map(|l| l.j).collect();
                        rows.sort();
                        out.insert(t.j, rows);
                    }
                }
                AnyConnection::Postgresql(c) => {
                    let tables: Vec<Line> = sql_query(
                        "SELECT table_name::text AS j FROM information_schema.tables \
                         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
                         AND table_name NOT LIKE '__diesel%'",
                    )
                    .load(c)?;
                    for t in tables {
                        let lines: Vec<Line> =
                            sql_query(format!("SELECT r::text AS j FROM \"{}\" r", t.j)).load(c)?;
                        let mut rows: Vec<String> = lines.into_iter().map(|l| l.j).collect();
                        rows.sort();
                        out.insert(t.j, rows);
                    }
                }
            }
            Ok(out)
        })
        .await
        .unwrap()
}

async fn every_route_refuses_every_token_of_another_tenant(app: TestApp) {
    let v = victim(&app).await;
    let stolen = attacker(&app).await;
    let doc = app.get(DEMO, "/openapi.json", None).await.json();
    let ops = operations(&doc);
    let guarded: Vec<_> = ops.iter().filter(|(_, _, op)| takes_token(op)).collect();
    // A floor, not a list: both facades and the forward-auth door are in the document.
    for must in [
        "/v1/users",
        "/v3/projects",
        "/user",
        "/users/{id}",
        "/config/{key}",
        "/auth/verify",
    ] {
        assert!(
            guarded.iter().any(|(_, p, _)| p == must),
            "{must} is not among the documented routes that take a token"
        );
    }

    let before = snapshot(&app).await;
    assert!(before.values().map(Vec::len).sum::<usize>() > 0);
    let mut wrong = Vec::new();
    let mut cells = 0;
    for (method, path, op) in &guarded {
        let url = concrete(path, &v);
        let body = body_for(op);
        for s in &stolen {
            for prefix in PREFIXES {
                let mut rb = app
                    .request(method.clone(), DEMO, &url)
                    .header(AUTHORIZATION, format!("{prefix}{}", s.token));
                if let Some(b) = &body {
                    rb = rb.json(b);
                }
                let r = app.send(rb).await;
                cells += 1;
                if r.status != 401 {
                    wrong.push(format!(
                        "{method} {url} with a {} token, prefix {prefix:?}: {} {}",
                        s.kind, r.status, r.body
                    ));
                }
            }
        }
    }
    let after = snapshot(&app).await;
    assert!(
        wrong.is_empty(),
        "not refused with 401:\n{}",
        wrong.join("\n")
    );
    assert_eq!(cells, guarded.len() * stolen.len() * PREFIXES.len());
    for (table, rows) in &before {
        assert_eq!(Some(rows), after.get(table), "table {table} changed");
    }
    assert_eq!(before.len(), after.len());
    eprintln!(
        "isolation matrix: {} operations x {} token kinds x {} prefixes = {cells} requests, all 401",
        guarded.len(),
        stolen.len(),
        PREFIXES.len()
    );
}

on_both!(every_route_refuses_every_token_of_another_tenant);

/// Introspection across tenants (issue 20): every kind of token `acme` issues is `{"active":
/// false}` when a `demo` admin asks `demo`'s endpoint about it (never its claims), and a client
/// registered for `acme` is refused with 401 at `demo`; nothing is written either way.
async fn introspection_finds_another_tenants_tokens_inactive_and_refuses_its_clients(app: TestApp) {
    victim(&app).await;
    let stolen = attacker(&app).await;
    let admin = appmixer_admin(&app, "demo", DEMO, "introspector@demo.example").await;
    let acme = app.tenant("acme").await;
    let (client, secret) = app
        .core
        .create_introspection_client(&acme, "acme-rs")
        .await
        .unwrap();
    use base64::Engine;
    let acme_basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            client.id,
            secret.expose()
        ))
    );
    let before = snapshot(&app).await;
    for s in &stolen {
        for prefix in ["", "JWT "] {
            let rb = app
                .request(Method::POST, DEMO, "/oauth/introspect")
                .header(AUTHORIZATION, format!("Bearer {admin}"))
                .form(&[("token", format!("{prefix}{}", s.token))]);
            let r = app.send(rb).await;
            assert_eq!(r.status, 200, "{}: {}", s.kind, r.body);
            assert_eq!(r.json(), json!({"active": false}), "{} token", s.kind);
        }
        let rb = app
            .request(Method::POST, DEMO, "/oauth/introspect")
            .header(AUTHORIZATION, &acme_basic)
            .form(&[("token", s.token.as_str())]);
        let r = app.send(rb).await;
        assert_eq!(r.status, 401, "acme's client at demo: {}", r.body);
        assert!(r.json().get("active").is_none());
    }
    // The same client at home answers (so the 401 above was the tenant's doing).
    let rb = app
        .request(Method::POST, ACME, "/oauth/introspect")
        .header(AUTHORIZATION, &acme_basic)
        .form(&[("token", stolen[0].token.as_str())]);
    let r = app.send(rb).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["active"], true, "{}", r.body);
    let after = snapshot(&app).await;
    assert_eq!(before, after, "introspection changed a table");
}

on_both!(introspection_finds_another_tenants_tokens_inactive_and_refuses_its_clients);
