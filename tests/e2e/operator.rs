//! The operator API on the admin listener (`server.admin_bind`): onboarding a tenant end to end,
//! operator keys (none, wrong, revoked: 401), bad input (a clear 4xx and nothing written), a
//! setting that holds on a second node, and the two listeners serving nothing of each other's.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{json, Value};

impl TestApp {
    pub fn admin_url(&self, path: &str) -> String {
        let port = self.admin_port.expect("the admin listener is on");
        format!("http://127.0.0.1:{port}{path}")
    }

    /// A call to the operator API with `key` as the bearer (none when `None`).
    pub async fn admin(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        key: Option<&str>,
    ) -> Resp {
        let mut rb = self.client.request(method, self.admin_url(path));
        if let Some(b) = body {
            rb = rb.json(b);
        }
        if let Some(k) = key {
            rb = rb.bearer_auth(k);
        }
        self.send(rb).await
    }

    /// A fresh operator key named `name`, made through core (the CLI's door is tested below).
    pub async fn operator_key(&self, name: &str) -> String {
        let (_, key) = self
            .core
            .create_operator_key(name)
            .await
            .expect("operator key");
        key.expose().clone()
    }
}

/// Onboarding through the API: create a tenant with a host, then sign up on that host in both
/// dialects. Tiledesk's signup is `POST /v1/auth/signup` (tiledesk-server routes/auth.js:
/// `router.post('/signup', [check('email').isEmail(), check('firstname').notEmpty(),
/// check('lastname').notEmpty(), ...]`); Appmixer's is `POST /user` (docs.appmixer.com, User,
/// "Create User": `curl -XPOST "https://api.appmixer.com/user" -d '{ "username": ..., "password": ... }'`).
async fn a_tenant_onboarded_through_the_api_serves_both_dialects(app: TestApp) {
    let key = app.operator_key("onboarding").await;
    let k = Some(key.as_str());
    let r = app
        .admin(
            Method::POST,
            "/admin/v1/tenants",
            Some(
                &json!({"slug": "newco", "name": "NewCo", "hosts": ["auth.newco.test"],
                "apis": ["tiledesk", "appmixer"], "settings": {"BCRYPT_COST": "4"}}),
            ),
            k,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["slug"], "newco");
    assert_eq!(r.json()["hosts"], json!(["auth.newco.test"]));
    // Add a host: the whole list is given.
    let r = app
        .admin(
            Method::PATCH,
            "/admin/v1/tenants/newco",
            Some(&json!({"hosts": ["auth.newco.test", "login.newco.test"]})),
            k,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let td = json!({"email": "td@newco.test", "password": "newco-pass-1", "firstname": "T", "lastname": "D"});
    let r = app.post("auth.newco.test", "/v1/auth/signup", &td).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let am =
        json!({"username": "am@newco.test", "email": "am@newco.test", "password": "newco-pass-2"});
    let r = app.post("login.newco.test", "/user", &am).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Each signs in through the other dialect: one user record per person.
    let r = app
        .post(
            "login.newco.test",
            "/user/auth",
            &json!({"username": "td@newco.test", "password": "newco-pass-1"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app
        .post(
            "auth.newco.test",
            "/v1/auth/signin",
            &json!({"email": "am@newco.test", "password": "newco-pass-2"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // The list finds it by slug, name or host, paginated.
    let r = app
        .admin(Method::GET, "/admin/v1/tenants?q=NEWCO&limit=10", None, k)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["total"], 1);
    assert_eq!(r.json()["items"][0]["slug"], "newco");
    let r = app
        .admin(Method::GET, "/admin/v1/tenants?limit=2&offset=2", None, k)
        .await;
    assert_eq!(r.json()["total"], 4, "{}", r.body);
    assert_eq!(r.json()["items"].as_array().unwrap().len(), 2);
    let r = app
        .admin(Method::GET, "/admin/v1/tenants?q=login.newco", None, k)
        .await;
    assert_eq!(r.json()["total"], 1, "{}", r.body);
}

on_both!(a_tenant_onboarded_through_the_api_serves_both_dialects);

/// The README's onboarding: create, close signup, create the first admin; then `POST /user` on
/// the tenant's host needs that admin's token. Appmixer: with `API_USER_CREATE_SCOPE` set, "it
/// needs `Authorization: Bearer <token>` whose user holds one of those scopes: no token `401`"
/// (shared/spec/appmixer.md, from docs.appmixer.com's User API).
async fn closing_signup_through_the_api_needs_an_admin_to_create_users(app: TestApp) {
    let key = app.operator_key("ops").await;
    let k = Some(key.as_str());
    let r = app
        .admin(
            Method::POST,
            "/admin/v1/tenants",
            Some(
                &json!({"slug": "shut", "hosts": ["shut.test"], "settings": {"BCRYPT_COST": "4"}}),
            ),
            k,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = app
        .admin(
            Method::PUT,
            "/admin/v1/tenants/shut/settings/API_USER_CREATE_SCOPE",
            Some(&json!({"value": "admin"})),
            k,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["value"], "admin");
    let r = app
        .admin(Method::GET, "/admin/v1/tenants/shut/settings", None, k)
        .await;
    assert_eq!(
        r.json()["settings"]["API_USER_CREATE_SCOPE"],
        "admin",
        "{}",
        r.body
    );
    let r = app
        .admin(
            Method::POST,
            "/admin/v1/tenants/shut/users",
            Some(
                &json!({"email": "boss@shut.test", "password": "boss-pass-1", "scopes": ["admin"]}),
            ),
            k,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["scopes"], json!(["user", "admin"]));
    assert!(r.json().get("password").is_none() && !r.body.contains("boss-pass-1"));
    let new_user = json!({"username": "worker@shut.test", "email": "worker@shut.test", "password": "worker-pass"});
    assert_eq!(app.post("shut.test", "/user", &new_user).await.status, 401);
    let token = app
        .token_of(
            "shut.test",
            "/user/auth",
            &json!({"username": "boss@shut.test", "password": "boss-pass-1"}),
        )
        .await;
    let r = app
        .post_auth("shut.test", "/user", &new_user, &format!("Bearer {token}"))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Every operator action is in the tenant's audit log, with where it came from; never the
    // key nor a password.
    app.core.flush_audit().await.unwrap();
    let r = app
        .admin(
            Method::GET,
            "/admin/v1/tenants/shut/audit?kind=operator_action",
            None,
            k,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let details: Vec<String> = r.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(e["dialect"], "operator", "{e}");
            assert_eq!(e["client_ip"], "127.0.0.1", "{e}");
            e["detail"].as_str().unwrap().to_owned()
        })
        .collect();
    for action in [
        "tenant.create shut",
        "setting.set API_USER_CREATE_SCOPE",
        "user.create",
    ] {
        assert!(
            details
                .iter()
                .any(|d| d.starts_with(action) && d.ends_with("by operator:ops")),
            "{action}: {details:?}"
        );
    }
    let all = app
        .admin(
            Method::GET,
            "/admin/v1/tenants/shut/audit?limit=1000",
            None,
            k,
        )
        .await;
    assert!(
        all.body.contains("setting_changed"),
        "core's own event: {}",
        all.body
    );
    assert!(
        !all.body.contains("boss-pass-1") && !all.body.contains(&key[5..]),
        "{}",
        all.body
    );
    assert_eq!(
        app.admin(Method::GET, "/admin/v1/tenants/shut/audit?limit=0", None, k)
            .await
            .status,
        400
    );
    // Unset: open again.
    let r = app
        .admin(
            Method::DELETE,
            "/admin/v1/tenants/shut/settings/API_USER_CREATE_SCOPE",
            None,
            k,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let open =
        json!({"username": "free@shut.test", "email": "free@shut.test", "password": "free-pass"});
    assert_eq!(app.post("shut.test", "/user", &open).await.status, 200);
}

on_both!(closing_signup_through_the_api_needs_an_admin_to_create_users);

/// No key, a malformed or unknown key, a revoked key: 401 with the API's error shape. Keys made,
/// listed and revoked with the CLI (`gatehouse operator key ...`), the other door.
async fn the_api_needs_an_active_operator_key(app: TestApp) {
    for key in [
        None,
        Some("nonsense"),
        Some("gho_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
    ] {
        let r = app.admin(Method::GET, "/admin/v1/tenants", None, key).await;
        assert_eq!(r.status, 401, "{key:?}: {}", r.body);
        assert_eq!(r.json()["error"], "unauthorized");
    }
    let out = app.cli(&["operator", "key", "create", "--name", "ci-bot"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let key = stdout(&out).trim().to_owned();
    assert!(key.starts_with("gho_"), "{key}");
    assert_eq!(
        app.admin(Method::GET, "/admin/v1/tenants", None, Some(&key))
            .await
            .status,
        200
    );
    // A second active key of the same name is refused; the list never shows a secret.
    let again = app.cli(&["operator", "key", "create", "--name", "ci-bot"]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already has this name"),
        "{}",
        stderr(&again)
    );
    let list = app.cli(&["operator", "key", "list"]);
    assert!(
        stdout(&list).contains("ci-bot") && stdout(&list).contains("active"),
        "{}",
        stdout(&list)
    );
    assert!(!stdout(&list).contains(&key[20..]));
    let r = app.cli(&["operator", "key", "revoke", "ci-bot"]);
    assert!(r.status.success(), "{}", stderr(&r));
    let r = app
        .admin(Method::GET, "/admin/v1/tenants", None, Some(&key))
        .await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(stdout(&app.cli(&["operator", "key", "list"])).contains("revoked="));
    // The name is free again for a new key.
    assert!(app
        .cli(&["operator", "key", "create", "--name", "ci-bot"])
        .status
        .success());
}

on_both!(the_api_needs_an_active_operator_key);

/// Bad input is a 400 (or 409) with `{"error","message"}` and nothing is written.
async fn bad_input_is_refused_and_nothing_is_written(app: TestApp) {
    let key = app.operator_key("ops").await;
    let k = Some(key.as_str());
    let cases = [
        (json!({"slug": "Bad Slug"}), 400, "slug"),
        (json!({"slug": "okslug", "apis": ["soap"]}), 400, "api"),
        (
            json!({"slug": "okslug", "hosts": ["no spaces.test"]}),
            400,
            "host",
        ),
        (
            json!({"slug": "okslug", "settings": {"TOKEN_TTL_SECONDS": "soon"}}),
            400,
            "value",
        ),
        (json!({"slug": "okslug", "colour": "blue"}), 400, ""),
        (json!({"slug": 7}), 400, ""),
        // globex.test serves globex already.
        (json!({"slug": "okslug", "hosts": ["globex.test"]}), 409, ""),
        (json!({"slug": "globex"}), 409, ""),
    ];
    for (body, status, field) in cases {
        let r = app
            .admin(Method::POST, "/admin/v1/tenants", Some(&body), k)
            .await;
        assert_eq!(r.status, status, "{body}: {}", r.body);
        assert!(
            r.json()["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{}",
            r.body
        );
        if !field.is_empty() {
            assert_eq!(r.json()["field"], field, "{}", r.body);
        }
    }
    assert!(app.core.tenant_by_slug("okslug").is_none());
    app.core.refresh_tenants().await.unwrap();
    assert!(
        app.core.tenant_by_slug("okslug").is_none(),
        "a refused create left a tenant"
    );
    // Malformed JSON and a wrong content type.
    let rb = app
        .client
        .post(app.admin_url("/admin/v1/tenants"))
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .body("{\"slug\":");
    assert_eq!(app.send(rb).await.status, 400);
    let rb = app
        .client
        .post(app.admin_url("/admin/v1/tenants"))
        .bearer_auth(&key)
        .body("slug=x");
    assert_eq!(app.send(rb).await.status, 400);
    // A PATCH whose host is taken changes nothing (the name in the same body included).
    let r = app
        .admin(
            Method::PATCH,
            "/admin/v1/tenants/acme",
            Some(&json!({"name": "Renamed", "hosts": ["globex.test"]})),
            k,
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    let acme = app.tenant("acme").await;
    assert_eq!(acme.name, "acme");
    assert!(acme.hosts.is_empty());
    let r = app
        .admin(
            Method::PATCH,
            "/admin/v1/tenants/acme",
            Some(&json!({"apis": []})),
            k,
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    // A bad setting value stores nothing.
    let r = app
        .admin(
            Method::PUT,
            "/admin/v1/tenants/demo/settings/PASSWORD_MIN_LENGTH",
            Some(&json!({"value": "long"})),
            k,
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = app
        .admin(
            Method::PUT,
            "/admin/v1/tenants/demo/settings/NOT_A_KEY_",
            Some(&json!({"value": {"a": 1}})),
            k,
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(!app
        .tenant("demo")
        .await
        .stored_settings
        .contains_key("PASSWORD_MIN_LENGTH"));
    // Unknown tenants and users, bad pages.
    assert_eq!(
        app.admin(Method::GET, "/admin/v1/tenants/nobody", None, k)
            .await
            .status,
        404
    );
    assert_eq!(
        app.admin(Method::GET, "/admin/v1/tenants/demo/users/nobody", None, k)
            .await
            .status,
        404
    );
    assert_eq!(
        app.admin(Method::GET, "/admin/v1/tenants?limit=0", None, k)
            .await
            .status,
        400
    );
    assert_eq!(
        app.admin(Method::GET, "/admin/v1/tenants?limit=x", None, k)
            .await
            .status,
        400
    );
    assert_eq!(
        app.admin(Method::GET, "/admin/v1/nothing", None, k)
            .await
            .status,
        404
    );
    // The only active key cannot be retired.
    let keys = app
        .admin(Method::GET, "/admin/v1/tenants/acme/keys", None, k)
        .await
        .json();
    let kid = keys["items"][0]["kid"].as_str().unwrap().to_owned();
    let r = app
        .admin(
            Method::DELETE,
            &format!("/admin/v1/tenants/acme/keys/{kid}"),
            None,
            k,
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
}

on_both!(bad_input_is_refused_and_nothing_is_written);

/// Users and keys: search, show, disable (sign-in refused), enable, revoke tokens, delete; rotate
/// a key (published in the JWKS), retire the old one; delete a tenant (its host stops answering).
async fn users_keys_and_tenants_are_managed_through_the_api(app: TestApp) {
    let key = app.operator_key("ops").await;
    let k = Some(key.as_str());
    for n in 0..3 {
        let body = json!({"username": format!("u{n}@example.com"), "email": format!("u{n}@example.com"), "password": "pass-word-1"});
        assert_eq!(app.post(DEMO, "/user", &body).await.status, 200);
    }
    let r = app
        .admin(Method::GET, "/admin/v1/tenants/demo/users?q=U1@", None, k)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let items = r.json()["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1, "{}", r.body);
    let id = items[0]["id"].as_str().unwrap().to_owned();
    assert!(!r.body.contains("$2"), "a hash leaked: {}", r.body);
    let r = app
        .admin(Method::GET, "/admin/v1/tenants/demo/users?limit=2", None, k)
        .await;
    assert_eq!(r.json()["next_offset"], 2, "{}", r.body);
    let login = json!({"username": "u1@example.com", "password": "pass-word-1"});
    let token = app.token_of(DEMO, "/user/auth", &login).await;
    let bearer = format!("Bearer {token}");
    let user_path = format!("/admin/v1/tenants/demo/users/{id}");
    assert_eq!(
        app.admin(Method::GET, &user_path, None, k).await.json()["email"],
        "u1@example.com"
    );
    let r = app
        .admin(Method::POST, &format!("{user_path}/disable"), None, k)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["disabled"], true);
    // Appmixer answers a disabled account as bad credentials (403).
    assert_eq!(app.post(DEMO, "/user/auth", &login).await.status, 403);
    assert_eq!(app.get(DEMO, "/user", Some(&bearer)).await.status, 401);
    let r = app
        .admin(Method::POST, &format!("{user_path}/enable"), None, k)
        .await;
    assert_eq!(r.json()["disabled"], false);
    let token = app.token_of(DEMO, "/user/auth", &login).await;
    let bearer = format!("Bearer {token}");
    assert_eq!(app.get(DEMO, "/user", Some(&bearer)).await.status, 200);
    let r = app
        .admin(Method::POST, &format!("{user_path}/revoke-tokens"), None, k)
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(app.get(DEMO, "/user", Some(&bearer)).await.status, 401);
    assert_eq!(
        app.admin(Method::DELETE, &user_path, None, k).await.status,
        204
    );
    assert_eq!(
        app.admin(Method::GET, &user_path, None, k).await.status,
        404
    );
    // Keys: rotate an EdDSA key in with no lead, retire the first.
    let before = app
        .admin(Method::GET, "/admin/v1/tenants/globex/keys", None, k)
        .await
        .json();
    let first = before["items"][0]["kid"].as_str().unwrap().to_owned();
    let r = app
        .admin(
            Method::POST,
            "/admin/v1/tenants/globex/keys",
            Some(&json!({"alg": "EdDSA", "lead_seconds": 0})),
            k,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let kid = r.json()["kid"].as_str().unwrap().to_owned();
    assert_eq!(r.json()["public_jwk"]["kty"], "OKP");
    assert!(
        !r.body.contains("secret") && !r.body.contains("PRIVATE"),
        "{}",
        r.body
    );
    let jwks = app.get(GLOBEX, "/.well-known/jwks.json", None).await;
    assert!(jwks.body.contains(&kid), "{}", jwks.body);
    let r = app
        .admin(
            Method::DELETE,
            &format!("/admin/v1/tenants/globex/keys/{first}"),
            None,
            k,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let after = app
        .admin(Method::GET, "/admin/v1/tenants/globex", None, k)
        .await
        .json();
    let retired: Vec<&Value> = after["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| !k["retired_at"].is_null())
        .collect();
    assert_eq!(retired.len(), 1, "{after}");
    // Deleting a tenant: its host answers "unknown tenant" at once.
    assert_eq!(
        app.post(
            GLOBEX,
            "/user",
            &json!({"username": "g@g.test", "email": "g@g.test", "password": "pass-word-1"})
        )
        .await
        .status,
        200
    );
    assert_eq!(
        app.admin(Method::DELETE, "/admin/v1/tenants/globex", None, k)
            .await
            .status,
        204
    );
    let r = app.get(GLOBEX, "/.well-known/jwks.json", None).await;
    assert_eq!(r.json()["error"], "unknown_tenant", "{}", r.body);
    assert_eq!(
        app.admin(Method::GET, "/admin/v1/tenants/globex", None, k)
            .await
            .status,
        404
    );
}

on_both!(users_keys_and_tenants_are_managed_through_the_api);

/// A setting changed through node A's operator API holds on node B within `refresh_seconds`
/// (1 s in tests; PostgreSQL's NOTIFY is faster).
async fn a_setting_changed_through_the_api_holds_on_a_second_node(a: TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let b = spawn_app_at(a.backend, dir, a.db_url.clone(), "").await;
    let key = a.operator_key("ops").await;
    let r = a
        .admin(
            Method::PUT,
            "/admin/v1/tenants/demo/settings/API_USER_CREATE_SCOPE",
            Some(&json!({"value": ["admin"]})),
            Some(&key),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let signup = json!({"username": "late@example.com", "email": "late@example.com", "password": "late-pass"});
    let closed = eventually(5, || async {
        b.post(DEMO, "/user", &signup).await.status == 401
    })
    .await;
    assert!(
        closed,
        "node B still allows open signup after node A's operator API closed it"
    );
    // The key made on A works on B's admin listener: keys live in the database.
    assert_eq!(
        b.admin(Method::GET, "/admin/v1/tenants/demo", None, Some(&key))
            .await
            .status,
        200
    );
}

on_both!(a_setting_changed_through_the_api_holds_on_a_second_node);

/// The operator API and console answer nothing on the public port (any Host), and the tenant
/// routes answer nothing on the admin port.
async fn the_admin_and_public_listeners_serve_apart(app: TestApp) {
    let key = app.operator_key("ops").await;
    for path in [
        "/admin/v1/tenants",
        "/admin/v1/openapi.json",
        "/console",
        "/console/signin",
    ] {
        for host in [DEMO, GLOBEX, "127.0.0.1"] {
            let r = app.get(host, path, Some(&format!("Bearer {key}"))).await;
            assert_eq!(r.status, 404, "{host}{path} on the public port: {}", r.body);
            assert!(
                !r.body.contains("tenants") && !r.body.contains("Sign in"),
                "{}",
                r.body
            );
        }
    }
    for (method, path) in [
        (Method::POST, "/user/auth"),
        (Method::POST, "/v1/auth/signin"),
        (Method::GET, "/.well-known/jwks.json"),
        (Method::GET, "/healthz"),
        (Method::GET, "/openapi.json"),
        (Method::GET, "/metrics"),
    ] {
        let rb = app
            .client
            .request(method.clone(), app.admin_url(path))
            .header("host", DEMO)
            .json(&json!({"email": "a@b.c", "password": "x"}));
        let r = app.send(rb).await;
        assert_eq!(
            r.status, 404,
            "{method} {path} on the admin port: {}",
            r.body
        );
    }
    // The API's own document is served there, and names every route.
    let doc = app
        .admin(Method::GET, "/admin/v1/openapi.json", None, None)
        .await
        .json();
    assert_eq!(doc["openapi"], "3.0.3");
    for p in [
        "/admin/v1/tenants",
        "/admin/v1/tenants/{slug}/settings/{key}",
        "/admin/v1/tenants/{slug}/users/{id}/revoke-tokens",
    ] {
        assert!(doc["paths"].get(p).is_some(), "{p} missing");
    }
}

on_both!(the_admin_and_public_listeners_serve_apart);

/// The users the operator API finds for `q` in `slug` (every page, `limit` at a time), as emails;
/// fails on a duplicate across pages.
async fn search_all(app: &TestApp, key: &str, slug: &str, q: &str, limit: usize) -> Vec<String> {
    let q: String = url::form_urlencoded::byte_serialize(q.as_bytes()).collect();
    let mut found = Vec::new();
    let mut offset = Some(0);
    while let Some(o) = offset {
        let path = format!("/admin/v1/tenants/{slug}/users?q={q}&limit={limit}&offset={o}");
        let r = app.admin(Method::GET, &path, None, Some(key)).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        let page = r.json();
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= limit, "{}", r.body);
        for u in items {
            let who = u["email"]
                .as_str()
                .or(u["username"].as_str())
                .unwrap()
                .to_owned();
            assert!(!found.contains(&who), "{who} on two pages of {q}");
            found.push(who);
        }
        offset = page["next_offset"].as_u64();
        assert!(offset.is_none() || items.len() == limit, "{}", r.body);
    }
    found
}

/// User search (`GET .../users?q=`, the console's users page): email or username begins with q,
/// case-insensitively (unicode too); `%`, `_`, `\` and quotes are plain characters; pages of a
/// search meet with no duplicate and no gap; another tenant's users never appear.
async fn user_search_matches_a_prefix_of_email_or_username(app: TestApp) {
    let key = app.operator_key("search").await;
    let k = key.as_str();
    let demo = app.core.tenant_by_slug("demo").unwrap();
    let acme = app.core.tenant_by_slug("acme").unwrap();
    let seed = |t: &std::sync::Arc<gatehouse_core::Tenant>, prefix: &str, count: u64| {
        let spec = gatehouse_core::seed::SeedSpec {
            count,
            first: 0,
            prefix: prefix.into(),
            domain: "seed.test".into(),
            password: gatehouse_core::Password::new("pass-word-1", 8).unwrap(),
            cost: 4,
        };
        let (core, t) = (app.core.clone(), t.clone());
        async move { core.seed_users(&t, spec, |_| {}).await.unwrap() }
    };
    // 120 users page0..page119 here, and the same names in another tenant.
    seed(&demo, "page", 120).await;
    seed(&acme, "page", 30).await;
    let made = |email: &str, username: Option<&str>| {
        let input = gatehouse_core::operator::OperatorNewUser {
            email: email.into(),
            password: gatehouse_core::secret::Secret::new("pass-word-1".into()),
            username: username.map(str::to_owned),
            scopes: Vec::new(),
            firstname: String::new(),
            lastname: String::new(),
        };
        let (core, t) = (app.core.clone(), demo.clone());
        async move { core.operator_create_user(&t, input).await.unwrap() }
    };
    made("a%b@meta.test", Some("pct")).await;
    made("a_b@meta.test", Some("under")).await;
    made("axb@meta.test", Some("plain")).await;
    made("o'hara@meta.test", Some("Back\\Slash")).await;
    made("zoë.élan@ünï.test", Some("Ärger")).await;
    made("someone@meta.test", Some("Page-Turner")).await;

    // Pages of 50 across a search of 121 (the 120 seeded and the username Page-Turner).
    let all = search_all(&app, k, "demo", "page", 50).await;
    assert_eq!(all.len(), 121, "{all:?}");
    for n in 0..120 {
        assert!(
            all.contains(&format!("page{n}@seed.test")),
            "page{n} missing"
        );
    }
    assert!(all.contains(&"someone@meta.test".to_owned()), "{all:?}");
    // Pages of 7 give the same set, in the same order.
    assert_eq!(search_all(&app, k, "demo", "page", 7).await, all);
    // Oldest first, as the unsearched list: the seeded batch, then the one made after.
    assert_eq!(all.last().unwrap(), "someone@meta.test");

    // A prefix, not a substring; case does not matter.
    let mut p11 = search_all(&app, k, "demo", "PAGE11", 50).await;
    p11.sort();
    let mut want: Vec<String> = std::iter::once(11)
        .chain(110..120)
        .map(|n| format!("page{n}@seed.test"))
        .collect();
    want.sort();
    assert_eq!(p11, want);
    assert!(search_all(&app, k, "demo", "age1", 50).await.is_empty());
    assert!(search_all(&app, k, "demo", "seed.test", 50)
        .await
        .is_empty());
    assert_eq!(
        search_all(&app, k, "demo", " Page119@SEED.test ", 50).await,
        ["page119@seed.test"]
    );

    // LIKE's wildcards and SQL's quotes are the characters themselves.
    assert_eq!(
        search_all(&app, k, "demo", "a%", 50).await,
        ["a%b@meta.test"]
    );
    assert_eq!(
        search_all(&app, k, "demo", "a_", 50).await,
        ["a_b@meta.test"]
    );
    assert!(search_all(&app, k, "demo", "%", 50).await.is_empty());
    assert!(search_all(&app, k, "demo", "_", 50).await.is_empty());
    assert_eq!(
        search_all(&app, k, "demo", "o'h", 50).await,
        ["o'hara@meta.test"]
    );
    assert_eq!(
        search_all(&app, k, "demo", "back\\s", 50).await,
        ["o'hara@meta.test"]
    );
    assert!(search_all(&app, k, "demo", "back\\\\", 50).await.is_empty());
    assert!(search_all(&app, k, "demo", "' OR 1=1 --", 50)
        .await
        .is_empty());

    // Unicode: lower-cased beyond ASCII, on email and username alike.
    assert_eq!(
        search_all(&app, k, "demo", "ZOË.É", 50).await,
        ["zoë.élan@ünï.test"]
    );
    assert_eq!(
        search_all(&app, k, "demo", "ärg", 50).await,
        ["zoë.élan@ünï.test"]
    );
    assert!(search_all(&app, k, "demo", "zoe", 50).await.is_empty());

    // Another tenant's users never appear; its own search sees only its own.
    assert_eq!(search_all(&app, k, "acme", "page", 50).await.len(), 30);
    assert!(search_all(&app, k, "acme", "a%", 50).await.is_empty());
    assert!(search_all(&app, k, "globex", "page", 50).await.is_empty());

    // A NUL is refused (PostgreSQL cannot compare it), not searched for.
    let r = app
        .admin(
            Method::GET,
            "/admin/v1/tenants/demo/users?q=a%00b",
            None,
            Some(k),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);

    // The console's users page runs the same search.
    within_one_rate_window_for(10).await;
    let sid = console_session(&app, k).await;
    let page = app
        .send(
            app.client
                .get(app.admin_url("/console/tenants/demo/users?q=A%25"))
                .header("cookie", &sid),
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("a%b@meta.test")
            && !page.body.contains("a_b@meta.test")
            && !page.body.contains("axb@meta.test"),
        "{}",
        page.body
    );
}

on_both!(user_search_matches_a_prefix_of_email_or_username);

/// A console session signed in with the operator key `key`: its `gh_console=...` cookie.
pub(crate) async fn console_session(app: &TestApp, key: &str) -> String {
    let res = app
        .client
        .get(app.admin_url("/console/signin"))
        .send()
        .await
        .unwrap();
    let csrf = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("gh_console_signin="))
        .and_then(|c| c.split(';').next())
        .expect("a sign-in cookie")
        .to_owned();
    let res = app
        .client
        .post(app.admin_url("/console/signin/operator"))
        .header("cookie", format!("gh_console_signin={csrf}"))
        .form(&[("csrf", csrf.as_str()), ("key", key)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("gh_console="))
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_owned()
}
