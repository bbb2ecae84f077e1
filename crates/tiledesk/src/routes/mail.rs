//! Password reset and email verification (tiledesk-server routes/auth.js and routes/users.js):
//! `PUT /auth/requestresetpsw`, `GET /auth/checkpswresetkey/:id`, `PUT /auth/resetpsw/:id`,
//! `PUT /auth/verifyemail/:uid/:code` and `GET /users/resendverifyemail`. Codes and mail are core's;
//! this module speaks the original's shapes. One departure: `requestresetpsw` answers the same for
//! known and unknown emails (the original answers `User not found.` for an unknown one).

use crate::body::Body;
use crate::context::Ctx;
use crate::errors::{FieldError, TiledeskError};
use crate::fields;
use crate::render;
use crate::token;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use gatehouse_core::mail::{VerificationMail, MAIL_NOT_CONFIGURED, VERIFY_OTHER_USER};
use gatehouse_core::{Core, CoreError, Password};
use serde_json::{json, Value};

use crate::MAIL_LINKS as LINKS;

const INVALID_KEY: &str = "Invalid password reset key";
const CODE_EXPIRED: &str = "Unable to verify email: the verification code is expired or invalid.";
const OTHER_USER: &str = "Trying to use a verification code from another user.";
/// errorCodes.js lines 9-10: `VERIFICATION_CODE_EXPIRED: 10005`, `VERIFICATION_CODE_OTHER_USER:
/// 10006`; the dashboard offers "resend" only for 10005.
const CODE_EXPIRED_ERROR: u32 = 10005;
const OTHER_USER_ERROR: u32 = 10006;
/// What the hosted server says when its reset limits stop a caller.
const TOO_MANY_RESETS: &str = "Too many password reset requests";

/// Mail not configured and mail limits, worded for this dialect; everything else as core says.
fn mail_failure(e: CoreError) -> TiledeskError {
    match e {
        CoreError::Forbidden(r) if r == MAIL_NOT_CONFIGURED => TiledeskError::Msg(
            StatusCode::SERVICE_UNAVAILABLE,
            "Email service is not configured.",
        ),
        CoreError::RateLimited => {
            TiledeskError::Msg(StatusCode::TOO_MANY_REQUESTS, TOO_MANY_RESETS)
        }
        other => other.into(),
    }
}

fn invalid_key(e: CoreError) -> TiledeskError {
    match e {
        CoreError::NotFound(_) => TiledeskError::Msg(StatusCode::NOT_FOUND, INVALID_KEY),
        other => other.into(),
    }
}

/// `PUT /auth/requestresetpsw` `{email}`: a reset mail to the account, if there is one. The
/// answer (and its time: the account is looked up after the answer) is the same either way.
pub async fn request_reset(
    Ctx(ctx): Ctx,
    core: web::Data<Core>,
    Body(body): Body,
) -> Result<HttpResponse, TiledeskError> {
    let email = fields::email(&body, "email")?;
    core.into_inner()
        .request_password_reset(ctx.tenant.clone(), ctx.client_ip, email, LINKS)
        .await
        .map_err(mail_failure)?;
    Ok(HttpResponse::Ok().json(json!({
        "success": true,
        "message": "An email has been sent to reset your password",
    })))
}

/// `GET /auth/checkpswresetkey/:id`: whether a reset key works (it stays usable).
pub async fn check_reset_key(
    Ctx(ctx): Ctx,
    core: web::Data<Core>,
    key: web::Path<String>,
) -> Result<HttpResponse, TiledeskError> {
    let user = core
        .check_reset_code(&ctx.tenant, ctx.client_ip, &key)
        .await
        .map_err(invalid_key)?;
    Ok(HttpResponse::Ok().json(json!({
        "message": "Valid password reset key",
        "user": Value::Object(render::public_user(&user)),
    })))
}

/// `PUT /auth/resetpsw/:id` `{password}`: the new password; the key is used up, earlier tokens end.
pub async fn reset(
    Ctx(ctx): Ctx,
    core: web::Data<Core>,
    key: web::Path<String>,
    Body(body): Body,
) -> Result<HttpResponse, TiledeskError> {
    let tenant = &ctx.tenant;
    let raw = fields::secret(&body, "password")?;
    let password = Password::new(
        &raw,
        tenant
            .settings
            .min_password_length(crate::PASSWORD_MIN_LENGTH),
    )
    .map_err(|_| FieldError::hidden("password"))?;
    let user = core
        .reset_password_with_code(tenant, ctx.client_ip, &key, &password)
        .await
        .map_err(invalid_key)?;
    Ok(HttpResponse::Ok().json(json!({
        "message": "Password change successful",
        "user": render::user_doc(&user),
    })))
}

/// `PUT /auth/verifyemail/:uid/:code`: follows a verification mail; answers the user document.
/// The code stays live for its 900 s, as auth.js (line 887-914) never deletes the key: a reload
/// of the verify page verifies again.
pub async fn verify_email(
    Ctx(ctx): Ctx,
    core: web::Data<Core>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, TiledeskError> {
    let (uid, code) = path.into_inner();
    let user = core
        .verify_email(&ctx.tenant, ctx.client_ip, &uid, &code)
        .await
        .map_err(|e| match e {
            CoreError::NotFound(_) => {
                TiledeskError::Error(StatusCode::UNAUTHORIZED, CODE_EXPIRED, CODE_EXPIRED_ERROR)
            }
            CoreError::Forbidden(r) if r == VERIFY_OTHER_USER => {
                TiledeskError::Error(StatusCode::UNAUTHORIZED, OTHER_USER, OTHER_USER_ERROR)
            }
            other => other.into(),
        })?;
    Ok(HttpResponse::Ok().json(render::user_doc(&user)))
}

/// `GET /users/resendverifyemail`: a new verification mail to the signed-in agent.
pub async fn resend_verify_email(
    req: HttpRequest,
    Ctx(ctx): Ctx,
    core: web::Data<Core>,
) -> Result<HttpResponse, TiledeskError> {
    let agent = token::agent(&req, &core, &ctx.tenant).await?;
    core.send_verification(
        &ctx.tenant,
        &agent.user,
        ctx.client_ip,
        VerificationMail::Resend,
        LINKS,
    )
    .await
    .map_err(mail_failure)?;
    Ok(HttpResponse::Ok().json(json!({
        "success": true,
        "message": "Verify email successfully sent",
    })))
}
