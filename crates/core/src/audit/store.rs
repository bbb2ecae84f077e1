//! The `audit_events` table: building a row, the batch insert, the query and the pruning.

use super::{AuditFields, Record};
use crate::error::CoreResult;
use crate::storage::db::write_transaction;
use crate::storage::models::AuditRow;
use crate::storage::schema::audit_events as events;
use crate::storage::AnyConnection;
use diesel::prelude::*;
use serde::Serialize;

/// The most events one query returns.
pub const AUDIT_QUERY_MAX: i64 = 10_000;
const DETAIL_MAX: usize = 512;

/// One recorded event, as read back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEvent {
    pub id: String,
    /// Unix milliseconds.
    pub at: i64,
    pub kind: String,
    pub outcome: String,
    pub user_id: Option<String>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub dialect: String,
    pub request_id: Option<String>,
    pub detail: Option<String>,
}

impl From<AuditRow> for AuditEvent {
    fn from(r: AuditRow) -> Self {
        AuditEvent {
            id: r.id,
            at: r.at,
            kind: r.kind,
            outcome: r.outcome,
            user_id: r.user_id,
            client_ip: r.client_ip,
            user_agent: r.user_agent,
            dialect: r.dialect,
            request_id: r.request_id,
            detail: r.detail,
        }
    }
}

/// Which events to read: all filters optional, newest first, at most `limit`
/// (clamped to 1..=`AUDIT_QUERY_MAX`).
#[derive(Debug, Clone)]
pub struct AuditQuery {
    /// Events at or after this Unix millisecond.
    pub since_ms: Option<i64>,
    pub user_id: Option<String>,
    pub kind: Option<String>,
    pub limit: i64,
}

impl Default for AuditQuery {
    fn default() -> Self {
        AuditQuery {
            since_ms: None,
            user_id: None,
            kind: None,
            limit: 100,
        }
    }
}

pub(super) fn row(tenant_id: &str, at: i64, record: Record, ctx: AuditFields) -> AuditRow {
    AuditRow {
        tenant_id: tenant_id.to_owned(),
        // v7: ordered by time, so ties within a millisecond still read back in order.
        id: uuid::Uuid::now_v7().to_string(),
        at,
        kind: record.kind.to_owned(),
        outcome: record.outcome.as_str().to_owned(),
        user_id: record.user_id,
        client_ip: ctx.client_ip,
        user_agent: ctx.user_agent,
        dialect: ctx.dialect,
        request_id: ctx.request_id,
        detail: record.detail.map(|d| {
            d.chars()
                .filter(|c| !c.is_control())
                .take(DETAIL_MAX)
                .collect()
        }),
    }
}

/// Inserts a batch in one transaction.
pub(super) fn insert(conn: &mut AnyConnection, rows: &[AuditRow]) -> CoreResult<()> {
    write_transaction(conn, |c| {
        for chunk in rows.chunks(100) {
            // MultiConnection has no multi-row INSERT (see `seed::insert_users`): this statement
            // names its backend; the SQL is the same on both.
            let insert = diesel::insert_into(events::table).values(chunk);
            match c {
                AnyConnection::Postgresql(pg) => insert.execute(pg)?,
                AnyConnection::Sqlite(lite) => insert.execute(lite)?,
            };
        }
        Ok(())
    })
}

pub(super) fn query(
    conn: &mut AnyConnection,
    tenant_id: &str,
    q: &AuditQuery,
) -> CoreResult<Vec<AuditEvent>> {
    let mut select = events::table
        .filter(events::tenant_id.eq(tenant_id.to_owned()))
        .into_boxed::<crate::storage::db::MultiBackend>();
    if let Some(since) = q.since_ms {
        select = select.filter(events::at.ge(since));
    }
    if let Some(user) = &q.user_id {
        select = select.filter(events::user_id.eq(user.clone()));
    }
    if let Some(kind) = &q.kind {
        select = select.filter(events::kind.eq(kind.clone()));
    }
    let rows: Vec<AuditRow> = select
        .order((events::at.desc(), events::id.desc()))
        .limit(q.limit.clamp(1, AUDIT_QUERY_MAX))
        .select(AuditRow::as_select())
        .load(conn)?;
    Ok(rows.into_iter().map(AuditEvent::from).collect())
}

pub(super) fn prune(conn: &mut AnyConnection, tenant_id: &str, before: i64) -> CoreResult<usize> {
    Ok(diesel::delete(
        events::table
            .filter(events::tenant_id.eq(tenant_id))
            .filter(events::at.lt(before)),
    )
    .execute(conn)?)
}
