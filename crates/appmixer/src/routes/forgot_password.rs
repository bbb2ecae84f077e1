//! Forgotten passwords as Appmixer documents them: `POST /user/forgot-password` `{email}` makes a
//! code and mails its link (the docs' default link is `<frontend>/reset-password?code={{code}}`),
//! and `POST /forgot-password/reset` `{code, password}` sets the new password. Appmixer hands the
//! code to a webhook or its mail settings; Gatehouse mails it through the tenant's `SMTP_URL`.

use super::empty_ok;
use crate::body::JsonBody;
use crate::context::Ctx;
use crate::errors::ApiResult;
use actix_web::HttpResponse;
use gatehouse_core::mail::Links;
use gatehouse_core::{CoreError, Email, Password};

/// The Appmixer front end's reset page; the verification link is the Tiledesk dashboard's shape
/// (Appmixer mails none of its own).
pub(crate) const LINKS: Links = Links {
    reset: "{base}/reset-password?code={code}",
    verify: "{base}/#/verify/email/{uid}/{code}",
};

/// `POST /user/forgot-password`: the same `{}` whether or not the address has an account.
pub async fn request(ctx: Ctx, body: ApiResult<JsonBody>) -> ApiResult<HttpResponse> {
    let body = body?;
    body.only(&["email"])?;
    let email = Email::parse(body.required_str("email")?)?;
    ctx.core
        .clone()
        .into_inner()
        .request_password_reset(ctx.tenant.clone(), ctx.client_ip, email, LINKS)
        .await?;
    Ok(empty_ok())
}

/// `POST /forgot-password/reset`: a live code and the new password.
pub async fn reset(ctx: Ctx, body: ApiResult<JsonBody>) -> ApiResult<HttpResponse> {
    let body = body?;
    body.only(&["code", "password"])?;
    let code = body.required_str("code")?;
    let password = Password::new(
        body.required_str("password")?,
        ctx.tenant
            .settings
            .min_password_length(crate::PASSWORD_MIN_LENGTH),
    )?;
    ctx.core
        .reset_password_with_code(&ctx.tenant, ctx.client_ip, code, &password)
        .await
        .map_err(|e| match e {
            CoreError::NotFound(_) => CoreError::NotFound("code"),
            other => other,
        })?;
    Ok(empty_ok())
}
