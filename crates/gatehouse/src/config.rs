//! Configuration, layered with the `config` crate: the embedded `config/default.toml`, then the
//! file named by `--config` or `GATEHOUSE_CONFIG`, then `GATEHOUSE__SECTION__KEY` variables.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The embedded default configuration; its comments are the documentation of every key (see
/// `reference`, which renders them into docs/reference.md).
pub const DEFAULT_TOML: &str = include_str!("../../../config/default.toml");

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    #[serde(default)]
    pub hashing: HashingConfig,
    pub tenants: TenantsConfig,
    #[serde(default)]
    pub secrets: SecretsConfig,
    #[serde(default)]
    pub mail: MailConfig,
    #[serde(default)]
    pub outbound: OutboundConfig,
}

/// Where this node may connect on a tenant's behalf (see gatehouse_core::outbound).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct OutboundConfig {
    /// `host` or `host:port` entries (names, `*.suffix` names, addresses, networks) the node may
    /// connect to even when they are loopback, private or otherwise not public.
    pub allowed_hosts: Vec<String>,
    /// Whether public hosts are allowed without being listed.
    pub allow_public: bool,
    /// The longest a name lookup, then a TCP connection, may take (milliseconds).
    pub connect_timeout_ms: u64,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        OutboundConfig {
            allowed_hosts: Vec::new(),
            allow_public: true,
            connect_timeout_ms: 5_000,
        }
    }
}

impl OutboundConfig {
    pub fn options(&self) -> gatehouse_core::outbound::OutboundOptions {
        gatehouse_core::outbound::OutboundOptions {
            allowed_hosts: self.allowed_hosts.clone(),
            allow_public: self.allow_public,
            connect_timeout: std::time::Duration::from_millis(self.connect_timeout_ms.max(1)),
        }
    }
}

/// The mail sender of this node (see gatehouse_core::mail).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct MailConfig {
    /// Whether this node drains the outbox (every node may; each mail goes once).
    pub sender: bool,
    /// How often the sender looks for due mail, in milliseconds.
    pub poll_ms: u64,
    /// The wait after a first failed attempt (milliseconds); it doubles up to a minute.
    pub retry_base_ms: u64,
    /// Attempts before a mail is given up (dead).
    pub max_attempts: u32,
    /// The longest one SMTP conversation may take (connecting included).
    pub send_timeout_seconds: u64,
    /// Mails this node sends at once, every tenant together.
    pub max_in_flight: usize,
    /// Mails of one tenant this node sends at once (a tenant whose server hangs holds no more).
    pub per_tenant_in_flight: usize,
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            sender: true,
            poll_ms: 1_000,
            retry_base_ms: 2_000,
            max_attempts: 8,
            send_timeout_seconds: 10,
            max_in_flight: 16,
            per_tenant_in_flight: 2,
        }
    }
}

impl MailConfig {
    pub fn options(&self) -> gatehouse_core::mail::MailOptions {
        use std::time::Duration;
        gatehouse_core::mail::MailOptions {
            enabled: self.sender,
            poll_interval: Duration::from_millis(self.poll_ms.max(10)),
            retry_base: Duration::from_millis(self.retry_base_ms.max(10)),
            max_attempts: self.max_attempts.max(1),
            send_timeout: Duration::from_secs(self.send_timeout_seconds.max(1)),
            max_in_flight: self.max_in_flight.max(1),
            per_tenant_in_flight: self.per_tenant_in_flight.max(1),
        }
    }
}

/// Where the master key that seals secrets at rest is read from, below `GATEHOUSE_MASTER_KEY` and
/// `GATEHOUSE_MASTER_KEY_FILE` (see gatehouse_core::master_key).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct SecretsConfig {
    #[serde(default)]
    pub master_key_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ServerConfig {
    pub bind: String,
    #[serde(default)]
    pub trust_forwarded_host: bool,
    #[serde(default)]
    pub trust_forwarded_for: bool,
    #[serde(default = "default_shutdown")]
    pub shutdown_timeout_seconds: u64,
    /// Async worker threads (0 or absent: one per CPU).
    #[serde(default)]
    pub workers: usize,
    /// Proxies in front that append to X-Forwarded-For / -Host; the entry this many from the right
    /// is taken (the one the outermost trusted proxy wrote).
    #[serde(default = "default_trusted_hops")]
    pub trusted_hops: usize,
    /// The listener for `/metrics` ("" turns it off).
    #[serde(default = "default_metrics_bind")]
    pub metrics_bind: String,
    /// The listener for the operator API and console ("" turns it off).
    #[serde(default = "default_admin_bind")]
    pub admin_bind: String,
    /// A request body must arrive whole within this many seconds (else 408).
    #[serde(default = "default_body_timeout")]
    pub body_timeout_seconds: u64,
    /// The largest request body read (else 413); the facades keep their own smaller limits.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    /// Requests in flight at once from one client address (0 turns the cap off).
    #[serde(default = "default_max_in_flight_per_ip")]
    pub max_in_flight_per_ip: usize,
    /// Open connections per worker thread; keep workers x this under the open-file limit.
    #[serde(default = "default_max_connections_per_worker")]
    pub max_connections_per_worker: usize,
    /// Every this many seconds the heap's free pages are given back to the system (glibc's
    /// `malloc_trim`; see gatehouse_core::heap); 0 turns it off.
    #[serde(default = "default_heap_trim_seconds")]
    pub heap_trim_seconds: u64,
}

fn default_heap_trim_seconds() -> u64 {
    gatehouse_core::heap::TRIM_EVERY.as_secs()
}

fn default_shutdown() -> u64 {
    30
}

fn default_trusted_hops() -> usize {
    1
}

fn default_metrics_bind() -> String {
    "127.0.0.1:9464".to_owned()
}

fn default_admin_bind() -> String {
    "127.0.0.1:8081".to_owned()
}

fn default_body_timeout() -> u64 {
    10
}

fn default_max_body_bytes() -> usize {
    1024 * 1024
}

fn default_max_in_flight_per_ip() -> usize {
    64
}

fn default_max_connections_per_worker() -> usize {
    256
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct DatabaseConfig {
    pub url: String,
    pub pool_size: u32,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_seconds: u64,
    /// On PostgreSQL, the role `serve` works as (SET ROLE), bound by row-level security; "" serves
    /// as the login role of `url` (no row-level security). The CLI always works as the login role.
    #[serde(default = "default_app_role")]
    pub app_role: String,
}

fn default_app_role() -> String {
    gatehouse_core::storage::APP_ROLE.to_owned()
}

fn default_connect_timeout() -> u64 {
    5
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

impl DatabaseConfig {
    /// `pool_size`, or with 0 two connections per core (at least 4): token checks no longer queue
    /// for connections (the view answers them), so the pool serves sign-ins and writes, which
    /// spend most of their time hashing, not holding a connection.
    pub fn effective_pool_size(&self) -> u32 {
        match self.pool_size {
            0 => (2 * cores()).max(4) as u32,
            n => n,
        }
    }
}

impl HashingConfig {
    /// `threads`, or with 0 one per core.
    pub fn effective_threads(&self) -> usize {
        match self.threads {
            0 => cores(),
            n => n,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct HashingConfig {
    /// Threads that may run bcrypt at once (0: one per CPU).
    pub threads: usize,
    /// The highest `BCRYPT_COST` a tenant may set (4 to 31); a higher stored value is clamped.
    pub max_cost: u32,
    /// How long a sign-in may wait for a hashing thread before it answers 503.
    pub queue_timeout_ms: u64,
    /// Threads one tenant may hold at once (0: half of `threads`, rounded up).
    pub tenant_share: usize,
    /// The most memory (KiB) a tenant's ARGON2_MEMORY_KIB may ask for; hashing holds at most
    /// `threads` x this.
    pub max_argon2_memory_kib: u32,
    /// The most ARGON2_ITERATIONS a tenant may ask for.
    pub max_argon2_iterations: u32,
    /// How much lower the hashing threads' CPU priority is (0 to 19; 0 keeps the server's).
    pub nice: i32,
}

impl Default for HashingConfig {
    fn default() -> Self {
        HashingConfig {
            threads: 0,
            max_cost: 14,
            queue_timeout_ms: 3_000,
            tenant_share: 0,
            max_argon2_memory_kib: 65_536,
            max_argon2_iterations: 10,
            nice: gatehouse_core::hash_pool::DEFAULT_NICE,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct TenantsConfig {
    #[serde(default)]
    pub patterns: Vec<String>,
    pub refresh_seconds: u64,
    #[serde(default)]
    pub bootstrap: Vec<BootstrapTenant>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct BootstrapTenant {
    pub slug: String,
    pub name: Option<String>,
    #[serde(default)]
    pub hosts: Vec<String>,
    #[serde(default)]
    pub apis: Vec<String>,
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {0}: not found")]
    Missing(PathBuf),
    #[error("config file {path}: {message}")]
    Invalid { path: String, message: String },
}

impl Config {
    /// The embedded default alone: no file, no environment (what docs/reference.md shows).
    pub fn embedded_default() -> Result<Config, ConfigError> {
        config::Config::builder()
            .add_source(config::File::from_str(
                DEFAULT_TOML,
                config::FileFormat::Toml,
            ))
            .build()
            .and_then(config::Config::try_deserialize)
            .map_err(|e| ConfigError::Invalid {
                path: "config/default.toml (embedded)".to_owned(),
                message: e.to_string().replace('\n', " "),
            })
    }

    /// Loads the layers. `file` is `--config` (which wins over `GATEHOUSE_CONFIG`).
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let env_file = std::env::var_os("GATEHOUSE_CONFIG").map(PathBuf::from);
        let file = file.map(Path::to_path_buf).or(env_file);
        let mut builder = config::Config::builder().add_source(config::File::from_str(
            DEFAULT_TOML,
            config::FileFormat::Toml,
        ));
        let origin = match &file {
            Some(path) => {
                if !path.is_file() {
                    return Err(ConfigError::Missing(path.clone()));
                }
                builder = builder.add_source(
                    config::File::from(path.as_path())
                        .format(config::FileFormat::Toml)
                        .required(true),
                );
                path.display().to_string()
            }
            None => "config/default.toml (embedded)".to_owned(),
        };
        builder = builder.add_source(
            config::Environment::with_prefix("GATEHOUSE")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true),
        );
        let invalid = |e: config::ConfigError| ConfigError::Invalid {
            path: origin.clone(),
            message: e.to_string().replace('\n', " "),
        };
        builder
            .build()
            .map_err(invalid)?
            .try_deserialize()
            .map_err(invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn the_embedded_default_serves_a_demo_tenant_on_sqlite() {
        let c = Config::load(None).unwrap();
        assert_eq!(c.server.bind, "127.0.0.1:8080");
        assert_eq!(c.database.url, "sqlite://gatehouse.db");
        assert_eq!(c.tenants.refresh_seconds, 5);
        assert_eq!(c.tenants.bootstrap[0].slug, "demo");
        assert_eq!(c.server.metrics_bind, "127.0.0.1:9464");
        assert_eq!(c.server.trusted_hops, 1);
        assert_eq!(c.server.body_timeout_seconds, 10);
        assert_eq!(c.server.max_in_flight_per_ip, 64);
        assert_eq!(c.hashing.max_cost, 14);
        assert_eq!(c.hashing.queue_timeout_ms, 3_000);
        assert!(c.outbound.allowed_hosts.is_empty());
        assert!(c.outbound.allow_public);
        assert_eq!(c.outbound.connect_timeout_ms, 5_000);
        assert_eq!(c.mail.per_tenant_in_flight, 2);
    }

    #[test]
    fn a_later_file_replaces_arrays_and_overrides_values() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        writeln!(f, "[tenants]\nbootstrap = []\nrefresh_seconds = 1\n[database]\nurl = \"sqlite:///tmp/x.db\"").unwrap();
        let c = Config::load(Some(f.path())).unwrap();
        assert!(c.tenants.bootstrap.is_empty());
        assert_eq!(c.tenants.refresh_seconds, 1);
        assert_eq!(c.database.url, "sqlite:///tmp/x.db");
    }

    #[test]
    fn missing_and_corrupt_files_name_the_file() {
        let e = Config::load(Some(Path::new("/nonexistent/g.toml"))).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/g.toml"));
        let mut f = tempfile::NamedTempFile::new().unwrap();
        writeln!(f, "[server\nbind = ").unwrap();
        let e = Config::load(Some(f.path())).unwrap_err();
        assert!(
            e.to_string().contains(&f.path().display().to_string()),
            "{e}"
        );
    }
}
