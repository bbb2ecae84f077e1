//! Input normalisation (issue 8, item 15): passwords are NFC-normalised before hashing and
//! verifying, a password of only whitespace is refused, a body in another charset than UTF-8 is
//! refused with 415, and a JSON key given twice is refused, in each dialect's shape.
//!
//! The originals differ, and README's "Where Gatehouse differs" says so. tiledesk-server's app.js:
//! `app.use(bodyParser.json()); app.use(bodyParser.urlencoded({ extended: false }));` and
//! body-parser's json parser "accepts any Unicode encoding of the body" (UTF-16 decoded by
//! iconv-lite; other charsets 415 "unsupported charset"), then `JSON.parse` keeps the last of two
//! equal keys (as hapi does for Appmixer), and `querystring` turns a repeated form key into an
//! array. Neither original normalises passwords or refuses blank ones.

use crate::helpers::*;
use reqwest::header::CONTENT_TYPE;
use reqwest::Method;
use serde_json::json;

/// "Café-crème!" with precomposed letters (NFC) and with combining accents (NFD).
const NFC: &str = "Caf\u{e9}-cr\u{e8}me!";
const NFD: &str = "Cafe\u{301}-cre\u{300}me!";

async fn raw(app: &TestApp, path: &str, content_type: &str, body: &str) -> Resp {
    let rb = app
        .request(Method::POST, DEMO, path)
        .header(CONTENT_TYPE, content_type)
        .body(body.to_owned());
    app.send(rb).await
}

async fn an_nfd_spelling_of_the_password_signs_in(app: TestApp) {
    assert_ne!(NFC, NFD);
    let r = app
        .post(
            DEMO,
            "/user",
            &json!({"username": "zoe", "email": "zoe@example.com", "password": NFC}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app
        .post(
            DEMO,
            "/user/auth",
            &json!({"username": "zoe", "password": NFD}),
        )
        .await;
    assert_eq!(r.status, 200, "Appmixer: {}", r.body);
    // Signed up in NFD through Tiledesk, signed in with NFC.
    let signup =
        json!({"email": "ann@example.com", "password": NFD, "firstname": "Ann", "lastname": "Lee"});
    let r = app.post(DEMO, "/v1/auth/signup", &signup).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app
        .post(
            DEMO,
            "/v1/auth/signin",
            &json!({"email": "ann@example.com", "password": NFC}),
        )
        .await;
    assert_eq!(r.status, 200, "Tiledesk: {}", r.body);
}

async fn a_password_of_only_whitespace_is_refused(app: TestApp) {
    let blank = " \t\u{a0}\u{3000}        ";
    let r = app
        .post(
            DEMO,
            "/user",
            &json!({"username": "blank", "email": "blank@example.com", "password": blank}),
        )
        .await;
    assert_eq!(r.status, 400, "Appmixer signup: {}", r.body);
    let signup =
        json!({"email": "blank@example.com", "password": blank, "firstname": "B", "lastname": "L"});
    let r = app.post(DEMO, "/v1/auth/signup", &signup).await;
    assert_eq!(r.status, 422, "Tiledesk signup: {}", r.body);
    assert!(!r.body.contains(blank), "a password is never echoed");
    // Change (both dialects) and reset.
    let r = app
        .post(
            DEMO,
            "/user",
            &json!({"username": "real", "email": "real@example.com", "password": "real-password"}),
        )
        .await;
    let token = format!("Bearer {}", r.json()["token"].as_str().unwrap());
    let r = app
        .post_auth(
            DEMO,
            "/user/change-password",
            &json!({"oldPassword": "real-password", "newPassword": blank}),
            &token,
        )
        .await;
    assert_eq!(r.status, 400, "Appmixer change: {}", r.body);
    let jwt = app
        .token_of(
            DEMO,
            "/v1/auth/signin",
            &json!({"email": "real@example.com", "password": "real-password"}),
        )
        .await;
    let r = app
        .json(
            Method::PUT,
            DEMO,
            "/v1/users/changepsw",
            &json!({"oldpsw": "real-password", "newpsw": blank}),
            Some(&jwt),
        )
        .await;
    assert_eq!(r.status, 422, "Tiledesk change: {}", r.body);
    let out = app.cli(&[
        "user",
        "create",
        "--tenant",
        "demo",
        "--email",
        "root@example.com",
        "--password",
        "root-password",
        "--scope",
        "admin",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let admin = app
        .token_of(
            DEMO,
            "/user/auth",
            &json!({"email": "root@example.com", "password": "root-password"}),
        )
        .await;
    let r = app
        .post_auth(
            DEMO,
            "/user/reset-password",
            &json!({"email": "real@example.com", "password": blank}),
            &format!("Bearer {admin}"),
        )
        .await;
    assert_eq!(r.status, 400, "Appmixer reset: {}", r.body);
    // The old password still works: nothing was changed.
    let r = app
        .post(
            DEMO,
            "/user/auth",
            &json!({"username": "real", "password": "real-password"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

async fn a_body_in_another_charset_than_utf8_is_refused_with_415(app: TestApp) {
    let body = r#"{"username":"x","password":"y"}"#;
    for ct in [
        "application/json; charset=utf-16",
        "application/json;charset=\"UTF-16LE\"",
        "application/json; charset=iso-8859-1",
    ] {
        let r = raw(&app, "/user/auth", ct, body).await;
        assert_eq!(r.status, 415, "Appmixer {ct}: {}", r.body);
        assert_eq!(r.json()["error"], "Unsupported Media Type", "{}", r.body);
        let r = raw(&app, "/v1/auth/signin", ct, body).await;
        assert_eq!(r.status, 415, "Tiledesk {ct}: {}", r.body);
        assert_eq!(r.json()["success"], false, "{}", r.body);
    }
    // UTF-8 (and ASCII) declared are read as before.
    let r = raw(&app, "/user/auth", "application/json; charset=UTF-8", body).await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = raw(
        &app,
        "/v1/auth/signin",
        "application/json; charset=us-ascii",
        body,
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
}

async fn a_json_key_given_twice_is_refused(app: TestApp) {
    let r = app
        .post(
            DEMO,
            "/user",
            &json!({"username": "dup", "email": "dup@example.com", "password": "dup-password"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // The second `password` is right: a parser keeping the last would let it in.
    let twice = r#"{"username":"dup","password":"wrong-one","password":"dup-password"}"#;
    let r = raw(&app, "/user/auth", "application/json", twice).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("password"), "names the key: {}", r.body);
    assert!(!r.body.contains("\"token\""));
    let twice = r#"{"email":"dup@example.com","password":"wrong-one","password":"dup-password"}"#;
    let r = raw(&app, "/v1/auth/signin", "application/json", twice).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["success"], false, "{}", r.body);
    let form = "email=dup%40example.com&password=wrong-one&password=dup-password";
    let r = raw(
        &app,
        "/v1/auth/signin",
        "application/x-www-form-urlencoded",
        form,
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
}

on_both!(
    an_nfd_spelling_of_the_password_signs_in,
    a_password_of_only_whitespace_is_refused,
    a_body_in_another_charset_than_utf8_is_refused_with_415,
    a_json_key_given_twice_is_refused
);
