//! Password reset and email verification over a real SMTP server: each test starts aiosmtpd
//! (tests/smtp/sink.py) on a port of its own and points the tenant's `SMTP_URL` at it; mail goes
//! through the outbox and the sender of the real server.
//!
//! What we follow (quoted from the originals):
//! - tiledesk-server routes/auth.js: `router.put('/requestresetpsw', ...)` answers
//!   `{ success: true, ... }`; `router.get('/checkpswresetkey/:resetpswrequestid', ...)` answers
//!   `{ message: 'Valid password reset key', user }` or `404 { success: false, msg: 'Invalid
//!   password reset key' }`; `router.put('/resetpsw/:resetpswrequestid', ...)` sets
//!   `req.body.password` and answers `{ message: 'Password change successful', user }`;
//!   `router.put('/verifyemail/:userid/:code', ...)` answers the user, or `401 { success: false,
//!   error: "Unable to verify email: the verification code is expired or invalid." }` and
//!   "Trying to use a verification code from another user."; signup calls
//!   `emailService.sendVerifyEmailAddress(savedUser.email, savedUser, verify_email_code)` unless
//!   `req.body.disableEmail`.
//! - routes/users.js: `router.get('/resendverifyemail', ...)` answers `{ success: true, message:
//!   'Verify email successfully sent' }`.
//! - Appmixer's docs: the engine "has an API to reset the forgotten passwords"
//!   (`POST /user/forgot-password`, then `POST /forgot-password/reset` with `{code, password}`);
//!   "Without any changes, the link will be http://localhost:8080/reset-password?code={{code}}".
//!
//! Gatehouse departs on purpose: `requestresetpsw` answers the same for unknown emails (the
//! original says `User not found.`), and codes expire (`RESET_CODE_TTL_SECONDS`) and work once.

use crate::helpers::*;
use gatehouse_core::ManualClock;
use reqwest::Method;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

pub(crate) const SINK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/smtp/sink.py");

/// A real SMTP server (aiosmtpd) on a port of its own, started and stopped at will (the delivery
/// tests in mail_delivery.rs use it too).
/// A real SMTP server (aiosmtpd) on a port of its own, started and stopped at will.
pub(crate) struct Smtp {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Smtp {
    /// A server not yet started: its port is chosen, nothing listens there.
    pub(crate) fn down() -> Smtp {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        Smtp {
            port,
            dir: tempfile::tempdir().expect("temp dir"),
            child: None,
        }
    }

    pub(crate) fn started() -> Smtp {
        let mut s = Smtp::down();
        s.up();
        s
    }

    pub(crate) fn up(&mut self) {
        let mut child = Command::new("python3")
            .arg(SINK)
            .args(["--port", &self.port.to_string()])
            .arg("--dir")
            .arg(self.dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("piped stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the SMTP sink answers");
        assert!(
            line.starts_with("READY"),
            "the SMTP sink did not start (is aiosmtpd installed? pip install aiosmtpd): {line:?}"
        );
        self.child = Some(child);
    }

    pub(crate) fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every mail received so far, in order.
    pub(crate) fn mails(&self) -> Vec<Value> {
        let mut files: Vec<_> = std::fs::read_dir(self.dir.path())
            .expect("mail dir")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|p| {
                serde_json::from_str(&std::fs::read_to_string(p).expect("mail")).expect("json")
            })
            .collect()
    }

    /// Waits for at least `n` mails, letting `app`'s sender run now instead of at its next tick.
    pub(crate) async fn wait_for(&self, app: &TestApp, n: usize) -> Vec<Value> {
        let got = eventually(15, || async {
            let _ = app.core.drain_outbox().await;
            self.mails().len() >= n
        })
        .await;
        assert!(got, "expected {n} mails, got {:?}", self.mails());
        self.mails()
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The 64 hex characters after `marker` in a mail's text.
pub(crate) fn code_after(mail: &Value, marker: &str) -> String {
    let text = mail["text"].as_str().expect("a text part");
    let at = text
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} in {text}"));
    let code: String = text[at + marker.len()..]
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect();
    assert_eq!(code.len(), 64, "{text}");
    code
}

pub(crate) fn subject(mail: &Value) -> &str {
    mail["subject"].as_str().unwrap_or("")
}

/// An account made through Appmixer (which mails nothing at creation).
pub(crate) async fn account(app: &TestApp, host: &str, email: &str, password: &str) {
    let r = app
        .post(
            host,
            "/user",
            &json!({"email": email, "password": password}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

async fn tiledesk_signin(app: &TestApp, host: &str, email: &str, password: &str) -> u16 {
    app.post(
        host,
        "/v1/auth/signin",
        &json!({"email": email, "password": password}),
    )
    .await
    .status
}

async fn appmixer_signin(app: &TestApp, host: &str, email: &str, password: &str) -> u16 {
    app.post(
        host,
        "/user/auth",
        &json!({"email": email, "password": password}),
    )
    .await
    .status
}

async fn put(app: &TestApp, host: &str, path: &str, body: &Value) -> Resp {
    app.json(Method::PUT, host, path, body, None).await
}

async fn a_reset_asked_in_tiledesk_arrives_by_mail_and_replaces_the_password(app: TestApp) {
    let smtp = Smtp::started();
    app.set("demo", "SMTP_URL", &smtp.url()).await;
    account(&app, DEMO, "ann@example.com", "old-password").await;
    let tiledesk_token = app
        .token_of(
            DEMO,
            "/v1/auth/signin",
            &json!({"email": "ann@example.com", "password": "old-password"}),
        )
        .await;
    let appmixer_token = app
        .token_of(
            DEMO,
            "/user/auth",
            &json!({"email": "ann@example.com", "password": "old-password"}),
        )
        .await;

    // Known and unknown emails: one answer.
    let known = put(
        &app,
        DEMO,
        "/v1/auth/requestresetpsw",
        &json!({"email": "ann@example.com"}),
    )
    .await;
    let unknown = put(
        &app,
        DEMO,
        "/v1/auth/requestresetpsw",
        &json!({"email": "nobody@example.com"}),
    )
    .await;
    assert_eq!(known.status, 200, "{}", known.body);
    assert_eq!(
        (known.status, known.json()),
        (unknown.status, unknown.json())
    );
    assert_eq!(known.json()["success"], true);
    let bad = put(
        &app,
        DEMO,
        "/v1/auth/requestresetpsw",
        &json!({"email": "not-an-email"}),
    )
    .await;
    assert_eq!(bad.status, 422, "{}", bad.body);

    let mails = smtp.wait_for(&app, 1).await;
    assert_eq!(
        mails.len(),
        1,
        "a mail went to the unknown address: {mails:?}"
    );
    assert_eq!(mails[0]["to"], json!(["ann@example.com"]));
    assert!(subject(&mails[0]).contains("Reset"), "{}", mails[0]);
    // The dashboard's own route (`/#/resetpassword/:id`), under the tenant's issuer.
    let code = code_after(&mails[0], "/#/resetpassword/");
    assert!(mails[0]["html"].as_str().unwrap_or("").contains(&code));

    let check = app
        .get(DEMO, &format!("/v1/auth/checkpswresetkey/{code}"), None)
        .await;
    assert_eq!(check.status, 200, "{}", check.body);
    assert_eq!(check.json()["message"], "Valid password reset key");
    assert_eq!(check.json()["user"]["email"], "ann@example.com");

    let short = put(
        &app,
        DEMO,
        &format!("/v1/auth/resetpsw/{code}"),
        &json!({"password": "short"}),
    )
    .await;
    assert_eq!(short.status, 422, "{}", short.body);
    let done = put(
        &app,
        DEMO,
        &format!("/v1/auth/resetpsw/{code}"),
        &json!({"password": "new-password"}),
    )
    .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(done.json()["message"], "Password change successful");
    assert!(!done.body.contains("$2"), "a hash leaked: {}", done.body);

    // Once only.
    let again = put(
        &app,
        DEMO,
        &format!("/v1/auth/resetpsw/{code}"),
        &json!({"password": "third-password"}),
    )
    .await;
    assert_eq!(again.status, 404, "{}", again.body);
    assert_eq!(again.json()["msg"], "Invalid password reset key");
    assert_eq!(
        app.get(DEMO, &format!("/v1/auth/checkpswresetkey/{code}"), None)
            .await
            .status,
        404
    );

    // The old password and the old tokens fail in both dialects; the new password works in both.
    assert_eq!(
        tiledesk_signin(&app, DEMO, "ann@example.com", "old-password").await,
        401
    );
    assert_eq!(
        appmixer_signin(&app, DEMO, "ann@example.com", "old-password").await,
        403
    );
    assert_eq!(
        tiledesk_signin(&app, DEMO, "ann@example.com", "new-password").await,
        200
    );
    assert_eq!(
        appmixer_signin(&app, DEMO, "ann@example.com", "new-password").await,
        200
    );
    assert_eq!(
        app.get(DEMO, "/v1/users", Some(&tiledesk_token))
            .await
            .status,
        401
    );
    let bearer = format!("Bearer {appmixer_token}");
    assert_eq!(app.get(DEMO, "/user", Some(&bearer)).await.status, 401);
}

async fn a_reset_asked_in_appmixer_arrives_by_mail_and_replaces_the_password(app: TestApp) {
    let smtp = Smtp::started();
    app.set("demo", "SMTP_URL", &smtp.url()).await;
    app.set("demo", "SIGNIN_MAX_FAILURES", "2").await;
    account(&app, DEMO, "bob@example.com", "old-password").await;
    // Locked out from this address...
    for _ in 0..2 {
        assert_eq!(
            appmixer_signin(&app, DEMO, "bob@example.com", "wrong-password").await,
            403
        );
    }
    assert_eq!(
        appmixer_signin(&app, DEMO, "bob@example.com", "old-password").await,
        429
    );

    let known = app
        .post(
            DEMO,
            "/user/forgot-password",
            &json!({"email": "bob@example.com"}),
        )
        .await;
    let unknown = app
        .post(
            DEMO,
            "/user/forgot-password",
            &json!({"email": "nobody@example.com"}),
        )
        .await;
    assert_eq!(known.status, 200, "{}", known.body);
    assert_eq!(
        (known.status, known.json()),
        (unknown.status, unknown.json())
    );
    let mails = smtp.wait_for(&app, 1).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    // Appmixer's documented link shape: `<frontend>/reset-password?code={{code}}`.
    let code = code_after(&mails[0], "/reset-password?code=");

    let bad = app
        .post(
            DEMO,
            "/forgot-password/reset",
            &json!({"code": code, "password": "abc"}),
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    let done = app
        .post(
            DEMO,
            "/forgot-password/reset",
            &json!({"code": code, "password": "new-password"}),
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    let again = app
        .post(
            DEMO,
            "/forgot-password/reset",
            &json!({"code": code, "password": "new-password"}),
        )
        .await;
    assert_eq!(again.status, 404, "{}", again.body);
    assert_eq!(again.json()["statusCode"], 404);

    // ...and the reset ends the lock-out: the new password signs in at once, in both dialects.
    assert_eq!(
        appmixer_signin(&app, DEMO, "bob@example.com", "new-password").await,
        200
    );
    assert_eq!(
        tiledesk_signin(&app, DEMO, "bob@example.com", "new-password").await,
        200
    );
    assert_eq!(
        tiledesk_signin(&app, DEMO, "bob@example.com", "old-password").await,
        401
    );
}

async fn a_reset_code_works_on_its_own_tenant_only(app: TestApp) {
    let smtp = Smtp::started();
    app.set("demo", "SMTP_URL", &smtp.url()).await;
    app.set("globex", "SMTP_URL", &smtp.url()).await;
    account(&app, DEMO, "cy@example.com", "old-password").await;
    account(&app, GLOBEX, "cy@example.com", "globex-password").await;
    let r = put(
        &app,
        DEMO,
        "/v1/auth/requestresetpsw",
        &json!({"email": "cy@example.com"}),
    )
    .await;
    assert_eq!(r.status, 200);
    let code = code_after(&smtp.wait_for(&app, 1).await[0], "/#/resetpassword/");

    let elsewhere = app
        .get(GLOBEX, &format!("/v1/auth/checkpswresetkey/{code}"), None)
        .await;
    assert_eq!(elsewhere.status, 404, "{}", elsewhere.body);
    let elsewhere = put(
        &app,
        GLOBEX,
        &format!("/v1/auth/resetpsw/{code}"),
        &json!({"password": "stolen-password"}),
    )
    .await;
    assert_eq!(elsewhere.status, 404, "{}", elsewhere.body);
    let elsewhere = app
        .post(
            GLOBEX,
            "/forgot-password/reset",
            &json!({"code": code, "password": "stolen-password"}),
        )
        .await;
    assert_eq!(elsewhere.status, 404, "{}", elsewhere.body);
    assert_eq!(
        tiledesk_signin(&app, GLOBEX, "cy@example.com", "globex-password").await,
        200
    );

    // Still good at home.
    let home = put(
        &app,
        DEMO,
        &format!("/v1/auth/resetpsw/{code}"),
        &json!({"password": "new-password"}),
    )
    .await;
    assert_eq!(home.status, 200, "{}", home.body);
}

async fn tiledesk_signup_mails_a_verification_code_that_verifies_the_email(app: TestApp) {
    let smtp = Smtp::started();
    app.set("demo", "SMTP_URL", &smtp.url()).await;
    let r = app
        .post(
            DEMO,
            "/v1/auth/signup",
            &json!({"email": "dee@example.com", "password": "dee-password", "firstname": "Dee", "lastname": "D"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let uid = r.json()["user"]["_id"].as_str().unwrap().to_owned();
    assert_eq!(r.json()["user"]["emailverified"], false);
    // `disableEmail` sends none.
    let quiet = app
        .post(
            DEMO,
            "/v1/auth/signup",
            &json!({"email": "quiet@example.com", "password": "quiet-password", "firstname": "Q", "lastname": "Q", "disableEmail": true}),
        )
        .await;
    assert_eq!(quiet.status, 200, "{}", quiet.body);

    let mails = smtp.wait_for(&app, 1).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0]["to"], json!(["dee@example.com"]));
    assert!(subject(&mails[0]).starts_with("Verify"), "{}", mails[0]);
    // The address is not verified yet: the mail carries no name the signer typed (issue 21.5).
    assert!(mails[0]["text"].as_str().unwrap().starts_with("Hello,"));
    let code = code_after(&mails[0], &format!("/#/verify/email/{uid}/"));

    // Another user's id with this code: refused, and the code is not used up.
    let other = put(
        &app,
        DEMO,
        &format!("/v1/auth/verifyemail/{}/{code}", "0".repeat(24)),
        &json!({}),
    )
    .await;
    assert_eq!(other.status, 401, "{}", other.body);
    assert_eq!(
        other.json()["error"],
        "Trying to use a verification code from another user."
    );

    let ok = put(
        &app,
        DEMO,
        &format!("/v1/auth/verifyemail/{uid}/{code}"),
        &json!({}),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.json()["emailverified"], true);
    let again = put(
        &app,
        DEMO,
        &format!("/v1/auth/verifyemail/{uid}/{code}"),
        &json!({}),
    )
    .await;
    // A second click verifies again: auth.js never deletes the key (issue 22.3).
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.json()["emailverified"], true);

    // Seen in GET /v1/users and in the next sign-in's user.
    let signin = app
        .post(
            DEMO,
            "/v1/auth/signin",
            &json!({"email": "dee@example.com", "password": "dee-password"}),
        )
        .await;
    assert_eq!(
        signin.json()["user"]["emailverified"],
        true,
        "{}",
        signin.body
    );
    let token = signin.json()["token"].as_str().unwrap().to_owned();
    let me = app.get(DEMO, "/v1/users", Some(&token)).await;
    assert_eq!(me.json()["emailverified"], true, "{}", me.body);

    // Resend: a fresh mail to the signed-in agent.
    let resend = app
        .get(DEMO, "/v1/users/resendverifyemail", Some(&token))
        .await;
    assert_eq!(resend.status, 200, "{}", resend.body);
    assert_eq!(resend.json()["message"], "Verify email successfully sent");
    let mails = smtp.wait_for(&app, 2).await;
    assert!(subject(&mails[1]).starts_with("Verify"));
    assert_eq!(
        app.get(DEMO, "/v1/users/resendverifyemail", None)
            .await
            .status,
        401
    );
}

async fn mail_sent_while_the_smtp_server_is_down_arrives_when_it_is_back(app: TestApp) {
    let mut smtp = Smtp::down();
    app.set("demo", "SMTP_URL", &smtp.url()).await;
    account(&app, DEMO, "eve@example.com", "eve-password").await;
    let r = app
        .post(
            DEMO,
            "/user/forgot-password",
            &json!({"email": "eve@example.com"}),
        )
        .await;
    assert_eq!(r.status, 200, "the request waited on SMTP: {}", r.body);
    let tenant = app.tenant("demo").await;
    // The sender (not this test) tries, and fails: nothing listens.
    let failed = eventually(10, || async {
        app.metrics()
            .await
            .body
            .contains("gatehouse_mail_total{event=\"failed\"} 1")
    })
    .await;
    assert!(failed, "{}", app.metrics().await.body);
    assert_eq!(
        app.core.outbox_count(&tenant.id, "queued").await.unwrap(),
        1
    );

    smtp.up();
    // Delivered by the sender's own retry (backoff from 2 s), without this test's help.
    let delivered = eventually(20, || async { smtp.mails().len() == 1 }).await;
    assert!(delivered, "not delivered after the server came back");
    assert!(subject(&smtp.mails()[0]).contains("Reset"));
    let sent = eventually(5, || async {
        app.core.outbox_count(&tenant.id, "sent").await.unwrap() == 1
    })
    .await;
    assert!(sent);
    assert!(app
        .metrics()
        .await
        .body
        .contains("gatehouse_mail_total{event=\"sent\"} 1"));
}

async fn two_nodes_on_one_database_deliver_each_mail_once(a: TestApp) {
    let b = spawn_app_at(
        a.backend,
        tempfile::tempdir().unwrap(),
        a.db_url.clone(),
        "",
    )
    .await;
    let smtp = Smtp::started();
    a.set("demo", "SMTP_URL", &smtp.url()).await;
    b.core.refresh_tenants().await.unwrap();
    const N: usize = 12;
    for i in 0..N {
        account(&a, DEMO, &format!("user{i}@example.com"), "pass-word").await;
    }
    for i in 0..N {
        let node = if i % 2 == 0 { &a } else { &b };
        let r = node
            .post(
                DEMO,
                "/user/forgot-password",
                &json!({"email": format!("user{i}@example.com")}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    // Both nodes' senders drain the one outbox (no help from the test).
    let all = eventually(20, || async { smtp.mails().len() >= N }).await;
    assert!(all, "only {} of {N} mails arrived", smtp.mails().len());
    // A few more polls of both senders: nothing goes twice.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let mails = smtp.mails();
    let mut to: Vec<String> = mails
        .iter()
        .map(|m| m["to"][0].as_str().unwrap().to_owned())
        .collect();
    to.sort();
    to.dedup();
    assert_eq!((mails.len(), to.len()), (N, N), "{to:?}");
}

async fn mail_bombing_past_the_limits_gets_429_and_sends_nothing_more(app: TestApp) {
    let smtp = Smtp::started();
    app.set("demo", "SMTP_URL", &smtp.url()).await;
    app.set("demo", "MAIL_PER_EMAIL_PER_HOUR", "3").await;
    app.set("demo", "MAIL_PER_IP_PER_HOUR", "8").await;
    account(&app, DEMO, "fay@example.com", "fay-password").await;
    for email in ["fay@example.com", "nobody@example.com"] {
        for _ in 0..3 {
            let r = put(
                &app,
                DEMO,
                "/v1/auth/requestresetpsw",
                &json!({"email": email}),
            )
            .await;
            assert_eq!(r.status, 200, "{}", r.body);
        }
        // The fourth for one address, known or not, in either dialect.
        let r = put(
            &app,
            DEMO,
            "/v1/auth/requestresetpsw",
            &json!({"email": email}),
        )
        .await;
        assert_eq!(r.status, 429, "{}", r.body);
        assert_eq!(
            r.json(),
            json!({"success": false, "msg": "Too many password reset requests"})
        );
    }
    // Eight counted from this address: a ninth, for a fresh address, meets the per-address limit.
    let r = app
        .post(
            DEMO,
            "/user/forgot-password",
            &json!({"email": "third@example.com"}),
        )
        .await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(r.json()["statusCode"], 429);

    let mails = smtp.wait_for(&app, 3).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let _ = app.core.drain_outbox().await;
    let mails_after = smtp.mails();
    assert_eq!(mails_after.len(), 3, "mail past the limit: {mails_after:?}");
    assert!(mails.iter().all(|m| m["to"] == json!(["fay@example.com"])));
}

async fn a_tenant_without_smtp_answers_mail_not_configured_and_writes_nothing(app: TestApp) {
    account(&app, DEMO, "gus@example.com", "gus-password").await;
    let r = put(
        &app,
        DEMO,
        "/v1/auth/requestresetpsw",
        &json!({"email": "gus@example.com"}),
    )
    .await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"success": false, "msg": "Email service is not configured."})
    );
    let r = app
        .post(
            DEMO,
            "/user/forgot-password",
            &json!({"email": "gus@example.com"}),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(
        r.json()["message"],
        "Mail is not configured for this tenant"
    );
    let tenant = app.tenant("demo").await;
    assert_eq!(
        app.core.outbox_count(&tenant.id, "queued").await.unwrap(),
        0
    );

    // The setting is checked, and stored sealed: the password in the URL is not readable at rest.
    let admin = app.cli(&[
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
    assert!(admin.status.success(), "{}", stderr(&admin));
    let token = app
        .token_of(
            DEMO,
            "/user/auth",
            &json!({"email": "root@example.com", "password": "root-password"}),
        )
        .await;
    let bearer = format!("Bearer {token}");
    let bad = app
        .post_auth(
            DEMO,
            "/config",
            &json!({"key": "SMTP_URL", "value": "http://user:hunter2@mail.example"}),
            &bearer,
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(!bad.body.contains("hunter2"), "{}", bad.body);
    let good = app
        .post_auth(
            DEMO,
            "/config",
            &json!({"key": "SMTP_URL", "value": "smtps://user:hunter2@mail.example:465"}),
            &bearer,
        )
        .await;
    assert!(good.status == 200 || good.status == 204, "{}", good.body);
    let listed = app.get(DEMO, "/config", Some(&bearer)).await;
    assert!(!listed.body.contains("hunter2"), "{}", listed.body);
    let tenant = app.tenant("demo").await;
    assert!(tenant.stored_settings["SMTP_URL"].starts_with("v1:"));
    assert_eq!(
        tenant
            .settings
            .smtp_url
            .as_ref()
            .map(|s| s.expose().as_str()),
        Some("smtps://user:hunter2@mail.example:465")
    );
}

async fn the_cli_prints_a_reset_link_an_operator_can_hand_over(app: TestApp) {
    account(&app, DEMO, "hal@example.com", "hal-password").await;
    let out = app.cli(&["user", "reset-link", "--tenant", "demo", "hal@example.com"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let printed = stdout(&out);
    assert!(printed.contains("/#/resetpassword/"), "{printed}");
    let code = printed
        .lines()
        .find_map(|l| l.strip_prefix("code: "))
        .expect("a code line")
        .trim()
        .to_owned();
    let r = app
        .post(
            DEMO,
            "/forgot-password/reset",
            &json!({"code": code, "password": "new-password"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        appmixer_signin(&app, DEMO, "hal@example.com", "new-password").await,
        200
    );
    let missing = app.cli(&[
        "user",
        "reset-link",
        "--tenant",
        "demo",
        "nobody@example.com",
    ]);
    assert!(!missing.status.success());
}

on_both!(
    a_reset_asked_in_tiledesk_arrives_by_mail_and_replaces_the_password,
    a_reset_asked_in_appmixer_arrives_by_mail_and_replaces_the_password,
    a_reset_code_works_on_its_own_tenant_only,
    tiledesk_signup_mails_a_verification_code_that_verifies_the_email,
    mail_sent_while_the_smtp_server_is_down_arrives_when_it_is_back,
    two_nodes_on_one_database_deliver_each_mail_once,
    mail_bombing_past_the_limits_gets_429_and_sends_nothing_more,
    a_tenant_without_smtp_answers_mail_not_configured_and_writes_nothing,
    the_cli_prints_a_reset_link_an_operator_can_hand_over,
);

/// A code stops working after `RESET_CODE_TTL_SECONDS`, on the server's injected clock.
async fn a_code_expires_after_its_ttl(app: TestApp, clock: Arc<ManualClock>) {
    let smtp = Smtp::started();
    app.set("demo", "SMTP_URL", &smtp.url()).await;
    app.set("demo", "RESET_CODE_TTL_SECONDS", "600").await;
    account(&app, DEMO, "ida@example.com", "ida-password").await;
    for _ in 0..2 {
        let r = app
            .post(
                DEMO,
                "/user/forgot-password",
                &json!({"email": "ida@example.com"}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        // A second request waits for the first mail, so the two codes are told apart by order.
        smtp.wait_for(&app, smtp.mails().len() + 1).await;
    }
    let mails = smtp.mails();
    let first = code_after(&mails[0], "/reset-password?code=");
    let second = code_after(&mails[1], "/reset-password?code=");
    // A newer request ends the older code.
    assert_eq!(
        app.get(DEMO, &format!("/v1/auth/checkpswresetkey/{first}"), None)
            .await
            .status,
        404
    );
    clock.advance_secs(599);
    assert_eq!(
        app.get(DEMO, &format!("/v1/auth/checkpswresetkey/{second}"), None)
            .await
            .status,
        200
    );
    clock.advance_secs(2);
    assert_eq!(
        app.get(DEMO, &format!("/v1/auth/checkpswresetkey/{second}"), None)
            .await
            .status,
        404
    );
    let r = app
        .post(
            DEMO,
            "/forgot-password/reset",
            &json!({"code": second, "password": "new-password"}),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(
        appmixer_signin(&app, DEMO, "ida@example.com", "ida-password").await,
        200
    );
}

mod a_code_expires_after_its_ttl {
    use super::*;

    async fn run(backend: Backend) {
        let clock = Arc::new(ManualClock::new(chrono::Utc::now().timestamp_millis()));
        match spawn_app_clocked(backend, "", clock.clone()).await {
            Some(app) => super::a_code_expires_after_its_ttl(app, clock).await,
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
