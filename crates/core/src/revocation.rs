//! Ending tokens before they expire: one token by its `jti` (logout, `gatehouse token revoke`), or
//! every token of a user issued up to now (logout everywhere, `gatehouse user revoke-tokens`; also
//! done by disabling, deleting and password changes in `users`). Stored, written to the change feed
//! in the same transaction, and applied to this node's view at once.

use crate::audit::{kind, Record};
use crate::error::{CoreError, CoreResult};
use crate::service::Core;
use crate::storage::db::write_transaction;
use crate::storage::models::RevokedRow;
use crate::storage::schema::users;
use crate::storage::AnyConnection;
use crate::tenants::Tenant;
use crate::token::Claims;
use crate::view::change::{self, Change};
use diesel::prelude::*;
use serde_json::Value;

/// Marks the user's tokens issued up to `now_ms` as ended and appends the change to the feed, in
/// the caller's transaction. Returns the change to publish once committed.
pub(crate) fn end_user_tokens(
    conn: &mut AnyConnection,
    tenant_id: &str,
    user_id: &str,
    now_ms: i64,
) -> CoreResult<Change> {
    let n = diesel::update(
        users::table
            .filter(users::tenant_id.eq(tenant_id))
            .filter(users::id.eq(user_id)),
    )
    .set(users::tokens_valid_after.eq(now_ms))
    .execute(conn)?;
    crate::error::found_one(n, "user")?;
    user_changed(conn, tenant_id, user_id, now_ms)
}

/// Appends "this user changed" to the feed, in the caller's transaction.
pub(crate) fn user_changed(
    conn: &mut AnyConnection,
    tenant_id: &str,
    user_id: &str,
    now_ms: i64,
) -> CoreResult<Change> {
    let change = Change::user(tenant_id, user_id, now_ms);
    change::append(conn, &change)?;
    Ok(change)
}

/// A `jti` as an operator may type it: what Gatehouse issues (a UUID) or any short printable word.
fn checked_jti(jti: &str) -> CoreResult<&str> {
    let jti = jti.trim();
    if jti.is_empty() || jti.len() > 128 || !jti.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(CoreError::invalid(
            "jti",
            "must be 1 to 128 printable characters",
        ));
    }
    Ok(jti)
}

impl Core {
    /// Ends one token. `expires_at_secs`: when it would expire anyway (its `exp`); unknown (an
    /// operator's `token revoke`), the longest a token of this tenant issued now could live.
    pub async fn revoke_token(
        &self,
        tenant: &Tenant,
        jti: &str,
        expires_at_secs: Option<i64>,
    ) -> CoreResult<()> {
        self.end_token(tenant, jti, expires_at_secs).await?;
        self.audit(
            tenant,
            Record::success(kind::TOKENS_REVOKED).detail("one token"),
        );
        Ok(())
    }

    async fn end_token(
        &self,
        tenant: &Tenant,
        jti: &str,
        expires_at_secs: Option<i64>,
    ) -> CoreResult<()> {
        let jti = checked_jti(jti)?.to_owned();
        let now = self.now_ms();
        let expires_at =
            expires_at_secs.unwrap_or(self.clock.now_secs() + tenant.settings.token_ttl_seconds);
        let change = Change::revoke(&tenant.id, &jti, expires_at, now);
        let (row, feed) = (
            RevokedRow {
                tenant_id: tenant.id.clone(),
                jti,
                expires_at,
            },
            change.clone(),
        );
        self.db
            .run_tenant(&tenant.id, move |c| {
                write_transaction(c, |c| {
                    change::store_revoked(c, row)?;
                    change::append(c, &feed)
                })
            })
            .await?;
        self.view
            .metrics
            .revocations
            .with_label_values(&["token"])
            .inc();
        self.publish(&[change]).await
    }

    /// Ends every token of the user issued up to now; tokens issued later work.
    pub async fn revoke_user_tokens(&self, tenant: &Tenant, user_id: &str) -> CoreResult<()> {
        self.end_all_tokens(tenant, user_id).await?;
        let record = Record::success(kind::TOKENS_REVOKED)
            .user(user_id)
            .detail("every token");
        self.audit(tenant, record);
        Ok(())
    }

    async fn end_all_tokens(&self, tenant: &Tenant, user_id: &str) -> CoreResult<()> {
        let (tid, uid, now) = (tenant.id.clone(), user_id.to_owned(), self.now_ms());
        let change = self
            .db
            .run_tenant(&tenant.id, move |c| {
                write_transaction(c, |c| end_user_tokens(c, &tid, &uid, now))
            })
            .await?;
        self.view
            .metrics
            .revocations
            .with_label_values(&["user"])
            .inc();
        self.publish(&[change]).await
    }

    /// `gatehouse token revoke`: ends the token `given` names, a whole token (its signature under
    /// one of the tenant's keys proves the tenant issued it) or a `jti`. Gatehouse keeps no list
    /// of the jtis it issued (tokens are stateless; a write per sign-in would be the price), so a
    /// bare jti is held to what an issued one must be: a UUIDv7 as `token::sign_with` mints,
    /// whose time is after the tenant's first key was made, not in the future, and within
    /// `TOKEN_TTL_SECONDS` of now (an older token has expired anyway). Anything else is refused
    /// unless `force`, which records it as given. Returns the jti ended.
    pub async fn revoke_issued_token(
        &self,
        tenant: &Tenant,
        given: &str,
        force: bool,
    ) -> CoreResult<String> {
        // A token as a header carries it ("JWT ..." from Tiledesk, "Bearer ...") is taken too.
        let given = given.trim();
        let given = ["JWT ", "Bearer "]
            .iter()
            .find_map(|p| given.strip_prefix(p))
            .unwrap_or(given)
            .trim();
        let (jti, exp) = if given.matches('.').count() == 2 {
            let signed = crate::token::verify_signed(&tenant.id, &tenant.keys, given, None)
                .map_err(|_| {
                    CoreError::invalid(
                        "token",
                        format!(
                            "not a token tenant {} issued (no key of it signed this)",
                            tenant.slug
                        ),
                    )
                })?;
            let jti = signed
                .claims
                .get("jti")
                .and_then(Value::as_str)
                .ok_or(CoreError::invalid("jti", "the token has no jti"))?
                .to_owned();
            let exp = signed
                .claims
                .get("exp")
                .and_then(Value::as_f64)
                .map(|e| e.ceil() as i64);
            (jti, exp)
        } else if force {
            (checked_jti(given)?.to_owned(), None)
        } else {
            let jti = checked_jti(given)?.to_owned();
            (jti.clone(), Some(self.issued_jti_expiry(tenant, &jti)?))
        };
        self.revoke_token(tenant, &jti, exp).await?;
        Ok(jti)
    }

    /// When a token with this jti, issued by `tenant`, expires (s); an error saying why the jti
    /// cannot be one the tenant issued.
    fn issued_jti_expiry(&self, tenant: &Tenant, jti: &str) -> CoreResult<i64> {
        let refuse = |why: String| {
            CoreError::invalid(
                "jti",
                format!(
                    "{jti} is not a token id tenant {} issued: {why} (pass the whole token, or \
                     --force to record the id anyway)",
                    tenant.slug
                ),
            )
        };
        let mut claims = Claims::new();
        claims.insert("jti".into(), jti.into());
        let issued = uuid::Uuid::parse_str(jti)
            .ok()
            .filter(|u| u.get_version_num() == 7)
            .and_then(|_| crate::token::issued_at_ms(&claims))
            .ok_or_else(|| refuse("Gatehouse's token ids are UUIDv7".into()))?;
        let now = self.now_ms();
        // Nodes' clocks differ a little: a token another node issued may be a moment ahead.
        const SKEW_MS: i64 = 5 * 60 * 1000;
        let first_key = tenant.keys.all().iter().map(|k| k.created_at).min();
        if issued > now + SKEW_MS {
            return Err(refuse("its time is in the future".into()));
        }
        if first_key.is_none_or(|first| issued < first - SKEW_MS) {
            return Err(refuse(
                "its time is before the tenant's first signing key".into(),
            ));
        }
        let expires = issued.div_euclid(1000) + tenant.settings.token_ttl_seconds;
        if expires * 1000 <= now {
            return Err(refuse(format!(
                "a token issued then has expired (TOKEN_TTL_SECONDS {})",
                tenant.settings.token_ttl_seconds
            )));
        }
        Ok(expires)
    }

    /// Logout with a verified token: ends that token, or with `all` every token of its user.
    pub async fn logout(
        &self,
        tenant: &Tenant,
        claims: &Claims,
        user_id: &str,
        all: bool,
    ) -> CoreResult<()> {
        let record = Record::success(kind::LOGOUT).user(user_id);
        if all {
            self.end_all_tokens(tenant, user_id).await?;
            self.audit(tenant, record.detail("every token"));
            return Ok(());
        }
        // A token without a `jti` (an imported legacy token; tiledesk-server's carry none) cannot
        // be ended alone, and it has no `exp` either: it is ended with every token of its user
        // issued up to now, rather than answering an error and letting it live (issue 21.10).
        let Some(jti) = claims.get("jti").and_then(Value::as_str) else {
            self.end_all_tokens(tenant, user_id).await?;
            self.audit(tenant, record.detail("every token (the token has no jti)"));
            return Ok(());
        };
        let exp = claims
            .get("exp")
            .and_then(Value::as_f64)
            .map(|e| e.ceil() as i64);
        self.end_token(tenant, jti, exp).await?;
        self.audit(tenant, record);
        Ok(())
    }
}
