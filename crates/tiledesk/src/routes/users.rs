//! `GET /users` (the current agent) and `PUT /users/changepsw`.

use crate::body::Body;
use crate::context::Ctx;
use crate::errors::{FieldError, TiledeskError};
use crate::fields::{self, AllValid};
use crate::render;
use crate::token;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use gatehouse_core::{AuthFailure, Core, CoreError, Password};
use serde_json::json;

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
    let new = Password::new(&new, tenant.settings.password_min_length)
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
