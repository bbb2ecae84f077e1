//! Operator API keys: made by `gatehouse operator key create` (the key is shown once), stored as a
//! SHA-256 of their secret part, listed, revoked, and checked on every operator API call and
//! console sign-in.

use crate::error::{found_one, AuthFailure, CoreError, CoreResult};
use crate::secret::Secret;
use crate::service::Core;
use crate::storage::models::OperatorKeyRow;
use crate::storage::schema::operator_keys;
use base64::Engine;
use diesel::prelude::*;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// What every operator key starts with, so a leaked one is recognisable (secret scanners, logs).
pub const KEY_PREFIX: &str = "gho_";

/// An operator key as listed: never its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorKey {
    pub key_id: String,
    pub name: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

impl OperatorKey {
    fn from_row(r: OperatorKeyRow) -> OperatorKey {
        OperatorKey {
            key_id: r.key_id,
            name: r.name,
            created_at: r.created_at,
            revoked_at: r.revoked_at,
        }
    }
}

/// A key's name: what `list` shows and `revoke` takes, and what the audit log names as the actor.
pub(crate) fn checked_name(raw: &str) -> CoreResult<String> {
    let name = raw.trim();
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.@".contains(&b));
    if ok {
        Ok(name.to_owned())
    } else {
        Err(CoreError::invalid(
            "name",
            "must be 1 to 64 characters of letters, digits and - _ . @",
        ))
    }
}

pub(crate) fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Equal without telling, by its timing, how much of the two matched.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `gho_<key id>_<secret>` split into its id and secret; `None` when it is not shaped so.
fn split_key(presented: &str) -> Option<(&str, &str)> {
    let rest = presented.trim().strip_prefix(KEY_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let id_ok = id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit());
    let secret_ok = (40..=64).contains(&secret.len())
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (id_ok && secret_ok).then_some((id, secret))
}

impl Core {
    /// Makes a key named `name` and returns it with the whole key, which is stored nowhere: the
    /// caller shows it once. `Conflict` when an active key already has the name.
    pub async fn create_operator_key(
        &self,
        name: &str,
    ) -> CoreResult<(OperatorKey, Secret<String>)> {
        let name = checked_name(name)?;
        let mut id = [0u8; 8];
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut id);
        rand::rngs::OsRng.fill_bytes(&mut secret);
        let key_id = hex::encode(id);
        let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
        let row = OperatorKeyRow {
            key_id: key_id.clone(),
            name,
            secret_hash: hash_secret(&secret),
            created_at: self.now_ms(),
            revoked_at: None,
        };
        let stored = row.clone();
        self.db
            .run_system(move |c| {
                diesel::insert_into(operator_keys::table)
                    .values(stored)
                    .execute(c)
                    .map_err(|e| match CoreError::from(e) {
                        CoreError::Conflict(_) => {
                            CoreError::Conflict("an active operator key already has this name")
                        }
                        other => other,
                    })
            })
            .await?;
        let whole = format!("{KEY_PREFIX}{key_id}_{secret}");
        Ok((OperatorKey::from_row(row), Secret::new(whole)))
    }

    /// Every key, active and revoked, oldest first.
    pub async fn operator_keys(&self) -> CoreResult<Vec<OperatorKey>> {
        self.db
            .run_system(|c| {
                let rows: Vec<OperatorKeyRow> = operator_keys::table
                    .select(OperatorKeyRow::as_select())
                    .order((operator_keys::created_at.asc(), operator_keys::key_id.asc()))
                    .load(c)?;
                Ok(rows.into_iter().map(OperatorKey::from_row).collect())
            })
            .await
    }

    /// Revokes the active key named `name`: every call with it is refused from now on, on every
    /// node (each call reads the key's row).
    pub async fn revoke_operator_key(&self, name: &str) -> CoreResult<()> {
        let name = checked_name(name)?;
        let now = self.now_ms();
        self.db
            .run_system(move |c| {
                let n = diesel::update(
                    operator_keys::table
                        .filter(operator_keys::name.eq(&name))
                        .filter(operator_keys::revoked_at.is_null()),
                )
                .set(operator_keys::revoked_at.eq(Some(now)))
                .execute(c)?;
                found_one(n, "operator key")
            })
            .await
    }

    /// The active key `presented` is, or `Unauthorized` (malformed, unknown, wrong or revoked
    /// alike: the caller learns nothing about which).
    pub async fn authenticate_operator(&self, presented: &str) -> CoreResult<OperatorKey> {
        let refused = CoreError::Unauthorized(AuthFailure::InvalidToken);
        let Some((id, secret)) = split_key(presented) else {
            return Err(refused);
        };
        let (id, hash) = (id.to_owned(), hash_secret(secret));
        let row: Option<OperatorKeyRow> = self
            .db
            .run_system(move |c| {
                Ok(operator_keys::table
                    .filter(operator_keys::key_id.eq(&id))
                    .select(OperatorKeyRow::as_select())
                    .first(c)
                    .optional()?)
            })
            .await?;
        match row {
            Some(r)
                if r.revoked_at.is_none() && same(r.secret_hash.as_bytes(), hash.as_bytes()) =>
            {
                Ok(OperatorKey::from_row(r))
            }
            _ => Err(refused),
        }
    }

    /// Whether the key named `name` is still active (a console session re-checks its key).
    pub async fn operator_key_active(&self, key_id: &str) -> CoreResult<bool> {
        let id = key_id.to_owned();
        self.db
            .run_system(move |c| {
                let n: i64 = operator_keys::table
                    .filter(operator_keys::key_id.eq(&id))
                    .filter(operator_keys::revoked_at.is_null())
                    .count()
                    .get_result(c)?;
                Ok(n > 0)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_split_into_id_and_secret_only_when_well_formed() {
        let secret = "a".repeat(43);
        let key = format!("gho_0123456789abcdef_{secret}");
        assert_eq!(split_key(&key), Some(("0123456789abcdef", secret.as_str())));
        assert_eq!(split_key("gho_0123_abc"), None);
        assert_eq!(split_key(&format!("ghx_0123456789abcdef_{secret}")), None);
        assert_eq!(split_key(&format!("gho_0123456789abcdef_{secret}!")), None);
        assert_eq!(split_key(""), None);
    }

    #[test]
    fn names_are_short_plain_words() {
        assert_eq!(checked_name(" ci-bot ").unwrap(), "ci-bot");
        assert!(checked_name("").is_err());
        assert!(checked_name("two words").is_err());
        assert!(checked_name(&"x".repeat(65)).is_err());
    }

    #[test]
    fn comparison_needs_every_byte() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"ab"));
    }
}
