//! The command line as an operator meets it: every command on a fresh database, and one clear
//! line on stderr with a non-zero exit for every mistake.

use crate::helpers::*;
use std::io::Write;
use std::time::{Duration, Instant};

fn one_line(s: &str) -> bool {
    s.trim_end().lines().count() == 1
}

async fn commands_work_and_mistakes_are_one_line(app: TestApp) {
    let ok = |args: &[&str]| {
        let o = app.cli(args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        stdout(&o)
    };
    let bad = |args: &[&str], needle: &str| {
        let o = app.cli(args);
        assert!(!o.status.success(), "{args:?} succeeded");
        let e = stderr(&o);
        assert!(one_line(&e), "{args:?}: not one line: {e}");
        assert!(e.contains(needle), "{args:?}: {e} lacks {needle}");
    };
    ok(&["migrate"]);
    ok(&[
        "tenant", "create", "cli-co", "--host", "cli.test", "--api", "appmixer",
    ]);
    bad(&["tenant", "create", "cli-co"], "already exists");
    bad(&["tenant", "create", "Bad_Slug"], "slug");
    bad(&["tenant", "create", "other", "--host", "cli.test"], "host");
    bad(&["tenant", "create", "x2", "--api", "soap"], "api");
    ok(&["tenant", "set", "cli-co", "API_USER_CREATE_SCOPE", "admin"]);
    ok(&["tenant", "set", "cli-co", "BCRYPT_COST", "4"]);
    bad(&["tenant", "set", "cli-co", "NOPE", "1"], "unknown setting");
    bad(
        &["tenant", "set", "cli-co", "BCRYPT_COST", "99"],
        "BCRYPT_COST",
    );
    bad(
        &["tenant", "set", "ghost", "BCRYPT_COST", "5"],
        "tenant not found",
    );
    ok(&["tenant", "unset", "cli-co", "API_USER_CREATE_SCOPE"]);
    bad(&["tenant", "unset", "cli-co", "NOPE"], "unknown setting");
    let created = ok(&[
        "user",
        "create",
        "--tenant",
        "cli-co",
        "--email",
        "Admin@Cli.Test",
        "--password",
        "s3cret-pass",
        "--scope",
        "admin",
    ]);
    assert!(created.contains("admin@cli.test user,admin"), "{created}");
    assert!(!created.contains("s3cret"), "the CLI printed a password");
    bad(
        &[
            "user",
            "create",
            "--tenant",
            "cli-co",
            "--email",
            "admin@cli.test",
            "--password",
            "another-pass",
        ],
        "already exists",
    );
    bad(
        &[
            "user",
            "create",
            "--tenant",
            "cli-co",
            "--email",
            "x@email",
            "--password",
            "another-pass",
        ],
        "email",
    );
    bad(
        &[
            "user",
            "create",
            "--tenant",
            "cli-co",
            "--email",
            "y@cli.test",
            "--password",
            "short",
        ],
        "password",
    );
    ok(&["user", "disable", "--tenant", "cli-co", "admin@cli.test"]);
    ok(&["user", "enable", "--tenant", "cli-co", "admin@cli.test"]);
    bad(
        &["user", "disable", "--tenant", "cli-co", "nobody@cli.test"],
        "not found",
    );
    let project = ok(&[
        "project",
        "create",
        "--tenant",
        "cli-co",
        "--name",
        "Support",
        "--owner",
        "admin@cli.test",
    ]);
    assert!(
        project.starts_with("id=") && project.contains("jwtSecret="),
        "{project}"
    );
    bad(
        &[
            "project",
            "create",
            "--tenant",
            "cli-co",
            "--name",
            "S",
            "--owner",
            "nobody@cli.test",
        ],
        "owner not found",
    );
    bad(&["no-such-command"], "unrecognized subcommand");
    bad(&["tenant", "set", "cli-co"], "required");
    // A group without its subcommand is a mistake too: one line and a non-zero exit, not help.
    bad(&["tenant"], "error");
    bad(&["user"], "error");
    let rotated = ok(&["tenant", "rotate-key", "cli-co"]);
    assert!(rotated.contains("new signing key"));
}

async fn commands_work_on_a_fresh_database(app: TestApp) {
    // A second, empty database: every command migrates first.
    let dir = tempfile::tempdir().unwrap();
    let Some(url) = fresh_db(app.backend, &dir).await else {
        return;
    };
    let cfg = dir.path().join("fresh.toml");
    std::fs::write(
        &cfg,
        format!(
            "[database]\nurl = \"{url}\"\n[tenants]\nbootstrap = []\n{}",
            secrets_toml(&url)
        ),
    )
    .unwrap();
    if app.backend == Backend::Sqlite {
        // A read creates no SQLite file (moving.rs); `migrate` does.
        let o = cli_with_config(&cfg, &["tenant", "list"]);
        assert!(!o.status.success(), "a read created the database");
        let o = cli_with_config(&cfg, &["migrate"]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let o = cli_with_config(&cfg, &["tenant", "list"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "", "bootstrap = [] turns the demo tenant off");
    let o = cli_with_config(&cfg, &["tenant", "create", "fresh"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

on_both!(
    commands_work_and_mistakes_are_one_line,
    commands_work_on_a_fresh_database
);

/// `--config` is global: accepted after the command as well as before it.
#[test]
fn config_is_accepted_after_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("after.db");
    let cfg = dir.path().join("after.toml");
    std::fs::write(
        &cfg,
        format!("[database]\nurl = \"sqlite://{}\"\n", db.display()),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["tenant", "create", "after", "--config"])
        .arg(&cfg)
        .env_remove("GATEHOUSE_CONFIG")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(db.exists(), "--config after the command was ignored");
}

#[test]
fn a_missing_config_file_is_named() {
    let o = cli_with_config(
        std::path::Path::new("/nonexistent/gatehouse.toml"),
        &["migrate"],
    );
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        one_line(&e) && e.contains("/nonexistent/gatehouse.toml"),
        "{e}"
    );
}

/// Runs the binary on a config file holding `toml` and expects a failure told in one line,
/// which it returns (with the config file's path).
fn one_line_failure(toml: &str, args: &[&str]) -> (String, String) {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    write!(f, "{toml}").unwrap();
    let o = cli_with_config(f.path(), args);
    assert!(!o.status.success(), "{args:?} succeeded");
    let e = stderr(&o);
    assert!(one_line(&e), "not one line: {e}");
    (e, f.path().display().to_string())
}

#[test]
fn a_corrupt_config_file_is_named() {
    let (e, path) = one_line_failure("[database\nurl = 3\n", &["migrate"]);
    assert!(e.contains(&path), "{e}");
}

#[test]
fn serve_exits_with_one_line_when_the_database_is_unreachable() {
    let started = Instant::now();
    let (e, _) = one_line_failure(
        "[server]\nbind = \"127.0.0.1:0\"\n[database]\nurl = \"postgres://postgres@127.0.0.1:1/nothing\"\nconnect_timeout_seconds = 2\n",
        &["serve"],
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(
        e.contains("cannot connect to postgres://postgres@127.0.0.1:1/nothing"),
        "{e}"
    );
}

#[test]
fn a_database_url_of_unknown_scheme_is_a_clear_error() {
    let (e, _) = one_line_failure(
        "[database]\nurl = \"mysql://root@localhost/x\"\n",
        &["serve"],
    );
    assert!(e.contains("not a database URL"), "{e}");
}

/// `gatehouse serve` as an operator runs it: on SIGTERM it stops accepting, lets the in-flight
/// request finish, and exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_in_flight_requests_finish() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("serve.toml");
    let db = dir.path().join("serve.db");
    std::fs::write(
        &cfg,
        format!(
            "[server]\nbind = \"127.0.0.1:0\"\nadmin_bind = \"127.0.0.1:0\"\nshutdown_timeout_seconds = 10\n[database]\nurl = \"sqlite://{}\"\n\
             [[tenants.bootstrap]]\nslug = \"demo\"\nhosts = [\"localhost\"]\napis = [\"appmixer\"]\n\
             settings = {{ BCRYPT_COST = \"13\" }}\n",
            db.display()
        ),
    )
    .unwrap();
    // Bootstrap tenants are made by `serve`; the operator makes this one by hand first.
    for args in [
        &[
            "tenant",
            "create",
            "demo",
            "--host",
            "localhost",
            "--api",
            "appmixer",
        ][..],
        &["tenant", "set", "demo", "BCRYPT_COST", "13"],
        &[
            "user",
            "create",
            "--tenant",
            "demo",
            "--email",
            "slow@example.com",
            "--password",
            "slow-password",
        ],
    ] {
        let out = cli_with_config(&cfg, args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    }
    let (mut child, port, log) = start_serve(&cfg, "info");
    drop(log);
    let client = reqwest::Client::new();
    let slow = tokio::spawn(
        client
            .post(format!("http://127.0.0.1:{port}/user/auth"))
            .header("Host", "localhost")
            .json(&serde_json::json!({"email": "slow@example.com", "password": "slow-password"}))
            .send(),
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    sigterm(&child);
    let res = slow
        .await
        .unwrap()
        .expect("the in-flight request was answered");
    assert_eq!(res.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "serve did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    let refused = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .await;
    assert!(refused.is_err(), "still accepting after shutdown");
}

/// The layers as gateway.md orders them: `GATEHOUSE_CONFIG` names a file, and
/// `GATEHOUSE__SECTION__KEY` variables win over it.
#[test]
fn environment_variables_override_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let from_file = dir.path().join("from-file.db");
    let from_env = dir.path().join("from-env.db");
    let cfg = dir.path().join("layered.toml");
    std::fs::write(
        &cfg,
        format!("[database]\nurl = \"sqlite://{}\"\n", from_file.display()),
    )
    .unwrap();
    let run = |env: &[(&str, String)]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"));
        cmd.args(["tenant", "create", "layered"])
            .env("RUST_LOG", "warn");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let out = run(&[("GATEHOUSE_CONFIG", cfg.display().to_string())]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(from_file.exists(), "GATEHOUSE_CONFIG was not read");
    let out = run(&[
        ("GATEHOUSE_CONFIG", cfg.display().to_string()),
        (
            "GATEHOUSE__DATABASE__URL",
            format!("sqlite://{}", from_env.display()),
        ),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        from_env.exists(),
        "GATEHOUSE__DATABASE__URL did not win over the file"
    );
}

/// `gatehouse serve` as a child process: the child, its port (read from its start-up log line),
/// and a thread collecting the rest of its log.
fn start_serve(
    cfg: &std::path::Path,
    rust_log: &str,
) -> (std::process::Child, u16, std::thread::JoinHandle<String>) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["--config", cfg.to_str().unwrap(), "serve"])
        .env("RUST_LOG", rust_log)
        .env_remove("GATEHOUSE_CONFIG")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = String::new();
    let port: u16 = loop {
        let line = lines.next().expect("serve printed its port").unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if let Some(rest) = line.split("(port ").nth(1) {
            break rest.split(')').next().unwrap().parse().unwrap();
        }
    };
    let log = std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            seen.push_str(&line);
            seen.push('\n');
        }
        seen
    });
    (child, port, log)
}

fn sigterm(child: &std::process::Child) {
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
}

/// Even at `RUST_LOG=debug`, the log of a busy server holds no password, hash or token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_never_carry_passwords_hashes_or_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("logs.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\nbind = \"127.0.0.1:0\"\nadmin_bind = \"127.0.0.1:0\"\nshutdown_timeout_seconds = 2\n[database]\nurl = \"sqlite://{}\"\n\
             [[tenants.bootstrap]]\nslug = \"demo\"\nhosts = [\"localhost\"]\nsettings = {{ BCRYPT_COST = \"4\" }}\n",
            dir.path().join("logs.db").display()
        ),
    )
    .unwrap();
    let (mut child, port, log) = start_serve(&cfg, "debug");
    let url = |p: &str| format!("http://127.0.0.1:{port}{p}");
    let c = reqwest::Client::new();
    let password = "Sekr1t-Pa55word-42";
    let post = |path: &str, body: serde_json::Value| {
        c.post(url(path))
            .header("Host", "localhost")
            .json(&body)
            .send()
    };
    let r = post(
        "/user",
        serde_json::json!({"username": "logs", "email": "logs@example.com", "password": password}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let login = serde_json::json!({"email": "logs@example.com", "password": password});
    let token_from = |path: &'static str| {
        let sent = post(path, login.clone());
        async move {
            let body: serde_json::Value = sent.await.unwrap().json().await.unwrap();
            body["token"].as_str().unwrap().to_owned()
        }
    };
    let am = token_from("/user/auth").await;
    let td = token_from("/v1/auth/signin").await;
    let wrong = post(
        "/user/auth",
        serde_json::json!({"email": "logs@example.com", "password": "Wr0ng-Pa55word"}),
    )
    .await
    .unwrap();
    assert_eq!(wrong.status(), 403);
    for (path, auth) in [("/user", format!("Bearer {am}")), ("/v1/users", td.clone())] {
        let r = c
            .get(url(path))
            .header("Host", "localhost")
            .header("Authorization", auth)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    sigterm(&child);
    child.wait().unwrap();
    let log = log.join().unwrap();
    assert!(
        log.contains("status=200"),
        "the request log is missing:\n{log}"
    );
    for secret in [
        password,
        "Wr0ng-Pa55word",
        "$2b$",
        "$argon2",
        am.as_str(),
        td.trim_start_matches("JWT "),
    ] {
        assert!(
            !log.contains(secret),
            "the log holds a secret ({}...):\n{log}",
            &secret[..6]
        );
    }
    // Nor any token's signature on its own.
    for token in [am.as_str(), td.trim_start_matches("JWT ")] {
        let signature = token.rsplit('.').next().unwrap();
        assert!(!log.contains(signature));
    }
}
