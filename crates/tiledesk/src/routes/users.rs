//! The current agent's own account (routes/users.js): `GET /users`, `PUT /users` (profile),
//! `DELETE /users` (account deletion) and `PUT /users/changepsw`.

use crate::body::Body;
use crate::context::Ctx;
use crate::errors::{FieldError, TiledeskError};
use crate::fields::{self, AllValid};
use crate::render;
use crate::token;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use gatehouse_core::users::ProfilePatch;
use gatehouse_core::{AuthFailure, Core, CoreError, Password};
use serde_json::{json, Value};

/// The one-line profile fields users.js's `PUT /` copies besides the names (routes/users.js
/// lines 22-42: `if (req.body.x != undefined) { update.x = req.body.x; }`).
const PROFILE_TEXT: [&str; 3] = ["public_email", "public_website", "phone"];
/// The free-text one: the design studio's community form sends a textarea.
const PROFILE_FREE_TEXT: &str = "description";

pub async fn current(
    req: HttpRequest,
    Ctx(ctx): Ctx,
    core: web::Data<Core>,
) -> Result<HttpResponse, TiledeskError> {
    let agent = token::agent(&req, &core, &ctx.tenant).await?;
    Ok(HttpResponse::Ok().json(render::public_user(&agent.user)))
}

pub async fn change_password(
    req: HttpRequest,
    Ctx(ctx): Ctx,
    core: web::Data<Core>,
    Body(body): Body,
) -> Result<HttpResponse, TiledeskError> {
    let tenant = &ctx.tenant;
    let agent = token::agent(&req, &core, tenant).await?;
    let (old, new) = (
        fields::secret(&body, "oldpsw"),
        fields::secret(&body, "newpsw"),
    )
        .all_valid()?;
    let new = Password::new(
        &new,
        tenant
            .settings
            .min_password_length(crate::PASSWORD_MIN_LENGTH),
    )
    .map_err(|_| FieldError::hidden("newpsw"))?;
    core.change_password(tenant, &agent.user.id, &Password::candidate(&old), &new)
        .await
        .map_err(|e| match e {
            CoreError::Unauthorized(AuthFailure::WrongPassword) => {
                TiledeskError::Msg(StatusCode::UNAUTHORIZED, "Current password is invalid.")
            }
            CoreError::Forbidden(_) => TiledeskError::Message(
                StatusCode::FORBIDDEN,
                "The new password must be different from the previous one.",
            ),
            other => other.into(),
        })?;
    Ok(HttpResponse::Ok().json(json!({"success": true, "msg": "Password changed."})))
}

/// `PUT /users`: users.js sets each of `firstname`, `lastname`, `attributes`, `description`,
/// `public_email`, `public_website`, `phone` that is sent, and answers
/// `{ success: true, updatedUser }`. A field sent as `""` is cleared (it is not `undefined`).
pub async fn update_profile(
    req: HttpRequest,
    Ctx(ctx): Ctx,
    core: web::Data<Core>,
    Body(body): Body,
) -> Result<HttpResponse, TiledeskError> {
    let tenant = &ctx.tenant;
    let agent = token::agent(&req, &core, tenant).await?;
    let (firstname, lastname, attributes) = (
        fields::clearable_text(&body, "firstname"),
        fields::clearable_text(&body, "lastname"),
        fields::optional_object(&body, "attributes"),
    )
        .all_valid()?;
    let mut patch = ProfilePatch {
        firstname,
        lastname,
        ..ProfilePatch::default()
    };
    if let Some(attributes) = attributes {
        patch
            .extra
            .insert("attributes".into(), Value::Object(attributes));
    }
    let mut bad = Vec::new();
    let texts = PROFILE_TEXT
        .iter()
        .map(|p| (*p, fields::clearable_text(&body, p)))
        .chain([(
            PROFILE_FREE_TEXT,
            fields::clearable_free_text(&body, PROFILE_FREE_TEXT),
        )]);
    for (param, value) in texts {
        match value {
            Ok(Some(v)) => {
                patch.extra.insert(param.into(), v.into());
            }
            Ok(None) => {}
            Err(e) => bad.push(e),
        }
    }
    if !bad.is_empty() {
        return Err(TiledeskError::Invalid(bad));
    }
    let user = core.update_profile(tenant, &agent.user.id, patch).await?;
    Ok(HttpResponse::Ok().json(json!({"success": true, "updatedUser": render::user_doc(&user)})))
}

/// `DELETE /users`: users.js anonymises the account (`status: 0`, a random email, names
/// `anonymized`) and answers `{ success: true, updatedUser }`. Gatehouse deletes it for real, with
/// its memberships, and answers with the anonymised document the original shows.
pub async fn delete_account(
    req: HttpRequest,
    Ctx(ctx): Ctx,
    core: web::Data<Core>,
) -> Result<HttpResponse, TiledeskError> {
    let tenant = &ctx.tenant;
    let agent = token::agent(&req, &core, tenant).await?;
    if agent.bound_project.is_some() {
        // A token vouched for by one project's secret does not end the whole account.
        return Err(TiledeskError::forbidden());
    }
    core.delete_user(tenant, &agent.user.id).await?;
    Ok(HttpResponse::Ok().json(json!({
        "success": true,
        "updatedUser": render::anonymized_doc(&agent.user, core.now_ms()),
    })))
}
