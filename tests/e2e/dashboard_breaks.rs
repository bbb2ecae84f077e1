//! Issue 22: what the real Tiledesk dashboard (and Appmixer's documented API) needs that Gatehouse
//! broke. Each test quotes the tiledesk-server v2.19.16 source (or Appmixer's docs) it follows.

use crate::helpers::*;
use crate::mail::{code_after, Smtp};
use crate::tiledesk::{agent, keys_generate, new_project, project_of};
use gatehouse_core::projects::{MemberOf, Role};
use gatehouse_core::ManualClock;
use reqwest::header::AUTHORIZATION;
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::Arc;

const OWNER: &str = "owner@example.com";

async fn call(app: &TestApp, method: Method, path: &str, body: Option<&Value>, auth: &str) -> Resp {
    let mut rb = app.request(method, DEMO, path).header(AUTHORIZATION, auth);
    if let Some(b) = body {
        rb = rb.json(b);
    }
    app.send(rb).await
}

// ---- 1: the project as the dashboard reads it ----

/// routes/project.js line 905-978 (`GET /`): `Project_user.find(...).populate({path:
/// 'id_project'})` then `res.json(project_users)`, so `id_project` is the whole project as
/// models/project.js's `toJSON: { virtuals: true }` (line 142) shows it: `profile` defaults to
/// `new Profile()` (line 85-89; models/profile.js lines 9-31: name 'Sandbox', trialDays 14,
/// agents 0, type 'free'), `channels` `[{name:'chat21'}]` (line 104-108), `versions` 20115, the
/// virtuals `trialExpired` (line 146-151: false without TRIAL_MODE_ENABLED), `trialDaysLeft`
/// (line 168-184) and `isActiveSubscription` (line 188-225: false unless `type === 'payment'`).
/// The dashboard's projects.component.ts reads `project.id_project.profile.type` unguarded.
/// project.js line 46-50 (`POST /`): `res.json(savedProject)`, the same document.
async fn get_projects_carries_the_whole_project_with_its_profile(app: TestApp) {
    let (token, _) = agent(&app, DEMO, OWNER).await;
    let first = project_of(&app, "demo", OWNER).await;
    let r = new_project(&app, "/v1", "Made by API", &token).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let made = r.json();
    assert_eq!(made["profile"]["type"], "free", "{made}");
    assert_eq!(made["id"], made["_id"]);
    let r = app.get(DEMO, "/v1/projects", Some(&token)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let list = r.json();
    let items = list.as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["id_project"]["_id"], made["_id"]);
    assert_eq!(items[1]["id_project"]["_id"], json!(first.id));
    for item in items {
        let p = &item["id_project"];
        assert_eq!(
            p["profile"],
            json!({"name": "Sandbox", "trialDays": 14, "agents": 0, "type": "free"})
        );
        assert_eq!(
            (&p["trialExpired"], &p["isActiveSubscription"]),
            (&json!(false), &json!(false))
        );
        // A project made now has 14 days of trial left: floor((now - (created + 14 d)) / 1 d).
        assert_eq!(p["trialDaysLeft"], json!(-14));
        assert_eq!(p["status"], 100);
        assert_eq!(p["channels"], json!([{"name": "chat21"}]));
        assert_eq!(p["settings"], json!({}));
        assert_eq!(p["id"], p["_id"]);
        for secret in ["jwtSecret", "publicKey", "privateKey"] {
            assert!(p.get(secret).is_none(), "{secret} is select: false");
        }
    }
}

// ---- 2: API prefixes ----

/// The dashboard's stock production config (tiledesk-dashboard src/environments, `SERVER_BASE_URL:
/// 'https://api.tiledesk.com/v2/'`) and self-hosted installs (tiledesk-docker-proxy: `/api/`;
/// tiledesk-server itself mounts its routers at the root: app.js line 557-623, `app.use('/auth',
/// auth)`) all reach the same routes. `TILEDESK_PREFIXES` (default `/v1,/v2,/v3,/api`) says
/// which a tenant serves; the root only where Appmixer is off (both serve `/users` there).
async fn tiledesk_answers_under_each_prefix_its_tenant_serves(app: TestApp) {
    let (_, _) = agent(&app, DEMO, OWNER).await;
    let signin = |prefix: &'static str, host: &'static str| {
        let app = &app;
        async move {
            app.post(
                host,
                &format!("{prefix}/auth/signin"),
                &json!({"email": OWNER, "password": crate::tiledesk::PASSWORD}),
            )
            .await
        }
    };
    for prefix in ["/v1", "/v2", "/v3", "/api"] {
        let r = signin(prefix, DEMO).await;
        assert_eq!(r.status, 200, "{prefix}: {}", r.body);
        let token = r.json()["token"].as_str().unwrap().to_owned();
        let r = app
            .get(DEMO, &format!("{prefix}/projects"), Some(&token))
            .await;
        assert_eq!(r.status, 200, "{prefix}: {}", r.body);
    }
    // The root stays Appmixer's on a tenant with both dialects, and cannot be given to Tiledesk.
    assert_eq!(signin("", DEMO).await.status, 404);
    let key = app.operator_key("prefixes").await;
    let r = app
        .admin(
            Method::PUT,
            "/admin/v1/tenants/demo/settings/TILEDESK_PREFIXES",
            Some(&json!({"value": "/,/v1"})),
            Some(&key),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("Appmixer"), "{}", r.body);
    for bad in ["/v4", "", "v1,/x"] {
        let r = app
            .admin(
                Method::PUT,
                "/admin/v1/tenants/demo/settings/TILEDESK_PREFIXES",
                Some(&json!({"value": bad})),
                Some(&key),
            )
            .await;
        assert_eq!(r.status, 400, "{bad:?}: {}", r.body);
    }
    // A prefix left out is not served.
    app.set("demo", "TILEDESK_PREFIXES", "/v2").await;
    assert_eq!(signin("/v2", DEMO).await.status, 200);
    let r = signin("/v1", DEMO).await;
    assert_eq!(r.status, 404, "{}", r.body);
    // A Tiledesk-only tenant may serve the root; its other routes stay where they were.
    app.create_tenant("solo", &["solo.test"], &[gatehouse_core::Api::Tiledesk])
        .await;
    app.set("solo", "TILEDESK_PREFIXES", "/,/api").await;
    let r = app
        .post(
            "solo.test",
            "/auth/signup",
            &crate::tiledesk::signup_body(OWNER),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    for prefix in ["", "/api"] {
        let r = signin(prefix, "solo.test").await;
        assert_eq!(r.status, 200, "{prefix:?}: {}", r.body);
        let token = r.json()["token"].as_str().unwrap().to_owned();
        let r = app
            .get("solo.test", &format!("{prefix}/users/"), Some(&token))
            .await;
        assert_eq!(
            (r.status, &r.json()["email"]),
            (200, &json!(OWNER)),
            "{}",
            r.body
        );
    }
    assert_eq!(signin("/v1", "solo.test").await.status, 404);
    assert_eq!(app.get("solo.test", "/healthz", None).await.status, 200);
    assert_eq!(
        app.get("solo.test", "/auth/nothing", None).await.status,
        404
    );
}

// ---- 3: the verification link ----

/// routes/auth.js line 875-916 (`PUT /verifyemail/:userid/:code`): an unknown or expired code
/// answers `401 {success:false, error:"Unable to verify email: the verification code is expired or
/// invalid.", error_code: errorCodes.AUTH.ERRORS.VERIFICATION_CODE_EXPIRED}` (line 891-893,
/// errorCodes.js line 9: 10005); another user's code `error_code: VERIFICATION_CODE_OTHER_USER`
/// (line 896-898, errorCodes.js line 10: 10006). The key is never deleted, so a second click
/// verifies again; it lives `{ EX: 900}` (auth.js line 116), and `GET /users/resendverifyemail`
/// (routes/users.js line 173-186) writes a new key without touching the first.
async fn verify_email_codes_carry_error_codes_live_900_s_and_survive_a_resend(
    app: TestApp,
    clock: Arc<ManualClock>,
) {
    let smtp = Smtp::started();
    app.set("demo", "SMTP_URL", &smtp.url()).await;
    let r = app
        .post(
            DEMO,
            "/v1/auth/signup",
            &json!({"email": "vera@example.com", "password": "vera-password", "firstname": "Vera", "lastname": "V"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let uid = r.json()["user"]["_id"].as_str().unwrap().to_owned();
    let mails = smtp.wait_for(&app, 1).await;
    let first = code_after(&mails[0], &format!("/#/verify/email/{uid}/"));
    let verify = |uid: String, code: String| {
        let app = &app;
        async move {
            app.json(
                Method::PUT,
                DEMO,
                &format!("/v1/auth/verifyemail/{uid}/{code}"),
                &json!({}),
                None,
            )
            .await
        }
    };
    let r = verify("0".repeat(24), first.clone()).await;
    assert_eq!(
        (r.status, r.json()),
        (
            401,
            json!({"success": false, "error": "Trying to use a verification code from another user.", "error_code": 10006})
        )
    );
    let expired = json!({"success": false, "error": "Unable to verify email: the verification code is expired or invalid.", "error_code": 10005});
    let r = verify(uid.clone(), "ab".repeat(32)).await;
    assert_eq!((r.status, r.json()), (401, expired.clone()));
    // A resend: a second code, and the first still works.
    let (email, password) = ("vera@example.com", "vera-password");
    let token = app
        .token_of(
            DEMO,
            "/v1/auth/signin",
            &json!({"email": email, "password": password}),
        )
        .await;
    let r = app
        .get(DEMO, "/v1/users/resendverifyemail", Some(&token))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mails = smtp.wait_for(&app, 2).await;
    let second = code_after(&mails[1], &format!("/#/verify/email/{uid}/"));
    assert_ne!(first, second);
    // Each link works, and works again (a reload of the verify page).
    for code in [&first, &first, &second] {
        let r = verify(uid.clone(), code.clone()).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.json()["emailverified"], true);
    }
    // 900 s after it was sent, a code is expired (the clock has not moved since the sends).
    clock.advance_secs(899);
    assert_eq!(verify(uid.clone(), second.clone()).await.status, 200);
    clock.advance_secs(2);
    let r = verify(uid.clone(), second.clone()).await;
    assert_eq!((r.status, r.json()), (401, expired));
    let _ = token;
}

mod verify_email_codes_carry_error_codes_live_900_s_and_survive_a_resend {
    use super::*;

    async fn run(backend: Backend) {
        let clock = Arc::new(ManualClock::new(chrono::Utc::now().timestamp_millis()));
        match spawn_app_clocked(backend, "", clock.clone()).await {
            Some(app) => {
                super::verify_email_codes_carry_error_codes_live_900_s_and_survive_a_resend(
                    app, clock,
                )
                .await
            }
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

// ---- 4: the profile form ----

/// routes/users.js line 22-42 (`PUT /`): `if (req.body.description != undefined) {
/// update.description = req.body.description; }`, and so for each field: `""` is not `undefined`,
/// so it is written (the field is cleared), and nothing checks the text, so a textarea's line
/// breaks are kept. The design studio's community form tests `description === ""`.
async fn put_users_clears_a_field_sent_empty_and_keeps_line_breaks(app: TestApp) {
    let (token, _) = agent(&app, DEMO, "ann@example.com").await;
    let put = |body: Value| {
        let (app, token) = (&app, token.clone());
        async move { call(app, Method::PUT, "/v1/users", Some(&body), &token).await }
    };
    let r = put(json!({"description": "Line one\nLine two\r\n\tthree", "phone": "+39 02"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["updatedUser"]["description"],
        "Line one\nLine two\r\n\tthree"
    );
    let r = put(json!({"description": "", "phone": "", "lastname": ""})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let u = &r.json()["updatedUser"];
    assert_eq!(
        (&u["description"], &u["phone"], &u["lastname"]),
        (&json!(""), &json!(""), &json!(""))
    );
    assert_eq!(u["firstname"], "Ann", "a field not sent stays");
    let me = app.get(DEMO, "/v1/users", Some(&token)).await.json();
    assert_eq!(me["lastname"], "");
    // Other control characters stay out (NUL would not even store on PostgreSQL); a one-line
    // field takes no line break; nothing is written when a field fails.
    for bad in [
        json!({"description": "a\u{0}b"}),
        json!({"description": "x".repeat(4097)}),
        json!({"phone": "1\n2", "description": "kept out"}),
    ] {
        let r = put(bad.clone()).await;
        assert_eq!(r.status, 422, "{bad}: {}", r.body);
    }
    let r = put(json!({})).await;
    assert_eq!(r.json()["updatedUser"]["description"], "");
}

// ---- 7, 10: Appmixer's documented paths and answers ----

/// docs.appmixer.com, "Reset password" (API > User): `POST /user/forgot-password/reset` with
/// `{code, password}`. Gatehouse had it at `/forgot-password/reset` only (kept). Both are in
/// the OpenAPI document (its unit test holds it to the router).
async fn appmixer_reset_is_served_at_its_documented_path(app: TestApp) {
    let smtp = Smtp::started();
    app.set("demo", "SMTP_URL", &smtp.url()).await;
    let r = app
        .post(
            DEMO,
            "/user",
            &json!({"username": "rita", "email": "rita@example.com", "password": "rita-password"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app
        .post(
            DEMO,
            "/user/forgot-password",
            &json!({"email": "rita@example.com"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mails = smtp.wait_for(&app, 1).await;
    let code = code_after(&mails[0], "/reset-password?code=");
    let reset = |code: String| {
        let app = &app;
        async move {
            app.post(
                DEMO,
                "/user/forgot-password/reset",
                &json!({"code": code, "password": "new-password"}),
            )
            .await
        }
    };
    let r = reset(code.clone()).await;
    assert_eq!((r.status, r.json()), (200, json!({})), "{}", r.body);
    let r = app
        .post(
            DEMO,
            "/user/auth",
            &json!({"username": "rita", "password": "new-password"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // POST /user/auth's user carries metadata, as the docs' current example shows.
    assert_eq!(r.json()["user"]["metadata"], json!({}));
    // Once only, and in Boom's shape.
    let r = reset(code).await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(r.json()["statusCode"], 404);
}

/// Deliberate differences (docs/frontends-differences.md): app.js line 623 mounts
/// `/:projectid/keys` behind `roleChecker.hasRole('agent')`, and routes/key.js line 13-50 answers
/// `{publicKey, privateKey, jwtSecret}`. Gatehouse keeps key generation to owners and admins: the
/// `jwtSecret` signs custom tokens, and a custom token with `role: "owner"` makes its bearer an
/// owner, so an agent who could read it could make themselves owner. Passport's BasicStrategy
/// answers a failed request with `WWW-Authenticate: Basic realm="Users"`; Gatehouse sends no
/// Basic challenge, so a browser on the dashboard's own origin never pops a password dialog when
/// a token ends (clients that use Basic send it unasked, as `curl -u` does).
async fn an_agent_may_not_generate_keys_and_a_401_has_no_basic_challenge(app: TestApp) {
    let (owner, _) = agent(&app, DEMO, OWNER).await;
    let project = project_of(&app, "demo", OWNER).await;
    let (agent_token, agent_id) = agent(&app, DEMO, "agent@example.com").await;
    let t = app.tenant("demo").await;
    app.core
        .upsert_member(
            &t,
            &project.id,
            MemberOf::User(agent_id),
            Role::Agent,
            json!({}),
        )
        .await
        .unwrap();
    let r = keys_generate(&app, "/v1", &project.id, Some(&agent_token)).await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = keys_generate(&app, "/v1", &project.id, Some(&owner)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    for path in ["/v1/users", "/v1/projects"] {
        for auth in ["JWT nope", "Basic bm9ib2R5QGV4YW1wbGUuY29tOm5vcGU="] {
            let r = app
                .request(Method::GET, DEMO, path)
                .header(AUTHORIZATION, auth)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 401, "{path} {auth}");
            assert!(r.headers().get("www-authenticate").is_none(), "{path}");
        }
    }
}

on_both!(
    get_projects_carries_the_whole_project_with_its_profile,
    tiledesk_answers_under_each_prefix_its_tenant_serves,
    put_users_clears_a_field_sent_empty_and_keeps_line_breaks,
    appmixer_reset_is_served_at_its_documented_path,
    an_agent_may_not_generate_keys_and_a_401_has_no_basic_challenge,
);
