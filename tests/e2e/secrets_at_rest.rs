//! Secrets at rest (issue 8, item 11): the SQLite database and its `-wal`/`-shm` files are made
//! 0600; signing-key secrets and project `jwtSecret`s are stored sealed under a master key (raw
//! rows hold no plaintext); plaintext rows from before are sealed at start; a wrong master key
//! stops the start with one clear line; a rotation (`GATEHOUSE_MASTER_KEY_PREVIOUS` and
//! `gatehouse secrets reencrypt`) keeps every token and secret working.

use crate::helpers::*;
use diesel::prelude::*;
use gatehouse_core::storage::schema::{projects, signing_keys};
use gatehouse_core::users::NewUser;
use gatehouse_core::{Email, Password};
use jsonwebtoken::{encode, EncodingKey, Header};
use reqwest::header::AUTHORIZATION;
use reqwest::Method;
use serde_json::json;
use std::path::PathBuf;

const EMAIL: &str = "owner@example.com";
const PASSWORD: &str = "owner-password";

/// An Appmixer account (also a Tiledesk agent) and a project it owns; returns its Appmixer token
/// and the project's id and `jwtSecret`.
async fn account_and_project(app: &TestApp) -> (String, String, String) {
    let t = app.tenant("demo").await;
    let mut new = NewUser::new(
        Email::parse(EMAIL).unwrap(),
        Some(Password::new(PASSWORD, 8).unwrap()),
    );
    new.is_active = true;
    let owner = app.core.create_user(&t, new).await.unwrap();
    let project = app
        .core
        .create_project(&t, "Support", &owner)
        .await
        .unwrap();
    let token = app
        .token_of(
            DEMO,
            "/user/auth",
            &json!({"email": EMAIL, "password": PASSWORD}),
        )
        .await;
    (
        format!("Bearer {token}"),
        project.id,
        project.jwt_secret.expose().clone(),
    )
}

/// The raw stored values: every signing key's secret and every project's `jwtSecret`.
async fn raw_secrets(app: &TestApp) -> (Vec<String>, Vec<String>) {
    app.core
        .db()
        .run_system(|c| {
            let keys = signing_keys::table.select(signing_keys::secret).load(c)?;
            let secrets = projects::table.select(projects::jwt_secret).load(c)?;
            Ok((keys, secrets))
        })
        .await
        .unwrap()
}

/// A custom token for an external user of `project_id`, signed with `secret`, exchanged.
async fn exchange(app: &TestApp, project_id: &str, secret: &str) -> Resp {
    let claims = json!({
        "aud": format!("https://tiledesk.com/projects/{project_id}"),
        "_id": "customer-42",
        "exp": chrono::Utc::now().timestamp() + 600,
    });
    let jwt = encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap();
    let rb = app
        .request(Method::POST, DEMO, "/v1/auth/signinWithCustomToken")
        .header(AUTHORIZATION, format!("JWT {jwt}"));
    app.send(rb).await
}

/// The master key this app was started with: generated beside the SQLite file, or the
/// PostgreSQL tests' shared file.
fn key_file_of(app: &TestApp) -> PathBuf {
    match app.db_url.strip_prefix("sqlite://") {
        Some(path) => gatehouse_core::master_key::beside(path),
        None => test_master_key_file(),
    }
}

async fn second_node(app: &TestApp, key_file: Option<PathBuf>) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    spawn_app_tweaked(app.backend, dir, app.db_url.clone(), "", |c| {
        if key_file.is_some() {
            c.secrets.master_key_file = key_file;
        }
    })
    .await
}

/// Not `on_both!`: file modes are SQLite's matter (PostgreSQL's files are its server's).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_database_its_wal_shm_and_key_files_are_private() {
    let app = spawn_app(Backend::Sqlite, "").await.unwrap();
    account_and_project(&app).await;
    let db = app.db_url.strip_prefix("sqlite://").unwrap().to_owned();
    use std::os::unix::fs::PermissionsExt;
    for path in [
        db.clone(),
        format!("{db}-wal"),
        format!("{db}-shm"),
        gatehouse_core::master_key::beside(&db)
            .display()
            .to_string(),
    ] {
        let mode = std::fs::metadata(&path)
            .unwrap_or_else(|e| panic!("{path}: {e}"))
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{path} has mode {:o}", mode & 0o777);
    }
}

async fn raw_rows_hold_no_plaintext_secret(app: TestApp) {
    let (_, project_id, secret) = account_and_project(&app).await;
    let (keys, secrets) = raw_secrets(&app).await;
    assert!(keys.len() >= 3, "every tenant has a key");
    for k in &keys {
        assert!(
            k.starts_with("v1:"),
            "a signing key stored unsealed: {k:.12}…"
        );
        assert!(
            !k.bytes().all(|b| b.is_ascii_hexdigit()),
            "a signing key stored as plain hex"
        );
    }
    assert_eq!(secrets.len(), 1);
    assert!(secrets[0].starts_with("v1:"));
    assert!(!secrets[0].contains(&secret), "the jwtSecret is in the row");
    // And it still works, opened from the sealed row.
    assert_eq!(exchange(&app, &project_id, &secret).await.status, 200);
}

async fn plaintext_rows_from_before_are_sealed_at_start(app: TestApp) {
    let (_, project_id, _) = account_and_project(&app).await;
    // Rows as a release before sealing wrote them: a hex signing key (the newest, so it signs
    // after the restart) and a project secret in clear.
    let tenant_id = app.tenant("demo").await.id.clone();
    let legacy_key = "07".repeat(32);
    let pid = project_id.clone();
    app.core
        .db()
        .run_system(move |c| {
            diesel::insert_into(signing_keys::table)
                .values((
                    signing_keys::tenant_id.eq(&tenant_id),
                    signing_keys::kid.eq("legacy"),
                    signing_keys::secret.eq(&legacy_key),
                    signing_keys::created_at.eq(chrono::Utc::now().timestamp_millis() + 60_000),
                ))
                .execute(c)?;
            diesel::update(projects::table.filter(projects::id.eq(&pid)))
                .set(projects::jwt_secret.eq("legacy-project-secret"))
                .execute(c)?;
            Ok(())
        })
        .await
        .unwrap();
    let restarted = second_node(&app, None).await;
    let (keys, secrets) = raw_secrets(&restarted).await;
    assert!(keys.iter().all(|k| k.starts_with("v1:")), "{keys:?}");
    assert!(secrets.iter().all(|s| s.starts_with("v1:")));
    // The legacy key signs, and its tokens verify; the legacy project secret still vouches.
    let token = restarted
        .token_of(
            DEMO,
            "/user/auth",
            &json!({"email": EMAIL, "password": PASSWORD}),
        )
        .await;
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.kid.as_deref(), Some("legacy"));
    let r = restarted
        .get(DEMO, "/user", Some(&format!("Bearer {token}")))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        exchange(&restarted, &project_id, "legacy-project-secret")
            .await
            .status,
        200
    );
}

async fn tokens_keep_verifying_across_a_restart(app: TestApp) {
    let (token, project_id, secret) = account_and_project(&app).await;
    let restarted = second_node(&app, None).await;
    drop(app);
    let r = restarted.get(DEMO, "/user", Some(&token)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(exchange(&restarted, &project_id, &secret).await.status, 200);
}

async fn a_wrong_master_key_stops_the_start_with_one_clear_line(app: TestApp) {
    account_and_project(&app).await;
    let wrong = gatehouse_core::sealed::MasterKey::generate_base64();
    for args in [&["tenant", "list"][..], &["serve"]] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .arg("--config")
            .arg(&app.config_path)
            .args(args)
            .env("RUST_LOG", "off")
            .env("GATEHOUSE_MASTER_KEY", &wrong)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} started with a wrong key");
        let e = stderr(&out);
        assert_eq!(e.trim().lines().count(), 1, "not one line: {e}");
        assert!(e.contains("master key"), "{e}");
        assert!(
            e.contains("GATEHOUSE_MASTER_KEY"),
            "says what to check: {e}"
        );
        assert!(!e.contains(&wrong), "the key is never shown: {e}");
    }
    // A key that is not 32 bytes of base64 is named, not used.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("--config")
        .arg(&app.config_path)
        .args(["tenant", "list"])
        .env("RUST_LOG", "off")
        .env("GATEHOUSE_MASTER_KEY", "c2hvcnQ=")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("32 bytes"), "{}", stderr(&out));
}

async fn a_rotated_master_key_reseals_every_secret_and_tokens_keep_verifying(app: TestApp) {
    let (token, project_id, secret) = account_and_project(&app).await;
    let old = std::fs::read_to_string(key_file_of(&app)).unwrap();
    let new = gatehouse_core::sealed::MasterKey::generate_base64();
    let new_file = app._dir.path().join("new.key");
    std::fs::write(&new_file, &new).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("--config")
        .arg(&app.config_path)
        .args(["secrets", "reencrypt"])
        .env("RUST_LOG", "off")
        .env("GATEHOUSE_MASTER_KEY", &new)
        .env("GATEHOUSE_MASTER_KEY_PREVIOUS", old.trim())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let said = stdout(&out);
    let new_id = said.trim().rsplit(' ').next().unwrap().to_owned();
    assert!(said.contains("sealed again"), "{said}");
    let (keys, secrets) = raw_secrets(&app).await;
    for v in keys.iter().chain(&secrets) {
        assert!(
            v.starts_with(&format!("v1:{new_id}:")),
            "not under the new key: {v:.20}"
        );
    }
    // A node on the new key alone serves the old tokens and secrets.
    let rotated = second_node(&app, Some(new_file)).await;
    let r = rotated.get(DEMO, "/user", Some(&token)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(exchange(&rotated, &project_id, &secret).await.status, 200);
    // The old key alone no longer opens them.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("--config")
        .arg(&app.config_path)
        .args(["tenant", "list"])
        .env("RUST_LOG", "off")
        .env("GATEHOUSE_MASTER_KEY", old.trim())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(&new_id),
        "names the key it needs: {}",
        stderr(&out)
    );
}

/// PostgreSQL only: nodes share the database, so they must be given one key; a key generated on
/// one node would lock the others out. Without one, the start is refused with one line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_refuses_to_start_without_a_master_key() {
    let dir = tempfile::tempdir().unwrap();
    let Some(url) = fresh_db(Backend::Postgres, &dir).await else {
        return eprintln!("skipped: no PostgreSQL server");
    };
    let cfg = dir.path().join("no-key.toml");
    std::fs::write(&cfg, format!("[database]\nurl = \"{url}\"\n")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("--config")
        .arg(&cfg)
        .arg("migrate")
        .env("RUST_LOG", "off")
        .env_remove("GATEHOUSE_MASTER_KEY")
        .env_remove("GATEHOUSE_MASTER_KEY_FILE")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let e = stderr(&out);
    assert_eq!(e.trim().lines().count(), 1, "{e}");
    assert!(e.contains("GATEHOUSE_MASTER_KEY"), "{e}");
}

on_both!(
    raw_rows_hold_no_plaintext_secret,
    plaintext_rows_from_before_are_sealed_at_start,
    tokens_keep_verifying_across_a_restart,
    a_wrong_master_key_stops_the_start_with_one_clear_line,
    a_rotated_master_key_reseals_every_secret_and_tokens_keep_verifying
);
