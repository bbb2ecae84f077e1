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
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

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

/// Claims up to `batch` due mails for `lease_ms`: each claimed row has its attempt counted and is
/// not due again until the lease ends (so a node that dies mid-send leaves it to another node).
/// Returns the rows as claimed (with the new attempt count).
pub(crate) fn claim(
    conn: &mut AnyConnection,
    now_ms: i64,
    lease_ms: i64,
    batch: i64,
) -> CoreResult<Vec<OutboxRow>> {
    write_transaction(conn, |conn| {
        // One query per backend: the selection's backend is fixed by the connection it runs on.
        macro_rules! due {
            () => {
                mail_outbox::table
                    .filter(mail_outbox::state.eq(QUEUED))
                    .filter(mail_outbox::next_attempt_at.le(now_ms))
                    .order(mail_outbox::next_attempt_at.asc())
                    .limit(batch)
                    .select(OutboxRow::as_select())
            };
        }
        let rows: Vec<OutboxRow> = match conn {
            // Rows another node has locked are skipped, not waited for: each mail goes once.
            AnyConnection::Postgresql(pg) => due!().for_update().skip_locked().load(pg)?,
            // SQLite has one writer at a time; the conditional update below does the rest.
            AnyConnection::Sqlite(lite) => due!().load(lite)?,
        };
        let mut claimed = Vec::with_capacity(rows.len());
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
