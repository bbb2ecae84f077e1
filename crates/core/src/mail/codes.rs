//! Reset and verification codes: 32 random bytes shown once (in the mail, as hex), stored only as
//! their SHA-256, bound to a tenant, a user and a purpose, single use and expiring. A code has
//! 256 bits of entropy, so an unsalted fast hash is enough: nobody can guess one to test it.

use crate::error::{CoreError, CoreResult};
use crate::storage::models::MailCodeRow;
use crate::storage::schema::mail_codes;
use crate::storage::AnyConnection;
use diesel::prelude::*;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// The hex length of a code.
pub const CODE_LEN: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Reset,
    Verify,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Reset => "reset",
            Purpose::Verify => "verify",
        }
    }
}

/// A fresh code, as the person receives it.
pub(crate) fn generate() -> String {
    let mut bytes = [0u8; CODE_LEN / 2];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// What is stored for `code`.
pub(crate) fn hash(code: &str) -> String {
    hex::encode(Sha256::digest(code.as_bytes()))
}

/// Whether `code` has the shape of one we issue; anything else is refused before any query.
pub(crate) fn well_formed(code: &str) -> bool {
    code.len() == CODE_LEN
        && code
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A code to store, and whose it is.
pub(crate) struct NewCode<'a> {
    pub tenant_id: &'a str,
    pub user_id: &'a str,
    pub email: &'a str,
    pub purpose: Purpose,
    pub code: &'a str,
}

/// Stores a new code for the user. A reset code ends the user's earlier reset codes (a second
/// request makes the first mail's link stop working, as the original overwrites its one key); a
/// verification code does not: tiledesk-server keeps each `emailverify:verify-<code>` key for its
/// 900 s (routes/users.js line 176-183, `resendverifyemail`), so an earlier mail's link still works.
pub(crate) fn store(
    conn: &mut AnyConnection,
    new: &NewCode<'_>,
    now_ms: i64,
    ttl_secs: i64,
) -> CoreResult<()> {
    let (tenant_id, user_id, purpose) = (new.tenant_id, new.user_id, new.purpose);
    if purpose == Purpose::Reset {
        end_all(conn, tenant_id, user_id, purpose)?;
    }
    // Expired codes of the tenant go too, so the table holds live codes only.
    diesel::delete(
        mail_codes::table
            .filter(mail_codes::tenant_id.eq(tenant_id))
            .filter(mail_codes::expires_at.le(now_ms)),
    )
    .execute(conn)?;
    diesel::insert_into(mail_codes::table)
        .values(MailCodeRow {
            tenant_id: tenant_id.to_owned(),
            code_hash: hash(new.code),
            purpose: purpose.as_str().to_owned(),
            user_id: user_id.to_owned(),
            email: new.email.to_owned(),
            expires_at: now_ms.saturating_add(ttl_secs.saturating_mul(1000)),
            created_at: now_ms,
        })
        .execute(conn)?;
    Ok(())
}

/// The live code row for `code`, without using it.
pub(crate) fn find(
    conn: &mut AnyConnection,
    tenant_id: &str,
    purpose: Purpose,
    code: &str,
    now_ms: i64,
) -> CoreResult<MailCodeRow> {
    if !well_formed(code) {
        return Err(CoreError::NotFound("code"));
    }
    mail_codes::table
        .filter(mail_codes::tenant_id.eq(tenant_id))
        .filter(mail_codes::code_hash.eq(hash(code)))
        .filter(mail_codes::purpose.eq(purpose.as_str()))
        .filter(mail_codes::expires_at.gt(now_ms))
        .select(MailCodeRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(CoreError::NotFound("code"))
}

/// Uses a code: deletes it if it is still live. Of two requests racing with one code, one wins;
/// the other gets `NotFound("code")`.
pub(crate) fn consume(
    conn: &mut AnyConnection,
    tenant_id: &str,
    purpose: Purpose,
    code: &str,
    now_ms: i64,
) -> CoreResult<MailCodeRow> {
    let row = find(conn, tenant_id, purpose, code, now_ms)?;
    let n = diesel::delete(
        mail_codes::table
            .filter(mail_codes::tenant_id.eq(tenant_id))
            .filter(mail_codes::code_hash.eq(&row.code_hash))
            .filter(mail_codes::expires_at.gt(now_ms)),
    )
    .execute(conn)?;
    if n != 1 {
        return Err(CoreError::NotFound("code"));
    }
    Ok(row)
}

/// Ends every code of the user for `purpose` (a completed reset ends the other reset links).
pub(crate) fn end_all(
    conn: &mut AnyConnection,
    tenant_id: &str,
    user_id: &str,
    purpose: Purpose,
) -> CoreResult<()> {
    diesel::delete(
        mail_codes::table
            .filter(mail_codes::tenant_id.eq(tenant_id))
            .filter(mail_codes::user_id.eq(user_id))
            .filter(mail_codes::purpose.eq(purpose.as_str())),
    )
    .execute(conn)?;
    Ok(())
}

/// Ends every code of the user, whatever its purpose (the user is disabled).
pub(crate) fn end_every(
    conn: &mut AnyConnection,
    tenant_id: &str,
    user_id: &str,
) -> CoreResult<()> {
    diesel::delete(
        mail_codes::table
            .filter(mail_codes::tenant_id.eq(tenant_id))
            .filter(mail_codes::user_id.eq(user_id)),
    )
    .execute(conn)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_random_hex_and_stored_hashed() {
        let (a, b) = (generate(), generate());
        assert_ne!(a, b);
        assert!(well_formed(&a));
        assert_eq!(hash(&a).len(), 64);
        assert_ne!(hash(&a), a);
        assert!(!well_formed("abc"));
        assert!(!well_formed(&a.to_uppercase()));
        assert!(!well_formed(&format!("{}g", &a[1..])));
    }
}
