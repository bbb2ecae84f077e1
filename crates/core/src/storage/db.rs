//! The connection pool and the ways to use it: `Db::run_tenant` for one tenant's rows and
//! `Db::run_system` for the node's own cross-tenant work. Both check out a connection on the
//! blocking pool, so no async worker ever waits on a query. On PostgreSQL, `serve` works as a role
//! bound by row-level security (migration 000030, docs/security.md): `run_tenant` names the tenant
//! on the connection first, and a query that forgets its tenant filter still sees only that tenant.

use crate::error::{CoreError, CoreResult};
use diesel::connection::SimpleConnection;
use diesel::migration::{Migration, MigrationSource};
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

/// Whose rows a database call may touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// One tenant's: on PostgreSQL the call runs with `gatehouse.tenant_id` set to it, which the
    /// row-level security policies compare every row's `tenant_id` with.
    Tenant(String),
    /// Every tenant's, for the node's own work (the tenant directory, the change feed, pruning,
    /// bootstrap tenants, re-sealing), the CLI and migrations: as the login role of
    /// `database.url`, which owns the tables and is not bound by row-level security.
    System,
}

/// The role `serve` works as on PostgreSQL unless `database.app_role` says otherwise; migration
/// 000030 creates it.
pub const APP_ROLE: &str = "gatehouse_app";

/// Migrations whose name holds this run on PostgreSQL only; SQLite records them as applied.
const POSTGRESQL_ONLY: &str = "postgresql_only";

pub struct Manager {
    url: DbUrl,
    connect_timeout: Duration,
    /// On PostgreSQL, the role each new connection switches to (`SET ROLE`).
    app_role: Option<String>,
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
                let mut conn =
                    PgConnection::establish(&with_pg_defaults(url, self.connect_timeout))
                        .map_err(diesel::r2d2::Error::ConnectionError)?;
                if let Some(role) = &self.app_role {
                    // The role until a call says otherwise (see `with_access`).
                    conn.batch_execute(&format!("SET ROLE \"{role}\""))
                        .map_err(diesel::r2d2::Error::QueryError)?;
                }
                Ok::<_, diesel::r2d2::Error>(AnyConnection::Postgresql(conn))
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
    /// `SELECT 1` (see `Db::run_in`), or whose transaction state is broken, is dropped and replaced.
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
    /// The role connections work as (PostgreSQL `serve`), or None: the login role throughout.
    app_role: Option<String>,
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
        let pool = open_pool(&url, pool_size, timeout, None)?;
        Ok(Db {
            pool,
            url,
            app_role: None,
            op_timeout: timeout + Duration::from_secs(10),
            calls: Arc::new(AtomicU64::new(0)),
        })
    }

    /// On PostgreSQL, a pool whose connections work as `role` (made by migration 000030, so call
    /// this after `migrate`): a role bound by row-level security, checked here. On SQLite, `self`.
    /// Runs on the calling thread, as `connect` does.
    pub fn working_as(self, role: &str) -> CoreResult<Db> {
        if !matches!(self.url, DbUrl::Postgres(_)) {
            return Ok(self);
        }
        let role = valid_role(role)?;
        let size = self.pool.max_size();
        let timeout = self.op_timeout - Duration::from_secs(10);
        let pool = open_pool(&self.url, size, timeout, Some(role.clone())).map_err(|e| {
            CoreError::Unavailable(format!(
                "cannot work as role {role} (database.app_role; \"\" serves as the login role, without row-level security): {e}"
            ))
        })?;
        let mut pooled = pool.get()?;
        let AnyConnection::Postgresql(pg) = &mut pooled.conn else {
            return Err(CoreError::Internal("not a PostgreSQL connection".into()));
        };
        let bypasses: Bypass = diesel::sql_query(
            "SELECT rolsuper OR rolbypassrls AS bypasses FROM pg_roles WHERE rolname = current_user",
        )
        .get_result(pg)?;
        if bypasses.bypasses {
            return Err(CoreError::invalid(
                "database.app_role",
                format!("role {role} is a superuser or has BYPASSRLS: row-level security would not bind it"),
            ));
        }
        drop(pooled);
        Ok(Db {
            pool,
            app_role: Some(role),
            ..self
        })
    }

    /// Runs `f` on one tenant's rows, with a pooled connection on the blocking pool. On
    /// PostgreSQL, working as the app role, the connection names the tenant before `f` runs.
    pub async fn run_tenant<T, F>(&self, tenant_id: &str, f: F) -> CoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut AnyConnection) -> CoreResult<T> + Send + 'static,
    {
        self.run_in(Some(Access::Tenant(tenant_id.to_owned())), f)
            .await
    }

    /// Runs `f` across tenants (see `Access::System`), with a pooled connection on the blocking pool.
    pub async fn run_system<T, F>(&self, f: F) -> CoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut AnyConnection) -> CoreResult<T> + Send + 'static,
    {
        self.run_in(Some(Access::System), f).await
    }

    /// Runs `f` with `access`, with a pooled connection on the blocking pool.
    pub async fn run_as<T, F>(&self, access: Access, f: F) -> CoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut AnyConnection) -> CoreResult<T> + Send + 'static,
    {
        self.run_in(Some(access), f).await
    }

    /// `None`: as the pool's connections are, for statements that read no table.
    async fn run_in<T, F>(&self, access: Option<Access>, f: F) -> CoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut AnyConnection) -> CoreResult<T> + Send + 'static,
    {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let pool = self.pool.clone();
        let app_role = self.app_role.clone();
        let task = tokio::task::spawn_blocking(move || {
            let mut pooled = pool.get()?;
            let result = match access {
                Some(access) => with_access(&mut pooled.conn, &access, app_role.as_deref(), f),
                None => f(&mut pooled.conn),
            };
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

    /// Runs `f` across tenants with a pooled connection on the calling thread: only for core's own
    /// background threads (the audit writer), never from an async worker.
    pub(crate) fn run_here<T>(
        &self,
        f: impl FnOnce(&mut AnyConnection) -> CoreResult<T>,
    ) -> CoreResult<T> {
        let mut pooled = self.pool.get()?;
        with_access(
            &mut pooled.conn,
            &Access::System,
            self.app_role.as_deref(),
            f,
        )
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
    /// Then, on PostgreSQL, row-level security is brought to every tenant-owned table (one a later
    /// migration added too: see migration 000030).
    pub async fn migrate(&self) -> CoreResult<()> {
        self.run_in(None, |conn| {
            let result = match conn {
                AnyConnection::Postgresql(c) => {
                    c.batch_execute("SELECT pg_advisory_lock(7246801)")?;
                    let r = c
                        .run_pending_migrations(MIGRATIONS)
                        .map(|_| ())
                        .and_then(|()| Ok(c.batch_execute(SECURE_TENANT_TABLES)?));
                    c.batch_execute("SELECT pg_advisory_unlock(7246801)")?;
                    r
                }
                AnyConnection::Sqlite(c) => c.run_pending_migrations(ForSqlite).map(|_| ()),
            };
            result.map_err(|e| CoreError::Internal(format!("migration failed: {e}")))
        })
        .await
    }

    /// One round trip to the database; what `/readyz` asks.
    pub async fn ping(&self) -> CoreResult<()> {
        self.run_in(None, |conn| Ok(conn.batch_execute("SELECT 1")?))
            .await
    }
}

/// Opens a pool and checks that one connection can be made within `timeout`.
fn open_pool(
    url: &DbUrl,
    pool_size: u32,
    timeout: Duration,
    app_role: Option<String>,
) -> CoreResult<Pool> {
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
            app_role,
        });
    // The start-up check: one connection within `timeout`, or a clear error.
    pool.get()
        .map_err(|e| CoreError::Unavailable(format!("cannot connect to {}: {e}", url.display())))?;
    Ok(pool)
}

#[derive(QueryableByName)]
struct Bypass {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    bypasses: bool,
}

/// A role name as PostgreSQL folds an unquoted one: it is put into `SET ROLE` as it is.
fn valid_role(role: &str) -> CoreResult<String> {
    let ok = role.len() <= 63
        && role.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && role
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(role.to_owned())
    } else {
        Err(CoreError::invalid(
            "database.app_role",
            format!("'{role}' is not a role name: use lower-case letters, digits and _"),
        ))
    }
}

/// Runs `f` with `access`. On a PostgreSQL pool that works as the app role, each call first
/// sets, for the session, the role and the tenant it runs with (a tenant's call: the app role and
/// `gatehouse.tenant_id`; a system call: back to the login role), in one statement: whatever the
/// connection's previous call set, this call runs as it says. Not a transaction around `f`: a
/// statement of `f` that fails (a unique violation `f` handles) must not abort the ones after it.
/// SQLite has no roles or policies, and the login role is not bound by them: `f` runs as it is,
/// and the queries' own tenant filter is the only one.
fn with_access<T, F>(
    conn: &mut AnyConnection,
    access: &Access,
    app_role: Option<&str>,
    f: F,
) -> CoreResult<T>
where
    F: FnOnce(&mut AnyConnection) -> CoreResult<T>,
{
    if let (AnyConnection::Postgresql(pg), Some(role)) = (&mut *conn, app_role) {
        match access {
            Access::Tenant(id) => {
                diesel::sql_query(
                    "SELECT set_config('role', $1, false), set_config('gatehouse.tenant_id', $2, false)",
                )
                .bind::<diesel::sql_types::Text, _>(role)
                .bind::<diesel::sql_types::Text, _>(id)
                .execute(pg)?;
            }
            Access::System => pg.batch_execute("SET ROLE NONE")?,
        }
    }
    f(conn)
}

/// Brings row-level security to every tenant-owned table, when migration 000030 is in.
const SECURE_TENANT_TABLES: &str = "DO $$ BEGIN \
    IF to_regprocedure('gatehouse_secure_tenant_tables()') IS NOT NULL THEN \
        PERFORM gatehouse_secure_tenant_tables(); \
    END IF; END $$";

/// The embedded migrations as SQLite runs them: one whose name holds `postgresql_only` is
/// recorded as applied without running.
struct ForSqlite;

impl MigrationSource<diesel::sqlite::Sqlite> for ForSqlite {
    fn migrations(
        &self,
    ) -> diesel::migration::Result<Vec<Box<dyn Migration<diesel::sqlite::Sqlite>>>> {
        let all = MigrationSource::<diesel::sqlite::Sqlite>::migrations(&MIGRATIONS)?;
        Ok(all
            .into_iter()
            .map(|m| {
                if m.name().to_string().contains(POSTGRESQL_ONLY) {
                    Box::new(NotOnSqlite(m)) as Box<dyn Migration<diesel::sqlite::Sqlite>>
                } else {
                    m
                }
            })
            .collect())
    }
}

struct NotOnSqlite(Box<dyn Migration<diesel::sqlite::Sqlite>>);

impl Migration<diesel::sqlite::Sqlite> for NotOnSqlite {
    fn run(
        &self,
        _: &mut dyn diesel::connection::BoxableConnection<diesel::sqlite::Sqlite>,
    ) -> diesel::migration::Result<()> {
        Ok(())
    }

    fn revert(
        &self,
        _: &mut dyn diesel::connection::BoxableConnection<diesel::sqlite::Sqlite>,
    ) -> diesel::migration::Result<()> {
        Ok(())
    }

    fn metadata(&self) -> &dyn diesel::migration::MigrationMetadata {
        self.0.metadata()
    }

    fn name(&self) -> &dyn diesel::migration::MigrationName {
        self.0.name()
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

/// A transaction that writes. On SQLite it begins `IMMEDIATE`, taking the write lock first: a
/// deferred transaction that reads and then writes fails at once with "database is locked" when
/// another connection (the audit writer, another request) committed in between, because the busy
/// timeout cannot help a stale snapshot; waiting for the lock up front can. Transactions nested
/// inside `f` become savepoints, as usual.
pub fn write_transaction<T>(
    conn: &mut AnyConnection,
    f: impl FnOnce(&mut AnyConnection) -> CoreResult<T>,
) -> CoreResult<T> {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    let outermost_on_sqlite = match &mut *conn {
        AnyConnection::Sqlite(c) => <AnsiTransactionManager as TransactionManager<
            SqliteConnection,
        >>::transaction_manager_status_mut(c)
        .transaction_depth()?
        .is_none(),
        _ => false,
    };
    // PostgreSQL needs no lock up front, and inside a transaction this one is a savepoint.
    if !outermost_on_sqlite {
        return conn.transaction(f);
    }
    if let AnyConnection::Sqlite(c) = &mut *conn {
        AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?;
    }
    let out = f(conn);
    if let AnyConnection::Sqlite(c) = &mut *conn {
        let ended = match out {
            Ok(_) => <AnsiTransactionManager as TransactionManager<SqliteConnection>>::commit_transaction(c),
            Err(_) => <AnsiTransactionManager as TransactionManager<SqliteConnection>>::rollback_transaction(c),
        };
        ended?;
    }
    out
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
