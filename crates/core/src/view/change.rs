//! The change feed: one row per change that another node's view must hear of, written in the same
//! transaction as the change itself, and on PostgreSQL announced with `NOTIFY gatehouse_changes`
//! (delivered at commit). Other nodes read it by polling (`since`) or from the notification's payload.

use crate::error::CoreResult;
use crate::storage::models::{ChangeRow, RevokedRow};
use crate::storage::schema::{changes, revoked_tokens};
use crate::storage::AnyConnection;
use diesel::prelude::*;

/// The PostgreSQL channel the feed is announced on.
pub const CHANNEL: &str = "gatehouse_changes";
/// A poll returns at most this many changes; the rest come with the next one.
const POLL_LIMIT: i64 = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// A user's token-relevant state or record changed (key: the user id).
    User,
    /// One token was ended (key: `<expires_at secs> <jti>`).
    Revoke,
    /// A tenant's settings, hosts or keys changed (key: empty).
    Tenant,
}

impl ChangeKind {
    fn as_str(self) -> &'static str {
        match self {
            ChangeKind::User => "user",
            ChangeKind::Revoke => "revoke",
            ChangeKind::Tenant => "tenant",
        }
    }

    fn parse(raw: &str) -> Option<ChangeKind> {
        match raw {
            "user" => Some(ChangeKind::User),
            "revoke" => Some(ChangeKind::Revoke),
            "tenant" => Some(ChangeKind::Tenant),
            _ => None,
        }
    }
}

/// One change, as written to and read from the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub id: String,
    pub tenant_id: String,
    pub kind: ChangeKind,
    pub key: String,
    /// The writer's clock, in ms.
    pub at: i64,
}

impl Change {
    fn new(tenant_id: &str, kind: ChangeKind, key: String, at: i64) -> Change {
        Change {
            id: uuid::Uuid::new_v4().simple().to_string(),
            tenant_id: tenant_id.to_owned(),
            kind,
            key,
            at,
        }
    }

    pub fn user(tenant_id: &str, user_id: &str, at: i64) -> Change {
        Change::new(tenant_id, ChangeKind::User, user_id.to_owned(), at)
    }

    pub fn revoke(tenant_id: &str, jti: &str, expires_at_secs: i64, at: i64) -> Change {
        Change::new(
            tenant_id,
            ChangeKind::Revoke,
            format!("{expires_at_secs} {jti}"),
            at,
        )
    }

    pub fn tenant(tenant_id: &str, at: i64) -> Change {
        Change::new(tenant_id, ChangeKind::Tenant, String::new(), at)
    }

    /// For a `Revoke`: the token's expiry (secs) and its jti.
    pub fn revoked_token(&self) -> Option<(i64, &str)> {
        let (exp, jti) = self.key.split_once(' ')?;
        Some((exp.parse().ok()?, jti))
    }

    fn row(&self) -> ChangeRow {
        ChangeRow {
            id: self.id.clone(),
            tenant_id: self.tenant_id.clone(),
            kind: self.kind.as_str().to_owned(),
            key: self.key.clone(),
            at: self.at,
        }
    }

    fn from_row(row: ChangeRow) -> Option<Change> {
        Some(Change {
            kind: ChangeKind::parse(&row.kind)?,
            id: row.id,
            tenant_id: row.tenant_id,
            key: row.key,
            at: row.at,
        })
    }

    /// The NOTIFY payload: the row itself, tab-separated (no field holds a tab).
    pub fn payload(&self) -> String {
        format!(
            "{}\t{}\t{}\t{}\t{}",
            self.id,
            self.tenant_id,
            self.kind.as_str(),
            self.at,
            self.key
        )
    }

    pub fn from_payload(payload: &str) -> Option<Change> {
        let mut parts = payload.splitn(5, '\t');
        let (id, tenant_id, kind, at, key) = (
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
        );
        Some(Change {
            id: id.to_owned(),
            tenant_id: tenant_id.to_owned(),
            kind: ChangeKind::parse(kind)?,
            key: key.to_owned(),
            at: at.parse().ok()?,
        })
    }
}

/// Appends `change` to the feed (inside the caller's transaction, if any) and announces it.
pub(crate) fn append(conn: &mut AnyConnection, change: &Change) -> CoreResult<()> {
    diesel::insert_into(changes::table)
        .values(change.row())
        .execute(conn)?;
    if let AnyConnection::Postgresql(pg) = conn {
        diesel::sql_query("SELECT pg_notify($1, $2)")
            .bind::<diesel::sql_types::Text, _>(CHANNEL)
            .bind::<diesel::sql_types::Text, _>(change.payload())
            .execute(pg)?;
    }
    Ok(())
}

/// Changes at or after `from_ms`, oldest first.
pub(crate) fn since(conn: &mut AnyConnection, from_ms: i64) -> CoreResult<Vec<Change>> {
    let rows: Vec<ChangeRow> = changes::table
        .filter(changes::at.ge(from_ms))
        .order((changes::at.asc(), changes::id.asc()))
        .limit(POLL_LIMIT)
        .select(ChangeRow::as_select())
        .load(conn)?;
    Ok(rows.into_iter().filter_map(Change::from_row).collect())
}

/// Drops feed rows older than `before_ms` and revocations of tokens expired by `now_secs`.
pub(crate) fn prune(conn: &mut AnyConnection, before_ms: i64, now_secs: i64) -> CoreResult<()> {
    diesel::delete(changes::table.filter(changes::at.lt(before_ms))).execute(conn)?;
    diesel::delete(revoked_tokens::table.filter(revoked_tokens::expires_at.le(now_secs)))
        .execute(conn)?;
    Ok(())
}

/// Stores one revoked token; revoking it twice is not an error. Checked first rather than caught
/// as a unique violation, which would abort the caller's transaction on PostgreSQL.
pub(crate) fn store_revoked(conn: &mut AnyConnection, row: RevokedRow) -> CoreResult<()> {
    let known: i64 = revoked_tokens::table
        .filter(revoked_tokens::tenant_id.eq(&row.tenant_id))
        .filter(revoked_tokens::jti.eq(&row.jti))
        .count()
        .get_result(conn)?;
    if known == 0 {
        diesel::insert_into(revoked_tokens::table)
            .values(&row)
            .execute(conn)?;
    }
    Ok(())
}

/// Every revoked token that has not expired: (tenant, jti, expires_at secs).
pub(crate) fn load_revoked(
    conn: &mut AnyConnection,
    now_secs: i64,
) -> CoreResult<Vec<(String, String, i64)>> {
    let rows: Vec<RevokedRow> = revoked_tokens::table
        .filter(revoked_tokens::expires_at.gt(now_secs))
        .select(RevokedRow::as_select())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| (r.tenant_id, r.jti, r.expires_at))
        .collect())
}
