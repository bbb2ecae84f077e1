//! `POST /auth/signinWithCustomToken`. Two uses, told apart by the token's `aud`:
//! - a token this tenant issued (the generic audience), which the widget, chat21-ionic and the
//!   dashboard's autologin post back on every page load: checked as any token is, and echoed;
//! - a custom token signed with a project's `jwtSecret`, exchanged for a Gatehouse token that
//!   expires no later than it and carries its extra claims. External users join the project as
//!   `user`; `owner`/`admin`/`agent` roles name an agent account by email (see
//!   `Core::custom_token_agent` for which accounts that may be).

use crate::context::Ctx;
use crate::custom_token::{self, Audience, ExternalUser};
use crate::errors::TiledeskError;
use crate::render;
use crate::token::{self, Subject, BOUND_PROJECT};
use actix_web::{web, HttpRequest, HttpResponse};
use gatehouse_core::audit::{kind, Outcome, Record};
use gatehouse_core::projects::{MemberOf, NamedAgent, Role};
use gatehouse_core::token::{expiry_of, Claims};
use gatehouse_core::{Core, Email, Tenant};
use serde_json::{json, Value};
use std::net::IpAddr;

/// Takes no body: the content type (none, or axios's empty form) is ignored.
pub async fn signin_with_custom_token(
    req: HttpRequest,
    Ctx(ctx): Ctx,
    core: web::Data<Core>,
) -> Result<HttpResponse, TiledeskError> {
    let tenant = &ctx.tenant;
    let jwt = custom_token::from_request(&req).ok_or(TiledeskError::Unauthorized)?;
    let (aud, project_id) = match custom_token::unverified_audience(jwt, tenant) {
        Some(Audience::Own) => return echo_own_token(&req, &core, tenant, jwt).await,
        Some(Audience::Project { aud, project_id }) => (aud, project_id),
        None => return Err(TiledeskError::Unauthorized),
    };
    // Only this tenant's projects: another tenant's project id is simply not found here.
    let project = core
        .project(tenant, &project_id)
        .await
        .map_err(TiledeskError::token_failure)?;
    let claims = core
        .verify_custom_token(tenant, project.jwt_secret.expose().as_bytes(), jwt, &aud)
        .map_err(|e| {
            let record = Record::new(kind::CUSTOM_TOKEN_SIGNIN, Outcome::Failure)
                .detail(format!("project {}: the token did not verify", project.id));
            core.audit(tenant, record);
            TiledeskError::token_failure(e)
        })?;
    let external = ExternalUser::from_claims(&claims).ok_or(TiledeskError::Unauthorized)?;
    if external.role.is_agent() {
        agent_signin(
            &core,
            tenant,
            &project.id,
            &external,
            &claims,
            ctx.client_ip,
        )
        .await
    } else {
        external_signin(&core, tenant, &project.id, &external, &claims).await
    }
}

/// auth.js, "audience generic" with no `id_project`: `return res.json({ success: true, token:
/// req.headers["authorization"], user: req.user })`, where `req.user` is the token's payload.
/// Unlike the original (which skips the account check here), the token is checked as on every
/// other route: a disabled or deleted agent's token is refused.
async fn echo_own_token(
    req: &HttpRequest,
    core: &Core,
    tenant: &Tenant,
    jwt: &str,
) -> Result<HttpResponse, TiledeskError> {
    let claims = core
        .verify_token(tenant, jwt, Some(&tenant.settings.tiledesk_audience))
        .map_err(TiledeskError::token_failure)?;
    let claim = |k: &str| claims.get(k).and_then(Value::as_str);
    match (claim("sub"), claim("_id")) {
        (Some("user"), Some(id)) => {
            core.token_user(tenant, &claims, id)
                .await
                .map_err(TiledeskError::token_failure)?;
        }
        (Some("guest" | "userexternal"), Some(_)) => {}
        _ => return Err(TiledeskError::Unauthorized),
    }
    let as_sent = token::authorization(req).ok_or(TiledeskError::Unauthorized)?;
    Ok(HttpResponse::Ok().json(json!({"success": true, "token": as_sent, "user": *claims})))
}

/// The claims of a token minted for a customer's user: their extra claims, then ours over them.
fn minted_claims(customer: &Claims, ours: Claims) -> Claims {
    let mut claims = custom_token::carried_claims(customer);
    claims.extend(ours);
    claims
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
    let token = token::issue_until(
        core,
        tenant,
        Subject::External,
        minted_claims(claims, ours),
        expiry_of(claims),
    )?;
    audit_success(core, tenant, &external.id, project_id);
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
    claims: &Claims,
    client_ip: IpAddr,
) -> Result<HttpResponse, TiledeskError> {
    // An agent role names its account by email; without a usable one there is nobody to link.
    let email = external
        .email
        .as_deref()
        .and_then(|e| Email::parse(e).ok())
        .ok_or(TiledeskError::Unauthorized)?;
    let named = NamedAgent {
        email,
        role: external.role,
        firstname: external.firstname.clone().unwrap_or_default(),
        lastname: external.lastname.clone().unwrap_or_default(),
    };
    let (user, member) = core
        .custom_token_agent(tenant, project_id, &named, client_ip)
        .await
        .map_err(TiledeskError::agent_link_failure)?;
    if !member.active {
        return Err(TiledeskError::member_not_active());
    }
    let public = render::public_user(&user);
    let mut ours = public.clone();
    // The project's secret vouches for this person in this project only; without the binding,
    // whoever holds one project's secret could act as any agent of the tenant everywhere.
    ours.insert(BOUND_PROJECT.into(), project_id.into());
    let token = token::issue_until(
        core,
        tenant,
        Subject::User,
        minted_claims(claims, ours),
        expiry_of(claims),
    )?;
    audit_success(core, tenant, &user.id, project_id);
    Ok(HttpResponse::Ok().json(render::success_with_token(
        token,
        render::decorate(public, &user.id),
    )))
}

fn audit_success(core: &Core, tenant: &Tenant, user_id: &str, project_id: &str) {
    let record = Record::success(kind::CUSTOM_TOKEN_SIGNIN)
        .user(user_id)
        .detail(format!("project {project_id}"));
    core.audit(tenant, record);
}
