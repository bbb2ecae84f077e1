//! Issue 13, items 1-4: `gatehouse import tiledesk|appmixer|gatehouse`, `gatehouse export` and
//! `gatehouse tenant import-key`, through the real binary, then signing in over HTTP.
//!
//! What the imported records follow (tiledesk-server, public source):
//! - models/user.js: `email` (unique, required), `password` (`bcrypt.genSalt(10, ...)` with
//!   bcrypt-nodejs: `$2a$10$`), `firstname`, `lastname`, `emailverified`, `status` (default 100),
//!   `timestamps: true`; routes/auth.js signs in with `User.findOne({email: email, status: 100})`.
//! - models/project.js: `name`, `jwtSecret`, `createdBy`; models/project_user.js: `id_project`,
//!   `id_user`, `uuid_user`, `role`, `status` ('active' | 'disabled'), `trashed`.
//! - routes/auth.js signin: `jwt.sign(userJson, configSecret, signOptions)` with
//!   `signOptions = {issuer: 'https://tiledesk.com', subject: 'user', audience:
//!   'https://tiledesk.com', jwtid: uuidv4()}`, `configSecret = process.env.GLOBAL_SECRET ||
//!   config.secret` (or `GLOBAL_SECRET_OR_PRIVATE_KEY` with `GLOBAL_SECRET_ALGORITHM`), and
//!   `userJson` the user selected with 'email firstname lastname password emailverified id', less
//!   the password: no `kid`, no `exp`.
//!
//! Appmixer's user records: `_id`, `username`, `email`, `password` (bcrypt), `scope`, `plan`,
//! `created` (docs.appmixer.com, "Get all users": `[{id, username, email, scope, plan, created}]`).

use crate::helpers::*;
use crate::tiledesk::{aud, custom, exchange, now, signin};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const ANN_ID: &str = "5f1b2c3d4e5f6a7b8c9d0e01";
const BOB_ID: &str = "5f1b2c3d4e5f6a7b8c9d0e02";
const CAT_ID: &str = "5f1b2c3d4e5f6a7b8c9d0e03";
const PROJECT_ID: &str = "6a1b2c3d4e5f6a7b8c9d0e01";
const JWT_SECRET: &str = "b7c4e9a2-1f3d-4e5a-9c8b-7d6e5f4a3b2c";
const PASSWORDS: [(&str, &str); 3] = [
    ("ann@example.com", "ann-original-pw"),
    ("bob@example.com", "bob-original-pw"),
    ("cat@example.com", "cat-original-pw"),
];

/// A bcrypt hash as tiledesk-server stores it: bcrypt-nodejs, cost 10, `$2a$`. Made once per run.
fn tiledesk_hash(n: usize) -> String {
    static HASHES: OnceLock<Vec<String>> = OnceLock::new();
    HASHES.get_or_init(|| {
        PASSWORDS
            .iter()
            .map(|(_, pw)| {
                bcrypt::hash_with_result(pw, 10)
                    .expect("hash")
                    .format_for_version(bcrypt::Version::TwoA)
            })
            .collect()
    })[n]
        .clone()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write fixture");
    path
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// The three collections as `mongoexport` writes them: users as JSON lines in relaxed Extended
/// JSON, projects as `--jsonArray` in canonical mode, project_users as JSON lines.
fn tiledesk_export(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let user = |n: usize, id: &str, first: &str, status: i32| {
        json!({"_id": {"$oid": id}, "email": PASSWORDS[n].0.to_uppercase(),
               "password": tiledesk_hash(n), "firstname": first, "lastname": "Imported",
               "emailverified": true, "status": status, "authUrl": "x1y2",
               "createdAt": {"$date": "2021-03-04T05:06:07.089Z"},
               "updatedAt": {"$date": "2022-03-04T05:06:07.089Z"}, "__v": 0})
        .to_string()
    };
    let users = [
        user(0, ANN_ID, "Ann", 100),
        user(1, BOB_ID, "Bob", 100),
        // status 0: tiledesk-server's sign-in would not find her.
        user(2, CAT_ID, "Cat", 0),
    ]
    .join("\n");
    let projects = json!([{"_id": {"$oid": PROJECT_ID}, "name": "Support",
        "jwtSecret": JWT_SECRET, "createdBy": ANN_ID, "status": {"$numberInt": "100"},
        "createdAt": {"$date": {"$numberLong": "1614834367089"}},
        "updatedAt": {"$date": {"$numberLong": "1614834367089"}}}])
    .to_string();
    let member = |id: &str, user: &str, role: &str| {
        json!({"_id": {"$oid": id}, "id_project": {"$oid": PROJECT_ID}, "id_user": {"$oid": user},
               "role": role, "user_available": true, "status": "active", "createdBy": ANN_ID})
        .to_string()
    };
    let members = [
        member("7a1b2c3d4e5f6a7b8c9d0e01", ANN_ID, "owner"),
        member("7a1b2c3d4e5f6a7b8c9d0e02", BOB_ID, "agent"),
        json!({"_id": "7a1b2c3d4e5f6a7b8c9d0e03", "id_project": PROJECT_ID,
               "uuid_user": "visitor-1", "role": "guest", "createdBy": "system"})
        .to_string(),
    ]
    .join("\n");
    (
        write(dir, "users.json", &users),
        write(dir, "projects.json", &projects),
        write(dir, "project_users.json", &members),
    )
}

fn import_tiledesk(app: &TestApp, slug: &str, dir: &Path, extra: &[&str]) -> std::process::Output {
    let (users, projects, members) = tiledesk_export(dir);
    let mut args = vec![
        "import",
        "tiledesk",
        "--tenant",
        slug,
        "--users",
        path_str(&users),
        "--projects",
        path_str(&projects),
        "--project-users",
        path_str(&members),
    ];
    args.extend_from_slice(extra);
    app.cli(&args)
}

async fn signs_in(app: &TestApp, host: &str, email: &str, password: &str) -> Value {
    let r = signin(app, host, "/v1", email, password).await;
    assert_eq!(r.status, 200, "{email}: {}", r.body);
    r.json()
}

async fn a_tiledesk_mongoexport_signs_in_with_its_passwords_ids_and_secret(app: TestApp) {
    let dir = tempfile::tempdir().unwrap();
    // A dry run checks everything and writes nothing.
    let dry = import_tiledesk(&app, "demo", dir.path(), &["--dry-run"]);
    assert!(dry.status.success(), "{}", stderr(&dry));
    assert!(
        stdout(&dry).contains("users: 3 to import"),
        "{}",
        stdout(&dry)
    );
    assert!(
        stdout(&dry).contains("members: 3 to import"),
        "{}",
        stdout(&dry)
    );
    let demo = app.tenant("demo").await;
    assert_eq!(app.core.count_users(&demo).await.unwrap(), 0);

    let o = import_tiledesk(&app, "demo", dir.path(), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("users: 3 imported, 0 updated, 0 skipped (already there), 0 refused"),
        "{out}"
    );
    assert!(
        out.contains("projects: 1 imported") && out.contains("members: 3 imported"),
        "{out}"
    );
    for secret in [JWT_SECRET, "$2a$10$"] {
        assert!(
            !out.contains(secret) && !stderr(&o).contains(secret),
            "printed {secret}"
        );
    }

    // The original passwords sign in, and the ids are the imported _ids.
    for (n, id) in [(0, ANN_ID), (1, BOB_ID)] {
        let (email, pw) = PASSWORDS[n];
        let j = signs_in(&app, DEMO, email, pw).await;
        assert_eq!(j["user"]["_id"], id);
        assert_eq!(j["user"]["emailverified"], true);
        let me = app.get(DEMO, "/v1/users", j["token"].as_str()).await;
        assert_eq!(me.status, 200, "{}", me.body);
        assert_eq!(me.json()["_id"], id);
        // Twice: the first sign-in replaced the $2a$10$ hash with one at the tenant's cost.
        signs_in(&app, DEMO, email, pw).await;
    }
    let wrong = signin(&app, DEMO, "/v1", "ann@example.com", "not-her-password").await;
    assert_eq!(wrong.status, 401);
    // status 0 could not sign in to tiledesk-server and cannot here.
    let cat = signin(&app, DEMO, "/v1", PASSWORDS[2].0, PASSWORDS[2].1).await;
    assert_eq!(cat.status, 401, "{}", cat.body);

    // A custom token signed with the imported jwtSecret: the owner's role vouches for Ann.
    let token = custom(
        JWT_SECRET,
        &json!({"_id": "crm-1", "aud": aud(PROJECT_ID), "role": "owner",
                "email": "ann@example.com", "iat": now()}),
    );
    let r = exchange(&app, DEMO, "/v3", &format!("JWT {token}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["user"]["_id"], ANN_ID);
    let ext = custom(
        JWT_SECRET,
        &json!({"_id": "ext-7", "sub": "userexternal", "aud": aud(PROJECT_ID)}),
    );
    assert_eq!(exchange(&app, DEMO, "/v3", &ext).await.status, 200);
    // Bob is an agent, not an owner: the imported role holds.
    let bob = custom(
        JWT_SECRET,
        &json!({"_id": "crm-2", "aud": aud(PROJECT_ID), "role": "owner", "email": "bob@example.com"}),
    );
    assert_eq!(exchange(&app, DEMO, "/v3", &bob).await.status, 403);

    // Again: everything is there already, skipped and counted; not an error.
    let again = import_tiledesk(&app, "demo", dir.path(), &[]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stdout(&again).contains("users: 0 imported, 0 updated, 3 skipped"),
        "{}",
        stdout(&again)
    );
    // --update overwrites (the $2a$ hash comes back, and still signs in).
    let update = import_tiledesk(&app, "demo", dir.path(), &["--update"]);
    assert!(update.status.success(), "{}", stderr(&update));
    assert!(
        stdout(&update).contains("users: 0 imported, 3 updated"),
        "{}",
        stdout(&update)
    );
    signs_in(&app, DEMO, PASSWORDS[1].0, PASSWORDS[1].1).await;
    assert_eq!(app.core.count_users(&demo).await.unwrap(), 3);
}

/// A token made exactly as routes/auth.js makes it (see the module's comment).
fn tiledesk_server_token(alg: Algorithm, key: &EncodingKey) -> String {
    let user_json = json!({"_id": ANN_ID, "email": "ann@example.com", "firstname": "Ann",
        "lastname": "Imported", "emailverified": true});
    let mut claims = user_json;
    claims["iat"] = json!(now() - 3600);
    claims["iss"] = json!("https://tiledesk.com");
    claims["sub"] = json!("user");
    claims["aud"] = json!("https://tiledesk.com");
    claims["jti"] = json!(uuid::Uuid::new_v4().to_string());
    let header = Header::new(alg);
    assert!(header.kid.is_none());
    format!("JWT {}", encode(&header, &claims, key).unwrap())
}

async fn status_becomes(app: &TestApp, host: &str, token: &str, want: u16) -> u16 {
    let mut last = 0;
    for _ in 0..40 {
        last = app.get(host, "/v1/users", Some(token)).await.status;
        if last == want {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    last
}

async fn legacy_tiledesk_tokens_verify_after_import_key_until_the_cut_off(app: TestApp) {
    let dir = tempfile::tempdir().unwrap();
    for slug in ["demo", "acme"] {
        let o = import_tiledesk(&app, slug, dir.path(), &[]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let secret = "tiledesk-global-secret";
    let token = tiledesk_server_token(
        Algorithm::HS256,
        &EncodingKey::from_secret(secret.as_bytes()),
    );
    assert_eq!(app.get(DEMO, "/v1/users", Some(&token)).await.status, 401);

    // GLOBAL_SECRET as a file, with the newline an editor leaves.
    let file = write(dir.path(), "global-secret", &format!("{secret}\n"));
    let o = app.cli(&[
        "tenant",
        "import-key",
        "demo",
        "--alg",
        "HS256",
        "--secret-file",
        path_str(&file),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("legacy key"), "{}", stdout(&o));
    assert!(!stdout(&o).contains(secret), "printed the secret");
    assert_eq!(status_becomes(&app, DEMO, &token, 200).await, 200);
    let me = app.get(DEMO, "/v1/users", Some(&token)).await;
    assert_eq!(me.json()["_id"], ANN_ID, "{}", me.body);
    // Only on the tenant that imported it (acme has Ann too, and no legacy key).
    assert_eq!(app.get(ACME, "/v1/users", Some(&token)).await.status, 401);
    // Importing it twice is refused, in one line.
    let twice = app.cli(&[
        "tenant",
        "import-key",
        "demo",
        "--alg",
        "HS256",
        "--secret-file",
        path_str(&file),
    ]);
    assert!(!twice.status.success());
    assert!(
        stderr(&twice).contains("already imported"),
        "{}",
        stderr(&twice)
    );
    // Another secret, a token with a kid, an Appmixer route: refused.
    let forged = tiledesk_server_token(Algorithm::HS256, &EncodingKey::from_secret(b"guess"));
    assert_eq!(app.get(DEMO, "/v1/users", Some(&forged)).await.status, 401);
    let bearer = format!("Bearer {}", token.trim_start_matches("JWT "));
    assert_eq!(app.get(DEMO, "/user", Some(&bearer)).await.status, 401);

    // The cut-off: before it the token works, after it not.
    app.set("demo", "LEGACY_TOKENS_UNTIL", "2999-01-01T00:00:00Z")
        .await;
    assert_eq!(app.get(DEMO, "/v1/users", Some(&token)).await.status, 200);
    app.set("demo", "LEGACY_TOKENS_UNTIL", "2020-01-01T00:00:00Z")
        .await;
    assert_eq!(app.get(DEMO, "/v1/users", Some(&token)).await.status, 401);
    let bad = app.cli(&["tenant", "set", "demo", "LEGACY_TOKENS_UNTIL", "next week"]);
    assert!(
        !bad.status.success() && stderr(&bad).contains("RFC 3339"),
        "{}",
        stderr(&bad)
    );
    // Gatehouse's own tokens are unaffected by the cut-off.
    let own = signs_in(&app, DEMO, PASSWORDS[0].0, PASSWORDS[0].1).await;
    assert_eq!(
        app.get(DEMO, "/v1/users", own["token"].as_str())
            .await
            .status,
        200
    );

    // GLOBAL_SECRET_OR_PRIVATE_KEY with GLOBAL_SECRET_ALGORITHM=RS256, on acme.
    use rsa::pkcs1::EncodeRsaPrivateKey;
    let private = rsa::RsaPrivateKey::new(&mut rand_core(), 2048).unwrap();
    let pem = private
        .to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
        .unwrap()
        .to_string();
    let rs_token = tiledesk_server_token(
        Algorithm::RS256,
        &EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
    );
    let pem_file = write(dir.path(), "private.pem", &pem);
    let o = app.cli(&[
        "tenant",
        "import-key",
        "acme",
        "--alg",
        "RS256",
        "--private-key-pem",
        path_str(&pem_file),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(status_becomes(&app, ACME, &rs_token, 200).await, 200);
    // The HS256 token of demo's key is still refused on acme.
    assert_eq!(app.get(ACME, "/v1/users", Some(&token)).await.status, 401);
}

fn rand_core() -> rsa::rand_core::OsRng {
    rsa::rand_core::OsRng
}

async fn appmixer_records_sign_in_through_user_auth(app: TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let hash = bcrypt::hash("appmixer-pw", 10).unwrap();
    let records = json!([
        {"_id": {"$oid": "5e0a1b2c3d4e5f6a7b8c9d01"}, "username": "Designer", "email": "Designer@Example.com",
         "password": hash, "scope": ["user", "admin"], "plan": "enterprise", "isActive": true,
         "created": {"$date": "2020-05-06T07:08:09.000Z"}},
        {"_id": {"$oid": "5e0a1b2c3d4e5f6a7b8c9d02"}, "username": "op@example.com",
         "password": hash, "scope": ["user"], "plan": "free",
         "created": {"$date": {"$numberLong": "1588748889000"}}}
    ]);
    let file = write(
        dir.path(),
        "appmixer-users.json",
        &serde_json::to_string_pretty(&records).unwrap(),
    );
    let o = app.cli(&[
        "import",
        "appmixer",
        "--tenant",
        "demo",
        "--users",
        path_str(&file),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("users: 2 imported"), "{}", stdout(&o));
    for (login, id) in [
        ("designer", "5e0a1b2c3d4e5f6a7b8c9d01"),
        ("designer@example.com", "5e0a1b2c3d4e5f6a7b8c9d01"),
        ("op@example.com", "5e0a1b2c3d4e5f6a7b8c9d02"),
    ] {
        let token = app
            .token_of(
                DEMO,
                "/user/auth",
                &json!({"username": login, "password": "appmixer-pw"}),
            )
            .await;
        let me = app
            .get(DEMO, "/user", Some(&format!("Bearer {token}")))
            .await;
        assert_eq!(me.status, 200, "{}", me.body);
        assert_eq!(me.json()["id"], id, "{}", me.body);
    }
    let token = app
        .token_of(
            DEMO,
            "/user/auth",
            &json!({"username": "Designer", "password": "appmixer-pw"}),
        )
        .await;
    let me = app
        .get(DEMO, "/user", Some(&format!("Bearer {token}")))
        .await
        .json();
    assert_eq!(
        (&me["email"], &me["scope"], &me["plan"], &me["isActive"]),
        (
            &json!("designer@example.com"),
            &json!(["user", "admin"]),
            &json!("enterprise"),
            &json!(true)
        )
    );
    // The admin scope came along: the admin routes answer.
    let users = app
        .get(DEMO, "/users", Some(&format!("Bearer {token}")))
        .await;
    assert_eq!(users.status, 200, "{}", users.body);
    // spec/appmixer.md: "Unknown user or wrong password: `403` ... Invalid credentials".
    let wrong = app
        .post(
            DEMO,
            "/user/auth",
            &json!({"username": "designer", "password": "nope-nope"}),
        )
        .await;
    assert_eq!(wrong.status, 403, "{}", wrong.body);
}

/// Runs the CLI and returns its output with the peak resident memory it reached (VmHWM, KiB).
fn cli_with_peak_rss(app: &TestApp, args: &[&str]) -> (std::process::Output, u64) {
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("--config")
        .arg(&app.config_path)
        .args(args)
        .env("RUST_LOG", "warn")
        .env_remove("GATEHOUSE_CONFIG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("gatehouse runs");
    let status_path = format!("/proc/{}/status", child.id());
    let (tx, rx) = std::sync::mpsc::channel();
    let watcher = std::thread::spawn(move || {
        let mut peak = 0;
        while rx.try_recv().is_err() {
            if let Ok(text) = std::fs::read_to_string(&status_path) {
                let hwm = text
                    .lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok());
                peak = peak.max(hwm.unwrap_or(0));
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        peak
    });
    let out = child.wait_with_output().expect("gatehouse finishes");
    let _ = tx.send(());
    (out, watcher.join().unwrap())
}

async fn bad_files_are_refused_line_by_line_and_the_rest_imported(app: TestApp) {
    let dir = tempfile::tempdir().unwrap();
    // Someone already has zed@example.com in this tenant.
    let r = app
        .post(
            DEMO,
            "/v1/auth/signup",
            &crate::tiledesk::signup_body("zed@example.com"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let good = |id: &str, email: &str| {
        json!({"_id": {"$oid": id}, "email": email, "password": tiledesk_hash(0)}).to_string()
    };
    let lines = [
        good("5f1b2c3d4e5f6a7b8c9d0e11", "one@example.com"), // 1
        "{\"_id\": {\"$oid\": \"5f1b2c3d4e5f6a7b8c9d0e12\"}, \"email\": ".into(), // 2 malformed
        json!({"_id": "5f1b2c3d4e5f6a7b8c9d0e13", "password": tiledesk_hash(0)}).to_string(), // 3
        good("5f1b2c3d4e5f6a7b8c9d0e14", "ONE@example.com"), // 4 duplicate
        json!({"_id": "5f1b2c3d4e5f6a7b8c9d0e15", "email": "md5@example.com",
               "password": "5f4dcc3b5aa765d61d8327deb882cf99"})
        .to_string(), // 5 unknown hash
        good("5f1b2c3d4e5f6a7b8c9d0e16", "zed@example.com"), // 6 taken
        good("not-an-object-id", "odd@example.com"),         // 7
        String::new(),                                       // 8 blank
        good("5f1b2c3d4e5f6a7b8c9d0e19", "two@example.com"), // 9
    ];
    let path = dir.path().join("bad-users.json");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&path).unwrap();
        f.write_all(lines.join("\n").as_bytes()).unwrap();
        // Line 10: two gigabytes without a newline (a sparse file: no disk is used), then line 11.
        f.write_all(b"\n{\"_id\": \"").unwrap();
        let len = f.metadata().unwrap().len();
        f.set_len(len + 2 * 1024 * 1024 * 1024).unwrap();
        use std::io::Seek;
        f.seek(std::io::SeekFrom::End(0)).unwrap();
        f.write_all(
            format!(
                "\n{}\n",
                good("5f1b2c3d4e5f6a7b8c9d0e1b", "three@example.com")
            )
            .as_bytes(),
        )
        .unwrap();
    }
    // --skip-invalid: the good records go in (without it nothing would: moving.rs).
    let args = [
        "import",
        "tiledesk",
        "--tenant",
        "demo",
        "--users",
        path_str(&path),
        "--skip-invalid",
    ];
    let (o, peak_kib) = cli_with_peak_rss(&app, &args);
    assert!(
        !o.status.success(),
        "refusals must make the exit code non-zero"
    );
    let err = stderr(&o);
    for (line, needle) in [
        (2, "not JSON"),
        (3, "no email"),
        (4, "duplicate email one@example.com (first on line 1)"),
        (5, "neither bcrypt"),
        (6, "email zed@example.com belongs to another account"),
        (7, "not an ObjectId"),
        (10, "longer than"),
    ] {
        let want = format!("bad-users.json line {line}: ");
        let found = err.lines().find(|l| l.contains(&want));
        assert!(
            found.is_some_and(|l| l.contains(needle)),
            "line {line} lacks {needle}: {err}"
        );
    }
    assert!(err.contains("7 records refused"), "{err}");
    assert!(stdout(&o).contains("users: 3 imported"), "{}", stdout(&o));
    // The 2 GB line was never held: the importer stayed well under 200 MB.
    assert!(peak_kib < 200 * 1024, "peak RSS {peak_kib} KiB");
    for email in ["one@example.com", "two@example.com", "three@example.com"] {
        signs_in(&app, DEMO, email, PASSWORDS[0].1).await;
    }
    let demo = app.tenant("demo").await;
    assert_eq!(app.core.count_users(&demo).await.unwrap(), 4);

    // Members of a user or project that is not there are refused; nothing else is written.
    let members = write(
        dir.path(),
        "members.json",
        &json!({"_id": "7a1b2c3d4e5f6a7b8c9d0e09", "id_project": PROJECT_ID, "id_user": ANN_ID,
                "role": "owner"})
        .to_string(),
    );
    let users = write(dir.path(), "none.json", "");
    let o = app.cli(&[
        "import",
        "tiledesk",
        "--tenant",
        "demo",
        "--users",
        path_str(&users),
        "--project-users",
        path_str(&members),
    ]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains(
            "members.json line 1: project 6a1b2c3d4e5f6a7b8c9d0e01 is not in this tenant"
        ),
        "{}",
        stderr(&o)
    );
    // A missing file: one line.
    let o = app.cli(&[
        "import",
        "appmixer",
        "--tenant",
        "demo",
        "--users",
        "/nonexistent/users.json",
    ]);
    assert!(!o.status.success());
    assert_eq!(stderr(&o).trim_end().lines().count(), 1, "{}", stderr(&o));
}

/// Exports `from` and imports the file into `slug` of `to` (which may be another deployment).
fn export_then_import(from: &TestApp, to: &TestApp, slug: &str, dir: &Path) -> String {
    let file = dir.join(format!("export-{}.jsonl", uuid::Uuid::new_v4().simple()));
    let o = from.cli(&["export", "--tenant", "demo", "--out", path_str(&file)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("exported 4 users, 1 projects, 3 members"),
        "{}",
        stdout(&o)
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
    let o = to.cli(&[
        "import",
        "gatehouse",
        "--tenant",
        slug,
        "--file",
        path_str(&file),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("users: 4 imported"), "{}", stdout(&o));
    std::fs::read_to_string(&file).unwrap()
}

async fn everyone_signs_in_with_the_same_id(
    app: &TestApp,
    host: &str,
    ids: &[(String, String, String)],
) {
    for (email, pw, id) in ids {
        let j = signs_in(app, host, email, pw).await;
        assert_eq!(&j["user"]["_id"], id, "{email}");
    }
    let token = custom(
        JWT_SECRET,
        &json!({"_id": "ext-9", "sub": "userexternal", "aud": aud(PROJECT_ID)}),
    );
    assert_eq!(exchange(app, host, "/v3", &token).await.status, 200);
}

async fn an_export_imports_into_another_tenant_and_across_backends(app: TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let o = import_tiledesk(&app, "demo", dir.path(), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (_, zed_id) = crate::tiledesk::agent(&app, DEMO, "zed@example.com").await;
    app.set("demo", "SIGNIN_MAX_FAILURES", "7").await;
    let mut ids: Vec<(String, String, String)> = [(0, ANN_ID), (1, BOB_ID)]
        .iter()
        .map(|(n, id)| {
            (
                PASSWORDS[*n].0.into(),
                PASSWORDS[*n].1.into(),
                id.to_string(),
            )
        })
        .collect();
    ids.push((
        "zed@example.com".into(),
        crate::tiledesk::PASSWORD.into(),
        zed_id,
    ));

    // Into another tenant of the same deployment.
    let text = export_then_import(&app, &app, "acme", dir.path());
    assert!(!text.contains("\"password\""), "only hashes leave");
    // Each side is on record (issue 13.6): the export in demo's audit log, the import in acme's.
    for (slug, kind) in [("demo", "export"), ("acme", "import")] {
        let o = app.cli(&["audit", "--tenant", slug, "--kind", kind, "--json"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let out = String::from_utf8_lossy(&o.stdout).to_string();
        assert_eq!(
            out.matches(&format!("\"kind\":\"{kind}\"")).count(),
            1,
            "{out}"
        );
    }
    everyone_signs_in_with_the_same_id(&app, ACME, &ids).await;
    let acme = app.tenant("acme").await;
    assert_eq!(
        acme.stored_settings
            .get("SIGNIN_MAX_FAILURES")
            .map(String::as_str),
        Some("7")
    );
    // Exporting is repeatable and reads back the same records (but for the time, and the external
    // user's membership that the custom token above made in acme).
    let strip = |t: &str| t.lines().skip(1).collect::<Vec<_>>().join("\n");
    let file = dir.path().join("again.jsonl");
    let o = app.cli(&["export", "--tenant", "acme", "--out", path_str(&file)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let again = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        strip(&again)
            .lines()
            .filter(|l| !l.contains("\"setting\""))
            .count(),
        strip(&text)
            .lines()
            .filter(|l| !l.contains("\"setting\""))
            .count()
            + 1
    );
    assert!(again.contains("ext:ext-9"), "{again}");
    // An existing file is not overwritten; stdout gets the export when there is no --out.
    let o = app.cli(&["export", "--tenant", "acme", "--out", path_str(&file)]);
    assert!(!o.status.success());
    let o = app.cli(&["export", "--tenant", "acme"]);
    assert!(
        o.status.success() && stdout(&o).lines().count() > 5,
        "{}",
        stderr(&o)
    );

    // Into the other backend: SQLite -> PostgreSQL, and PostgreSQL -> SQLite.
    let other = match app.backend {
        Backend::Sqlite => Backend::Postgres,
        Backend::Postgres => Backend::Sqlite,
    };
    let Some(there) = spawn_app(other, "").await else {
        eprintln!("skipped the cross-backend half: no PostgreSQL server");
        return;
    };
    export_then_import(&app, &there, "demo", dir.path());
    everyone_signs_in_with_the_same_id(&there, DEMO, &ids).await;
}

on_both!(
    a_tiledesk_mongoexport_signs_in_with_its_passwords_ids_and_secret,
    legacy_tiledesk_tokens_verify_after_import_key_until_the_cut_off,
    appmixer_records_sign_in_through_user_auth,
    bad_files_are_refused_line_by_line_and_the_rest_imported,
    an_export_imports_into_another_tenant_and_across_backends,
);

/// The official npm client, `@tiledesk/tiledesk-client`, signs an imported agent in with the
/// password it had on tiledesk-server and gets the imported `_id` back (SQLite; skipped without node).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_npm_client_signs_an_imported_agent_in() {
    use std::process::Command;
    if Command::new("node").arg("--version").output().is_err() {
        eprintln!("skipped: node is not on PATH");
        return;
    }
    let client_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/tiledesk-client");
    if !client_dir
        .join("node_modules/@tiledesk/tiledesk-client")
        .exists()
    {
        let out = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&client_dir)
            .output()
            .expect("npm runs");
        assert!(
            out.status.success(),
            "npm ci failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let app = spawn_app(Backend::Sqlite, "").await.expect("app");
    let dir = tempfile::tempdir().unwrap();
    let o = import_tiledesk(&app, "demo", dir.path(), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let custom_token = custom(
        JWT_SECRET,
        &json!({"_id": "npm-ext-1", "sub": "userexternal", "aud": aud(PROJECT_ID), "exp": now() + 600}),
    );
    let port = app.port;
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg("client-test.js")
            .current_dir(&client_dir)
            .env("GATEHOUSE_API_URL", format!("http://127.0.0.1:{port}/v3"))
            .env("AGENT_EMAIL", PASSWORDS[0].0)
            .env("AGENT_PASSWORD", PASSWORDS[0].1)
            .env("EXPECT_USER_ID", ANN_ID)
            .env("PROJECT_ID", PROJECT_ID)
            .env("CUSTOM_TOKEN", custom_token)
            .env("EXTERNAL_ID", "npm-ext-1")
            .output()
    })
    .await
    .unwrap()
    .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "client-test.js failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("the imported _id came back"), "{stdout}");
    assert!(stdout.contains("all tiledesk-client checks passed"));
    drop(app);
}
