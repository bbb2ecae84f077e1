//! The test harness: `spawn_app` (a server on port 0 over a temp SQLite file or a fresh PostgreSQL
//! database), request helpers that set `Host`, the CLI runner, and `on_both!`, which turns one
//! async test function into a SQLite test and a PostgreSQL test.

use gatehouse::{Application, Config};
use gatehouse_core::tenants::TenantSpec;
use gatehouse_core::{Api, Core, SharedClock, SystemClock, Tenant, TenantSlug};
use reqwest::Method;
use serde_json::Value;
use std::future::Future;
use std::path::PathBuf;
use std::process::Output;
use std::sync::Arc;

/// Hosts of the tenants every test app has.
pub const DEMO: &str = "localhost";
/// `acme` has no host of its own: it is reached through the pattern `api.{tenant}.localhost`.
pub const ACME: &str = "api.acme.localhost";
/// `globex` answers on its own host.
pub const GLOBEX: &str = "globex.test";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server the PostgreSQL variants use: `GATEHOUSE_TEST_POSTGRES` when set (`off`
/// turns the variants off), else the local server at 127.0.0.1:5432 if one answers there.
pub fn postgres_base() -> Option<String> {
    static BASE: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    BASE.get_or_init(|| {
        let chosen = match std::env::var("GATEHOUSE_TEST_POSTGRES") {
            Ok(v) if v.trim().is_empty() || v.trim() == "off" => None,
            Ok(v) => Some(v.trim().to_owned()),
            Err(_) => {
                let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 5432));
                std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_millis(500))
                    .ok()
                    .map(|_| LOCAL_POSTGRES.to_owned())
            }
        };
        // Written past the test harness's capture, once, so a skipped variant is never silent.
        let note = match &chosen {
            Some(url) => format!("gatehouse e2e: PostgreSQL variants run against {url}\n"),
            None => "gatehouse e2e: PostgreSQL variants SKIPPED (no server at 127.0.0.1:5432 and GATEHOUSE_TEST_POSTGRES not set)\n".to_owned(),
        };
        let _ = std::io::Write::write_all(&mut std::io::stderr(), note.as_bytes());
        chosen
    })
    .clone()
}

const LOCAL_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Runs `test` against a fresh app on `backend`; on PostgreSQL without a configured server, says
/// it skipped and passes.
pub async fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    match spawn_app(backend, "").await {
        Some(app) => test(app).await,
        None => eprintln!("skipped the PostgreSQL variant: no PostgreSQL server"),
    }
}

/// `on_both!(my_test);` after `async fn my_test(app: TestApp)` makes `my_test::sqlite` and
/// `my_test::postgres`.
macro_rules! on_both {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                crate::helpers::run(crate::helpers::Backend::Sqlite, super::$name).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                crate::helpers::run(crate::helpers::Backend::Postgres, super::$name).await
            }
        }
    )+};
}

pub struct TestApp {
    pub address: String,
    pub port: u16,
    /// The metrics listener (`server.metrics_bind`), when it is on.
    pub metrics_port: Option<u16>,
    /// The admin listener (`server.admin_bind`: operator API and console), when it is on.
    pub admin_port: Option<u16>,
    pub core: Arc<Core>,
    pub client: reqwest::Client,
    pub backend: Backend,
    pub db_url: String,
    /// The config file this app was started with; the CLI runs with it too.
    pub config_path: PathBuf,
    /// Holds the temp directory (SQLite file, config) for as long as the app lives.
    pub _dir: tempfile::TempDir,
    handle: actix_web::dev::ServerHandle,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Sends the stop command at once; the returned future only waits for completion.
        drop(self.handle.stop(false));
    }
}

/// The test configuration: port 0, a 1-second tenant refresh, bcrypt cost 4, three tenants, and
/// 127.0.0.1 on the outbound list (an `extra` with its own `[outbound]` replaces that).
pub fn test_toml(db_url: &str, extra: &str) -> String {
    format!(
        r#"
[server]
bind = "127.0.0.1:0"
metrics_bind = "127.0.0.1:0"
admin_bind = "127.0.0.1:0"
workers = 1
shutdown_timeout_seconds = 1
[database]
url = "{db_url}"
pool_size = 4
connect_timeout_seconds = 3
[hashing]
threads = 2
{secrets}
[tenants]
patterns = ["api.{{tenant}}.localhost"]
refresh_seconds = 1
[[tenants.bootstrap]]
slug = "demo"
hosts = ["localhost", "127.0.0.1"]
apis = ["tiledesk", "appmixer"]
settings = {{ BCRYPT_COST = "4", PASSWORD_HASH = "bcrypt" }}
[[tenants.bootstrap]]
slug = "acme"
apis = ["tiledesk", "appmixer"]
settings = {{ BCRYPT_COST = "4", PASSWORD_HASH = "bcrypt" }}
[[tenants.bootstrap]]
slug = "globex"
hosts = ["globex.test"]
apis = ["tiledesk", "appmixer"]
settings = {{ BCRYPT_COST = "4", PASSWORD_HASH = "bcrypt" }}
{outbound}
{extra}
"#,
        secrets = if extra.contains("[secrets]") {
            String::new()
        } else {
            secrets_toml(db_url)
        },
        // The tests' SMTP sinks listen on loopback, which the outbound guard refuses unless listed.
        outbound = if extra.contains("[outbound]") {
            ""
        } else {
            "[outbound]\nallowed_hosts = [\"127.0.0.1\"]\n"
        }
    )
}

/// The `[secrets]` table a test config needs. On SQLite none: the first start generates the
/// master key beside the database, where the CLI and a second node find it too. PostgreSQL
/// refuses to start without a key, so every PostgreSQL test (each node, each CLI run) shares one
/// key file.
pub fn secrets_toml(db_url: &str) -> String {
    if db_url.starts_with("postgres") {
        format!(
            "[secrets]\nmaster_key_file = \"{}\"\n",
            test_master_key_file().display()
        )
    } else {
        String::new()
    }
}

/// A master key file for the PostgreSQL tests of this machine, made once (mode 0600).
pub fn test_master_key_file() -> PathBuf {
    static FILE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    FILE.get_or_init(|| {
        let path = std::env::temp_dir().join("gatehouse-e2e-master.key");
        if let Ok(mut f) = gatehouse_core::master_key::create_private(&path) {
            let key = gatehouse_core::sealed::MasterKey::generate_base64();
            std::io::Write::write_all(&mut f, key.as_bytes()).expect("write the test master key");
        }
        path
    })
    .clone()
}

/// A fresh database URL for one test: a temp SQLite file, or a new PostgreSQL database named by a uuid.
pub async fn fresh_db(backend: Backend, dir: &tempfile::TempDir) -> Option<String> {
    match backend {
        Backend::Sqlite => Some(format!(
            "sqlite://{}",
            dir.path().join("gatehouse.db").display()
        )),
        Backend::Postgres => {
            let base = postgres_base()?;
            let name = format!("gatehouse_test_{}", uuid::Uuid::new_v4().simple());
            let create = format!("CREATE DATABASE \"{name}\"");
            let base2 = base.clone();
            tokio::task::spawn_blocking(move || {
                use diesel::{Connection, RunQueryDsl};
                let mut conn = diesel::PgConnection::establish(&base2)
                    .unwrap_or_else(|e| panic!("cannot reach GATEHOUSE_TEST_POSTGRES: {e}"));
                diesel::sql_query(create)
                    .execute(&mut conn)
                    .expect("create test database");
            })
            .await
            .expect("create database task");
            let (prefix, _) = base.rsplit_once('/').expect("postgres URL ends in /DB");
            // Without TLS unless the URL asks for it: apps of finished tests keep background
            // threads (the audit writer, the change listener) with connections open, and libpq's
            // OpenSSL state torn down at process exit under such a thread crashed the test binary
            // after every test had passed (CI, SIGSEGV at exit). Production connections are
            // unchanged: this is the test server on 127.0.0.1.
            let params = if base.contains("sslmode=") {
                ""
            } else {
                "?sslmode=disable"
            };
            Some(format!("{prefix}/{name}{params}"))
        }
    }
}

pub async fn spawn_app(backend: Backend, extra_toml: &str) -> Option<TestApp> {
    let dir = tempfile::tempdir().expect("temp dir");
    let db_url = fresh_db(backend, &dir).await?;
    Some(spawn_app_at(backend, dir, db_url, extra_toml).await)
}

/// Starts an app over an existing database (say, a second node).
pub async fn spawn_app_at(
    backend: Backend,
    dir: tempfile::TempDir,
    db_url: String,
    extra_toml: &str,
) -> TestApp {
    spawn_app_tweaked(backend, dir, db_url, extra_toml, |_| {}).await
}

/// Starts an app whose loaded configuration `tweak` may change first (e.g. `[server]` keys).
pub async fn spawn_app_tweaked(
    backend: Backend,
    dir: tempfile::TempDir,
    db_url: String,
    extra_toml: &str,
    tweak: impl FnOnce(&mut Config),
) -> TestApp {
    let config_path = dir
        .path()
        .join(format!("gatehouse-{}.toml", uuid::Uuid::new_v4().simple()));
    std::fs::write(&config_path, test_toml(&db_url, extra_toml)).expect("write config");
    let mut config = Config::load(Some(&config_path)).expect("test config loads");
    tweak(&mut config);
    start_app(
        backend,
        dir,
        db_url,
        config_path,
        config,
        Arc::new(SystemClock),
    )
    .await
}

/// Starts an app on a fresh database whose core reads time from `clock` (e.g. a `ManualClock`).
pub async fn spawn_app_clocked(
    backend: Backend,
    extra_toml: &str,
    clock: SharedClock,
) -> Option<TestApp> {
    let dir = tempfile::tempdir().expect("temp dir");
    let db_url = fresh_db(backend, &dir).await?;
    let config_path = dir
        .path()
        .join(format!("gatehouse-{}.toml", uuid::Uuid::new_v4().simple()));
    std::fs::write(&config_path, test_toml(&db_url, extra_toml)).expect("write config");
    let config = Config::load(Some(&config_path)).expect("test config loads");
    Some(start_app(backend, dir, db_url, config_path, config, clock).await)
}

async fn start_app(
    backend: Backend,
    dir: tempfile::TempDir,
    db_url: String,
    config_path: PathBuf,
    config: Config,
    clock: SharedClock,
) -> TestApp {
    let app = Application::build_with_clock(config, clock)
        .await
        .expect("app starts");
    let port = app.port();
    let metrics_port = app.metrics_port();
    let admin_port = app.admin_port();
    let core = app.core();
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        metrics_port,
        admin_port,
        core,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        backend,
        db_url,
        config_path,
        _dir: dir,
        handle,
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub body: String,
    pub content_type: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {} body is not JSON ({e}): {}",
                self.status, self.body
            )
        })
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// A request to `path` with `Host: host`.
    pub fn request(&self, method: Method, host: &str, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .header(reqwest::header::HOST, host)
    }

    pub async fn send(&self, rb: reqwest::RequestBuilder) -> Resp {
        let res = rb.send().await.expect("request sent");
        let status = res.status().as_u16();
        let content_type = res
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let body = res.text().await.expect("body read");
        Resp {
            status,
            body,
            content_type,
        }
    }

    pub async fn get(&self, host: &str, path: &str, auth: Option<&str>) -> Resp {
        let mut rb = self.request(Method::GET, host, path);
        if let Some(a) = auth {
            rb = rb.header(reqwest::header::AUTHORIZATION, a);
        }
        self.send(rb).await
    }

    pub async fn json(
        &self,
        method: Method,
        host: &str,
        path: &str,
        body: &Value,
        auth: Option<&str>,
    ) -> Resp {
        let mut rb = self.request(method, host, path).json(body);
        if let Some(a) = auth {
            rb = rb.header(reqwest::header::AUTHORIZATION, a);
        }
        self.send(rb).await
    }

    pub async fn post(&self, host: &str, path: &str, body: &Value) -> Resp {
        self.json(Method::POST, host, path, body, None).await
    }

    pub async fn post_auth(&self, host: &str, path: &str, body: &Value, auth: &str) -> Resp {
        self.json(Method::POST, host, path, body, Some(auth)).await
    }

    /// Signs in through `path` (either dialect's sign-in) and returns the token it answers with
    /// (Tiledesk's with its `JWT ` prefix); fails the test on anything but 200.
    pub async fn token_of(&self, host: &str, path: &str, body: &Value) -> String {
        let r = self.post(host, path, body).await;
        assert_eq!(r.status, 200, "sign-in at {path} failed: {}", r.body);
        r.json()["token"]
            .as_str()
            .unwrap_or_else(|| panic!("no token in {}", r.body))
            .to_owned()
    }

    /// `GET /metrics` on the metrics listener.
    pub async fn metrics(&self) -> Resp {
        let port = self.metrics_port.expect("the metrics listener is on");
        let rb = self.client.get(format!("http://127.0.0.1:{port}/metrics"));
        self.send(rb).await
    }

    /// The tenant as the database has it now.
    pub async fn tenant(&self, slug: &str) -> Arc<Tenant> {
        self.core
            .require_tenant(&TenantSlug::parse(slug).expect("slug"))
            .await
            .expect("tenant exists")
    }

    pub async fn create_tenant(&self, slug: &str, hosts: &[&str], apis: &[Api]) -> Arc<Tenant> {
        let mut spec = TenantSpec::new(TenantSlug::parse(slug).expect("slug"));
        spec.hosts = hosts.iter().map(|h| h.to_string()).collect();
        spec.apis = apis.to_vec();
        spec.settings.insert("BCRYPT_COST".into(), "4".into());
        spec.settings
            .insert("PASSWORD_HASH".into(), "bcrypt".into());
        self.core.create_tenant(spec).await.expect("tenant created")
    }

    /// Sets a tenant setting through core (this node sees it at once).
    pub async fn set(&self, slug: &str, key: &str, value: &str) {
        let t = self.tenant(slug).await;
        self.core
            .set_setting(&t, key, value)
            .await
            .expect("setting stored");
    }

    /// Runs the real `gatehouse` binary with this app's config.
    pub fn cli(&self, args: &[&str]) -> Output {
        cli_with_config(&self.config_path, args)
    }
}

pub fn cli_with_config(config: &std::path::Path, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env("RUST_LOG", "warn")
        .env_remove("GATEHOUSE_CONFIG")
        .output()
        .expect("gatehouse binary runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// What the command said on stderr after its first line, which names the database it acts on
/// (`gatehouse: database ...`; tests/e2e/moving.rs checks that line itself).
pub fn stderr(o: &Output) -> String {
    let all = String::from_utf8_lossy(&o.stderr).into_owned();
    match all.strip_prefix("gatehouse: database ") {
        Some(rest) => rest
            .split_once('\n')
            .map_or(String::new(), |(_, r)| r.to_owned()),
        None => all,
    }
}

/// Polls `check` until it holds or `secs` pass; returns whether it held.
pub async fn eventually<F, Fut>(secs: u64, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    false
}

/// The signup limit counts in fixed one-minute windows. A test that counts requests against it
/// calls this first, so that its requests fall into one window: in the last 10 seconds of a
/// minute it waits for the next one.
pub async fn within_one_rate_window() {
    within_one_rate_window_for(10).await
}

/// As `within_one_rate_window`, for a test whose counted requests may take up to `secs` seconds
/// (a long sequence on a loaded machine).
pub async fn within_one_rate_window_for(secs: i64) {
    let second = chrono::Utc::now().timestamp().rem_euclid(60);
    if second >= 60 - secs {
        let wait = std::time::Duration::from_secs((60 - second) as u64);
        tokio::time::sleep(wait + std::time::Duration::from_millis(200)).await;
    }
}
