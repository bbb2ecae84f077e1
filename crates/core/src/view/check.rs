//! The token check's questions to the view: is this token's `jti` revoked, and is the user behind
//! it still there, enabled, and without a "tokens issued before" mark that ends this token.

use super::UserState;
use crate::error::{AuthFailure, CoreError, CoreResult};
use crate::service::Core;
use crate::tenants::Tenant;
use crate::token::{self, Claims};
use crate::users::User;
use serde_json::Value;
use std::sync::Arc;

/// The user behind a token, as the check found them: shared with the view's cache, so a token
/// check copies no part of the user. Reads as a `User`.
#[derive(Debug, Clone)]
pub struct CheckedUser(Arc<UserState>);

impl std::ops::Deref for CheckedUser {
    type Target = User;

    fn deref(&self) -> &User {
        &self.0.user
    }
}

/// A user who proved who they are otherwise (a password, where a dialect takes one in place of
/// a token).
impl From<User> for CheckedUser {
    fn from(user: User) -> CheckedUser {
        CheckedUser(Arc::new(UserState {
            user,
            tokens_valid_after: 0,
        }))
    }
}

impl Core {
    /// Refuses a token whose `jti` was revoked (logout, `gatehouse token revoke`). In memory only.
    pub(crate) fn refuse_revoked(&self, tenant: &Tenant, claims: &Claims) -> CoreResult<()> {
        let jti = claims.get("jti").and_then(Value::as_str).unwrap_or("");
        if self.view.is_revoked(&tenant.id, jti) {
            self.refused("revoked");
            return Err(CoreError::Unauthorized(AuthFailure::InvalidToken));
        }
        Ok(())
    }

    /// The user behind a verified token (`claims` from `verify_token`, `id` the dialect's user
    /// claim): `NotFound` when deleted, `Unauthorized(Disabled)` when disabled, and
    /// `Unauthorized(InvalidToken)` when the token was issued before the user's tokens were ended
    /// (logout everywhere, revoke-tokens, password change, disabling). Answered from the view; the
    /// database is read only when the view does not hold the user.
    pub async fn token_user(
        &self,
        tenant: &Tenant,
        claims: &Claims,
        id: &str,
    ) -> CoreResult<CheckedUser> {
        let state = self.user_state(tenant, id).await?;
        let Some(state) = state else {
            self.refused("deleted");
            return Err(CoreError::NotFound("user"));
        };
        if state.user.disabled {
            self.refused("disabled");
            return Err(CoreError::Unauthorized(AuthFailure::Disabled));
        }
        // A token whose issue time cannot be told is ended by any mark.
        let issued = token::issued_at_ms(claims).unwrap_or(i64::MIN);
        if state.tokens_valid_after > 0 && issued <= state.tokens_valid_after {
            self.refused("ended");
            return Err(CoreError::Unauthorized(AuthFailure::InvalidToken));
        }
        Ok(CheckedUser(state))
    }

    async fn user_state(
        &self,
        tenant: &Tenant,
        id: &str,
    ) -> CoreResult<Option<std::sync::Arc<UserState>>> {
        let (tid, uid) = (tenant.id.clone(), id.to_owned());
        self.view
            .user(&tenant.id, id, || async move {
                self.db
                    .run_tenant(&tid.clone(), move |c| {
                        crate::users::load_state(c, &tid, &uid)
                    })
                    .await
            })
            .await
    }

    fn refused(&self, reason: &str) {
        self.view
            .metrics
            .token_refusals
            .with_label_values(&[reason])
            .inc();
    }
}
