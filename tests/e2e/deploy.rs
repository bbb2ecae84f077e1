//! The deployment files: `gatehouse healthcheck` (the containers' healthcheck) against a real
//! node, and docker-compose.yml checked by a real compose (`docker compose config`, or Debian's
//! `docker-compose`): a file compose refuses, an admin listener published beyond the host's
//! loopback, or a healthcheck that probes nothing fails here.

use crate::helpers::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `gatehouse healthcheck` with only the environment a container gives it (no config file).
fn healthcheck(bind: &str, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("healthcheck")
        .args(extra)
        .env("GATEHOUSE__SERVER__BIND", bind)
        .env("RUST_LOG", "warn")
        .env_remove("GATEHOUSE_CONFIG")
        .current_dir(std::env::temp_dir())
        .output()
        .expect("gatehouse binary runs")
}

async fn the_healthcheck_command_asks_readyz(app: TestApp) {
    // As in the image: the node binds every interface; the probe asks loopback.
    let bind = format!("0.0.0.0:{}", app.port);
    let out = healthcheck(&bind, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!("127.0.0.1:{}/readyz", app.port)),
        "{}",
        stdout(&out)
    );
    // It opened no database: nothing was created where it ran.
    assert!(!std::env::temp_dir().join("gatehouse.db").exists());

    // An explicit URL; a path that is not ready (404) is not healthy.
    let url = format!("http://127.0.0.1:{}/readyz", app.port);
    assert!(healthcheck("127.0.0.1:1", &["--url", &url])
        .status
        .success());
    let nowhere = format!("http://127.0.0.1:{}/not-readyz", app.port);
    let out = healthcheck("127.0.0.1:1", &["--url", &nowhere]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("404"), "{}", stderr(&out));

    // Nothing listening: exit 1, saying so.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let out = healthcheck(&format!("0.0.0.0:{closed}"), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not ready"), "{}", stderr(&out));
}

on_both!(the_healthcheck_command_asks_readyz);

/// `docker compose` (the plugin) or `docker-compose` (Debian's package), whichever runs.
fn compose() -> Option<Vec<&'static str>> {
    let runs = |cmd: &[&str]| {
        Command::new(cmd[0])
            .args(&cmd[1..])
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    [vec!["docker", "compose"], vec!["docker-compose"]]
        .into_iter()
        .find(|c| runs(c))
}

fn compose_config(cmd: &[&str], master_key: Option<&str>) -> Output {
    let mut c = Command::new(cmd[0]);
    c.args(&cmd[1..])
        .args(["-f", "docker-compose.yml", "config"])
        .current_dir(repo_root())
        .env_remove("GATEHOUSE_MASTER_KEY");
    if let Some(key) = master_key {
        c.env("GATEHOUSE_MASTER_KEY", key);
    }
    c.output().expect("compose runs")
}

#[test]
fn docker_compose_yml_is_clean_and_keeps_the_admin_listener_on_loopback() {
    let file = std::fs::read_to_string(repo_root().join("docker-compose.yml")).unwrap();
    // What compose cannot judge: each gateway publishes its admin port on 127.0.0.1 only, binds
    // it on the container's interfaces only through the config given, and probes /readyz.
    assert!(
        file.contains("GATEHOUSE__SERVER__ADMIN_BIND: 0.0.0.0:8081"),
        "{file}"
    );
    for admin in ["\"127.0.0.1:9081:8081\"", "\"127.0.0.1:9082:8081\""] {
        assert!(file.contains(admin), "{admin} missing:\n{file}");
    }
    assert!(
        !file.lines().any(|l| {
            let l = l.trim();
            l.starts_with("- \"") && l.ends_with(":8081\"") && !l.contains("127.0.0.1:")
        }),
        "an admin port is published beyond loopback:\n{file}"
    );
    assert!(file.contains(r#"test: ["CMD", "gatehouse", "healthcheck"]"#));
    assert!(
        !file.contains("exit 0"),
        "a healthcheck that probes nothing"
    );

    let Some(cmd) = compose() else {
        eprintln!(
            "SKIPPED: neither `docker compose` nor `docker-compose` is installed, so \
             docker-compose.yml was not checked by compose (Debian: apt-get install \
             docker-compose; .ci/run installs it)"
        );
        return;
    };
    let out = compose_config(&cmd, Some("dGVzdA=="));
    assert!(
        out.status.success(),
        "{} config: {}",
        cmd.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    let normal = String::from_utf8_lossy(&out.stdout);
    // Both gateways carry the healthcheck (gateway-2 by the merge key) and the admin ports.
    let lines: Vec<&str> = normal.lines().map(str::trim).collect();
    let count = |l: &str| lines.iter().filter(|x| **x == l).count();
    assert_eq!(count("healthcheck:"), 3, "{normal}");
    assert_eq!(count("- healthcheck"), 2, "{normal}");
    // Without the master key, compose refuses to start, naming how to make one.
    let out = compose_config(&cmd, None);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("openssl rand -base64 32"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
