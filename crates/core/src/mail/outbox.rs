//! The outbox table: a mail is a row written in the transaction that made its code, so a mail is
//! never lost to a crash between the two and never sent for a code that was rolled back. Every
//! node's sender claims due rows (on PostgreSQL with `FOR UPDATE SKIP LOCKED`, so two nodes never
//! claim one row), sends them, and marks them sent, or due again later, or dead.

use crate::error::{CoreError, CoreResult};
use crate::sealed::Sealer;
use crate::storage::db::write_transaction;
use crate::storage::models::OutboxRow;
use crate::storage::schema::mail_outbox;
use crate::storage::AnyConnection;
use diesel::dsl::min;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

pub const QUEUED: &str = "queued";
pub const SENT: &str = "sent";
pub const DEAD: &str = "dead";

/// A mail as the sender needs it; stored sealed (it holds a live code).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct OutboxMessage {
    pub from: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

fn aad(tenant_id: &str, id: &str) -> String {
    format!("mail_outbox.message:{tenant_id}:{id}")
}

/// Adds a mail, due now, inside the caller's transaction.
pub(crate) fn enqueue(
    conn: &mut AnyConnection,
    sealer: &Sealer,
    tenant_id: &str,
    message: &OutboxMessage,
    now_ms: i64,
) -> CoreResult<()> {
    let id = uuid::Uuid::now_v7().simple().to_string();
    let plain = serde_json::to_string(message)
        .map_err(|e| CoreError::Internal(format!("mail does not serialise: {e}")))?;
    diesel::insert_into(mail_outbox::table)
        .values(OutboxRow {
            tenant_id: tenant_id.to_owned(),
            message: sealer.seal(&plain, &aad(tenant_id, &id)),
            id,
            recipient: message.to.clone(),
            state: QUEUED.to_owned(),
            attempts: 0,
            next_attempt_at: now_ms,
            last_error: None,
            created_at: now_ms,
            updated_at: now_ms,
        })
        .execute(conn)?;
    Ok(())
}

/// Opens a claimed row's mail.
pub(crate) fn open(sealer: &Sealer, row: &OutboxRow) -> CoreResult<OutboxMessage> {
    let opened = sealer
        .open(&row.message, &aad(&row.tenant_id, &row.id))
        .map_err(|e| CoreError::Internal(format!("outbox mail {}: {e}", row.id)))?;
    serde_json::from_str(opened.plain.expose())
        .map_err(|e| CoreError::Internal(format!("outbox mail {}: {e}", row.id)))
}

/// What one round may claim: `total` mails, at most `per_tenant` of a tenant less what this node
/// is already sending for it (`busy`).
pub(crate) struct ClaimLimits {
    pub total: i64,
    pub per_tenant: i64,
    pub busy: HashMap<String, i64>,
}

impl ClaimLimits {
    fn room(&self, tenant_id: &str) -> i64 {
        self.per_tenant - self.busy.get(tenant_id).copied().unwrap_or(0)
    }
}

/// Claims due mails for `lease_ms`, fairly: the tenants with due mail, longest-waiting first, each
/// its room under `limits`, until `limits.total`. Each claimed row has its attempt counted and is
/// not due again until the lease ends (so a node that dies mid-send leaves it to another node), and
/// a tenant's rows claimed now wait behind the other tenants' at the next round. Returns the rows
/// as claimed (with the new attempt count).
pub(crate) fn claim(
    conn: &mut AnyConnection,
    now_ms: i64,
    lease_ms: i64,
    limits: &ClaimLimits,
) -> CoreResult<Vec<OutboxRow>> {
    if limits.total <= 0 {
        return Ok(Vec::new());
    }
    write_transaction(conn, |conn| {
        // One query per backend: the selection's backend is fixed by the connection it runs on.
        macro_rules! due_tenants {
            ($n:expr) => {
                mail_outbox::table
                    .filter(mail_outbox::state.eq(QUEUED))
                    .filter(mail_outbox::next_attempt_at.le(now_ms))
                    .group_by(mail_outbox::tenant_id)
                    .select(mail_outbox::tenant_id)
                    .order(min(mail_outbox::next_attempt_at).asc())
                    .limit($n)
            };
        }
        macro_rules! due_of {
            ($tenant:expr, $n:expr) => {
                mail_outbox::table
                    .filter(mail_outbox::tenant_id.eq($tenant))
                    .filter(mail_outbox::state.eq(QUEUED))
                    .filter(mail_outbox::next_attempt_at.le(now_ms))
                    .order(mail_outbox::next_attempt_at.asc())
                    .limit($n)
                    .select(OutboxRow::as_select())
            };
        }
        // Tenants already at their room still appear here; asking for that many more keeps them
        // from crowding out tenants with room.
        let full = limits.busy.keys().filter(|t| limits.room(t) <= 0).count();
        let scan = limits.total + i64::try_from(full).unwrap_or(0);
        let tenants: Vec<String> = match conn {
            AnyConnection::Postgresql(pg) => due_tenants!(scan).load(pg)?,
            AnyConnection::Sqlite(lite) => due_tenants!(scan).load(lite)?,
        };
        let mut claimed: Vec<OutboxRow> = Vec::new();
        for tenant in tenants {
            let left = limits.total - i64::try_from(claimed.len()).unwrap_or(i64::MAX);
            let room = limits.room(&tenant).min(left);
            if left <= 0 {
                break;
            }
            if room <= 0 {
                continue;
            }
            let rows: Vec<OutboxRow> = match conn {
                // Rows another node has locked are skipped, not waited for: each mail goes once.
                AnyConnection::Postgresql(pg) => {
                    due_of!(&tenant, room).for_update().skip_locked().load(pg)?
                }
                // SQLite has one writer at a time; the conditional update below does the rest.
                AnyConnection::Sqlite(lite) => due_of!(&tenant, room).load(lite)?,
            };
            for mut row in rows {
                let n = diesel::update(
                    mail_outbox::table
                        .filter(mail_outbox::tenant_id.eq(&row.tenant_id))
                        .filter(mail_outbox::id.eq(&row.id))
                        .filter(mail_outbox::state.eq(QUEUED))
                        .filter(mail_outbox::attempts.eq(row.attempts)),
                )
                .set((
                    mail_outbox::attempts.eq(row.attempts + 1),
                    mail_outbox::next_attempt_at.eq(now_ms + lease_ms),
                    mail_outbox::updated_at.eq(now_ms),
                ))
                .execute(conn)?;
                if n == 1 {
                    row.attempts += 1;
                    claimed.push(row);
                }
            }
        }
        Ok(claimed)
    })
}

/// Records the outcome of a claimed row's attempt: sent, due again at `retry_at`, or (with no
/// `retry_at`) dead. Only while the claim is still this one's (same attempt count).
pub(crate) fn finish(
    conn: &mut AnyConnection,
    row: &OutboxRow,
    outcome: Result<(), (String, Option<i64>)>,
    now_ms: i64,
) -> CoreResult<()> {
    let target = mail_outbox::table
        .filter(mail_outbox::tenant_id.eq(&row.tenant_id))
        .filter(mail_outbox::id.eq(&row.id))
        .filter(mail_outbox::attempts.eq(row.attempts));
    match outcome {
        Ok(()) => diesel::update(target)
            .set((
                mail_outbox::state.eq(SENT),
                mail_outbox::last_error.eq(None::<String>),
                mail_outbox::updated_at.eq(now_ms),
            ))
            .execute(conn)?,
        Err((error, retry_at)) => diesel::update(target)
            .set((
                mail_outbox::state.eq(if retry_at.is_some() { QUEUED } else { DEAD }),
                mail_outbox::next_attempt_at.eq(retry_at.unwrap_or(now_ms)),
                mail_outbox::last_error.eq(Some(error)),
                mail_outbox::updated_at.eq(now_ms),
            ))
            .execute(conn)?,
    };
    Ok(())
}

/// How many mails of the tenant are in `state` (tests and the CLI).
pub(crate) fn count(conn: &mut AnyConnection, tenant_id: &str, state: &str) -> CoreResult<i64> {
    Ok(mail_outbox::table
        .filter(mail_outbox::tenant_id.eq(tenant_id))
        .filter(mail_outbox::state.eq(state))
        .count()
        .get_result(conn)?)
}
