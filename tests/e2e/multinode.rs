//! Two gateway nodes on one database: settings changed through one node hold on the other within
//! `tenants.refresh_seconds`, and a sign-in lock (of a login from an address) holds on both.

use crate::helpers::*;
use serde_json::json;

async fn second_node(app: &TestApp) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    spawn_app_at(app.backend, dir, app.db_url.clone(), "").await
}

async fn a_setting_changed_on_one_node_holds_on_the_other(a: TestApp) {
    let b = second_node(&a).await;
    let out = a.cli(&[
        "user",
        "create",
        "--tenant",
        "demo",
        "--email",
        "admin@example.com",
        "--password",
        "admin-pass",
        "--scope",
        "admin",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let token = a
        .token_of(
            DEMO,
            "/user/auth",
            &json!({"email": "admin@example.com", "password": "admin-pass"}),
        )
        .await;
    let r = a
        .post_auth(
            DEMO,
            "/config",
            &json!({"key": "API_USER_CREATE_SCOPE", "value": "admin"}),
            &format!("Bearer {token}"),
        )
        .await;
    assert!(r.status == 200 || r.status == 204, "{}", r.body);
    let signup = json!({"username": "late", "email": "late@example.com", "password": "late-pass"});
    let closed = eventually(5, || async {
        b.post(DEMO, "/user", &signup).await.status == 401
    })
    .await;
    assert!(
        closed,
        "node B still allows open signup after node A closed it"
    );
    // Node B verifies node A's tokens: same tenant key from the shared database.
    assert_eq!(
        b.get(DEMO, "/user", Some(&format!("Bearer {token}")))
            .await
            .status,
        200
    );
}

/// Both nodes see the client as 127.0.0.1: the (login, address) lock lives in the shared database.
async fn a_sign_in_lock_made_on_one_node_holds_on_both(a: TestApp) {
    let b = second_node(&a).await;
    a.set("demo", "SIGNIN_MAX_FAILURES", "2").await;
    a.post(
        DEMO,
        "/user",
        &json!({"username": "lock", "email": "lock@example.com", "password": "right-pass"}),
    )
    .await;
    b.core.refresh_tenants().await.unwrap();
    for _ in 0..2 {
        let r = a
            .post(
                DEMO,
                "/user/auth",
                &json!({"email": "lock@example.com", "password": "wrong-pass"}),
            )
            .await;
        assert_eq!(r.status, 403);
    }
    let r = b
        .post(
            DEMO,
            "/user/auth",
            &json!({"email": "lock@example.com", "password": "right-pass"}),
        )
        .await;
    assert_eq!(r.status, 429, "{}", r.body);
    let r = b
        .post(
            DEMO,
            "/v1/auth/signin",
            &json!({"email": "lock@example.com", "password": "right-pass"}),
        )
        .await;
    assert_eq!(r.status, 429, "{}", r.body);
}

on_both!(
    a_setting_changed_on_one_node_holds_on_the_other,
    a_sign_in_lock_made_on_one_node_holds_on_both
);
