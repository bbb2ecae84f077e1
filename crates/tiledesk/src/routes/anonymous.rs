//! `POST /auth/signinAnonymously`: a guest identity (no password) that joins a project as `guest`.

use crate::body::Body;
use crate::context::Ctx;
use crate::errors::TiledeskError;
use crate::fields::{self, AllValid};
use crate::render;
use crate::token::{self, Subject};
use actix_web::{web, HttpResponse};
use gatehouse_core::audit::{kind, Record};
use gatehouse_core::projects::{MemberOf, Role};
use gatehouse_core::signup_policy::SignupPath;
use gatehouse_core::Core;
use serde_json::{Map, Value};

pub async fn signin_anonymously(
    Ctx(ctx): Ctx,
    core: web::Data<Core>,
    Body(body): Body,
) -> Result<HttpResponse, TiledeskError> {
    let tenant = &ctx.tenant;
    core.check_self_signup(tenant, SignupPath::Anonymous)?;
    let (project_id, firstname, lastname, email, attributes) = (
        fields::text(&body, "id_project"),
        fields::optional_text(&body, "firstname"),
        fields::optional_text(&body, "lastname"),
        fields::optional_email(&body, "email"),
        fields::optional_object(&body, "attributes"),
    )
        .all_valid()?;
    core.check_signup_rate(tenant, ctx.client_ip)?;

    let uid = uuid::Uuid::new_v4().to_string();
    let firstname = firstname.unwrap_or_else(|| format!("guest#{}", &uid[..4]));
    let mut guest = Map::new();
    guest.insert("_id".into(), uid.clone().into());
    guest.insert("firstname".into(), firstname.into());
    if let Some(last) = lastname {
        guest.insert("lastname".into(), last.into());
    }
    if let Some(email) = email {
        guest.insert("email".into(), email.as_str().into());
    }
    let mut profile = guest.clone();
    if let Some(attributes) = attributes {
        profile.insert("attributes".into(), Value::Object(attributes));
    }
    core.upsert_member(
        tenant,
        &project_id,
        MemberOf::Guest(uid.clone()),
        Role::Guest,
        Value::Object(profile.clone()),
    )
    .await?;
    // Attributes stay out of the token: they may be large, and the membership keeps them.
    let token = token::issue(&core, tenant, Subject::Guest, guest)?;
    let record = Record::success(kind::ANONYMOUS_SIGNIN)
        .user(uid.clone())
        .detail(format!("project {project_id}"));
    core.audit(tenant, record);
    Ok(HttpResponse::Ok().json(render::success_with_token(
        token,
        render::decorate(profile, &uid),
    )))
}
