//! Bearer tokens in the Appmixer format: issuing them (`{id, scope}` plus core's standard claims),
//! checking them (tenant key, expiry, and the shape, so a Tiledesk token is not accepted here) and
//! the scope checks of the admin routes.

use crate::context::Ctx;
use crate::errors::{ApiError, ApiResult};
use gatehouse_core::token::Claims;
use gatehouse_core::users::User;
use gatehouse_core::view::CheckedUser;
use gatehouse_core::{AuthFailure, CoreError, Scope, Tenant};
use serde_json::Value;
use std::sync::Arc;

/// Signs a token for `user`, carrying its current scopes.
pub fn issue(ctx: &Ctx, tenant: &Tenant, user: &User) -> ApiResult<String> {
    let mut claims = Claims::new();
    claims.insert("id".into(), user.id.clone().into());
    claims.insert("scope".into(), user.scopes.clone().into());
    Ok(ctx.core.issue_token(tenant, claims)?)
}

fn unauthorized(failure: AuthFailure) -> ApiError {
    CoreError::Unauthorized(failure).into()
}

/// The token of `Authorization: Bearer <jwt>`. Another scheme is treated as no credentials.
fn bearer(ctx: &Ctx) -> ApiResult<&str> {
    let header = ctx
        .authorization
        .as_deref()
        .ok_or_else(|| unauthorized(AuthFailure::MissingToken))?;
    match header.trim().split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => Ok(token.trim()),
        _ => Err(unauthorized(AuthFailure::MissingToken)),
    }
}

/// Appmixer tokens carry a string `id` and an array `scope`, and never `aud` or `sub`: those mark
/// a Tiledesk token, which the same tenant key signs but this dialect must refuse.
pub fn user_id_of(claims: &Claims) -> Option<&str> {
    if claims.contains_key("aud") || claims.contains_key("sub") {
        return None;
    }
    if !matches!(claims.get("scope"), Some(Value::Array(_))) {
        return None;
    }
    claims.get("id").and_then(Value::as_str)
}

/// The user behind the request's token: 401 without one or with a bad or expired one, 404 when
/// the user is gone, 401 when the user is disabled.
pub async fn caller(ctx: &Ctx) -> ApiResult<CheckedUser> {
    Ok(caller_and_claims(ctx).await?.0)
}

/// `caller`, with the token's claims (logout needs its `jti` and `exp`).
pub async fn caller_and_claims(ctx: &Ctx) -> ApiResult<(CheckedUser, Arc<Claims>)> {
    let jwt = bearer(ctx)?;
    // Appmixer never took the replaced system's kid-less tokens: neither does this facade.
    let claims = ctx.core.verify_own_token(&ctx.tenant, jwt, None)?;
    let id = user_id_of(&claims).ok_or_else(|| unauthorized(AuthFailure::InvalidToken))?;
    let user = ctx.core.token_user(&ctx.tenant, &claims, id).await?;
    Ok((user, claims))
}

/// The caller, who must hold one of `scopes`. Scopes are read from the stored user rather than the
/// token, so taking a scope away takes effect at once.
pub async fn caller_with_scope(ctx: &Ctx, scopes: &[Scope]) -> ApiResult<CheckedUser> {
    let user = caller(ctx).await?;
    if scopes.iter().any(|s| user.has_scope(s.as_str())) {
        Ok(user)
    } else {
        Err(ApiError::Forbidden("Insufficient scope"))
    }
}

/// The caller of an admin route.
pub async fn admin(ctx: &Ctx) -> ApiResult<CheckedUser> {
    caller_with_scope(ctx, &[Scope::admin()]).await
}
