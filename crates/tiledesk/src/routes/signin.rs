//! `POST /auth/signin`: email and password for an agent token.

use crate::body::Body;
use crate::context::Ctx;
use crate::errors::TiledeskError;
use crate::fields::{self, AllValid};
use crate::render;
use crate::token::{self, Subject};
use actix_web::{web, HttpResponse};
use gatehouse_core::users::Login;
use gatehouse_core::{Core, Password};
use serde_json::Value;

pub async fn signin(
    Ctx(ctx): Ctx,
    core: web::Data<Core>,
    Body(body): Body,
) -> Result<HttpResponse, TiledeskError> {
    let tenant = &ctx.tenant;
    let (email, password) = (
        fields::email(&body, "email"),
        fields::secret(&body, "password"),
    )
        .all_valid()?;
    let user = core
        .signin(
            tenant,
            ctx.client_ip,
            Login::Email(email),
            &Password::candidate(&password),
        )
        .await?;
    let public = render::public_user(&user);
    let token = token::issue(&core, tenant, Subject::User, public.clone())?;
    let mut answer = render::success_with_token(token, Value::Object(public));
    if user.has_scope("admin") {
        // Top level, as the original marks its super admin.
        answer["role"] = "admin".into();
    }
    Ok(HttpResponse::Ok().json(answer))
}
