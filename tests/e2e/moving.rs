//! Issue 20, findings 1 to 3 and the CLI's part of 4: a move keeps every user (bcrypt and
//! argon2id hashes, ids) and, `--with-keys`, the tokens issued before it; imports are all or
//! nothing unless `--skip-invalid`; a rotation keeps the tenant's algorithm (CLI, operator API,
//! console form) and `jose` keeps verifying; the CLI says which database it acts on and creates
//! none where a command only reads or changes what exists.

use crate::helpers::*;
use crate::wellknown::{
    appmixer_token, asymmetric_tenant, check as jose_check, header_of, jose, ED, RS,
};
use gatehouse_core::token::KeyAlg;
use reqwest::Method;
use serde_json::{json, Value};
use std::path::Path;

const PW: &str = "long-enough-pw";
/// What every tenant of these tests is reached through (the test config's host pattern).
fn host(slug: &str) -> String {
    format!("api.{slug}.localhost")
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Signs in through Appmixer's `/user/auth`: the token and the user's id.
async fn sign_in(app: &TestApp, slug: &str, email: &str) -> (String, String) {
    let r = app
        .post(
            &host(slug),
            "/user/auth",
            &json!({"username": email, "password": PW}),
        )
        .await;
    assert_eq!(r.status, 200, "{email} on {:?}: {}", app.backend, r.body);
    let token = r.json()["token"].as_str().unwrap().to_owned();
    let me = app
        .get(&host(slug), "/user", Some(&format!("Bearer {token}")))
        .await;
    assert_eq!(me.status, 200, "{}", me.body);
    (token, me.json()["id"].as_str().unwrap().to_owned())
}

async fn token_works_now(app: &TestApp, slug: &str, token: &str) -> bool {
    let r = app
        .get(&host(slug), "/user", Some(&format!("Bearer {token}")))
        .await;
    r.status == 200
}

/// Whether the token verifies once the node has loaded what the CLI wrote (within
/// `tenants.refresh_seconds`, 1 s in tests).
async fn token_works(app: &TestApp, slug: &str, token: &str) -> bool {
    eventually(5, || token_works_now(app, slug, token)).await
}

fn cli_ok(app: &TestApp, args: &[&str]) -> String {
    let o = app.cli(args);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    stdout(&o)
}

fn export_with_keys(
    app: &TestApp,
    slug: &str,
    dir: &Path,
    passphrase: &Path,
) -> std::path::PathBuf {
    let file = dir.join(format!("move-{}.jsonl", uuid::Uuid::new_v4().simple()));
    let said = cli_ok(
        app,
        &[
            "export",
            "--tenant",
            slug,
            "--with-keys",
            "--passphrase-file",
            path_str(passphrase),
            "--out",
            path_str(&file),
        ],
    );
    assert!(
        said.contains("signing keys (sealed under the passphrase)"),
        "{said}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o077,
            0,
            "the export is readable by others: {mode:o}"
        );
    }
    file
}

/// A tenant with users of every hash Gatehouse writes: `bc` keeps a bcrypt hash, `ar` signed up
/// under argon2id, `re` was rehashed to argon2id by signing in. EdDSA-signed, so its JWKS matters.
async fn mixed_tenant(app: &TestApp, slug: &str) -> Vec<(String, String)> {
    let mut spec =
        gatehouse_core::tenants::TenantSpec::new(gatehouse_core::TenantSlug::parse(slug).unwrap());
    spec.apis = gatehouse_core::Api::ALL.to_vec();
    spec.alg = KeyAlg::EdDsa;
    spec.settings.insert("BCRYPT_COST".into(), "4".into());
    spec.settings
        .insert("PASSWORD_HASH".into(), "bcrypt".into());
    app.core.create_tenant(spec).await.unwrap();
    let signup = |email: &'static str| async move {
        let r = app
            .post(
                &host(slug),
                "/user",
                &json!({"username": email, "email": email, "password": PW}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    };
    signup("bc@move.test").await;
    signup("re@move.test").await;
    app.set(slug, "PASSWORD_HASH", "argon2id").await;
    app.set(slug, "ARGON2_MEMORY_KIB", "1024").await;
    signup("ar@move.test").await;
    let mut ids = Vec::new();
    for email in ["bc@move.test", "re@move.test", "ar@move.test"] {
        ids.push((email.to_owned(), String::new()));
    }
    // `re` signs in: rehashed to argon2id.
    sign_in(app, slug, "re@move.test").await;
    for (email, id) in &mut ids {
        if email != "bc@move.test" {
            *id = sign_in(app, slug, email).await.1;
        }
    }
    // `bc` never signs in under argon2id: its id is read without a sign-in.
    let t = app.tenant(slug).await;
    let bc = app
        .core
        .user_by_email(&t, &gatehouse_core::Email::parse("bc@move.test").unwrap())
        .await
        .unwrap()
        .unwrap();
    ids[0].1 = bc.id.clone();
    ids
}

async fn everyone_signs_in_as_before(app: &TestApp, slug: &str, ids: &[(String, String)]) {
    for (email, id) in ids {
        let (_, got) = sign_in(app, slug, email).await;
        assert_eq!(&got, id, "{email} on {:?}", app.backend);
    }
}

fn other(b: Backend) -> Backend {
    match b {
        Backend::Sqlite => Backend::Postgres,
        Backend::Postgres => Backend::Sqlite,
    }
}

/// SQLite -> PostgreSQL -> SQLite (and the reverse): argon2id and bcrypt users sign in on each
/// copy with their password and id, and tokens issued before each move verify after it.
async fn a_move_keeps_every_user_and_with_keys_every_token(app: TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let passphrase = dir.path().join("passphrase");
    std::fs::write(&passphrase, "a long shared passphrase\n").unwrap();
    let ids = mixed_tenant(&app, "mv").await;
    let (token_a, _) = sign_in(&app, "mv", "ar@move.test").await;
    let file = export_with_keys(&app, "mv", dir.path(), &passphrase);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains("$argon2id$v=19$m=1024"),
        "argon2id hashes leave as they are"
    );
    assert!(
        text.contains("\"password_hash\":\"$2b$04$"),
        "and bcrypt ones"
    );
    assert!(text.contains("\"type\":\"signing_key\""), "{text}");
    let t = app.tenant("mv").await;
    for k in t.keys.all() {
        let pem = String::from_utf8_lossy(k.secret.expose()).to_string();
        let body = pem.lines().nth(1).unwrap_or(&pem).to_owned();
        assert!(!text.contains(&body), "a signing key left in clear");
    }
    assert!(!text.contains("PRIVATE KEY"));

    let Some(there) = spawn_app(other(app.backend), "").await else {
        eprintln!("skipped the cross-backend move: no PostgreSQL server");
        return;
    };
    cli_ok(&there, &["tenant", "create", "mv"]);
    there.tenant("mv").await;
    let said = cli_ok(
        &there,
        &[
            "import",
            "gatehouse",
            "--tenant",
            "mv",
            "--file",
            path_str(&file),
            "--passphrase-file",
            path_str(&passphrase),
        ],
    );
    assert!(said.contains("users: 3 imported"), "{said}");
    assert!(said.contains("signing keys: 1 imported"), "{said}");
    everyone_signs_in_as_before(&there, "mv", &ids).await;
    assert!(
        token_works(&there, "mv", &token_a).await,
        "a token from before the move"
    );
    let (token_b, _) = sign_in(&there, "mv", "bc@move.test").await;

    // And back to the first backend, in a deployment of its own.
    let back = spawn_app(app.backend, "").await.unwrap();
    let file = export_with_keys(&there, "mv", dir.path(), &passphrase);
    cli_ok(&back, &["tenant", "create", "mv"]);
    back.tenant("mv").await;
    // A wrong passphrase: every key refused, nothing written.
    let wrong = dir.path().join("wrong");
    std::fs::write(&wrong, "not the passphrase at all").unwrap();
    let o = back.cli(&[
        "import",
        "gatehouse",
        "--tenant",
        "mv",
        "--file",
        path_str(&file),
        "--passphrase-file",
        path_str(&wrong),
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("wrong passphrase"), "{}", stderr(&o));
    let mv = back.tenant("mv").await;
    assert_eq!(
        back.core.count_users(&mv).await.unwrap(),
        0,
        "all or nothing"
    );
    cli_ok(
        &back,
        &[
            "import",
            "gatehouse",
            "--tenant",
            "mv",
            "--file",
            path_str(&file),
            "--passphrase-file",
            path_str(&passphrase),
        ],
    );
    everyone_signs_in_as_before(&back, "mv", &ids).await;
    assert!(
        token_works(&back, "mv", &token_a).await,
        "a token from two moves ago"
    );
    assert!(
        token_works(&back, "mv", &token_b).await,
        "a token from the last move"
    );

    // Without the passphrase the users move and the keys are said to be skipped.
    cli_ok(&back, &["tenant", "create", "nokeys"]);
    let said = cli_ok(
        &back,
        &[
            "import",
            "gatehouse",
            "--tenant",
            "nokeys",
            "--file",
            path_str(&file),
        ],
    );
    assert!(said.contains("signing keys skipped"), "{said}");
    back.tenant("nokeys").await; // this node loads the tenant the CLI made now
    everyone_signs_in_as_before(&back, "nokeys", &ids).await;
    assert!(!token_works_now(&back, "nokeys", &token_a).await);
}

/// A file with one refused user: nothing is written, every refusal is listed by line, exit 1;
/// `--skip-invalid` writes the rest, drops the refused user's membership with a reason, exit 1.
async fn imports_are_all_or_nothing_unless_skip_invalid(app: TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let hash = bcrypt::hash(PW, 4).unwrap();
    let user = |id: &str, email: &str, hash: &str| {
        json!({"_id": {"$oid": id}, "email": email, "password": hash}).to_string()
    };
    let users = dir.path().join("users.json");
    std::fs::write(
        &users,
        [
            user("5f1b2c3d4e5f6a7b8c9d0e21", "one@all.test", &hash),
            user("5f1b2c3d4e5f6a7b8c9d0e22", "two@all.test", "md5-not-a-hash"),
            user("5f1b2c3d4e5f6a7b8c9d0e23", "three@all.test", &hash),
        ]
        .join("\n"),
    )
    .unwrap();
    let projects = dir.path().join("projects.json");
    std::fs::write(
        &projects,
        json!({"_id": "6a1b2c3d4e5f6a7b8c9d0e21", "name": "P", "jwtSecret": "s3cret",
               "createdBy": "5f1b2c3d4e5f6a7b8c9d0e21"})
        .to_string(),
    )
    .unwrap();
    let members = dir.path().join("members.json");
    let member = |id: &str, user: &str| {
        json!({"_id": id, "id_project": "6a1b2c3d4e5f6a7b8c9d0e21", "id_user": user,
               "role": "agent"})
        .to_string()
    };
    std::fs::write(
        &members,
        [
            member("7a1b2c3d4e5f6a7b8c9d0e21", "5f1b2c3d4e5f6a7b8c9d0e21"),
            member("7a1b2c3d4e5f6a7b8c9d0e22", "5f1b2c3d4e5f6a7b8c9d0e22"),
        ]
        .join("\n"),
    )
    .unwrap();
    let args = |extra: &'static [&'static str]| {
        let mut a = vec![
            "import".to_owned(),
            "tiledesk".into(),
            "--tenant".into(),
            "acme".into(),
            "--users".into(),
            path_str(&users).into(),
            "--projects".into(),
            path_str(&projects).into(),
            "--project-users".into(),
            path_str(&members).into(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let run = |a: Vec<String>| {
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        app.cli(&a)
    };
    let acme = app.tenant("acme").await;
    let o = run(args(&[]));
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("users.json line 2: the password hash is neither bcrypt"),
        "{e}"
    );
    assert!(
        e.contains("members.json line 2: membership dropped: its user 5f1b2c3d4e5f6a7b8c9d0e22 was refused (line 2)"),
        "{e}"
    );
    assert!(
        e.contains("1 records refused") && e.contains("nothing was written"),
        "{e}"
    );
    assert_eq!(
        app.core.count_users(&acme).await.unwrap(),
        0,
        "nothing written"
    );
    let r = app
        .post(
            ACME,
            "/user/auth",
            &json!({"username": "one@all.test", "password": PW}),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    // A dry run says the same and writes nothing either.
    let o = run(args(&["--dry-run"]));
    assert!(!o.status.success());
    assert!(stdout(&o).contains("dry run"), "{}", stdout(&o));
    assert_eq!(app.core.count_users(&acme).await.unwrap(), 0);

    let o = run(args(&["--skip-invalid"]));
    assert!(!o.status.success(), "refusals still fail the command");
    let e = stderr(&o);
    assert!(e.contains("users.json line 2"), "{e}");
    assert!(e.contains("membership dropped"), "{e}");
    assert!(e.contains("the others were written"), "{e}");
    let said = stdout(&o);
    assert!(said.contains("users: 2 imported"), "{said}");
    assert!(
        said.contains("members: 1 imported") && said.contains("1 dropped"),
        "{said}"
    );
    assert_eq!(app.core.count_users(&acme).await.unwrap(), 2);
    for email in ["one@all.test", "three@all.test"] {
        let r = app
            .post(
                ACME,
                "/user/auth",
                &json!({"username": email, "password": PW}),
            )
            .await;
        assert_eq!(r.status, 200, "{email}: {}", r.body);
    }
}

/// The kid that signs an Appmixer token made now on `host`.
async fn signing_alg(app: &TestApp, host: &str) -> (String, jsonwebtoken::Algorithm) {
    let t = appmixer_token(
        app,
        host,
        &format!("{}@{host}", uuid::Uuid::new_v4().simple()),
    )
    .await;
    let h = header_of(&t);
    (h.kid.unwrap(), h.alg)
}

async fn rotations_keep_the_algorithm_and_jose_keeps_verifying(app: TestApp) {
    asymmetric_tenant(&app, "ed", ED, KeyAlg::EdDsa).await;
    asymmetric_tenant(&app, "rs", RS, KeyAlg::Rs256).await;
    let key = app.operator_key("rotator").await;
    for (slug, host, alg) in [
        ("ed", ED, jsonwebtoken::Algorithm::EdDSA),
        ("rs", RS, jsonwebtoken::Algorithm::RS256),
    ] {
        let (first, _) = signing_alg(&app, host).await;
        // CLI, no --alg: the tenant's algorithm, signing at once.
        let said = cli_ok(&app, &["tenant", "rotate-key", slug, "--lead", "0"]);
        assert!(said.contains(&format!("({})", alg_name(alg))), "{said}");
        app.tenant(slug).await;
        let (kid, got) = signing_alg(&app, host).await;
        assert_eq!(got, alg, "{slug}: the CLI changed the algorithm");
        assert_ne!(kid, first);
        // API, empty body: the same.
        let r = app
            .admin(
                Method::POST,
                &format!("/admin/v1/tenants/{slug}/keys"),
                Some(&json!({"lead_seconds": 0})),
                Some(&key),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.json()["alg"], alg_name(alg), "{}", r.body);
        let r = app
            .admin(
                Method::POST,
                &format!("/admin/v1/tenants/{slug}/keys"),
                Some(&json!({})),
                Some(&key),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.json()["alg"], alg_name(alg));
        // To HS256 only when asked for explicitly: a 400 that says why, and the CLI likewise.
        let r = app
            .admin(
                Method::POST,
                &format!("/admin/v1/tenants/{slug}/keys"),
                Some(&json!({"alg": "HS256"})),
                Some(&key),
            )
            .await;
        assert_eq!(r.status, 400, "{}", r.body);
        assert!(
            r.body.contains("jwks.json") && r.body.contains("allow_unpublished"),
            "{}",
            r.body
        );
        let o = app.cli(&["tenant", "rotate-key", slug, "--alg", "HS256"]);
        assert!(!o.status.success());
        assert!(stderr(&o).contains("--allow-unpublished"), "{}", stderr(&o));
        app.tenant(slug).await;
        let (kid, got) = signing_alg(&app, host).await;
        assert_eq!(got, alg);
        // A token signed after the rotations verifies offline against the JWKS.
        let token = appmixer_token(&app, host, &format!("jose@{host}")).await;
        assert_eq!(header_of(&token).kid.unwrap(), kid);
        if let Some(results) = jose(json!([jose_check(&app, host, &token)])).await {
            assert_eq!(results[0]["ok"], true, "{results:?}");
            assert_eq!(results[0]["alg"], alg_name(alg));
        }
    }
    // Named explicitly and allowed: the CLI moves to HS256 and warns.
    let o = app.cli(&[
        "tenant",
        "rotate-key",
        "ed",
        "--alg",
        "HS256",
        "--allow-unpublished",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("stop verifying"), "{}", stderr(&o));
    app.tenant("ed").await;
    assert_eq!(
        signing_alg(&app, ED).await.1,
        jsonwebtoken::Algorithm::HS256
    );
    // The API's explicit way, on RS256.
    let r = app
        .admin(
            Method::POST,
            "/admin/v1/tenants/rs/keys",
            Some(&json!({"alg": "HS256", "allow_unpublished": true})),
            Some(&key),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
}

fn alg_name(alg: jsonwebtoken::Algorithm) -> &'static str {
    match alg {
        jsonwebtoken::Algorithm::EdDSA => "EdDSA",
        jsonwebtoken::Algorithm::RS256 => "RS256",
        _ => "HS256",
    }
}

/// The console's Rotate form preselects the algorithm the tenant signs with.
async fn the_console_rotate_form_defaults_to_the_current_algorithm(app: TestApp) {
    asymmetric_tenant(&app, "ed", ED, KeyAlg::EdDsa).await;
    asymmetric_tenant(&app, "rs", RS, KeyAlg::Rs256).await;
    let key = app.operator_key("console").await;
    let cookie = crate::operator::console_session(&app, &key).await;
    for (slug, alg) in [("ed", "EdDSA"), ("rs", "RS256"), ("demo", "HS256")] {
        let page = app
            .client
            .get(app.admin_url(&format!("/console/tenants/{slug}/keys")))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let form = page
            .split("id=\"rotate-key\"")
            .nth(1)
            .expect("the Rotate form");
        assert!(
            form.contains(&format!("<option selected>{alg}</option>")),
            "{slug}: {form}"
        );
        assert_eq!(form.matches(" selected").count(), 1, "{slug}: {form}");
    }
}

/// Every command names its database first; in an empty directory a read or a revoke creates
/// neither a database nor a master key, and says how to choose another.
#[test]
fn the_cli_says_where_it_acts_and_creates_nothing_to_read() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .args(args)
            .current_dir(dir.path())
            .env("RUST_LOG", "warn")
            .env_remove("GATEHOUSE_CONFIG")
            .env_remove("GATEHOUSE__DATABASE__URL")
            .env_remove("GATEHOUSE_MASTER_KEY")
            .env_remove("GATEHOUSE_MASTER_KEY_FILE")
            .output()
            .unwrap()
    };
    for args in [
        &["tenant", "list"][..],
        &["user", "revoke-tokens", "--tenant", "demo", "a@b.test"],
        &["token", "revoke", "--tenant", "demo", "not-a-jti"],
        &["export", "--tenant", "demo"],
        &["audit", "--tenant", "demo"],
    ] {
        let o = run(args);
        assert!(
            !o.status.success(),
            "{args:?} succeeded in an empty directory"
        );
        let raw = String::from_utf8_lossy(&o.stderr).to_string();
        let first = raw.lines().next().unwrap_or("");
        assert!(
            first.starts_with("gatehouse: database sqlite://gatehouse.db (")
                && first.ends_with("/gatehouse.db)"),
            "{args:?}: {raw}"
        );
        let e = stderr(&o);
        assert!(
            e.contains("no such file")
                && e.contains("--config")
                && e.contains("GATEHOUSE__DATABASE__URL"),
            "{args:?}: {e}"
        );
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert!(left.is_empty(), "{args:?} left {left:?}");
    }
    // `migrate` may create; then a read works and names the same database.
    assert!(run(&["migrate"]).status.success());
    let o = run(&["tenant", "list"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // A database whose key file went missing: refused, no new key made.
    std::fs::remove_file(dir.path().join("gatehouse.db.master-key")).unwrap();
    let o = run(&["tenant", "list"]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("creates none"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!dir.path().join("gatehouse.db.master-key").exists());
}

/// A PostgreSQL URL is named without its password.
#[test]
fn the_database_line_hides_a_password() {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["tenant", "list"])
        .env(
            "GATEHOUSE__DATABASE__URL",
            "postgres://ops:hunter2@127.0.0.1:1/x",
        )
        .env("GATEHOUSE__DATABASE__CONNECT_TIMEOUT_SECONDS", "1")
        .env("RUST_LOG", "off")
        .env_remove("GATEHOUSE_CONFIG")
        .output()
        .unwrap();
    let raw = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(
        raw.lines().next().unwrap_or("") == "gatehouse: database postgres://ops:***@127.0.0.1:1/x",
        "{raw}"
    );
    assert!(!raw.contains("hunter2"), "{raw}");
}

/// `token revoke` of an id the tenant cannot have issued fails; a real one (by jti or whole)
/// works, and `--force` records any id.
async fn token_revoke_refuses_an_id_the_tenant_never_issued(app: TestApp) {
    let o = app.cli(&["token", "revoke", "--tenant", "demo", "not-a-jti"]);
    assert!(!o.status.success(), "an unknown jti was 'revoked'");
    assert!(
        stderr(&o).contains("not a token id tenant demo issued"),
        "{}",
        stderr(&o)
    );
    // A UUIDv7 of long before the tenant existed.
    let old = "00000000-0000-7000-8000-000000000000";
    assert!(!app
        .cli(&["token", "revoke", "--tenant", "demo", old])
        .status
        .success());
    let o = app.cli(&[
        "token",
        "revoke",
        "--tenant",
        "demo",
        "not-a-jti",
        "--force",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));

    let token = appmixer_token(&app, DEMO, "revoked@demo.test").await;
    let claims: Value = app
        .core
        .verify_token(&*app.tenant("demo").await, &token, None)
        .map(|c| Value::Object((*c).clone()))
        .unwrap();
    let jti = claims["jti"].as_str().unwrap();
    let said = cli_ok(&app, &["token", "revoke", "--tenant", "demo", jti]);
    assert!(said.contains("revoked"), "{said}");
    assert!(
        eventually(5, || async {
            app.get(DEMO, "/user", Some(&format!("Bearer {token}")))
                .await
                .status
                == 401
        })
        .await
    );
    // The whole token of another tenant is refused; this tenant's is taken.
    let other = appmixer_token(&app, GLOBEX, "x@globex.test").await;
    assert!(!app
        .cli(&["token", "revoke", "--tenant", "demo", &other])
        .status
        .success());
    let mine = appmixer_token(&app, DEMO, "whole@demo.test").await;
    cli_ok(&app, &["token", "revoke", "--tenant", "demo", &mine]);
}

on_both!(
    a_move_keeps_every_user_and_with_keys_every_token,
    imports_are_all_or_nothing_unless_skip_invalid,
    rotations_keep_the_algorithm_and_jose_keeps_verifying,
    the_console_rotate_form_defaults_to_the_current_algorithm,
    token_revoke_refuses_an_id_the_tenant_never_issued,
);
