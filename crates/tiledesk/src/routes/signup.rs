//! `POST /auth/signup`: a new agent account with a password.

use crate::body::Body;
use crate::context::Ctx;
use crate::errors::{FieldError, TiledeskError};
use crate::fields::{self, AllValid};
use crate::render;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use gatehouse_core::mail::VerificationMail;
use gatehouse_core::signup_policy::SignupPath;
use gatehouse_core::users::NewUser;
use gatehouse_core::{Core, CoreError, Password};
use serde_json::{json, Value};

pub async fn signup(
    Ctx(ctx): Ctx,
    core: web::Data<Core>,
    Body(body): Body,
) -> Result<HttpResponse, TiledeskError> {
    let tenant = &ctx.tenant;
    // Decided before the body is judged: a closed signup tells everyone the same.
    core.check_self_signup(tenant, SignupPath::Signup)?;
    let (email, firstname, lastname) = (
        fields::email(&body, "email"),
        fields::text(&body, "firstname"),
        fields::text(&body, "lastname"),
    )
        .all_valid()?;
    // The original tests `!req.body.password`, so an empty password counts as missing.
    let password = fields::optional_secret(&body, "password")?.filter(|p| !p.is_empty());
    let Some(raw) = password else {
        // The original answers a missing password with a 200 that says it failed.
        return Ok(HttpResponse::Ok()
            .json(json!({"success": false, "msg": "Please pass email and password."})));
    };
    let password = Password::new(
        &raw,
        tenant
            .settings
            .min_password_length(crate::PASSWORD_MIN_LENGTH),
    )
    .map_err(|_| FieldError::hidden("password"))?;
    // Counted once the request is well formed, so that typos do not use up a client's quota.
    core.check_signup_rate(tenant, ctx.client_ip)?;
    let mut new = NewUser::new(email, Some(password));
    new.firstname = firstname;
    new.lastname = lastname;
    let user = core.create_user(tenant, new).await.map_err(|e| match e {
        CoreError::Conflict(_) => {
            TiledeskError::Message(StatusCode::FORBIDDEN, "Email already registered")
        }
        other => other.into(),
    })?;
    // auth.js mails a verification code at signup unless the body says `disableEmail`. The
    // account exists either way: a mail that cannot be queued, or one past the tenant's mail
    // limits (core counts it against them), is logged, not a failed signup.
    let disable_email = body
        .get("disableEmail")
        .is_some_and(|v| !matches!(v, Value::Null | Value::Bool(false)));
    if !disable_email {
        if let Err(e) = core
            .send_verification(
                tenant,
                &user,
                ctx.client_ip,
                VerificationMail::Signup,
                crate::MAIL_LINKS,
            )
            .await
        {
            log::warn!("verification mail for user {} not queued: {e}", user.id);
        }
    }
    Ok(HttpResponse::Ok().json(json!({
        "success": true,
        "msg": "Successfully created new user.",
        "user": render::signup_user(&user),
    })))
}
