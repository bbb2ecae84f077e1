//! `gatehouse user seed` (issue 10): many users sharing one password hashed once, put in through
//! the bulk path, who then sign in like any other user in both dialects.
//!
//! The sign-in they must pass is the ordinary one. tiledesk-server's routes/auth.js:
//!   `var email = req.body.email.toLowerCase(); ... User.findOne({ email: email, status: 100 }, ...)`
//!   then `user.comparePassword(req.body.password, function (err, isMatch) { ... })`
//! and Appmixer's `POST /user/auth` takes `{"username", "password"}` where the username may be the
//! account's username or its email.

use crate::helpers::*;
use serde_json::json;

const PASSWORD: &str = "seed-password";

fn seed(app: &TestApp, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["user", "seed", "--tenant", "demo", "--password", PASSWORD];
    if !extra.contains(&"--domain") {
        args.extend_from_slice(&["--domain", "seed.test"]);
    }
    args.extend_from_slice(extra);
    app.cli(&args)
}

async fn seeded_users_sign_in_in_both_dialects(app: TestApp) {
    // More than one INSERT statement's worth of rows, so the batching is crossed.
    let o = seed(&app, &["--count", "1205", "--prefix", "Load"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("seeded 1205 users load0@seed.test..load1204@seed.test"),
        "{out}"
    );
    assert!(!out.contains(PASSWORD), "the CLI printed the password");
    let demo = app.tenant("demo").await;
    assert_eq!(app.core.count_users(&demo).await.unwrap(), 1205);

    for n in [0, 999, 1000, 1204] {
        // Tiledesk: by email, in any case (the reference lower-cases it).
        let email = format!("LOAD{n}@seed.test");
        let td = app
            .token_of(
                DEMO,
                "/v1/auth/signin",
                &json!({"email": email, "password": PASSWORD}),
            )
            .await;
        assert_eq!(app.get(DEMO, "/v1/users", Some(&td)).await.status, 200);
        // Appmixer: by username.
        let am = app
            .token_of(
                DEMO,
                "/user/auth",
                &json!({"username": format!("load{n}"), "password": PASSWORD}),
            )
            .await;
        let me = app.get(DEMO, "/user", Some(&format!("Bearer {am}"))).await;
        assert_eq!(me.status, 200, "{}", me.body);
        assert_eq!(me.json()["email"], format!("load{n}@seed.test"));
    }
    let beyond = app
        .post(
            DEMO,
            "/v1/auth/signin",
            &json!({"email": "load1205@seed.test", "password": PASSWORD}),
        )
        .await;
    assert_eq!(beyond.status, 401, "{}", beyond.body);
    let wrong = app
        .post(
            DEMO,
            "/v1/auth/signin",
            &json!({"email": "load7@seed.test", "password": "not-the-password"}),
        )
        .await;
    assert_eq!(wrong.status, 401, "{}", wrong.body);
}

async fn seeding_over_existing_users_is_refused_and_seeding_after_them_adds(app: TestApp) {
    let o = seed(&app, &["--count", "10"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let again = seed(&app, &["--count", "3", "--first", "8"]);
    assert!(!again.status.success());
    let e = stderr(&again);
    assert_eq!(e.trim_end().lines().count(), 1, "{e}");
    assert!(e.contains("exists"), "{e}");
    let demo = app.tenant("demo").await;
    // The refused batch left nothing behind.
    assert_eq!(app.core.count_users(&demo).await.unwrap(), 10);
    let more = seed(&app, &["--count", "3", "--first", "10"]);
    assert!(more.status.success(), "{}", stderr(&more));
    assert_eq!(app.core.count_users(&demo).await.unwrap(), 13);
    app.token_of(
        DEMO,
        "/v1/auth/signin",
        &json!({"email": "seed12@seed.test", "password": PASSWORD}),
    )
    .await;
}

async fn seeded_hashes_of_another_cost_sign_in_and_bad_seeds_are_one_line(app: TestApp) {
    // The demo tenant hashes at cost 4; users seeded at 5 still sign in (and are re-hashed).
    let o = seed(&app, &["--count", "2", "--cost", "5", "--prefix", "slow"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("at cost 5"), "{}", stdout(&o));
    for _ in 0..2 {
        app.token_of(
            DEMO,
            "/user/auth",
            &json!({"username": "slow1@seed.test", "password": PASSWORD}),
        )
        .await;
    }
    for (extra, needle) in [
        (&["--count", "2", "--cost", "3"][..], "cost"),
        (&["--count", "2", "--prefix", "a b"][..], "email"),
        (&["--count", "2", "--domain", "nodot"][..], "email"),
    ] {
        let o = seed(&app, extra);
        assert!(!o.status.success(), "{extra:?} succeeded");
        let e = stderr(&o);
        assert_eq!(e.trim_end().lines().count(), 1, "{extra:?}: {e}");
        assert!(e.contains(needle), "{extra:?}: {e} lacks {needle}");
    }
    let short = app.cli(&[
        "user",
        "seed",
        "--tenant",
        "demo",
        "--count",
        "1",
        "--password",
        "short",
    ]);
    assert!(!short.status.success());
    assert!(stderr(&short).contains("password"), "{}", stderr(&short));
    let demo = app.tenant("demo").await;
    assert_eq!(app.core.count_users(&demo).await.unwrap(), 2);
}

on_both!(
    seeded_users_sign_in_in_both_dialects,
    seeding_over_existing_users_is_refused_and_seeding_after_them_adds,
    seeded_hashes_of_another_cost_sign_in_and_bad_seeds_are_one_line
);
