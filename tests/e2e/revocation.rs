//! Ending tokens before they expire, and the bounded-staleness view that makes token checks cheap
//! (issues 10, 11 item 3 and 8 item 8): logout in both dialects, "sign out everywhere", operator
//! revocation from the CLI (another process), disabling, deleting, password changes and retired
//! keys, each seen by the node that took it at once and by a second node on the same database
//! through the change feed (NOTIFY on PostgreSQL, polling every `refresh_seconds` on SQLite).
//!
//! Reference: tiledesk-server has no logout route; routes/auth.js keeps one commented out:
//! "router.post('/logout', [passport.authenticate(['jwt'], {session: false}), validtoken], ...
//! res.json({ success: true, msg: 'Logout successful.' });". Its JWTs cannot be ended; ours can.

use crate::helpers::*;
use gatehouse_core::Core;
use reqwest::Method;
use serde_json::{json, Value};

const PASSWORD: &str = "long-enough-pw";

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

async fn signup(app: &TestApp, name: &str) -> String {
    let email = format!("{name}@example.com");
    let r = app
        .post(
            DEMO,
            "/user",
            &json!({"username": name, "email": email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    email
}

/// An Appmixer `Authorization` value for a fresh sign-in.
async fn appmixer_token(app: &TestApp, email: &str) -> String {
    let t = app
        .token_of(
            DEMO,
            "/user/auth",
            &json!({"username": email, "password": PASSWORD}),
        )
        .await;
    format!("Bearer {t}")
}

/// A Tiledesk `Authorization` value (`JWT ...`) for a fresh sign-in.
async fn tiledesk_token(app: &TestApp, email: &str) -> String {
    app.token_of(
        DEMO,
        "/v1/auth/signin",
        &json!({"email": email, "password": PASSWORD}),
    )
    .await
}

/// The status of each dialect's token-checked read with `auth`.
async fn appmixer_status(app: &TestApp, auth: &str) -> u16 {
    app.get(DEMO, "/user", Some(auth)).await.status
}

async fn tiledesk_status(app: &TestApp, auth: &str) -> u16 {
    app.get(DEMO, "/v1/users", Some(auth)).await.status
}

/// The claims of a token, read without checking it (the test knows where it came from).
/// `POST` a logout route (either dialect's, with its query) with `auth` as the caller's token.
async fn logout(app: &TestApp, path: &str, auth: &str) -> Resp {
    app.json(Method::POST, DEMO, path, &json!({}), Some(auth))
        .await
}

fn claims_of(auth: &str) -> Value {
    let jwt = auth.split_once(' ').map_or(auth, |(_, t)| t);
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    v.insecure_disable_signature_validation();
    v.validate_aud = false;
    jsonwebtoken::decode::<Value>(jwt, &jsonwebtoken::DecodingKey::from_secret(b""), &v)
        .expect("a JWT")
        .claims
}

fn kid_of(auth: &str) -> String {
    let jwt = auth.split_once(' ').map_or(auth, |(_, t)| t);
    jsonwebtoken::decode_header(jwt)
        .expect("a JWT header")
        .kid
        .expect("a kid")
}

async fn refused_within_the_bound(node: &TestApp, auth: &str) -> bool {
    eventually(10, || async { appmixer_status(node, auth).await == 401 }).await
}

async fn logout_ends_the_presented_token_at_once_and_other_tokens_keep_working(a: TestApp) {
    let b = second_node(&a).await;
    let email = signup(&a, "leaver").await;
    let (am1, am2) = (
        appmixer_token(&a, &email).await,
        appmixer_token(&a, &email).await,
    );
    let td1 = tiledesk_token(&a, &email).await;

    // Appmixer: 200 `{}`, then the token is refused with Appmixer's 401.
    let r = logout(&a, "/user/logout", &am1).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!({}));
    let r = a.get(DEMO, "/user", Some(&am1)).await;
    assert_eq!(
        r.status, 401,
        "refused at once by the node that took the logout"
    );
    assert_eq!(r.json()["statusCode"], 401);
    assert_eq!(r.json()["error"], "Unauthorized");
    assert!(
        refused_within_the_bound(&b, &am1).await,
        "node B still accepts it"
    );
    // The user's other tokens, of either dialect, still work on both nodes.
    assert_eq!(appmixer_status(&a, &am2).await, 200);
    assert_eq!(tiledesk_status(&a, &td1).await, 200);
    assert_eq!(appmixer_status(&b, &am2).await, 200);

    // Tiledesk: `{success, msg}`, then passport's bare 401.
    let r = logout(&a, "/v1/auth/logout", &td1).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"success": true, "msg": "Logout successful."})
    );
    let r = a.get(DEMO, "/v1/users", Some(&td1)).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body, "Unauthorized");
    assert!(
        eventually(10, || async { tiledesk_status(&b, &td1).await == 401 }).await,
        "node B still accepts the Tiledesk token"
    );
    assert_eq!(appmixer_status(&a, &am2).await, 200);

    // A logged-out token cannot log out again, nor anything else.
    let r = logout(&a, "/user/logout", &am1).await;
    assert_eq!(r.status, 401);
}

on_both!(logout_ends_the_presented_token_at_once_and_other_tokens_keep_working);

async fn logout_all_ends_every_token_of_the_user_and_a_later_sign_in_works(a: TestApp) {
    let b = second_node(&a).await;
    let email = signup(&a, "everywhere").await;
    let other = signup(&a, "bystander").await;
    let (am, td) = (
        appmixer_token(&a, &email).await,
        tiledesk_token(&a, &email).await,
    );
    let (am2, td2) = (
        appmixer_token(&a, &email).await,
        tiledesk_token(&a, &email).await,
    );
    let bystander = appmixer_token(&a, &other).await;
    let r = logout(&a, "/user/logout?all=true", &am).await;
    assert_eq!(r.status, 200, "{}", r.body);
    for t in [&am, &am2] {
        assert_eq!(appmixer_status(&a, t).await, 401);
    }
    for t in [&td, &td2] {
        assert_eq!(tiledesk_status(&a, t).await, 401);
    }
    assert!(refused_within_the_bound(&b, &am2).await);
    assert_eq!(
        appmixer_status(&a, &bystander).await,
        200,
        "only that user's tokens end"
    );
    // A token issued right after (quite possibly within the same second) works.
    let fresh = appmixer_token(&a, &email).await;
    assert_eq!(appmixer_status(&a, &fresh).await, 200);
    assert_eq!(appmixer_status(&b, &fresh).await, 200);

    // The Tiledesk route does the same.
    let td3 = tiledesk_token(&a, &email).await;
    let r = logout(&a, "/v1/auth/logout?all=true", &td3).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(tiledesk_status(&a, &td3).await, 401);
    assert_eq!(appmixer_status(&a, &fresh).await, 401);
    let td4 = tiledesk_token(&a, &email).await;
    assert_eq!(tiledesk_status(&a, &td4).await, 200);

    // A bad flag is the dialect's 4xx, and ends nothing.
    let r = logout(&a, "/user/logout?all=maybe", &am2).await;
    assert_eq!(r.status, 401, "the ended token is checked first");
    let am5 = appmixer_token(&a, &email).await;
    let r = logout(&a, "/user/logout?all=maybe", &am5).await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = logout(&a, "/v1/auth/logout?all=maybe", &td4).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(appmixer_status(&a, &am5).await, 200);
    assert_eq!(tiledesk_status(&a, &td4).await, 200);
}

on_both!(logout_all_ends_every_token_of_the_user_and_a_later_sign_in_works);

async fn operators_end_tokens_from_the_cli_and_running_nodes_honour_it(a: TestApp) {
    let b = second_node(&a).await;
    let email = signup(&a, "operated").await;
    let (one, two) = (
        appmixer_token(&a, &email).await,
        tiledesk_token(&a, &email).await,
    );
    let jti = claims_of(&one)["jti"].as_str().unwrap().to_owned();
    let out = a.cli(&["token", "revoke", "--tenant", "demo", &jti]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(refused_within_the_bound(&a, &one).await, "node A");
    assert!(refused_within_the_bound(&b, &one).await, "node B");
    assert_eq!(tiledesk_status(&a, &two).await, 200);

    let out = a.cli(&["user", "revoke-tokens", "--tenant", "demo", &email]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        eventually(10, || async { tiledesk_status(&a, &two).await == 401 }).await,
        "node A"
    );
    assert!(
        eventually(10, || async { tiledesk_status(&b, &two).await == 401 }).await,
        "node B"
    );
    // Issued after the revoke-tokens (within its second, most likely): works.
    let after = appmixer_token(&b, &email).await;
    assert_eq!(appmixer_status(&a, &after).await, 200);
    assert_eq!(appmixer_status(&b, &after).await, 200);

    // Mistakes are one line and a failure.
    let out = a.cli(&[
        "user",
        "revoke-tokens",
        "--tenant",
        "demo",
        "nobody@example.com",
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("user not found"), "{}", stderr(&out));
    let out = a.cli(&["token", "revoke", "--tenant", "nope", &jti]);
    assert!(!out.status.success());
}

on_both!(operators_end_tokens_from_the_cli_and_running_nodes_honour_it);

async fn a_user_disabled_from_the_cli_is_refused_by_every_node(a: TestApp) {
    let b = second_node(&a).await;
    let email = signup(&a, "disabled").await;
    let (am, td) = (
        appmixer_token(&a, &email).await,
        tiledesk_token(&b, &email).await,
    );
    // Warm both nodes' views, so a refusal cannot come from a first read of the database.
    assert_eq!(appmixer_status(&a, &am).await, 200);
    assert_eq!(tiledesk_status(&b, &td).await, 200);
    let out = a.cli(&["user", "disable", "--tenant", "demo", &email]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(refused_within_the_bound(&a, &am).await, "node A");
    assert!(refused_within_the_bound(&b, &am).await, "node B");
    assert!(eventually(10, || async { tiledesk_status(&b, &td).await == 401 }).await);
    // Enabling again does not revive tokens issued before the disabling.
    let out = a.cli(&["user", "enable", "--tenant", "demo", &email]);
    assert!(out.status.success(), "{}", stderr(&out));
    let fresh = appmixer_token(&b, &email).await;
    assert!(
        eventually(10, || async { appmixer_status(&a, &fresh).await == 200 }).await,
        "a new token works once enabled"
    );
    assert_eq!(appmixer_status(&a, &am).await, 401);
    assert_eq!(appmixer_status(&b, &am).await, 401);
}

on_both!(a_user_disabled_from_the_cli_is_refused_by_every_node);

/// The operator API's disable (`POST /admin/v1/tenants/{slug}/users/{id}/disable`, issue 15) goes
/// through the same core call as the CLI's: the node that took it refuses the user's tokens on the
/// very next request (no waiting), and a second node within the bound.
async fn a_user_disabled_through_the_operator_api_is_refused_here_at_once_and_on_another_node(
    a: TestApp,
) {
    let b = second_node(&a).await;
    let email = signup(&a, "opdisabled").await;
    let (am, td) = (
        appmixer_token(&a, &email).await,
        tiledesk_token(&a, &email).await,
    );
    assert_eq!(appmixer_status(&a, &am).await, 200);
    assert_eq!(appmixer_status(&b, &am).await, 200);
    assert_eq!(tiledesk_status(&b, &td).await, 200);
    let id = claims_of(&am)["id"].as_str().unwrap().to_owned();
    let key = a.operator_key("staleness").await;
    let r = a
        .admin(
            Method::POST,
            &format!("/admin/v1/tenants/demo/users/{id}/disable"),
            None,
            Some(&key),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(appmixer_status(&a, &am).await, 401, "at once on this node");
    assert_eq!(tiledesk_status(&a, &td).await, 401, "at once on this node");
    assert!(refused_within_the_bound(&b, &am).await, "node B");
    assert!(eventually(10, || async { tiledesk_status(&b, &td).await == 401 }).await);
}

on_both!(a_user_disabled_through_the_operator_api_is_refused_here_at_once_and_on_another_node);

/// The admin API has no "disable" (neither dialect's original has one); deleting is its way to
/// take an account away, and what it changes must hold on this node at once.
async fn a_user_deleted_through_the_admin_api_is_refused_here_at_once_and_on_another_node(
    a: TestApp,
) {
    let b = second_node(&a).await;
    let out = a.cli(&[
        "user",
        "create",
        "--tenant",
        "demo",
        "--email",
        "boss@example.com",
        "--password",
        PASSWORD,
        "--scope",
        "admin",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let admin = appmixer_token(&a, "boss@example.com").await;
    let email = signup(&a, "deleted").await;
    let victim = appmixer_token(&a, &email).await;
    assert_eq!(appmixer_status(&a, &victim).await, 200);
    assert_eq!(appmixer_status(&b, &victim).await, 200);
    let id = claims_of(&victim)["id"].as_str().unwrap().to_owned();
    let r = a
        .json(
            Method::DELETE,
            DEMO,
            &format!("/users/{id}"),
            &json!({}),
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = a.get(DEMO, "/user", Some(&victim)).await;
    assert!(
        r.status == 404 || r.status == 401,
        "at once on this node: {}",
        r.status
    );
    assert!(
        eventually(10, || async {
            matches!(appmixer_status(&b, &victim).await, 401 | 404)
        })
        .await,
        "node B still serves the deleted user"
    );
}

on_both!(a_user_deleted_through_the_admin_api_is_refused_here_at_once_and_on_another_node);

async fn a_password_change_ends_earlier_tokens_in_both_dialects(a: TestApp) {
    let b = second_node(&a).await;
    let email = signup(&a, "changer").await;
    let (am, td) = (
        appmixer_token(&a, &email).await,
        tiledesk_token(&a, &email).await,
    );
    assert_eq!(appmixer_status(&b, &am).await, 200);
    let r = a
        .json(
            Method::POST,
            DEMO,
            "/user/change-password",
            &json!({"oldPassword": PASSWORD, "newPassword": "another-long-pw"}),
            Some(&am),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(appmixer_status(&a, &am).await, 401, "at once on this node");
    assert_eq!(tiledesk_status(&a, &td).await, 401);
    assert!(refused_within_the_bound(&b, &am).await, "node B");
    let fresh = a
        .token_of(
            DEMO,
            "/user/auth",
            &json!({"username": email, "password": "another-long-pw"}),
        )
        .await;
    assert_eq!(appmixer_status(&a, &format!("Bearer {fresh}")).await, 200);
}

on_both!(a_password_change_ends_earlier_tokens_in_both_dialects);

async fn a_retired_keys_tokens_are_refused_by_every_node(a: TestApp) {
    let b = second_node(&a).await;
    let email = signup(&a, "keyed").await;
    let old = appmixer_token(&a, &email).await;
    let old_kid = kid_of(&old);
    let out = a.cli(&["tenant", "rotate-key", "demo"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let new = loop_until_new_kid(&a, &email, &old_kid).await;
    let out = a.cli(&["tenant", "retire-key", "demo", &old_kid]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(refused_within_the_bound(&a, &old).await, "node A");
    assert!(refused_within_the_bound(&b, &old).await, "node B");
    assert_eq!(appmixer_status(&a, &new).await, 200);
    assert!(eventually(10, || async { appmixer_status(&b, &new).await == 200 }).await);
}

/// A token signed by the new key, once node A has heard of the rotation.
async fn loop_until_new_kid(a: &TestApp, email: &str, old_kid: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let t = appmixer_token(a, email).await;
        if kid_of(&t) != old_kid || std::time::Instant::now() > deadline {
            return t;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

on_both!(a_retired_keys_tokens_are_refused_by_every_node);

/// The view answers token checks without the database: with the node's background polling
/// parked, a hundred token checks in both dialects make no database call at all, while one
/// sign-in (the control) makes some.
async fn token_checks_make_no_database_call_once_the_user_is_in_the_view(a: TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let node = spawn_app_tweaked(a.backend, dir, a.db_url.clone(), "", |c| {
        c.tenants.refresh_seconds = 3600;
    })
    .await;
    let email = signup(&node, "cached").await;
    let (am, td) = (
        appmixer_token(&node, &email).await,
        tiledesk_token(&node, &email).await,
    );
    assert_eq!(appmixer_status(&node, &am).await, 200);
    // Let the start-up tasks (first poll, first refresh) finish.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let calls = |core: &Core| core.db().calls();
    let before = calls(&node.core);
    for _ in 0..50 {
        assert_eq!(appmixer_status(&node, &am).await, 200);
        assert_eq!(tiledesk_status(&node, &td).await, 200);
    }
    assert_eq!(
        calls(&node.core),
        before,
        "a token check reached the database"
    );
    appmixer_token(&node, &email).await;
    assert!(calls(&node.core) > before, "the counter counts (control)");
}

on_both!(token_checks_make_no_database_call_once_the_user_is_in_the_view);

/// A tenant setting goes through the change feed too: on PostgreSQL node B (which never polls
/// here) closes its signup by NOTIFY; on SQLite by its next poll.
async fn a_setting_set_on_one_node_reaches_another_through_the_change_feed(a: TestApp) {
    let b = second_node(&a).await;
    // Once node B has heard of a logout, its listener is up: what follows comes by NOTIFY.
    let email = signup(&a, "early").await;
    let t = appmixer_token(&a, &email).await;
    logout(&a, "/user/logout", &t).await;
    assert!(refused_within_the_bound(&b, &t).await);
    let signup = json!({"username": "late", "email": "late@example.com", "password": PASSWORD});
    a.set("demo", "API_USER_CREATE_SCOPE", "admin").await;
    assert_eq!(
        a.post(DEMO, "/user", &signup).await.status,
        401,
        "at once on node A"
    );
    assert!(
        eventually(10, || async {
            b.post(DEMO, "/user", &signup).await.status == 401
        })
        .await,
        "node B still allows open signup"
    );
}

on_both!(a_setting_set_on_one_node_reaches_another_through_the_change_feed);
