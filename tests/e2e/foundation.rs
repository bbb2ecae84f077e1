//! The gateway itself: Host -> tenant resolution, the operations endpoints, tenant isolation at the
//! core level, and tenants created while the server runs.

use crate::helpers::*;
use gatehouse_core::users::NewUser;
use gatehouse_core::{Api, Email, Password};
use serde_json::json;

/// A path inside a facade with no route behind it: the tenant check runs, then the gateway's 404.
const TENANT_PROBE: &str = "/v1/__probe__";

async fn operations_endpoints_answer_on_any_host(app: TestApp) {
    for host in [DEMO, "unknown.example.org", ""] {
        let r = app.get(host, "/healthz", None).await;
        assert_eq!(
            (r.status, r.json()),
            (200, json!({"status": "ok"})),
            "healthz on {host:?}"
        );
        assert_eq!(app.get(host, "/readyz", None).await.status, 200);
        let o = app.get(host, "/openapi.json", None).await;
        assert_eq!(o.status, 200);
        assert!(o.json()["openapi"].as_str().unwrap().starts_with("3."));
    }
}

async fn hosts_resolve_exactly_by_pattern_without_port_and_case_folded(app: TestApp) {
    for host in [
        DEMO,
        "127.0.0.1",
        "localhost:8080",
        "LOCALHOST",
        "LocalHost:1",
        ACME,
        "API.ACME.localhost:443",
        GLOBEX,
        "Globex.Test.",
    ] {
        let r = app.get(host, TENANT_PROBE, None).await;
        assert_eq!(r.status, 404, "{host}");
        assert_eq!(
            r.json()["error"],
            "not_found",
            "{host} did not resolve: {}",
            r.body
        );
    }
}

async fn unknown_hosts_get_the_unknown_tenant_404(app: TestApp) {
    for (host, shown) in [
        ("nobody.example.com", "nobody.example.com"),
        ("Nobody.Example.com:9000", "nobody.example.com"),
        ("api.nosuchtenant.localhost", "api.nosuchtenant.localhost"),
        ("api..localhost", "api..localhost"),
    ] {
        let r = app.get(host, "/user", None).await;
        assert_eq!(r.status, 404);
        assert_eq!(
            r.json(),
            json!({"error": "unknown_tenant", "message": format!("no tenant serves host '{shown}'")})
        );
    }
}

async fn a_facade_the_tenant_does_not_enable_is_a_404(app: TestApp) {
    app.create_tenant("onlytd", &["onlytd.test"], &[Api::Tiledesk])
        .await;
    app.create_tenant("onlyam", &["onlyam.test"], &[Api::Appmixer])
        .await;
    let r = app.post("onlytd.test", "/user/auth", &json!({})).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"], "api_disabled");
    let r = app.post("onlyam.test", "/v1/auth/signin", &json!({})).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"], "api_disabled");
    assert!(r.json()["message"].as_str().unwrap().contains("tiledesk"));
}

async fn a_tenant_created_by_the_cli_is_served_without_restart(app: TestApp) {
    let host = "newco.example.com";
    assert_eq!(
        app.get(host, TENANT_PROBE, None).await.json()["error"],
        "unknown_tenant"
    );
    let out = app.cli(&["tenant", "create", "newco", "--host", host]);
    assert!(
        out.status.success(),
        "{:?} stderr={} stdout={}",
        out.status,
        stderr(&out),
        stdout(&out)
    );
    assert!(stdout(&out).contains("newco hosts=newco.example.com apis=tiledesk,appmixer"));
    // refresh_seconds is 1 in the test config; allow generous slack for a loaded machine.
    let served = eventually(5, || async {
        app.get(host, TENANT_PROBE, None).await.json()["error"] == "not_found"
    })
    .await;
    assert!(
        served,
        "tenant created by the CLI was not served within the refresh period"
    );
    let listed = stdout(&app.cli(&["tenant", "list"]));
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("newco hosts=newco.example.com")),
        "{listed}"
    );
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("acme hosts=- apis=tiledesk,appmixer")),
        "{listed}"
    );
}

async fn settings_reject_unknown_keys_and_bad_values(app: TestApp) {
    let t = app.tenant("demo").await;
    for (k, v) in [
        ("NOPE", "1"),
        ("BCRYPT_COST", "99"),
        ("PASSWORD_MIN_LENGTH", "0"),
        ("TOKEN_TTL_SECONDS", "x"),
    ] {
        let e = app.core.set_setting(&t, k, v).await.unwrap_err();
        assert!(
            matches!(e, gatehouse_core::CoreError::InvalidInput { .. }),
            "{k}={v}: {e}"
        );
    }
    assert!(!app
        .tenant("demo")
        .await
        .stored_settings
        .contains_key("NOPE"));
    assert_eq!(app.tenant("demo").await.settings.bcrypt_cost, 4);
}

async fn the_same_email_may_exist_in_two_tenants(app: TestApp) {
    let email = Email::parse("same@example.com").unwrap();
    for slug in ["demo", "acme"] {
        let t = app.tenant(slug).await;
        let pw = Password::new("password1", 8).unwrap();
        app.core
            .create_user(&t, NewUser::new(email.clone(), Some(pw)))
            .await
            .unwrap_or_else(|e| panic!("{slug}: {e}"));
    }
    let t = app.tenant("demo").await;
    let again = app.core.create_user(&t, NewUser::new(email, None)).await;
    assert!(matches!(again, Err(gatehouse_core::CoreError::Conflict(_))));
}

async fn a_token_made_for_one_tenant_fails_for_another(app: TestApp) {
    let a = app.tenant("acme").await;
    let b = app.tenant("globex").await;
    let claims = json!({"id": "x"}).as_object().unwrap().clone();
    let token = app.core.issue_token(&a, claims).unwrap();
    assert!(app.core.verify_token(&a, &token, None).is_ok());
    assert!(app.core.verify_token(&b, &token, None).is_err());
}

async fn requests_and_signins_are_counted(app: TestApp) {
    app.get(DEMO, "/healthz", None).await;
    let signup = json!({"username": "m", "email": "m@example.com", "password": "metric-pass"});
    assert_eq!(app.post(DEMO, "/user", &signup).await.status, 200);
    let good = json!({"email": "m@example.com", "password": "metric-pass"});
    let bad = json!({"email": "m@example.com", "password": "wrong-pass"});
    assert_eq!(app.post(DEMO, "/user/auth", &good).await.status, 200);
    assert_eq!(app.post(DEMO, "/v1/auth/signin", &bad).await.status, 401);
    let m = app.metrics().await.body;
    for line in [
        r#"gatehouse_http_requests_total{facade="gateway",route="/healthz",status="200"} 1"#,
        r#"gatehouse_http_requests_total{facade="appmixer",route="/user",status="200"} 1"#,
        r#"gatehouse_http_requests_total{facade="appmixer",route="/user/auth",status="200"} 1"#,
        r#"gatehouse_signins_total{outcome="success"} 1"#,
        r#"gatehouse_signins_total{outcome="failure"} 1"#,
        "gatehouse_hash_queue_depth 0",
    ] {
        assert!(m.lines().any(|l| l == line), "missing `{line}` in:\n{m}");
    }
    assert!(m.contains(
        r#"gatehouse_http_request_duration_seconds_bucket{facade="appmixer",route="/user/auth""#
    ));
}

/// A request with no `Host` at all (HTTP/1.0) is refused like an unknown one.
async fn a_request_without_host_is_an_unknown_tenant(app: TestApp) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
        .await
        .unwrap();
    s.write_all(b"GET /user HTTP/1.0\r\n\r\n").await.unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).await.unwrap();
    assert!(
        raw.starts_with("HTTP/1.0 404") || raw.starts_with("HTTP/1.1 404"),
        "{raw}"
    );
    assert!(raw.contains(r#""error":"unknown_tenant""#), "{raw}");
}

on_both!(
    operations_endpoints_answer_on_any_host,
    hosts_resolve_exactly_by_pattern_without_port_and_case_folded,
    unknown_hosts_get_the_unknown_tenant_404,
    a_facade_the_tenant_does_not_enable_is_a_404,
    a_tenant_created_by_the_cli_is_served_without_restart,
    settings_reject_unknown_keys_and_bad_values,
    the_same_email_may_exist_in_two_tenants,
    a_token_made_for_one_tenant_fails_for_another,
    requests_and_signins_are_counted,
    a_request_without_host_is_an_unknown_tenant,
);

async fn forwarded_host_is_trusted_only_when_configured(app: TestApp) {
    let probe = |app: &TestApp| {
        app.request(reqwest::Method::GET, "nobody.example.com", TENANT_PROBE)
            // The client wrote the first entry; the trusted proxy appended the last.
            .header("X-Forwarded-Host", "proxy.internal, localhost")
    };
    let r = app.send(probe(&app)).await;
    assert_eq!(
        r.json()["error"],
        "unknown_tenant",
        "X-Forwarded-Host used without trust"
    );
    let dir = tempfile::tempdir().unwrap();
    let trusting = spawn_app_tweaked(app.backend, dir, app.db_url.clone(), "", |c| {
        c.server.trust_forwarded_host = true
    })
    .await;
    let r = trusting.send(probe(&trusting)).await;
    assert_eq!(
        r.json()["error"],
        "not_found",
        "the X-Forwarded-Host entry the proxy appended was not used: {}",
        r.body
    );
}

on_both!(forwarded_host_is_trusted_only_when_configured);

async fn the_openapi_document_describes_both_facades(app: TestApp) {
    let doc = app.get("any.host", "/openapi.json", None).await.json();
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/v1/auth/signup",
        "/v1/auth/signin",
        "/v1/auth/signinAnonymously",
        "/v1/auth/signinWithCustomToken",
        "/user",
        "/user/auth",
        "/users",
        "/config",
        "/healthz",
    ] {
        assert!(paths.contains_key(p), "{p} missing from /openapi.json");
    }
}

on_both!(the_openapi_document_describes_both_facades);

async fn forwarded_for_is_the_client_address_only_when_trusted(app: TestApp) {
    let signup = |app: &TestApp, i: u32, ip: &str| {
        app.request(reqwest::Method::POST, DEMO, "/user")
            .header("X-Forwarded-For", ip)
            .json(&json!({"username": format!("ff{i}"), "email": format!("ff{i}@example.com"), "password": "forward-pass"}))
    };
    within_one_rate_window().await;
    app.set("demo", "SIGNUP_PER_IP_PER_MINUTE", "1").await;
    // Untrusted: both requests come from the peer address, whatever the header says.
    assert_eq!(app.send(signup(&app, 1, "10.0.0.1")).await.status, 200);
    assert_eq!(app.send(signup(&app, 2, "10.0.0.2")).await.status, 429);
    let dir = tempfile::tempdir().unwrap();
    let trusting = spawn_app_tweaked(app.backend, dir, app.db_url.clone(), "", |c| {
        c.server.trust_forwarded_for = true
    })
    .await;
    assert_eq!(
        trusting.send(signup(&trusting, 3, "10.0.0.3")).await.status,
        200
    );
    assert_eq!(
        trusting
            .send(signup(&trusting, 4, "10.0.0.4, 10.9.9.9"))
            .await
            .status,
        200
    );
    assert_eq!(
        trusting.send(signup(&trusting, 5, "10.0.0.3")).await.status,
        429
    );
}

on_both!(forwarded_for_is_the_client_address_only_when_trusted);

/// When Python's `openapi-spec-validator` is installed, the served document must pass it.
#[tokio::test]
async fn the_openapi_document_passes_a_validator_when_one_is_installed() {
    let app = spawn_app(Backend::Sqlite, "").await.unwrap();
    let doc = app.get(DEMO, "/openapi.json", None).await.body;
    let path = app._dir.path().join("openapi.json");
    std::fs::write(&path, doc).unwrap();
    let script = "import json,sys\nfrom openapi_spec_validator import validate\nvalidate(json.load(open(sys.argv[1])))";
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(&path)
        .output();
    match out {
        Ok(o) if String::from_utf8_lossy(&o.stderr).contains("No module named") => {
            eprintln!("skipped: openapi-spec-validator is not installed")
        }
        Ok(o) => assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr)),
        Err(_) => eprintln!("skipped: no python3"),
    }
}

/// `bootstrap = []` in a later layer turns the demo tenant off: a server started so serves no one.
async fn an_empty_bootstrap_list_serves_no_demo_tenant(app: TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let fresh = fresh_db(app.backend, &dir).await.unwrap();
    let bare =
        spawn_app_tweaked(app.backend, dir, fresh, "", |c| c.tenants.bootstrap.clear()).await;
    let r = bare.get(DEMO, TENANT_PROBE, None).await;
    assert_eq!(r.json()["error"], "unknown_tenant");
    assert!(bare.core.tenants().is_empty());
}

on_both!(an_empty_bootstrap_list_serves_no_demo_tenant);
