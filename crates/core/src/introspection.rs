//! Introspection clients (RFC 7662 section 2.1): resource servers an operator registers for one
//! tenant, so that they may ask the tenant's `POST /oauth/introspect` whether a token is still live
//! (a logout or a disabled user is seen at once there, while a JWKS verifier sees it only at `exp`).
//! Made with a secret shown once (only its SHA-256 is stored), listed, removed (both audited), and
//! checked on every call, with failed checks counted per client address and tenant.
//!
//! Whether the token asked about is live is not decided here: the endpoint asks what every route
//! asks (`Core::verify_token`, then `Core::token_user`).

use crate::audit::{kind, Record};
use crate::error::{found_one, AuthFailure, CoreError, CoreResult};
// A client is named and its secret kept as an operator key's are.
use crate::operator::keys::{checked_name, hash_secret};
use crate::ratelimit::{Subject, MINUTE_MS};
use crate::secret::Secret;
use crate::service::Core;
use crate::storage::db::write_transaction;
use crate::storage::models::IntrospectionClientRow;
use crate::storage::schema::introspection_clients as clients;
use crate::tenants::Tenant;
use base64::Engine;
use diesel::prelude::*;
use rand::RngCore;
use std::net::IpAddr;
use subtle::ConstantTimeEq;

/// What every client secret starts with, so a leaked one is recognisable (secret scanners, logs).
pub const SECRET_PREFIX: &str = "ghi_";
/// Failed client authentications (unknown client id or wrong secret) one address may make at one
/// tenant's introspection endpoint a minute; past it, every client authentication from that
/// address answers 429 until the minute ends. A secret is 256 random bits, so this is not what
/// stops guessing; it keeps a misconfigured or hostile caller from costing a query per request.
pub const CLIENT_FAILURES_PER_MINUTE: u32 = 10;

/// A registered client as listed: never its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntrospectionClient {
    /// The `client_id` of HTTP Basic (an ObjectId-style id).
    pub id: String,
    pub name: String,
    /// Unix ms.
    pub created_at: i64,
}

impl IntrospectionClient {
    fn from_row(r: IntrospectionClientRow) -> IntrospectionClient {
        IntrospectionClient {
            id: r.id,
            name: r.name,
            created_at: r.created_at,
        }
    }
}

/// A fresh secret: the prefix and 32 random bytes, base64url (nothing HTTP Basic must escape).
fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!(
        "{SECRET_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

fn refused() -> CoreError {
    CoreError::Unauthorized(AuthFailure::WrongPassword)
}

impl Core {
    /// Registers a client of `tenant` named `name` and returns it with its secret, which is stored
    /// nowhere: the caller shows it once. `Conflict` when the tenant has a client of that name.
    pub async fn create_introspection_client(
        &self,
        tenant: &Tenant,
        name: &str,
    ) -> CoreResult<(IntrospectionClient, Secret<String>)> {
        let name = checked_name(name)?;
        let secret = new_secret();
        let now = self.now_ms();
        let row = IntrospectionClientRow {
            tenant_id: tenant.id.clone(),
            id: crate::ids::object_id(now.div_euclid(1000)),
            name,
            secret_hash: hash_secret(&secret),
            created_at: now,
        };
        let stored = row.clone();
        self.db
            .run_tenant(&tenant.id, move |c| {
                write_transaction(c, |c| {
                    diesel::insert_into(clients::table)
                        .values(stored)
                        .execute(c)
                        .map_err(|e| match CoreError::from(e) {
                            CoreError::Conflict(_) => CoreError::Conflict(
                                "this tenant already has an introspection client of this name",
                            ),
                            other => other,
                        })
                })
            })
            .await?;
        let client = IntrospectionClient::from_row(row);
        let detail = format!("client {} ({})", client.id, client.name);
        self.audit(
            tenant,
            Record::success(kind::INTROSPECTION_CLIENT_CREATED).detail(detail),
        );
        Ok((client, Secret::new(secret)))
    }

    /// The tenant's clients, oldest first.
    pub async fn introspection_clients(
        &self,
        tenant: &Tenant,
    ) -> CoreResult<Vec<IntrospectionClient>> {
        let tid = tenant.id.clone();
        let rows: Vec<IntrospectionClientRow> = self
            .db
            .run_tenant(&tenant.id, move |c| {
                Ok(clients::table
                    .filter(clients::tenant_id.eq(&tid))
                    .order((clients::created_at.asc(), clients::id.asc()))
                    .select(IntrospectionClientRow::as_select())
                    .load(c)?)
            })
            .await?;
        Ok(rows
            .into_iter()
            .map(IntrospectionClient::from_row)
            .collect())
    }

    /// Removes a client: its next call gets 401, on every node (each call reads the database).
    /// `NotFound` when the tenant has no client of that id.
    pub async fn remove_introspection_client(
        &self,
        tenant: &Tenant,
        id: &str,
    ) -> CoreResult<IntrospectionClient> {
        if !crate::ids::is_object_id(id.trim()) {
            return Err(CoreError::NotFound("introspection client"));
        }
        let (tid, id) = (tenant.id.clone(), id.trim().to_owned());
        let row = self
            .db
            .run_tenant(&tenant.id, move |c| {
                write_transaction(c, |c| {
                    let key = clients::table
                        .filter(clients::tenant_id.eq(&tid))
                        .filter(clients::id.eq(&id));
                    let row: Option<IntrospectionClientRow> = key
                        .select(IntrospectionClientRow::as_select())
                        .first(c)
                        .optional()?;
                    let row = row.ok_or(CoreError::NotFound("introspection client"))?;
                    found_one(diesel::delete(key).execute(c)?, "introspection client")?;
                    Ok(row)
                })
            })
            .await?;
        let client = IntrospectionClient::from_row(row);
        let detail = format!("client {} ({})", client.id, client.name);
        self.audit(
            tenant,
            Record::success(kind::INTROSPECTION_CLIENT_REMOVED).detail(detail),
        );
        Ok(client)
    }

    /// The client of `tenant` whose id and secret these are (HTTP Basic of an introspection call
    /// from `ip`). `RateLimited` once `ip` failed `CLIENT_FAILURES_PER_MINUTE` times at this tenant
    /// this minute (checked before anything else, so the right secret waits too); otherwise
    /// `Unauthorized` for an unknown id or a wrong secret, which counts one failure.
    pub async fn authenticate_introspection_client(
        &self,
        tenant: &Tenant,
        ip: IpAddr,
        client_id: &str,
        secret: &str,
    ) -> CoreResult<IntrospectionClient> {
        let subject = Subject::IntrospectionClientFailure(ip);
        let failures = self
            .limiter
            .count(&tenant.id, subject.clone(), MINUTE_MS, self.now_ms());
        if failures >= CLIENT_FAILURES_PER_MINUTE {
            return Err(CoreError::RateLimited);
        }
        let found = self.introspection_client(tenant, client_id, secret).await;
        if matches!(found, Err(CoreError::Unauthorized(_))) {
            self.limiter
                .record(&tenant.id, subject, MINUTE_MS, self.now_ms());
        }
        found
    }

    async fn introspection_client(
        &self,
        tenant: &Tenant,
        client_id: &str,
        secret: &str,
    ) -> CoreResult<IntrospectionClient> {
        // Junk is refused before a query (it still counts as a failure).
        if !crate::ids::is_object_id(client_id) || !secret.starts_with(SECRET_PREFIX) {
            return Err(refused());
        }
        let (tid, id, hash) = (tenant.id.clone(), client_id.to_owned(), hash_secret(secret));
        let row: Option<IntrospectionClientRow> = self
            .db
            .run_tenant(&tenant.id, move |c| {
                Ok(clients::table
                    .filter(clients::tenant_id.eq(&tid))
                    .filter(clients::id.eq(&id))
                    .select(IntrospectionClientRow::as_select())
                    .first(c)
                    .optional()?)
            })
            .await?;
        match row {
            Some(r) if bool::from(r.secret_hash.as_bytes().ct_eq(hash.as_bytes())) => {
                Ok(IntrospectionClient::from_row(r))
            }
            _ => Err(refused()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_short_plain_words() {
        assert_eq!(checked_name(" billing-api ").unwrap(), "billing-api");
        assert!(checked_name("").is_err());
        assert!(checked_name("two words").is_err());
        assert!(checked_name(&"x".repeat(65)).is_err());
    }

    #[test]
    fn secrets_are_prefixed_256_bit_and_unlike() {
        let (a, b) = (new_secret(), new_secret());
        assert!(a.starts_with(SECRET_PREFIX));
        assert_eq!(a.len(), SECRET_PREFIX.len() + 43);
        assert_ne!(a, b);
        assert!(a[SECRET_PREFIX.len()..]
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_eq!(hash_secret(&a).len(), 64);
        assert_ne!(hash_secret(&a), hash_secret(&b));
    }
}
