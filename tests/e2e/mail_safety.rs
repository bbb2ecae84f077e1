//! Mail as a tenant admin or a stranger could turn it into a weapon, and mail a person can read
//! (issue 21 rules 1 and 5, issue 20 finding 6), over the aiosmtpd sink of `mail.rs`:
//! - a tenant's template runs in a box under a budget: refused at save time when it breaks the
//!   box or the budget, and, forced in past the check, it fails its own mail while another
//!   tenant's `/healthz` answers at once;
//! - mail to an address nobody has verified carries no text the signer chose;
//! - the raw message holds the link on one line (7bit or 8bit, not quoted-printable), and the
//!   `From` is never an address at an IP literal.

use crate::helpers::*;
use crate::mail::{account, code_after, Smtp};
use gatehouse_core::storage::schema::{mail_outbox, tenant_settings};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Issue 21's template: 64 million empty iterations.
const RANGE_BOMB: &str =
    "{% for a in range(8000) %}{% for b in range(8000) %}{% endfor %}{% endfor %}{{ link }}";
/// A template in the box's language that is heavy on a real link: a million iterations.
const LINK_CUBED: &str = "{% for a in link %}{% for b in link %}{% for c in link %}{% endfor %}{% endfor %}{% endfor %}{{ link }}";

/// A tenant admin's `Authorization` for `host`'s tenant `slug` (Appmixer's bearer).
async fn admin_bearer(app: &TestApp, slug: &str, host: &str) -> String {
    let out = app.cli(&[
        "user",
        "create",
        "--tenant",
        slug,
        "--email",
        "root@example.com",
        "--password",
        "root-password",
        "--scope",
        "admin",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let token = app
        .token_of(
            host,
            "/user/auth",
            &json!({"email": "root@example.com", "password": "root-password"}),
        )
        .await;
    format!("Bearer {token}")
}

/// Stores a setting as it is, past every check (as a template stored before checks existed).
async fn force_setting(app: &TestApp, slug: &str, key: &str, value: &str) {
    use diesel::prelude::*;
    let tenant = app.tenant(slug).await;
    let (tid, name, text) = (tenant.id.clone(), key.to_owned(), value.to_owned());
    app.core
        .db()
        .run_tenant(&tenant.id, move |c| {
            diesel::insert_into(tenant_settings::table)
                .values((
                    tenant_settings::tenant_id.eq(&tid),
                    tenant_settings::name.eq(&name),
                    tenant_settings::value.eq(&text),
                    tenant_settings::updated_at.eq(0i64),
                ))
                .execute(c)?;
            Ok(())
        })
        .await
        .expect("setting forced in");
    app.core.refresh_tenants().await.expect("tenants refreshed");
    assert_eq!(
        app.tenant(slug)
            .await
            .stored_settings
            .get(key)
            .map(String::as_str),
        Some(value)
    );
}

/// The outbox's last errors for a tenant.
async fn last_errors(app: &TestApp, slug: &str) -> Vec<String> {
    use diesel::prelude::*;
    let tenant = app.tenant(slug).await;
    let tid = tenant.id.clone();
    app.core
        .db()
        .run_tenant(&tenant.id, move |c| {
            let rows: Vec<Option<String>> = mail_outbox::table
                .filter(mail_outbox::tenant_id.eq(&tid))
                .select(mail_outbox::last_error)
                .load(c)?;
            Ok(rows.into_iter().flatten().collect())
        })
        .await
        .expect("outbox read")
}

/// The one metric line `gatehouse_mail_total{event="..."}`'s value.
async fn mail_metric(app: &TestApp, event: &str) -> u64 {
    let body = app.metrics().await.body;
    let prefix = format!("gatehouse_mail_total{{event=\"{event}\"}} ");
    body.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

async fn hostile_templates_cannot_stall_other_tenants(app: TestApp) {
    let smtp = Smtp::started();
    app.set("demo", "SMTP_URL", &smtp.url()).await;
    app.set("globex", "SMTP_URL", &smtp.url()).await;
    for slug in ["demo", "globex"] {
        app.set(slug, "MAIL_PER_EMAIL_PER_HOUR", "0").await;
        app.set(slug, "MAIL_PER_IP_PER_HOUR", "0").await;
    }
    let bearer = admin_bearer(&app, "demo", DEMO).await;

    // At save time: refused with Appmixer's 400, naming the rule; nothing stored.
    for (template, says) in [
        (RANGE_BOMB, "may use only tenant, email"),
        (LINK_CUBED, "instructions"),
        ("{% set a = link ~ link %}{{ a }}", "tag 'set'"),
        ("{{ link * 100000 }}", "*"),
    ] {
        let r = app
            .post_auth(
                DEMO,
                "/config",
                &json!({"key": "MAIL_RESET_TEXT", "value": template}),
                &bearer,
            )
            .await;
        assert_eq!(r.status, 400, "{template}: {}", r.body);
        let message = r.json()["message"].as_str().unwrap_or("").to_owned();
        assert!(
            message.contains("MAIL_RESET_TEXT") && message.contains(says),
            "{template}: {message}"
        );
    }
    // The operator's CLI meets the same check.
    let cli = app.cli(&["tenant", "set", "demo", "MAIL_RESET_TEXT", LINK_CUBED]);
    assert!(!cli.status.success(), "{}", stdout(&cli));
    assert!(stderr(&cli).contains("instructions"), "{}", stderr(&cli));
    assert!(!app
        .tenant("demo")
        .await
        .stored_settings
        .contains_key("MAIL_RESET_TEXT"));
    // A real template is taken.
    let ok = app
        .post_auth(
            DEMO,
            "/config",
            &json!({"key": "MAIL_RESET_SUBJECT", "value": "{{ tenant }}: your reset link"}),
            &bearer,
        )
        .await;
    assert!(ok.status == 200 || ok.status == 204, "{}", ok.body);

    // Forced in past the check: each mail of that tenant fails alone, and fast.
    force_setting(&app, "demo", "MAIL_RESET_TEXT", LINK_CUBED).await;
    account(&app, DEMO, "ann@example.com", "ann-password").await;
    account(&app, GLOBEX, "gil@example.com", "gil-password").await;
    let before_dead = mail_metric(&app, "dead").await;
    const RESETS: u64 = 6;
    let mut slowest = Duration::ZERO;
    for _ in 0..RESETS {
        let r = app
            .post(
                DEMO,
                "/user/forgot-password",
                &json!({"email": "ann@example.com"}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        for _ in 0..3 {
            let started = Instant::now();
            let h = app.get(GLOBEX, "/healthz", None).await;
            assert_eq!(h.status, 200);
            slowest = slowest.max(started.elapsed());
        }
    }
    let probes_until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < probes_until {
        let started = Instant::now();
        assert_eq!(app.get(GLOBEX, "/healthz", None).await.status, 200);
        slowest = slowest.max(started.elapsed());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        slowest < Duration::from_secs(1),
        "another tenant's /healthz took {slowest:?}"
    );

    // Dead, audited, counted; nothing queued, nothing sent for that tenant.
    let dead = eventually(10, || async {
        mail_metric(&app, "dead").await >= before_dead + RESETS
    })
    .await;
    assert!(dead, "{}", app.metrics().await.body);
    let demo = app.tenant("demo").await;
    app.core.flush_audit().await.unwrap();
    let events = app
        .core
        .audit_events(
            &demo,
            gatehouse_core::audit::AuditQuery {
                kind: Some("mail_dead".into()),
                limit: 100,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(events.len() as u64, RESETS, "{events:?}");
    assert!(events.iter().all(|e| e.outcome == "failure"
        && e.detail
            .as_deref()
            .unwrap_or("")
            .contains("MAIL_RESET_TEXT")));
    for state in ["queued", "sent", "dead"] {
        assert_eq!(app.core.outbox_count(&demo.id, state).await.unwrap(), 0);
    }

    // The other tenant's mail goes out as ever.
    let r = app
        .post(
            GLOBEX,
            "/user/forgot-password",
            &json!({"email": "gil@example.com"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mails = smtp.wait_for(&app, 1).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0]["to"], json!(["gil@example.com"]));
}

async fn mail_to_an_unverified_address_carries_no_text_the_signer_chose(app: TestApp) {
    let smtp = Smtp::started();
    app.set("demo", "SMTP_URL", &smtp.url()).await;
    let r = app
        .post(
            DEMO,
            "/v1/auth/signup",
            &json!({
                "email": "victim@example.com",
                "password": "victim-password",
                "firstname": "Click https://evil.example now",
                "lastname": "at evil.example/pay"
            }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let uid = r.json()["user"]["_id"].as_str().unwrap().to_owned();
    // The verification mail, and a reset while the address is still unverified.
    let r = app
        .json(
            Method::PUT,
            DEMO,
            "/v1/auth/requestresetpsw",
            &json!({"email": "victim@example.com"}),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mails = smtp.wait_for(&app, 2).await;
    assert_eq!(mails.len(), 2, "{mails:?}");
    for mail in &mails {
        let raw = mail["raw"].as_str().unwrap();
        assert!(!raw.contains("evil.example"), "{raw}");
        assert!(!raw.contains("Click"), "{raw}");
        assert!(mail["text"].as_str().unwrap().starts_with("Hello,"));
    }

    // Once the person shows they hold the address, their own name is theirs to see.
    let verify = mails
        .iter()
        .find(|m| m["subject"].as_str().unwrap_or("").starts_with("Verify"))
        .expect("a verification mail");
    let code = code_after(verify, &format!("/#/verify/email/{uid}/"));
    let ok = app
        .json(
            Method::PUT,
            DEMO,
            &format!("/v1/auth/verifyemail/{uid}/{code}"),
            &json!({}),
            None,
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let r = app
        .json(
            Method::PUT,
            DEMO,
            "/v1/auth/requestresetpsw",
            &json!({"email": "victim@example.com"}),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mails = smtp.wait_for(&app, 3).await;
    assert!(mails[2]["text"]
        .as_str()
        .unwrap()
        .starts_with("Hello Click https://evil.example now,"));
}

/// The lines of a raw message, without their CR.
fn raw_lines(mail: &Value) -> Vec<String> {
    mail["raw"]
        .as_str()
        .unwrap()
        .split('\n')
        .map(|l| l.trim_end_matches('\r').to_owned())
        .collect()
}

/// The link in a mail's decoded text: from `https://` to the end of the code.
fn link_line(mail: &Value, code: &str) -> String {
    let text = mail["text"].as_str().unwrap();
    let end = text.find(code).expect("the code") + code.len();
    let start = text[..end].rfind("https://").expect("a link");
    text[start..end].to_owned()
}

async fn the_mail_is_readable_in_the_raw_message_and_sent_from_a_host_name(app: TestApp) {
    let smtp = Smtp::started();
    app.set("demo", "SMTP_URL", &smtp.url()).await;
    account(&app, DEMO, "ann@example.com", "ann-password").await;
    let r = app
        .json(
            Method::PUT,
            DEMO,
            "/v1/auth/requestresetpsw",
            &json!({"email": "ann@example.com"}),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mails = smtp.wait_for(&app, 1).await;
    let code = code_after(&mails[0], "/#/resetpassword/");
    let link = link_line(&mails[0], &code);
    let raw = mails[0]["raw"].as_str().unwrap();
    let lines = raw_lines(&mails[0]);
    // The link, whole, on a line of its own in the text part (the HTML part escapes its `/`).
    assert!(lines.iter().any(|l| l == &link), "{raw}");
    assert!(!raw.contains("=3D") && !raw.contains("=\r\n"), "{raw}");
    assert!(!raw.contains("quoted-printable"), "{raw}");
    assert!(raw.contains("Content-Transfer-Encoding: 7bit"), "{raw}");
    // `localhost` is the first of the tenant's hosts that is a name (the other is 127.0.0.1).
    assert_eq!(mails[0]["from"], "no-reply@localhost");

    // Text beyond ASCII goes as 8bit, still whole.
    app.set(
        "demo",
        "MAIL_RESET_TEXT",
        "Bonjour, réinitialisez votre mot de passe : {{ link }}\nÀ bientôt",
    )
    .await;
    let r = app
        .post(
            DEMO,
            "/user/forgot-password",
            &json!({"email": "ann@example.com"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mails = smtp.wait_for(&app, 2).await;
    let code = code_after(&mails[1], "/reset-password?code=");
    let link = link_line(&mails[1], &code);
    let raw = mails[1]["raw"].as_str().unwrap();
    assert!(raw.contains("Content-Transfer-Encoding: 8bit"), "{raw}");
    assert!(
        raw_lines(&mails[1]).contains(&format!(
            "Bonjour, réinitialisez votre mot de passe : {link}"
        )),
        "{raw}"
    );
    assert!(!raw.contains("=3D") && !raw.contains("=\r\n"), "{raw}");
}

async fn a_tenant_with_only_ip_hosts_sends_nothing_until_mail_from_is_set(app: TestApp) {
    const HOST: &str = "127.0.0.9";
    app.create_tenant("iponly", &[HOST], &gatehouse_core::Api::ALL)
        .await;
    let smtp = Smtp::started();
    app.set("iponly", "SMTP_URL", &smtp.url()).await;
    let tenant = app.tenant("iponly").await;
    // MAIL_FROM at an IP literal is refused outright.
    let refused = app
        .core
        .set_setting(&tenant, "MAIL_FROM", "no-reply@127.0.0.9")
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("MAIL_FROM"), "{refused}");
    account(&app, HOST, "ip@example.com", "ip-password").await;
    let r = app
        .post(
            HOST,
            "/user/forgot-password",
            &json!({"email": "ip@example.com"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // The sender refuses to start the delivery, and says which setting to set.
    let named = eventually(10, || async {
        let _ = app.core.drain_outbox().await;
        last_errors(&app, "iponly")
            .await
            .iter()
            .any(|e| e.contains("MAIL_FROM"))
    })
    .await;
    assert!(named, "{:?}", last_errors(&app, "iponly").await);
    assert!(smtp.mails().is_empty(), "{:?}", smtp.mails());
    assert_eq!(
        app.core.outbox_count(&tenant.id, "queued").await.unwrap(),
        1
    );

    // Set, the queued mail goes out at its next attempt, from that address.
    app.set("iponly", "MAIL_FROM", "Acme <no-reply@acme.example>")
        .await;
    let mails = smtp.wait_for(&app, 1).await;
    assert_eq!(mails[0]["from"], "no-reply@acme.example");
    assert!(mails[0]["raw"]
        .as_str()
        .unwrap()
        .contains("From: Acme <no-reply@acme.example>"));
}

on_both!(
    hostile_templates_cannot_stall_other_tenants,
    mail_to_an_unverified_address_carries_no_text_the_signer_chose,
    the_mail_is_readable_in_the_raw_message_and_sent_from_a_host_name,
    a_tenant_with_only_ip_hosts_sends_nothing_until_mail_from_is_set,
);
