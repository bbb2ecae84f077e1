//! The real Tiledesk front ends (widget, chat21-ionic, dashboard) against Gatehouse, and the
//! account-creation rules around custom tokens and signup (issues 9.1, 9.4, 9.5; 8.2, 8.4, 8.10).
//! Each test quotes the tiledesk-server v2.19.16 behaviour it follows (or the safer rule it keeps).

use crate::helpers::*;
use crate::tiledesk::{
    agent, assert_unauthorized, aud, claims_of, custom, exchange, keys_generate, new_project, now,
    project_of, signin, signup_body, user_count, PASSWORD,
};
use gatehouse_core::projects::{MemberOf, Project};
use gatehouse_core::Email;
use reqwest::header::AUTHORIZATION;
use reqwest::Method;
use serde_json::{json, Value};

const OWNER: &str = "owner@example.com";

/// The owner of a DEMO project, its token, and the project (whose secret the test holds).
async fn owner_and_project(app: &TestApp) -> (String, Project) {
    let (token, _) = agent(app, DEMO, OWNER).await;
    (token, project_of(app, "demo", OWNER).await)
}

fn basic(email: &str, password: &str) -> String {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    format!("Basic {}", STANDARD.encode(format!("{email}:{password}")))
}

async fn call(app: &TestApp, method: Method, path: &str, body: Option<&Value>, auth: &str) -> Resp {
    let mut rb = app.request(method, DEMO, path).header(AUTHORIZATION, auth);
    if let Some(b) = body {
        rb = rb.json(b);
    }
    app.send(rb).await
}

async fn user_id_of(app: &TestApp, email: &str) -> Option<String> {
    let t = app.tenant("demo").await;
    let email = Email::parse(email).unwrap();
    app.core
        .user_by_email(&t, &email)
        .await
        .unwrap()
        .map(|u| u.id)
}

// ---- 9.1: the widget's re-authentication ----

/// auth.js `signinWithCustomToken`, "audience generic" branch, with no `id_project`:
/// "When happen? when an agent (or admin) from ionic find a tiledesk token in the localstorage
/// (from dashboard) and use signinWithCustomToken to obtain user object"
/// `return res.json({ success: true, token: req.headers["authorization"], user: req.user });`
/// (`req.user` is the token's payload: the route runs `noentitycheck`.) Gatehouse checks the token
/// as on any route, so a disabled or deleted agent's token is refused rather than echoed.
async fn the_widget_gets_its_own_token_back_as_it_sent_it(app: TestApp) {
    let (agent_token, project) = owner_and_project(&app).await;
    let guest = app
        .post(
            DEMO,
            "/v1/auth/signinAnonymously",
            &json!({"id_project": project.id}),
        )
        .await;
    assert_eq!(guest.status, 200, "{}", guest.body);
    let guest_token = guest.json()["token"].as_str().unwrap().to_owned();
    let ext = exchange(
        &app,
        DEMO,
        "/v1",
        &custom(
            project.jwt_secret.expose(),
            &json!({"_id": "ext-1", "aud": aud(&project.id), "firstname": "E"}),
        ),
    )
    .await;
    let ext_token = ext.json()["token"].as_str().unwrap().to_owned();
    for prefix in ["/v1", "/v3"] {
        for token in [&agent_token, &guest_token, &ext_token] {
            let r = exchange(&app, DEMO, prefix, token).await;
            assert_eq!(r.status, 200, "{}", r.body);
            let j = r.json();
            assert_eq!(j["success"], true);
            assert_eq!(j["token"], json!(token), "the header, as sent");
            assert_eq!(j["user"], claims_of(token), "its claims");
        }
    }
    // As sent means as sent: another scheme comes back unchanged too.
    let bearer = agent_token.replacen("JWT ", "Bearer ", 1);
    let r = exchange(&app, DEMO, "/v1", &bearer).await;
    assert_eq!(r.json()["token"], json!(bearer));
    // Another tenant's token is no token of this tenant.
    let (acme_token, _) = agent(&app, ACME, "a@acme.example").await;
    assert_unauthorized(&exchange(&app, DEMO, "/v1", &acme_token).await, "acme");
    // A disabled agent's token is refused, as on every route. The CLI is another process: this
    // node learns of it through the change feed, within `refresh_seconds` (1 s here).
    let out = app.cli(&["user", "disable", "--tenant", "demo", OWNER]);
    assert!(out.status.success(), "{}", stderr(&out));
    let refused = eventually(5, || async {
        exchange(&app, DEMO, "/v1", &agent_token).await.status == 401
    })
    .await;
    assert!(refused, "a disabled agent's token is still echoed");
    assert_unauthorized(&exchange(&app, DEMO, "/v1", &agent_token).await, "disabled");
    // And a deleted one's.
    let (gone, _) = agent(&app, DEMO, "gone@example.com").await;
    let r = call(&app, Method::DELETE, "/v1/users", None, &gone).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_unauthorized(&exchange(&app, DEMO, "/v1", &gone).await, "deleted");
}

// ---- 9.5: lifetimes and claims of minted tokens ----

/// tiledesk-server signs the exchanged user with `jwt.sign(userJson, configSecret, signOptions)`
/// and no `expiresIn` for agents; Gatehouse keeps a lifetime, and the safer rule of issue 9.5: the
/// minted token expires no later than the customer's (the tenant's `TOKEN_TTL_SECONDS` when that
/// has none) and carries the customer's extra claims, never their registered ones nor ours.
async fn a_minted_token_lives_no_longer_than_the_customer_token_and_carries_its_claims(
    app: TestApp,
) {
    let (_, project) = owner_and_project(&app).await;
    let secret = project.jwt_secret.expose();
    let tenant = app.tenant("demo").await;
    let exp = now() + 120;
    let claims = json!({
        "_id": "ext-9", "aud": aud(&project.id), "exp": exp, "iat": now(),
        "plan": "gold", "department": {"id": 7},
        "tid": "another-tenant", "jti": "theirs", "sub": "user", "iss": "https://evil.example",
        "kid": "k", "nbf": now() - 1
    });
    let r = exchange(&app, DEMO, "/v1", &custom(secret, &claims)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let c = claims_of(r.json()["token"].as_str().unwrap());
    assert_eq!(c["exp"], json!(exp), "no later than the customer's");
    assert_eq!(
        (&c["plan"], &c["department"]),
        (&json!("gold"), &json!({"id": 7}))
    );
    assert_eq!(c["tid"], json!(tenant.id));
    assert_eq!(c["sub"], "userexternal");
    assert_eq!(c["iss"], "https://tiledesk.com");
    assert_ne!(c["jti"], "theirs");
    assert!(c.get("kid").is_none() && c.get("nbf").is_none());
    // An agent: our identity claims win over the customer's.
    let agent_claims = json!({
        "_id": "someone-else", "aud": aud(&project.id), "exp": exp, "role": "owner",
        "email": OWNER, "firstname": "Not", "team": "blue", "id_project": "elsewhere"
    });
    let r = exchange(&app, DEMO, "/v1", &custom(secret, &agent_claims)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let c = claims_of(r.json()["token"].as_str().unwrap());
    assert_eq!(c["_id"], json!(user_id_of(&app, OWNER).await.unwrap()));
    assert_eq!(
        (&c["firstname"], &c["team"]),
        (&json!("Ann"), &json!("blue"))
    );
    assert_eq!(c["id_project"], json!(project.id));
    assert_eq!(c["exp"], json!(exp));
    // With no `exp` (a tenant that allows it), the tenant's lifetime.
    app.set("demo", "CUSTOM_TOKEN_REQUIRE_EXP", "false").await;
    app.set("demo", "TOKEN_TTL_SECONDS", "900").await;
    let no_exp = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"_id": "ext-9", "aud": aud(&project.id), "iat": now()}),
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap();
    let r = exchange(&app, DEMO, "/v1", &no_exp).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let c = claims_of(r.json()["token"].as_str().unwrap());
    let lifetime = c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap();
    assert_eq!(lifetime, 900);
}

// ---- 8.10: custom-token safety ----

/// tiledesk-server verifies custom tokens with passport-jwt's defaults: no `exp` needed and no
/// age limit. Gatehouse (issue 8.10) requires `exp` unless `CUSTOM_TOKEN_REQUIRE_EXP=false`,
/// refuses tokens issued more than `CUSTOM_TOKEN_MAX_AGE_SECONDS` ago (3600 by default) or, with
/// no `iat`, living longer than that from now, and honours `nbf`.
async fn custom_tokens_need_exp_a_bounded_age_and_a_passed_nbf(app: TestApp) {
    let (_, project) = owner_and_project(&app).await;
    let secret = project.jwt_secret.expose();
    let raw = |claims: Value| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    };
    let base = |extra: Value| {
        let mut c = json!({"_id": "ext-5", "aud": aud(&project.id)});
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        raw(c)
    };
    let t = now();
    for (what, token) in [
        ("no exp", base(json!({"iat": t}))),
        (
            "issued two hours ago",
            base(json!({"iat": t - 7200, "exp": t + 60})),
        ),
        (
            "not valid yet",
            base(json!({"nbf": t + 300, "exp": t + 600})),
        ),
        ("a day to live and no iat", base(json!({"exp": t + 86_400}))),
    ] {
        assert_unauthorized(&exchange(&app, DEMO, "/v1", &token).await, what);
    }
    assert_eq!(
        exchange(
            &app,
            DEMO,
            "/v1",
            &base(json!({"iat": t - 60, "exp": t + 60}))
        )
        .await
        .status,
        200
    );
    app.set("demo", "CUSTOM_TOKEN_MAX_AGE_SECONDS", "30").await;
    assert_unauthorized(
        &exchange(
            &app,
            DEMO,
            "/v1",
            &base(json!({"iat": t - 60, "exp": t + 60})),
        )
        .await,
        "older than the tenant's maximum",
    );
    app.set("demo", "CUSTOM_TOKEN_REQUIRE_EXP", "false").await;
    assert_eq!(
        exchange(&app, DEMO, "/v1", &base(json!({"iat": t})))
            .await
            .status,
        200
    );
    let t = app.tenant("demo").await;
    assert!(app
        .core
        .membership(&t, &project.id, MemberOf::External("ext-5".into()))
        .await
        .unwrap()
        .is_some());
}

// ---- 8.4: whose account a custom token may name ----

/// auth.js, for an agent role: `userService.signup(...)`, and when the email exists
/// (`E11000`) it takes `User.findOne({email: ...})` and, without an active Project_user, saves a
/// new one: any holder of a project's secret gets any account of the server. Gatehouse (issue
/// 8.4): an existing account only if already a member of that project with at least that role.
async fn a_custom_token_never_yields_an_account_outside_its_project_role(app: TestApp) {
    let (owner_token, project) = owner_and_project(&app).await;
    let secret = project.jwt_secret.expose();
    let (_, admin_id) = agent(&app, DEMO, "admin@example.com").await;
    let as_role = |email: &str, role: &str| {
        custom(
            secret,
            &json!({"_id": "x", "aud": aud(&project.id), "role": role, "email": email}),
        )
    };
    let t = app.tenant("demo").await;
    for role in ["owner", "admin", "agent"] {
        let r = exchange(&app, DEMO, "/v1", &as_role("Admin@example.com", role)).await;
        assert_eq!(
            (r.status, r.json()),
            (
                403,
                json!({"success": false, "msg": "You don't have the permission required."})
            ),
            "{role}"
        );
    }
    let m = app
        .core
        .membership(&t, &project.id, MemberOf::User(admin_id))
        .await
        .unwrap();
    assert!(m.is_none(), "nothing was written");
    // An agent of the project, made by an exchange, cannot be raised by a later token.
    let r = exchange(&app, DEMO, "/v1", &as_role("helper@example.com", "agent")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    for role in ["admin", "owner"] {
        let r = exchange(&app, DEMO, "/v1", &as_role("helper@example.com", role)).await;
        assert_eq!(r.status, 403, "{role}: {}", r.body);
    }
    assert_eq!(
        exchange(&app, DEMO, "/v1", &as_role("helper@example.com", "agent"))
            .await
            .status,
        200
    );
    // The owner may be named with any role it holds at least.
    for role in ["owner", "admin", "agent"] {
        let r = exchange(&app, DEMO, "/v1", &as_role(OWNER, role)).await;
        assert_eq!(r.status, 200, "{role}: {}", r.body);
    }
    // The tenant's other projects stay out of reach of this project's secret.
    let r = new_project(&app, "/v1", "Private", &owner_token).await;
    let private = r.json()["_id"].as_str().unwrap().to_owned();
    let private_secret = keys_generate(&app, "/v1", &private, Some(&owner_token))
        .await
        .json()["jwtSecret"]
        .as_str()
        .unwrap()
        .to_owned();
    let helper_there = custom(
        &private_secret,
        &json!({"_id": "x", "aud": aud(&private), "role": "agent", "email": "helper@example.com"}),
    );
    assert_eq!(exchange(&app, DEMO, "/v1", &helper_there).await.status, 403);
}

/// auth.js's custom-token signup makes the account with a random password (`uuidv4()`), after
/// which the email's owner meets "Email already registered". Gatehouse (issue 8.4): the account
/// is made password-less, and a later signup with its email claims it, keeping its memberships.
async fn a_later_signup_claims_an_account_a_custom_token_made(app: TestApp) {
    let (_, project) = owner_and_project(&app).await;
    let token = custom(
        project.jwt_secret.expose(),
        &json!({"_id": "x", "aud": aud(&project.id), "role": "agent", "email": "new@example.com"}),
    );
    let r = exchange(&app, DEMO, "/v1", &token).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.json()["user"]["_id"].as_str().unwrap().to_owned();
    let r = app
        .post(DEMO, "/v1/auth/signup", &signup_body("new@example.com"))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["user"]["_id"], json!(id), "the same account");
    assert_eq!(r.json()["user"]["firstname"], "Ann");
    let r = signin(&app, DEMO, "/v1", "new@example.com", PASSWORD).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let own = r.json()["token"].as_str().unwrap().to_owned();
    let r = app.get(DEMO, "/v1/projects", Some(&own)).await;
    assert_eq!(r.json()[0]["id_project"]["_id"], json!(project.id));
    // Claimed once: the next signup with that email is the original's duplicate.
    let r = app
        .post(DEMO, "/v1/auth/signup", &signup_body("new@example.com"))
        .await;
    assert_eq!(
        (r.status, r.json()),
        (
            403,
            json!({"success": false, "message": "Email already registered"})
        )
    );
}

/// Making an account through a custom token is a signup (issue 8.4), so it meets the tenant's
/// `SIGNUP_PER_IP_PER_MINUTE` as `/auth/signup` does; signing an existing member in does not.
async fn making_an_account_by_custom_token_meets_the_signup_limit(app: TestApp) {
    // A tenant of its own, so that no earlier signup of this test run shares its counter.
    within_one_rate_window().await;
    agent(&app, ACME, "owner@acme.example").await;
    let project = project_of(&app, "acme", "owner@acme.example").await;
    app.set("acme", "SIGNUP_PER_IP_PER_MINUTE", "2").await;
    let fresh = |n: u32| {
        custom(
            project.jwt_secret.expose(),
            &json!({"_id": "x", "aud": aud(&project.id), "role": "agent",
                    "email": format!("fresh{n}@example.com")}),
        )
    };
    let r = exchange(&app, ACME, "/v1", &fresh(1)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = exchange(&app, ACME, "/v1", &fresh(2)).await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(r.json()["success"], false);
    let acme = app.tenant("acme").await;
    let none = app
        .core
        .user_by_email(&acme, &Email::parse("fresh2@example.com").unwrap())
        .await
        .unwrap();
    assert!(none.is_none(), "nothing was created");
    assert_eq!(exchange(&app, ACME, "/v1", &fresh(1)).await.status, 200);
}

// ---- 8.2: one signup policy for every path ----

/// tiledesk-server has no closed signup; Gatehouse's is one decision in core (issue 8.2): with
/// `API_USER_CREATE_SCOPE` set, the paths in `SIGNUP_CLOSED_COVERS` (default
/// `signup,custom_token`) create nothing and answer 403 `{"success":false,"msg":...}`, while
/// Appmixer's `POST /user` keeps its exception for Bearer tokens holding the scope.
async fn a_closed_signup_creates_no_account_on_any_covered_path(app: TestApp) {
    let (_, project) = owner_and_project(&app).await;
    let secret = project.jwt_secret.expose();
    app.set("demo", "API_USER_CREATE_SCOPE", "admin").await;
    let before = user_count(&app, "demo").await;
    let closed = json!({"success": false, "msg": "Signup is closed on this server."});
    for prefix in ["/v1", "/v3"] {
        let r = app
            .post(
                DEMO,
                &format!("{prefix}/auth/signup"),
                &signup_body("x@example.com"),
            )
            .await;
        assert_eq!((r.status, r.json()), (403, closed.clone()), "signup");
        let tok = custom(
            secret,
            &json!({"_id": "x", "aud": aud(&project.id), "role": "agent", "email": "y@example.com"}),
        );
        let r = exchange(&app, DEMO, prefix, &tok).await;
        assert_eq!((r.status, r.json()), (403, closed.clone()), "custom token");
    }
    let r = app
        .post(
            DEMO,
            "/user",
            &json!({"username": "z", "email": "z@example.com", "password": "abc321abc"}),
        )
        .await;
    assert_eq!(r.status, 401, "Appmixer asks for its scope: {}", r.body);
    assert_eq!(user_count(&app, "demo").await, before, "nothing created");
    // External users and existing members are no account creation; guests are open by default.
    let ext = custom(secret, &json!({"_id": "e", "aud": aud(&project.id)}));
    assert_eq!(exchange(&app, DEMO, "/v1", &ext).await.status, 200);
    let owner = custom(
        secret,
        &json!({"_id": "o", "aud": aud(&project.id), "role": "owner", "email": OWNER}),
    );
    assert_eq!(exchange(&app, DEMO, "/v1", &owner).await.status, 200);
    let guest = json!({"id_project": project.id});
    let anon = "/v1/auth/signinAnonymously";
    assert_eq!(app.post(DEMO, anon, &guest).await.status, 200);
    app.set(
        "demo",
        "SIGNUP_CLOSED_COVERS",
        "signup,custom_token,anonymous",
    )
    .await;
    let r = app.post(DEMO, anon, &guest).await;
    assert_eq!((r.status, r.json()), (403, closed.clone()), "anonymous");
    // A tenant may keep Tiledesk signup open while closing the rest.
    app.set("demo", "SIGNUP_CLOSED_COVERS", "anonymous").await;
    let r = app
        .post(DEMO, "/v1/auth/signup", &signup_body("x@example.com"))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Bad names are refused when set.
    let t = app.tenant("demo").await;
    assert!(app
        .core
        .set_setting(&t, "SIGNUP_CLOSED_COVERS", "signup,importer")
        .await
        .is_err());
}

// ---- 9.4: the dashboard's routes ----

/// project.js `GET /`: `Project_user.find({ id_user: req.user._id , roleType:
/// RoleConstants.TYPE_AGENTS, status: "active"}).populate({path: 'id_project'})`, sorted by the
/// project's `updatedAt`, newest first; `res.json(project_users)`.
async fn get_projects_lists_the_callers_memberships_with_their_project(app: TestApp) {
    let (token, first) = owner_and_project(&app).await;
    let r = new_project(&app, "/v1", "Second", &token).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let second = r.json()["_id"].as_str().unwrap().to_owned();
    let owner_id = user_id_of(&app, OWNER).await.unwrap();
    // A guest and an external user of the first project are no agents.
    app.post(
        DEMO,
        "/v1/auth/signinAnonymously",
        &json!({"id_project": first.id}),
    )
    .await;
    for prefix in ["/v1", "/v3"] {
        let r = app
            .get(DEMO, &format!("{prefix}/projects"), Some(&token))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let list = r.json();
        let items = list.as_array().unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0]["id_project"]["_id"], json!(second), "newest first");
        assert_eq!(items[1]["id_project"]["_id"], json!(first.id));
        for item in items {
            assert_eq!(item["role"], "owner");
            assert_eq!(item["id_user"], json!(owner_id));
            assert_eq!(
                (&item["status"], &item["roleType"]),
                (&json!("active"), &json!(1))
            );
            assert_eq!(item["id"], item["_id"]);
            assert!(item["id_project"]["name"].is_string());
            assert!(item["id_project"].get("jwtSecret").is_none());
        }
    }
    // Express ignores a trailing slash, and so does the binary (the dashboard writes `projects/`).
    let r = app.get(DEMO, "/v1/projects/", Some(&token)).await;
    assert_eq!(
        (r.status, r.json().as_array().map(Vec::len)),
        (200, Some(2))
    );
    // Another agent sees only their own; no token, no list.
    let (other, _) = agent(&app, DEMO, "other@example.com").await;
    assert_eq!(
        app.get(DEMO, "/v1/projects", Some(&other)).await.json(),
        json!([])
    );
    assert_unauthorized(&app.get(DEMO, "/v1/projects", None).await, "no token");
    // A token from a custom-token exchange sees its project only.
    let tok = custom(
        first.jwt_secret.expose(),
        &json!({"_id": "o", "aud": aud(&first.id), "role": "owner", "email": OWNER}),
    );
    let bound = exchange(&app, DEMO, "/v1", &tok).await.json()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app.get(DEMO, "/v1/projects", Some(&bound)).await;
    let ids: Vec<Value> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id_project"]["_id"].clone())
        .collect();
    assert_eq!(ids, vec![json!(first.id)]);
}

/// users.js `PUT /`: `if (req.body.firstname != undefined) { update.firstname = ... }` for
/// `firstname`, `lastname`, `attributes`, `description`, `public_email`, `public_website`,
/// `phone`; then `res.json({ success: true, updatedUser });`.
async fn put_users_updates_the_profile_fields_users_js_allows(app: TestApp) {
    let (token, id) = agent(&app, DEMO, "ann@example.com").await;
    let body = json!({
        "firstname": "Anna", "phone": "+39 02 1234", "description": "Support lead",
        "attributes": {"lang": "it"}, "email": "hijack@example.com", "emailverified": true
    });
    for prefix in ["/v1", "/v3"] {
        let r = call(
            &app,
            Method::PUT,
            &format!("{prefix}/users"),
            Some(&body),
            &token,
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let j = r.json();
        assert_eq!(j["success"], true);
        let u = &j["updatedUser"];
        assert_eq!(
            (&u["_id"], &u["firstname"], &u["lastname"]),
            (&json!(id), &json!("Anna"), &json!("Lee"))
        );
        assert_eq!(
            (&u["phone"], &u["attributes"]),
            (&json!("+39 02 1234"), &json!({"lang": "it"}))
        );
        assert_eq!(
            u["email"], "ann@example.com",
            "email is not a profile field"
        );
        assert_eq!(u["emailverified"], false);
        assert!(u.get("password").is_none());
    }
    let me = app.get(DEMO, "/v1/users", Some(&token)).await.json();
    assert_eq!(me["firstname"], "Anna");
    // Bad values: express-validator's shape, nothing written.
    let r = call(
        &app,
        Method::PUT,
        "/v1/users",
        Some(&json!({"lastname": "x\u{0}y", "attributes": 3})),
        &token,
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
    let me = app.get(DEMO, "/v1/users", Some(&token)).await.json();
    assert_eq!(me["lastname"], "Lee");
    assert_unauthorized(
        &call(&app, Method::PUT, "/v1/users", Some(&body), "JWT nope").await,
        "bad token",
    );
}

/// users.js `DELETE /`: `var update = {status:0, email: uuidv4()+'@tiledesk.com',firstname:
/// 'anonymized',lastname: 'anonymized'}; ... res.json({ success: true, updatedUser });`.
/// Gatehouse deletes the account for real (its memberships too), answering the same shape; the
/// email is free for a new signup.
async fn delete_users_ends_the_account_and_its_tokens(app: TestApp) {
    let (token, project) = owner_and_project(&app).await;
    let owner_id = user_id_of(&app, OWNER).await.unwrap();
    let r = call(&app, Method::DELETE, "/v1/users", None, &token).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let j = r.json();
    assert_eq!(j["success"], true);
    let u = &j["updatedUser"];
    assert_eq!(
        (&u["status"], &u["firstname"], &u["lastname"]),
        (&json!(0), &json!("anonymized"), &json!("anonymized"))
    );
    assert!(u["email"].as_str().unwrap().ends_with("@tiledesk.com"));
    assert_eq!(user_id_of(&app, OWNER).await, None);
    let t = app.tenant("demo").await;
    let m = app
        .core
        .membership(&t, &project.id, MemberOf::User(owner_id))
        .await
        .unwrap();
    assert!(m.is_none(), "memberships go with the account");
    assert_unauthorized(
        &app.get(DEMO, "/v1/users", Some(&token)).await,
        "token of a deleted account",
    );
    assert_eq!(signin(&app, DEMO, "/v1", OWNER, PASSWORD).await.status, 401);
    let r = app.post(DEMO, "/v1/auth/signup", &signup_body(OWNER)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // A token from a custom-token exchange does not delete the account.
    let project = project_of(&app, "demo", OWNER).await;
    let tok = custom(
        project.jwt_secret.expose(),
        &json!({"_id": "o", "aud": aud(&project.id), "role": "owner", "email": OWNER}),
    );
    let bound = exchange(&app, DEMO, "/v1", &tok).await.json()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        call(&app, Method::DELETE, "/v1/users", None, &bound)
            .await
            .status,
        403
    );
    assert!(user_id_of(&app, OWNER).await.is_some());
}

/// auth.js `GET /pendinginvitationsnoauth/:pendinginvitationid` (the dashboard calls
/// `auth/pendinginvitationsnoauth/` + id): `if (!pendinginvitation) { return
/// res.status(404).send({ success: false, msg: 'Object not found.' }); }`. Gatehouse has no
/// invitations, so every id is unknown (a malformed one included, where Mongoose's CastError
/// would have made a 500).
async fn pending_invitations_are_unknown_ids(app: TestApp) {
    for path in [
        "/v1/auth/pendinginvitationsnoauth/5f0c9a4e2a1b3c0017a1b2c3",
        "/v3/auth/pendinginvitationsnoauth/not-an-id",
        "/v1/pendinginvitationsnoauth/5f0c9a4e2a1b3c0017a1b2c3",
    ] {
        let r = app.get(DEMO, path, None).await;
        assert_eq!(
            (r.status, r.json()),
            (404, json!({"success": false, "msg": "Object not found."})),
            "{path}"
        );
    }
}

/// app.js mounts `/users`, `/projects` and `/:projectid/keys` behind
/// `passport.authenticate(['basic', 'jwt'], ...)`; passport.js's BasicStrategy:
/// `User.findOne({ email: userid.toLowerCase(), status: 100}) ... user.comparePassword(password,
/// ...)`. Gatehouse runs it through core's sign-in, so Basic attempts count toward the lock-out.
async fn http_basic_email_password_works_on_the_agent_routes(app: TestApp) {
    let (_, project) = owner_and_project(&app).await;
    let good = basic("Owner@Example.com", PASSWORD);
    let r = call(&app, Method::GET, "/v1/users", None, &good).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["email"], OWNER);
    let r = call(&app, Method::GET, "/v3/projects", None, &good).await;
    assert_eq!(r.json()[0]["id_project"]["_id"], json!(project.id));
    let r = call(
        &app,
        Method::POST,
        "/v1/projects",
        Some(&json!({"name": "Via Basic"})),
        &good,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = keys_generate(&app, "/v1", &project.id, Some(&good)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = call(
        &app,
        Method::PUT,
        "/v1/users",
        Some(&json!({"lastname": "Basic"})),
        &good,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    for bad in [
        basic(OWNER, "wrong-password"),
        basic("nobody@example.com", PASSWORD),
        basic("not-an-email", PASSWORD),
        "Basic !!!".to_owned(),
        "Basic bm9jb2xvbg==".to_owned(),
    ] {
        assert_unauthorized(
            &call(&app, Method::GET, "/v1/users", None, &bad).await,
            &bad,
        );
    }
    // Counted as sign-ins: enough wrong passwords lock the account, Basic or not.
    app.set("demo", "SIGNIN_MAX_FAILURES", "3").await;
    for _ in 0..3 {
        call(
            &app,
            Method::GET,
            "/v1/users",
            None,
            &basic(OWNER, "wrong-password"),
        )
        .await;
    }
    let r = call(&app, Method::GET, "/v1/users", None, &good).await;
    assert!([401, 429].contains(&r.status), "{} {}", r.status, r.body);
    let r = signin(&app, DEMO, "/v1", OWNER, PASSWORD).await;
    assert!([401, 429].contains(&r.status), "{} {}", r.status, r.body);
}

on_both!(
    the_widget_gets_its_own_token_back_as_it_sent_it,
    a_minted_token_lives_no_longer_than_the_customer_token_and_carries_its_claims,
    custom_tokens_need_exp_a_bounded_age_and_a_passed_nbf,
    a_custom_token_never_yields_an_account_outside_its_project_role,
    a_later_signup_claims_an_account_a_custom_token_made,
    making_an_account_by_custom_token_meets_the_signup_limit,
    a_closed_signup_creates_no_account_on_any_covered_path,
    get_projects_lists_the_callers_memberships_with_their_project,
    put_users_updates_the_profile_fields_users_js_allows,
    delete_users_ends_the_account_and_its_tokens,
    pending_invitations_are_unknown_ids,
    http_basic_email_password_works_on_the_agent_routes,
);
