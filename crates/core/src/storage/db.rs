//! The connection pool and the one way to use it: `Db::run`, which checks out a connection on the
//! blocking pool, so no async worker ever waits on a query.

use crate::error::{CoreError, CoreResult};
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

/// A database URL with its backend chosen from the scheme, so that a bad PostgreSQL URL reports
/// its real cause instead of MultiConnection's "tried every backend".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbUrl {
    Sqlite(String),
    Postgres(String),
}

impl DbUrl {
    pub fn parse(url: &str) -> CoreResult<DbUrl> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(DbUrl::Postgres(url.to_owned()))
        } else if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(CoreError::invalid(
                    "database.url",
                    "sqlite:// needs a file path",
                ));
            }
            Ok(DbUrl::Sqlite(path.to_owned()))
        } else {
            Err(CoreError::invalid(
                "database.url",
                format!(
                    "'{}' is not a database URL: use sqlite://FILE, sqlite:///ABS/PATH or postgres://USER@HOST:PORT/DB",
                    redact(url)
                ),
            ))
        }
    }

    /// The URL without a password, fit for logs and error messages.
    pub fn display(&self) -> String {
        match self {
            DbUrl::Sqlite(path) => format!("sqlite://{path}"),
            DbUrl::Postgres(url) => redact(url),
        }
    }
}

fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..scheme_end + 3], user, &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

pub struct Manager {
    url: DbUrl,
    connect_timeout: Duration,
}

/// libpq parameters that keep a silent network from hanging a connection: a connect timeout, and
/// TCP keepalives that notice a dead peer in about 25 seconds. Parameters the URL sets win.
pub(crate) fn with_pg_defaults(url: &str, connect_timeout: Duration) -> String {
    let mut params = Vec::new();
    if !url.contains("connect_timeout=") {
        params.push(format!(
            "connect_timeout={}",
            connect_timeout.as_secs().max(2)
        ));
    }
    if !url.contains("keepalives") {
        params.push(
            "keepalives=1&keepalives_idle=10&keepalives_interval=5&keepalives_count=3".into(),
        );
    }
    if params.is_empty() {
        return url.to_owned();
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{}", params.join("&"))
}

/// A pooled connection and whether a failure on it showed it broken (then the pool drops it).
pub struct PooledConn {
    conn: AnyConnection,
    broken: bool,
}

impl r2d2::ManageConnection for Manager {
    type Connection = PooledConn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<PooledConn, Self::Error> {
        let conn = match &self.url {
            DbUrl::Postgres(url) => {
                PgConnection::establish(&with_pg_defaults(url, self.connect_timeout))
                    .map(AnyConnection::Postgresql)
                    .map_err(diesel::r2d2::Error::ConnectionError)
            }
            DbUrl::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(path)
                    .map_err(diesel::r2d2::Error::ConnectionError)?;
                // WAL lets readers run beside the one writer; busy_timeout makes a second writer
                // (another connection, or the CLI beside a running server) wait instead of failing.
                conn.batch_execute(
                    "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
                )
                .map_err(diesel::r2d2::Error::QueryError)?;
                Ok(AnyConnection::Sqlite(conn))
            }
        }?;
        Ok(PooledConn {
            conn,
            broken: false,
        })
    }

    fn is_valid(&self, conn: &mut PooledConn) -> Result<(), Self::Error> {
        conn.conn
            .batch_execute("SELECT 1")
            .map_err(diesel::r2d2::Error::QueryError)
    }

    /// Asked when a connection goes back to the pool: one that failed and then did not answer a
    /// `SELECT 1` (see `Db::run`), or whose transaction state is broken, is dropped and replaced.
    /// Nothing is asked at checkout, so the hot path pays no validation query.
    fn has_broken(&self, conn: &mut PooledConn) -> bool {
        use diesel::r2d2::R2D2Connection;
        conn.broken || conn.conn.is_broken()
    }
}

pub type Pool = r2d2::Pool<Manager>;

#[derive(Clone)]
pub struct Db {
    pool: Pool,
    url: DbUrl,
    /// The longest a caller waits for `run`: a checkout plus a query. Past it the caller gets
    /// `Unavailable` (the blocking thread finishes or fails on its own, by keepalive or busy_timeout).
    op_timeout: Duration,
    /// How many times `run` was called: lets a test prove a path makes no database call.
    calls: Arc<AtomicU64>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Db({})", self.url.display())
    }
}

impl Db {
    /// Opens the pool and checks that one connection can be made within `timeout`.
    /// Runs on the calling thread: call it at start-up, not from an async worker.
    pub fn connect(url: &str, pool_size: u32, timeout: Duration) -> CoreResult<Db> {
        let url = DbUrl::parse(url)?;
        if let DbUrl::Sqlite(path) = &url {
            create_private_sqlite(path)?;
        }
        // min_idle 0: connections are made when asked for, never by r2d2's background threads on
        // their own. A background connect (a TLS handshake in libpq) still running when a short
        // CLI command exits races OpenSSL's exit-time cleanup and crashes the process.
        let pool = r2d2::Pool::builder()
            .max_size(pool_size.max(1))
            .min_idle(Some(0))
            .connection_timeout(timeout)
            .test_on_check_out(false)
            .error_handler(Box::new(QuietErrors))
            .build_unchecked(Manager {
                url: url.clone(),
                connect_timeout: timeout,
            });
        // The start-up check: one connection within `timeout`, or a clear error.
        pool.get().map_err(|e| {
            CoreError::Unavailable(format!("cannot connect to {}: {e}", url.display()))
        })?;
        Ok(Db {
            pool,
            url,
            op_timeout: timeout + Duration::from_secs(10),
            calls: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Runs `f` with a pooled connection on the blocking pool.
    pub async fn run<T, F>(&self, f: F) -> CoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut AnyConnection) -> CoreResult<T> + Send + 'static,
    {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let pool = self.pool.clone();
        let task = tokio::task::spawn_blocking(move || {
            let mut pooled = pool.get()?;
            let result = f(&mut pooled.conn);
            if matches!(
                result,
                Err(CoreError::Unavailable(_) | CoreError::Internal(_))
            ) && pooled.conn.batch_execute("SELECT 1").is_err()
            {
                // The failure was the connection's: the pool replaces it instead of lending it again.
                pooled.broken = true;
            }
            result
        });
        match tokio::time::timeout(self.op_timeout, task).await {
            Ok(joined) => {
                joined.map_err(|e| CoreError::Internal(format!("database task failed: {e}")))?
            }
            Err(_) => Err(CoreError::Unavailable(format!(
                "the database did not answer within {} s",
                self.op_timeout.as_secs()
            ))),
        }
    }

    /// Runs `f` with a pooled connection on the calling thread: only for core's own background
    /// threads (the audit writer), never from an async worker.
    pub(crate) fn run_here<T>(
        &self,
        f: impl FnOnce(&mut AnyConnection) -> CoreResult<T>,
    ) -> CoreResult<T> {
        let mut pooled = self.pool.get()?;
        f(&mut pooled.conn)
    }

    /// Database calls made through this pool so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    pub fn url(&self) -> &DbUrl {
        &self.url
    }

    /// Applies pending migrations. On PostgreSQL an advisory lock keeps nodes that start together
    /// from migrating at once.
    pub async fn migrate(&self) -> CoreResult<()> {
        self.run(|conn| {
            let result = match conn {
                AnyConnection::Postgresql(c) => {
                    c.batch_execute("SELECT pg_advisory_lock(7246801)")?;
                    let r = c.run_pending_migrations(MIGRATIONS).map(|_| ());
                    c.batch_execute("SELECT pg_advisory_unlock(7246801)")?;
                    r
                }
                AnyConnection::Sqlite(c) => c.run_pending_migrations(MIGRATIONS).map(|_| ()),
            };
            result.map_err(|e| CoreError::Internal(format!("migration failed: {e}")))
        })
        .await
    }

    /// One round trip to the database; what `/readyz` asks.
    pub async fn ping(&self) -> CoreResult<()> {
        self.run(|conn| Ok(conn.batch_execute("SELECT 1")?)).await
    }
}

/// Creates a missing SQLite file with mode 0600 before SQLite opens it: it holds password hashes
/// and sealed secrets, and SQLite gives its `-wal` and `-shm` files the database file's mode.
/// An existing file keeps the mode its operator gave it.
fn create_private_sqlite(path: &str) -> CoreResult<()> {
    let file = std::path::Path::new(path);
    if path.contains(":memory:") || path.starts_with("file:") || file.exists() {
        return Ok(());
    }
    match crate::master_key::create_private(file) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(CoreError::Unavailable(format!("cannot create {path}: {e}"))),
    }
}

/// r2d2 logs every failed connection attempt at error level; a database that is down is reported
/// once per request as 503 instead, so these go to debug.
#[derive(Debug)]
struct QuietErrors;

impl r2d2::HandleError<diesel::r2d2::Error> for QuietErrors {
    fn handle_error(&self, error: diesel::r2d2::Error) {
        log::debug!("database connection: {error}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_urls_get_a_connect_timeout_and_keepalives_unless_they_set_them() {
        let t = Duration::from_secs(5);
        assert_eq!(
            with_pg_defaults("postgres://u@h/db", t),
            "postgres://u@h/db?connect_timeout=5&keepalives=1&keepalives_idle=10&keepalives_interval=5&keepalives_count=3"
        );
        assert_eq!(
            with_pg_defaults(
                "postgres://u@h/db?sslmode=disable&connect_timeout=1&keepalives=0",
                t
            ),
            "postgres://u@h/db?sslmode=disable&connect_timeout=1&keepalives=0"
        );
    }

    #[test]
    fn urls_choose_their_backend_by_scheme() {
        assert_eq!(
            DbUrl::parse("sqlite://gatehouse.db").unwrap(),
            DbUrl::Sqlite("gatehouse.db".into())
        );
        assert_eq!(
            DbUrl::parse("sqlite:///var/x.db").unwrap(),
            DbUrl::Sqlite("/var/x.db".into())
        );
        assert!(DbUrl::parse("postgres://u@h:5432/db")
            .unwrap()
            .display()
            .contains("u@h"));
        assert!(DbUrl::parse("mysql://x").is_err());
        assert_eq!(
            DbUrl::parse("postgres://u:pw@h/db").unwrap().display(),
            "postgres://u:***@h/db"
        );
    }
}
