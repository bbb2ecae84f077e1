//! `POST /user/auth`: sign in with a username or an email, and get the user and a token.

use crate::auth;
use crate::body::JsonBody;
use crate::context::Ctx;
use crate::errors::{ApiError, ApiResult};
use crate::views;
use actix_web::HttpResponse;
use gatehouse_core::users::Login;
use gatehouse_core::{CoreError, Password};
use serde_json::json;

pub async fn signin(ctx: Ctx, body: ApiResult<JsonBody>) -> ApiResult<HttpResponse> {
    let body = body?;
    let username = body.optional_str("username")?;
    let email = body.optional_str("email")?;
    let password = body.required_str("password")?;
    let login = username
        .or(email)
        .ok_or_else(|| ApiError::bad_request("\"username\" or \"email\" is required"))?;
    let tenant = &ctx.tenant;
    let user = ctx
        .core
        .signin(
            tenant,
            ctx.client_ip,
            Login::UsernameOrEmail(login.to_owned()),
            &Password::candidate(password),
        )
        .await
        .map_err(|e| match e {
            // A disabled account gets the same answer as a wrong password: sign-in does not say
            // which accounts exist or what state they are in.
            CoreError::Unauthorized(_) => ApiError::Forbidden("Invalid credentials"),
            other => other.into(),
        })?;
    let token = auth::issue(&ctx, tenant, &user)?;
    Ok(HttpResponse::Ok().json(json!({"user": views::signed_in(&user), "token": token})))
}
