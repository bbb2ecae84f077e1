//! The caller's own account: creating one (`POST /user`, open or scope-guarded by
//! `API_USER_CREATE_SCOPE`), reading it (`GET /user`) and changing its password.

use super::empty_ok;
use crate::auth;
use crate::body::JsonBody;
use crate::context::Ctx;
use crate::errors::{ApiError, ApiResult};
use crate::views;
use actix_web::{HttpRequest, HttpResponse};
use gatehouse_core::service::SIGNUP_CLOSED;
use gatehouse_core::signup_policy::{Creator, Signup};
use gatehouse_core::users::NewUser;
use gatehouse_core::{AuthFailure, CoreError, Email, Password, Username};
use serde_json::json;
use std::collections::HashMap;

pub async fn create(ctx: Ctx, body: ApiResult<JsonBody>) -> ApiResult<HttpResponse> {
    let tenant = ctx.tenant.clone();
    ctx.core.check_signup_rate(&tenant, ctx.client_ip)?;
    // Authentication comes before the body is looked at, as in hapi: an anonymous caller of a
    // closed signup learns it needs a token, not what is wrong with its body.
    // Core decides whether signup is open (for both dialects); this route's exception is that a
    // Bearer token holding one of the tenant's scopes may still create users.
    match ctx.core.signup_policy(&tenant, Creator::AppmixerApi) {
        Signup::Open => {}
        Signup::ScopeRequired(scopes) => {
            auth::caller_with_scope(&ctx, scopes).await?;
        }
        Signup::Closed => return Err(CoreError::Forbidden(SIGNUP_CLOSED).into()),
    }
    let body = body?;
    // The docs: `password`* is the one required field; `email`, `username` (an email address in
    // their examples) and `metadata` are optional. One of username or email must name the account
    // (core refuses neither), or it could never sign in again.
    let username = body.optional_str("username")?;
    let email = body.optional_str("email")?;
    let password = body.required_str("password")?;
    let metadata = body.optional_object("metadata")?.cloned();

    let username = username.map(Username::parse).transpose()?;
    let email = email.map(Email::parse).transpose()?;
    let min = tenant
        .settings
        .min_password_length(crate::PASSWORD_MIN_LENGTH);
    let password = Password::new(password, min)?;
    let mut new = NewUser::named(email, username, Some(password));
    if let Some(m) = metadata {
        new.metadata = m.into();
    }
    let user = ctx
        .core
        .create_user(&tenant, new)
        .await
        .map_err(|e| match e {
            CoreError::Conflict(_) => CoreError::Conflict("user already exists"),
            other => other,
        })?;
    let token = auth::issue(&ctx, &tenant, &user)?;
    Ok(HttpResponse::Ok().json(json!({ "token": token })))
}

pub async fn me(ctx: Ctx) -> ApiResult<HttpResponse> {
    let user = auth::caller(&ctx).await?;
    Ok(HttpResponse::Ok().json(views::profile(&user)))
}

/// `POST /user/logout` ends the presented token; `?all=true` every token of its user issued so
/// far. Appmixer's own logout only drops the token on the client; this one ends it on the server.
pub async fn logout(ctx: Ctx, req: HttpRequest) -> ApiResult<HttpResponse> {
    let (user, claims) = auth::caller_and_claims(&ctx).await?;
    let pairs: HashMap<String, String> = serde_urlencoded::from_str(req.query_string())
        .map_err(|_| ApiError::bad_request("Invalid request query"))?;
    let all = match pairs.get("all").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(ApiError::must_be("all", "a boolean")),
    };
    ctx.core.logout(&ctx.tenant, &claims, &user.id, all).await?;
    Ok(empty_ok())
}

pub async fn change_password(ctx: Ctx, body: ApiResult<JsonBody>) -> ApiResult<HttpResponse> {
    let user = auth::caller(&ctx).await?;
    let body = body?;
    let old = Password::candidate(body.required_str("oldPassword")?);
    let new = body.required_str("newPassword")?;
    let new = Password::new(
        new,
        ctx.tenant
            .settings
            .min_password_length(crate::PASSWORD_MIN_LENGTH),
    )
    .map_err(|e| match e {
        // Core names the field `password`; this route calls it `newPassword`.
        CoreError::InvalidInput { message, .. } => CoreError::invalid("newPassword", message),
        other => other,
    })?;
    ctx.core
        .change_password(&ctx.tenant, &user.id, &old, &new)
        .await
        .map_err(|e| match e {
            CoreError::Unauthorized(AuthFailure::WrongPassword) => {
                ApiError::Forbidden("Invalid old password")
            }
            CoreError::Forbidden(_) => {
                ApiError::bad_request("\"newPassword\" must differ from \"oldPassword\"")
            }
            other => other.into(),
        })?;
    Ok(empty_ok())
}
