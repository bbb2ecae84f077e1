//! `POST /auth/signinWithCustomToken`: exchanges a customer-signed custom token for a Gatehouse
//! token. External users join the project as `user`; `owner`/`admin`/`agent` roles are linked to
//! an agent account by email and get an agent token bound to that project.

use crate::context::Ctx;
use crate::custom_token::{self, ExternalUser};
use crate::errors::TiledeskError;
use crate::render;
use crate::token::{self, Subject, BOUND_PROJECT};
use actix_web::{web, HttpRequest, HttpResponse};
use gatehouse_core::projects::{MemberOf, Role};
use gatehouse_core::token::{verify_hs256, Claims};
use gatehouse_core::{Core, Email, Tenant};
use serde_json::Value;

/// Takes no body: the content type (none, or axios's empty form) is ignored.
pub async fn signin_with_custom_token(
    req: HttpRequest,
    Ctx(ctx): Ctx,
    core: web::Data<Core>,
) -> Result<HttpResponse, TiledeskError> {
    let tenant = &ctx.tenant;
    let jwt = custom_token::from_request(&req).ok_or(TiledeskError::Unauthorized)?;
    let (aud, project_id) =
        custom_token::unverified_audience(jwt, tenant).ok_or(TiledeskError::Unauthorized)?;
    // Only this tenant's projects: another tenant's project id is simply not found here.
    let project = core
        .project(tenant, &project_id)
        .await
        .map_err(TiledeskError::token_failure)?;
    let claims = verify_hs256(
        project.jwt_secret.expose().as_bytes(),
        jwt,
        Some(&aud),
        tenant.settings.custom_token_require_exp,
        core.now_ms().div_euclid(1000),
    )
    .map_err(TiledeskError::token_failure)?;
    let external = ExternalUser::from_claims(&claims).ok_or(TiledeskError::Unauthorized)?;
    if external.role.is_agent() {
        agent_signin(&core, tenant, &project.id, &external).await
    } else {
        external_signin(&core, tenant, &project.id, &external, &claims).await
    }
}

async fn external_signin(
    core: &Core,
    tenant: &Tenant,
    project_id: &str,
    external: &ExternalUser,
    claims: &Claims,
) -> Result<HttpResponse, TiledeskError> {
    let who = MemberOf::External(external.id.clone());
    // Checked before writing, so a disabled member's profile is left as the admin saw it.
    if let Some(member) = core.membership(tenant, project_id, who.clone()).await? {
        if !member.active {
            return Err(TiledeskError::member_not_active());
        }
    }
    let echoed = custom_token::echoed_claims(claims);
    let member = core
        .upsert_member(
            tenant,
            project_id,
            who,
            Role::User,
            Value::Object(echoed.clone()),
        )
        .await?;
    if !member.active {
        return Err(TiledeskError::member_not_active());
    }
    let mut ours = Claims::new();
    ours.insert("_id".into(), external.id.clone().into());
    for (key, value) in [
        ("email", &external.email),
        ("firstname", &external.firstname),
        ("lastname", &external.lastname),
    ] {
        if let Some(v) = value {
            ours.insert(key.into(), v.clone().into());
        }
    }
    ours.insert("emailverified".into(), false.into());
    let token = token::issue(core, tenant, Subject::External, ours)?;
    Ok(HttpResponse::Ok().json(render::success_with_token(
        token,
        render::decorate(echoed, &external.id),
    )))
}

async fn agent_signin(
    core: &Core,
    tenant: &Tenant,
    project_id: &str,
    external: &ExternalUser,
) -> Result<HttpResponse, TiledeskError> {
    // An agent role names its account by email; without a usable one there is nobody to link.
    let email = external
        .email
        .as_deref()
        .and_then(|e| Email::parse(e).ok())
        .ok_or(TiledeskError::Unauthorized)?;
    let (user, member) = core
        .link_agent(
            tenant,
            project_id,
            &email,
            external.role,
            external.firstname.as_deref().unwrap_or_default(),
            external.lastname.as_deref().unwrap_or_default(),
        )
        .await
        .map_err(TiledeskError::token_failure)?;
    if !member.active {
        return Err(TiledeskError::member_not_active());
    }
    let public = render::public_user(&user);
    let mut claims = public.clone();
    // The project's secret vouches for this person in this project only; without the binding,
    // whoever holds one project's secret could act as any agent of the tenant everywhere.
    claims.insert(BOUND_PROJECT.into(), project_id.into());
    let token = token::issue(core, tenant, Subject::User, claims)?;
    Ok(HttpResponse::Ok().json(render::success_with_token(
        token,
        render::decorate(public, &user.id),
    )))
}
