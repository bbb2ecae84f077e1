//! Delivery under a hostile or broken tenant (issue 21, rules 2 and 4): one tenant's hanging SMTP
//! server holds only its own tenant's mail; the node connects only where the operator's
//! `[outbound] allowed_hosts` rule allows, when a setting is saved and again when it connects;
//! and every mail Gatehouse sends counts against `MAIL_PER_EMAIL_PER_HOUR` and
//! `MAIL_PER_IP_PER_HOUR`, signup included, across all nodes of one database.

use crate::helpers::*;
use crate::mail::Smtp;
use reqwest::Method;
use serde_json::{json, Value};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const RULE: &str = "[outbound] allowed_hosts";

/// A TCP server that accepts every connection and never says a word: an SMTP server that hangs.
struct Silent {
    port: u16,
    accepted: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Silent {
    async fn start() -> Silent {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                held.push(socket);
            }
        });
        Silent {
            port,
            accepted,
            task,
        }
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }
}

impl Drop for Silent {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn account(app: &TestApp, host: &str, email: &str) {
    let r = app
        .post(
            host,
            "/user",
            &json!({"email": email, "password": "pass-word-1"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

async fn forgot(app: &TestApp, host: &str, email: &str) -> Resp {
    app.post(host, "/user/forgot-password", &json!({"email": email}))
        .await
}

/// `gatehouse_mail_total{event}` on `app`'s metrics listener.
async fn mail_events(app: &TestApp, event: &str) -> u64 {
    let prefix = format!("gatehouse_mail_total{{event=\"{event}\"}} ");
    app.metrics()
        .await
        .body
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// Runs `test` on a fresh app started with `extra` configuration (skips PostgreSQL without one).
async fn run_with<F, Fut>(backend: Backend, extra: &str, test: F)
where
    F: FnOnce(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    match spawn_app(backend, extra).await {
        Some(app) => test(app).await,
        None => eprintln!("skipped the PostgreSQL variant: no PostgreSQL server"),
    }
}

/// Rule 2: six resets on a tenant whose SMTP server accepts and never answers, then one on
/// another tenant: that one arrives within seconds (it waited 111 s behind the other's timeouts
/// when one sender sent in order).
async fn one_tenants_hanging_smtp_server_holds_only_its_own_mail(app: TestApp) {
    let silent = Silent::start().await;
    let smtp = Smtp::started();
    app.set("demo", "SMTP_URL", &silent.url()).await;
    app.set("globex", "SMTP_URL", &smtp.url()).await;
    for i in 0..6 {
        account(&app, DEMO, &format!("a{i}@example.com")).await;
    }
    account(&app, GLOBEX, "b@example.com").await;
    for i in 0..6 {
        let r = forgot(&app, DEMO, &format!("a{i}@example.com")).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    // The sender is stuck on demo's server before globex asks, as in the report.
    let stuck = eventually(10, || async { silent.accepted.load(Ordering::SeqCst) >= 1 }).await;
    assert!(stuck, "the sender never reached demo's server");
    let stuck_at = Instant::now();

    let r = forgot(&app, GLOBEX, "b@example.com").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let asked = Instant::now();
    // The sender's own rounds, without the test's help.
    let arrived = eventually(10, || async { !smtp.mails().is_empty() }).await;
    assert!(
        arrived,
        "globex's mail did not arrive within 10 s while demo's server hung ({:?} after asking)",
        asked.elapsed()
    );
    assert_eq!(smtp.mails()[0]["to"], json!(["b@example.com"]));
    // Before any of demo's attempts could time out, demo held at most its two slots.
    if stuck_at.elapsed() < Duration::from_secs(9) {
        let open = silent.accepted.load(Ordering::SeqCst);
        assert!(
            open <= 2,
            "{open} connections to demo's hanging server at once"
        );
    }
    // Demo's mail is neither lost nor sent: still queued for its retries.
    let demo = app.tenant("demo").await;
    assert_eq!(app.core.outbox_count(&demo.id, "sent").await.unwrap(), 0);
    assert_eq!(app.core.outbox_count(&demo.id, "queued").await.unwrap(), 6);
}

/// Rule 2: `SMTP_URL` naming a host the operator's rule does not allow is refused with a 400
/// naming the rule, on every path (a tenant admin's `/config`, the operator API, the CLI), and
/// nothing is stored; a listed host is accepted on each.
async fn smtp_url_must_name_a_host_the_operator_allows(app: TestApp) {
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
    for refused in [
        "smtp://user:hunter2@169.254.169.254:25",
        "smtp://localhost:2525",
        "smtps://[::1]:465",
        "smtp://10.0.0.1",
        "smtp://192.168.1.20:587?tls=required",
        "smtp://127.0.0.2:2525",
        "smtp://0.0.0.0:25",
        "smtp://[::ffff:10.0.0.1]:25",
    ] {
        let r = app
            .post_auth(
                DEMO,
                "/config",
                &json!({"key": "SMTP_URL", "value": refused}),
                &bearer,
            )
            .await;
        assert_eq!(r.status, 400, "{refused}: {}", r.body);
        assert_eq!(r.json()["statusCode"], 400, "{}", r.body);
        assert!(r.body.contains(RULE), "{refused}: {}", r.body);
        assert!(!r.body.contains("hunter2"), "{}", r.body);
    }
    assert!(!app
        .tenant("demo")
        .await
        .stored_settings
        .contains_key("SMTP_URL"));
    // The listed address, and a public name, are fine.
    for allowed in [
        "smtp://127.0.0.1:2525",
        "smtps://user:pw@mail.example.com:465",
    ] {
        let r = app
            .post_auth(
                DEMO,
                "/config",
                &json!({"key": "SMTP_URL", "value": allowed}),
                &bearer,
            )
            .await;
        assert!(r.status == 200 || r.status == 204, "{allowed}: {}", r.body);
    }

    // The operator API: the same rule.
    let key = app.operator_key("mail").await;
    let path = "/admin/v1/tenants/globex/settings/SMTP_URL";
    let r = app
        .admin(
            Method::PUT,
            path,
            Some(&json!({"value": "smtp://10.1.2.3:25"})),
            Some(&key),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains(RULE), "{}", r.body);
    let r = app
        .admin(
            Method::PUT,
            path,
            Some(&json!({"value": "smtp://127.0.0.1:2525"})),
            Some(&key),
        )
        .await;
    assert!(r.status == 200 || r.status == 204, "{}", r.body);

    // The command line: the same rule.
    let out = app.cli(&["tenant", "set", "acme", "SMTP_URL", "smtp://172.16.0.9"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains(RULE), "{}", stderr(&out));
    assert!(!app
        .tenant("acme")
        .await
        .stored_settings
        .contains_key("SMTP_URL"));
}

/// Rule 2: the rule holds when the node connects, not only when the setting was saved: a node
/// whose operator lists nothing does not connect to loopback, even for a URL another node (whose
/// rule lists it) accepted. The mail stays queued; it is not sent.
async fn the_sender_checks_the_address_again_when_it_connects(a: TestApp) {
    let smtp = Smtp::started();
    a.set("demo", "SMTP_URL", &smtp.url()).await;
    let strict = spawn_app_at(
        a.backend,
        tempfile::tempdir().unwrap(),
        a.db_url.clone(),
        "[outbound]\nallowed_hosts = []\n",
    )
    .await;
    strict.core.refresh_tenants().await.unwrap();
    account(&a, DEMO, "ann@example.com").await;
    let r = forgot(&strict, DEMO, "ann@example.com").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let tenant = a.tenant("demo").await;
    let queued = eventually(10, || async {
        a.core.outbox_count(&tenant.id, "queued").await.unwrap() == 1
    })
    .await;
    assert!(queued);
    let tried = eventually(10, || async {
        let _ = strict.core.drain_outbox().await;
        mail_events(&strict, "failed").await >= 1
    })
    .await;
    assert!(tried, "{}", strict.metrics().await.body);
    assert!(smtp.mails().is_empty(), "{:?}", smtp.mails());
    assert_eq!(a.core.outbox_count(&tenant.id, "sent").await.unwrap(), 0);
    // This node's rule refuses the same URL when it is saved here.
    let e = strict
        .core
        .set_setting(&tenant, "SMTP_URL", &smtp.url())
        .await
        .unwrap_err();
    assert!(e.to_string().contains(RULE), "{e}");
}

mod the_sender_checks_the_address_again_when_it_connects {
    use super::*;

    /// The first node sends nothing itself: only the strict node's sender tries.
    const QUIET: &str = "[mail]\nsender = false\n";

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        run_with(
            Backend::Sqlite,
            QUIET,
            super::the_sender_checks_the_address_again_when_it_connects,
        )
        .await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        run_with(
            Backend::Postgres,
            QUIET,
            super::the_sender_checks_the_address_again_when_it_connects,
        )
        .await
    }
}

/// Rule 4, the report's repro: eight rounds of signup, sign-in and account deletion with one
/// victim's address sent eight verification mails although `MAIL_PER_EMAIL_PER_HOUR` is 5. Every
/// mail counts: the signups all succeed, five mails go, and the address's next reset is refused.
async fn every_mail_counts_against_the_mail_limits_signup_included(app: TestApp) {
    let smtp = Smtp::started();
    app.set("demo", "SMTP_URL", &smtp.url()).await;
    let victim = "victim@example.com";
    for round in 0..8 {
        let r = app
            .post(
                DEMO,
                "/v1/auth/signup",
                &json!({"email": victim, "password": "pass-word-1", "firstname": "V", "lastname": "V"}),
            )
            .await;
        assert_eq!(r.status, 200, "round {round}: {}", r.body);
        assert_eq!(r.json()["success"], true, "{}", r.body);
        let token = app
            .token_of(
                DEMO,
                "/v1/auth/signin",
                &json!({"email": victim, "password": "pass-word-1"}),
            )
            .await;
        let gone = app
            .send(
                app.request(Method::DELETE, DEMO, "/v1/users")
                    .header(reqwest::header::AUTHORIZATION, &token),
            )
            .await;
        assert_eq!(gone.status, 200, "round {round}: {}", gone.body);
    }
    let mails = smtp.wait_for(&app, 5).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let _ = app.core.drain_outbox().await;
    let mails_after = smtp.mails();
    assert_eq!(
        mails_after.len(),
        5,
        "verification mails past the limit: {mails_after:?}"
    );
    assert!(mails.iter().all(|m| m["to"] == json!([victim])));
    // The address's hour is spent, whatever the route: a reset for it is refused too.
    let r = app
        .json(
            Method::PUT,
            DEMO,
            "/v1/auth/requestresetpsw",
            &json!({"email": victim}),
            None,
        )
        .await;
    assert_eq!(r.status, 429, "{}", r.body);
    // Three signups' mails and the reset: refused by the limits.
    assert_eq!(mail_events(&app, "limited").await, 4);
}

/// Rule 4: the limits hold for the deployment, not per node: requests alternating between two
/// nodes of one database are counted together (per node, each would have allowed its own 3).
async fn mail_limits_hold_across_two_nodes(a: TestApp) {
    let b = spawn_app_at(
        a.backend,
        tempfile::tempdir().unwrap(),
        a.db_url.clone(),
        "",
    )
    .await;
    let smtp = Smtp::started();
    a.set("demo", "SMTP_URL", &smtp.url()).await;
    a.set("demo", "MAIL_PER_EMAIL_PER_HOUR", "3").await;
    a.set("demo", "MAIL_PER_IP_PER_HOUR", "5").await;
    b.core.refresh_tenants().await.unwrap();
    for email in ["ann@example.com", "cy@example.com"] {
        account(&a, DEMO, email).await;
    }
    let mut statuses = Vec::new();
    for i in 0..4 {
        let node = if i % 2 == 0 { &a } else { &b };
        statuses.push(forgot(node, DEMO, "ann@example.com").await.status);
    }
    assert_eq!(statuses, [200, 200, 200, 429]);
    // Four from this client address so far (the refused one counts against it): a fifth on one
    // node, then a sixth on the other meets the per-client-address limit.
    assert_eq!(forgot(&a, DEMO, "cy@example.com").await.status, 200);
    let over = forgot(&b, DEMO, "dee@example.com").await;
    assert_eq!(over.status, 429, "{}", over.body);
    assert_eq!(over.json()["statusCode"], 429);

    let all = eventually(20, || async { smtp.mails().len() >= 4 }).await;
    assert!(all, "{:?}", smtp.mails());
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let mut to: Vec<String> = smtp
        .mails()
        .iter()
        .map(|m: &Value| m["to"][0].as_str().unwrap_or("").to_owned())
        .collect();
    to.sort();
    assert_eq!(
        to,
        [
            "ann@example.com",
            "ann@example.com",
            "ann@example.com",
            "cy@example.com"
        ]
    );
}

on_both!(
    one_tenants_hanging_smtp_server_holds_only_its_own_mail,
    smtp_url_must_name_a_host_the_operator_allows,
    every_mail_counts_against_the_mail_limits_signup_included,
    mail_limits_hold_across_two_nodes,
);
