//! The mail limits, `MAIL_PER_EMAIL_PER_HOUR` and `MAIL_PER_IP_PER_HOUR`, counted in the database
//! (`mail_requests`), so that they hold for the deployment however many nodes serve it: every
//! mail-sending request (a reset asked, a verification mail at signup or on resend) is one row,
//! known address or not, and the last hour's rows are counted before one is added. On PostgreSQL
//! the count and the insert hold transaction-scoped advisory locks on the address and the client
//! address, so two nodes counting the same address at once take turns; SQLite has one writer.

use crate::error::CoreResult;
use crate::ratelimit::HOUR_MS;
use crate::storage::db::write_transaction;
use crate::storage::schema::mail_requests;
use crate::storage::AnyConnection;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use sha2::{Digest, Sha256};
use std::net::IpAddr;

/// What the limits say about one more mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Allowed,
    /// The client address has asked for its hour's worth: nothing is counted.
    OverIp,
    /// The address has had its hour's worth: counted against the client address only.
    OverEmail,
}

/// The limits one tenant sets (0: no limit).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub per_email: u32,
    pub per_ip: u32,
}

fn key(kind: &str, tenant_id: &str, value: &str) -> String {
    hex::encode(Sha256::digest(
        format!("{kind}:{tenant_id}:{value}").as_bytes(),
    ))
}

/// The stored key of an address: case does not make another address here.
pub(crate) fn email_key(tenant_id: &str, email: &str) -> String {
    key("email", tenant_id, &email.trim().to_lowercase())
}

pub(crate) fn ip_key(tenant_id: &str, ip: IpAddr) -> String {
    key("ip", tenant_id, &ip.to_string())
}

/// The advisory lock of a key (SHA-256 hex): its first eight bytes.
fn lock_id(hex_key: &str) -> i64 {
    let head = hex_key.get(..16).unwrap_or(hex_key);
    i64::from_be_bytes(u64::from_str_radix(head, 16).unwrap_or(0).to_be_bytes())
}

/// Counts one mail-sending request naming `email_key` from `ip_key`, unless a limit refuses it.
pub(crate) fn count(
    conn: &mut AnyConnection,
    tenant_id: &str,
    email_key: &str,
    ip_key: &str,
    limits: Limits,
    now_ms: i64,
) -> CoreResult<Verdict> {
    let since = now_ms - HOUR_MS;
    write_transaction(conn, |conn| {
        if let AnyConnection::Postgresql(pg) = conn {
            // Always in the same order, so two requests never wait on each other's second lock.
            let mut locks = [lock_id(email_key), lock_id(ip_key)];
            locks.sort_unstable();
            for id in locks {
                diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
                    .bind::<BigInt, _>(id)
                    .execute(pg)?;
            }
        }
        diesel::delete(
            mail_requests::table
                .filter(mail_requests::tenant_id.eq(tenant_id))
                .filter(mail_requests::created_at.le(since)),
        )
        .execute(conn)?;
        let recent = || {
            mail_requests::table
                .filter(mail_requests::tenant_id.eq(tenant_id))
                .filter(mail_requests::created_at.gt(since))
        };
        if limits.per_ip > 0 {
            let from_ip: i64 = recent()
                .filter(mail_requests::ip_key.eq(ip_key))
                .count()
                .get_result(conn)?;
            if from_ip >= i64::from(limits.per_ip) {
                return Ok(Verdict::OverIp);
            }
        }
        let over_email = limits.per_email > 0 && {
            let to_email: i64 = recent()
                .filter(mail_requests::email_key.eq(email_key))
                .count()
                .get_result(conn)?;
            to_email >= i64::from(limits.per_email)
        };
        diesel::insert_into(mail_requests::table)
            .values((
                mail_requests::tenant_id.eq(tenant_id),
                mail_requests::id.eq(uuid::Uuid::now_v7().simple().to_string()),
                mail_requests::email_key.eq((!over_email).then_some(email_key)),
                mail_requests::ip_key.eq(ip_key),
                mail_requests::created_at.eq(now_ms),
            ))
            .execute(conn)?;
        Ok(if over_email {
            Verdict::OverEmail
        } else {
            Verdict::Allowed
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_per_tenant_and_case_blind_and_lock_ids_differ() {
        assert_eq!(
            email_key("t", "Ann@Example.com"),
            email_key("t", "ann@example.com")
        );
        assert_ne!(
            email_key("t", "ann@example.com"),
            email_key("u", "ann@example.com")
        );
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        assert_ne!(ip_key("t", ip), email_key("t", "10.0.0.1"));
        assert_ne!(lock_id(&ip_key("t", ip)), lock_id(&email_key("t", "a@b.c")));
        assert!(!email_key("t", "ann@example.com").contains("ann"));
    }
}
