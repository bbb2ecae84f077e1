//! One identity store, two dialects: a person made through one API signs in through the other,
//! while tokens stay dialect-specific and tenant-bound.

use crate::helpers::*;
use reqwest::Method;
use serde_json::json;

async fn an_appmixer_user_signs_in_through_tiledesk(app: TestApp) {
    let r = app
        .post(
            DEMO,
            "/user",
            &json!({"username": "ada", "email": "Ada@Example.com", "password": "correct-horse"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app
        .post(
            DEMO,
            "/v1/auth/signin",
            &json!({"email": "ada@example.com", "password": "correct-horse"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let body = r.json();
    assert_eq!(body["success"], true);
    assert_eq!(body["user"]["email"], "ada@example.com");
    let jwt = body["token"].as_str().unwrap();
    assert!(jwt.starts_with("JWT "));
    let me = app.get(DEMO, "/v1/users", Some(jwt)).await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.json()["email"], "ada@example.com");
}

async fn a_tiledesk_user_signs_in_through_appmixer(app: TestApp) {
    let r = app
        .post(
            DEMO,
            "/v1/auth/signup",
            &json!({"email": "grace@example.com", "password": "hopper-1906", "firstname": "Grace", "lastname": "Hopper"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    for login in [
        json!({"email": "grace@example.com", "password": "hopper-1906"}),
        json!({"username": "GRACE@example.com", "password": "hopper-1906"}),
    ] {
        let r = app.post(DEMO, "/user/auth", &login).await;
        assert_eq!(r.status, 200, "{login}: {}", r.body);
        let token = r.json()["token"].as_str().unwrap().to_owned();
        let me = app
            .get(DEMO, "/user", Some(&format!("Bearer {token}")))
            .await;
        assert_eq!(me.status, 200, "{}", me.body);
        assert_eq!(me.json()["email"], "grace@example.com");
    }
}

async fn tokens_do_not_cross_dialects_nor_tenants(app: TestApp) {
    let signup = json!({"username": "tok", "email": "tok@example.com", "password": "token-pass"});
    for host in [DEMO, ACME] {
        assert_eq!(app.post(host, "/user", &signup).await.status, 200);
    }
    let am = app
        .token_of(
            DEMO,
            "/user/auth",
            &json!({"email": "tok@example.com", "password": "token-pass"}),
        )
        .await;
    let td = app
        .token_of(
            DEMO,
            "/v1/auth/signin",
            &json!({"email": "tok@example.com", "password": "token-pass"}),
        )
        .await;
    let td_bare = td.trim_start_matches("JWT ").to_owned();

    // Appmixer's token is not a Tiledesk token, and the other way round.
    let r = app.get(DEMO, "/v1/users", Some(&format!("JWT {am}"))).await;
    assert_eq!((r.status, r.body.as_str()), (401, "Unauthorized"));
    let r = app
        .get(DEMO, "/user", Some(&format!("Bearer {td_bare}")))
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.json()["message"],
        "Invalid JWT: key or signature is invalid"
    );

    // Neither is accepted by another tenant, where the same email exists.
    let r = app.get(ACME, "/user", Some(&format!("Bearer {am}"))).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.json()["message"],
        "Invalid JWT: key or signature is invalid"
    );
    let r = app.get(ACME, "/v1/users", Some(&td)).await;
    assert_eq!((r.status, r.body.as_str()), (401, "Unauthorized"));

    // And at home both work.
    assert_eq!(
        app.get(DEMO, "/user", Some(&format!("Bearer {am}")))
            .await
            .status,
        200
    );
    assert_eq!(app.get(DEMO, "/v1/users", Some(&td)).await.status, 200);
}

async fn a_password_changed_in_one_dialect_holds_in_the_other(app: TestApp) {
    app.post(
        DEMO,
        "/user",
        &json!({"username": "pc", "email": "pc@example.com", "password": "first-pass"}),
    )
    .await;
    let td = app
        .token_of(
            DEMO,
            "/v1/auth/signin",
            &json!({"email": "pc@example.com", "password": "first-pass"}),
        )
        .await;
    let r = app
        .json(
            Method::PUT,
            DEMO,
            "/v1/users/changepsw",
            &json!({"oldpsw": "first-pass", "newpsw": "second-pass"}),
            Some(&td),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        app.post(
            DEMO,
            "/user/auth",
            &json!({"email": "pc@example.com", "password": "first-pass"})
        )
        .await
        .status,
        403
    );
    assert_eq!(
        app.post(
            DEMO,
            "/user/auth",
            &json!({"email": "pc@example.com", "password": "second-pass"})
        )
        .await
        .status,
        200
    );
}

async fn a_disabled_user_is_refused_by_both_dialects(app: TestApp) {
    app.post(
        DEMO,
        "/user",
        &json!({"username": "dis", "email": "dis@example.com", "password": "disabled-pass"}),
    )
    .await;
    let login = json!({"email": "dis@example.com", "password": "disabled-pass"});
    let am = app.token_of(DEMO, "/user/auth", &login).await;
    let td = app.token_of(DEMO, "/v1/auth/signin", &login).await;
    let out = app.cli(&["user", "disable", "--tenant", "demo", "dis@example.com"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        app.get(DEMO, "/user", Some(&format!("Bearer {am}")))
            .await
            .status,
        401
    );
    assert_eq!(app.get(DEMO, "/v1/users", Some(&td)).await.status, 401);
    assert_eq!(app.post(DEMO, "/user/auth", &login).await.status, 403);
    assert_eq!(app.post(DEMO, "/v1/auth/signin", &login).await.status, 401);
    let out = app.cli(&["user", "enable", "--tenant", "demo", "dis@example.com"]);
    assert!(out.status.success());
    // Disabling ended the tokens issued before it (issue 11): enabling lets the user sign in
    // again, it does not revive them.
    let am2 = app.token_of(DEMO, "/user/auth", &login).await;
    let td2 = app.token_of(DEMO, "/v1/auth/signin", &login).await;
    // (The node hears of the CLI's change, another process's, within refresh_seconds.)
    let am2 = format!("Bearer {am2}");
    assert!(
        eventually(10, || async {
            app.get(DEMO, "/user", Some(&am2)).await.status == 200
        })
        .await
    );
    assert_eq!(app.get(DEMO, "/v1/users", Some(&td2)).await.status, 200);
    assert_eq!(
        app.get(DEMO, "/user", Some(&format!("Bearer {am}")))
            .await
            .status,
        401
    );
    assert_eq!(app.get(DEMO, "/v1/users", Some(&td)).await.status, 401);
}

on_both!(
    an_appmixer_user_signs_in_through_tiledesk,
    a_tiledesk_user_signs_in_through_appmixer,
    tokens_do_not_cross_dialects_nor_tenants,
    a_password_changed_in_one_dialect_holds_in_the_other,
    a_disabled_user_is_refused_by_both_dialects,
);

async fn the_signup_rate_limit_spans_both_dialects_and_stays_in_its_tenant(app: TestApp) {
    within_one_rate_window().await;
    app.set("demo", "SIGNUP_PER_IP_PER_MINUTE", "3").await;
    let am = |i: u32| json!({"username": format!("r{i}"), "email": format!("r{i}@example.com"), "password": "rate-pass"});
    let td = |i: u32| json!({"email": format!("t{i}@example.com"), "password": "rate-pass", "firstname": "T", "lastname": "R"});
    assert_eq!(app.post(DEMO, "/user", &am(1)).await.status, 200);
    assert_eq!(app.post(DEMO, "/v1/auth/signup", &td(2)).await.status, 200);
    assert_eq!(app.post(DEMO, "/user", &am(3)).await.status, 200);
    let r = app.post(DEMO, "/user", &am(4)).await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(r.json()["statusCode"], 429);
    let r = app.post(DEMO, "/v1/auth/signup", &td(5)).await;
    assert_eq!(r.status, 429, "{}", r.body);
    // Nothing was written by the refused requests.
    let t = app.tenant("demo").await;
    assert_eq!(app.core.count_users(&t).await.unwrap(), 3);
    // Another tenant's counter is its own.
    assert_eq!(app.post(ACME, "/user", &am(6)).await.status, 200);
}

on_both!(the_signup_rate_limit_spans_both_dialects_and_stays_in_its_tenant);

async fn a_username_cannot_take_another_persons_email(app: TestApp) {
    let victim = json!({"email": "victim@example.com", "password": "victim-pass", "firstname": "V", "lastname": "W"});
    assert_eq!(app.post(DEMO, "/v1/auth/signup", &victim).await.status, 200);
    let squat = json!({"username": "Victim@Example.com", "email": "squatter@example.com", "password": "squat-pass"});
    let r = app.post(DEMO, "/user", &squat).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.json()["message"].as_str().unwrap().contains("username"),
        "{}",
        r.body
    );
    let r = app
        .post(
            DEMO,
            "/user/auth",
            &json!({"username": "victim@example.com", "password": "victim-pass"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

async fn a_password_over_72_bytes_never_signs_in(app: TestApp) {
    let exact = "p".repeat(72);
    let longer = format!("{exact}-and-a-tail");
    let r = app
        .post(
            DEMO,
            "/user",
            &json!({"username": "long", "email": "long@example.com", "password": exact}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // bcrypt would read only the first 72 bytes of these and call them a match.
    let r = app
        .post(
            DEMO,
            "/user/auth",
            &json!({"email": "long@example.com", "password": longer}),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = app
        .post(
            DEMO,
            "/v1/auth/signin",
            &json!({"email": "long@example.com", "password": longer}),
        )
        .await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(
        app.post(
            DEMO,
            "/user/auth",
            &json!({"email": "long@example.com", "password": exact})
        )
        .await
        .status,
        200
    );
}

on_both!(
    a_username_cannot_take_another_persons_email,
    a_password_over_72_bytes_never_signs_in
);

/// The 64 KiB body limit, at its edge, in both dialects' shapes.
async fn bodies_over_64_kib_are_413_in_both_dialects(app: TestApp) {
    let body_of = |len: usize| {
        let mut b = String::from(r#"{"email":"edge@example.com","password":"edge-pass","pad":""#);
        b.push_str(&"x".repeat(len - b.len() - 2));
        b.push_str(r#""}"#);
        assert_eq!(b.len(), len);
        b
    };
    for (path, shape) in [("/user/auth", "statusCode"), ("/v1/auth/signin", "success")] {
        let send = |len: usize| {
            app.request(Method::POST, DEMO, path)
                .header("Content-Type", "application/json")
                .body(body_of(len))
        };
        let at_limit = app.send(send(64 * 1024)).await;
        assert_ne!(at_limit.status, 413, "{path}: exactly 64 KiB was refused");
        let over = app.send(send(64 * 1024 + 1)).await;
        assert_eq!(over.status, 413, "{path}: {}", over.body);
        assert!(
            over.json().get(shape).is_some(),
            "{path}: not in the dialect's shape: {}",
            over.body
        );
    }
}

on_both!(bodies_over_64_kib_are_413_in_both_dialects);
