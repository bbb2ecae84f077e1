//! `GET /projects` (the caller's memberships, each with its project), `POST /projects` (a project
//! owned by the caller) and `POST /{project_id}/keys/generate` (a new `jwtSecret`, the one
//! response that ever carries it).

use crate::body::Body;
use crate::context::Ctx;
use crate::errors::TiledeskError;
use crate::fields;
use crate::render;
use crate::token;
use actix_web::{web, HttpRequest, HttpResponse};
use gatehouse_core::ids::is_object_id;
use gatehouse_core::projects::{Member, MemberOf, Project, Role};
use gatehouse_core::Core;
use serde_json::{json, Value};

/// A project as Mongoose shows it (without its secret).
fn project_doc(p: &Project) -> Value {
    json!({
        "_id": p.id,
        "name": p.name,
        "status": 100,
        "createdBy": p.created_by,
        "createdAt": render::iso(p.created_at),
        "updatedAt": render::iso(p.updated_at),
        "__v": 0,
        "id": p.id,
    })
}

/// A membership as project.js's `GET /` answers it: a Project_user with `id_project` populated
/// and the `id`/`isAuthenticated` virtuals of its `toJSON`.
fn membership_doc(m: &Member, p: &Project, user_id: &str) -> Value {
    json!({
        "_id": m.id,
        "id_project": project_doc(p),
        "id_user": user_id,
        "role": m.role.as_str(),
        "roleType": 1,
        "user_available": true,
        "status": if m.active { "active" } else { "disabled" },
        "createdAt": render::iso(m.created_at),
        "updatedAt": render::iso(m.updated_at),
        "__v": 0,
        "id": m.id,
        "isAuthenticated": true,
    })
}

/// project.js `GET /`: `Project_user.find({ id_user: req.user._id, roleType:
/// RoleConstants.TYPE_AGENTS, status: "active"}).populate('id_project')`, most recently updated
/// project first. A token bound to one project (a custom-token exchange) sees that one only.
pub async fn list(
    req: HttpRequest,
    Ctx(ctx): Ctx,
    core: web::Data<Core>,
) -> Result<HttpResponse, TiledeskError> {
    let tenant = &ctx.tenant;
    let agent = token::agent(&req, &core, tenant).await?;
    let docs: Vec<Value> = core
        .agent_projects(tenant, &agent.user.id)
        .await?
        .iter()
        .filter(|(_, p)| agent.may_act_on(&p.id))
        .map(|(m, p)| membership_doc(m, p, &agent.user.id))
        .collect();
    Ok(HttpResponse::Ok().json(docs))
}

pub async fn create(
    req: HttpRequest,
    Ctx(ctx): Ctx,
    core: web::Data<Core>,
    Body(body): Body,
) -> Result<HttpResponse, TiledeskError> {
    let tenant = &ctx.tenant;
    let agent = token::agent(&req, &core, tenant).await?;
    if agent.bound_project.is_some() {
        // A token vouched for by one project's secret does not start new projects.
        return Err(TiledeskError::forbidden());
    }
    let name = fields::text(&body, "name")?;
    let project = core.create_project(tenant, &name, &agent.user).await?;
    Ok(HttpResponse::Ok().json(json!({
        "_id": project.id,
        "name": project.name,
        "createdBy": project.created_by,
        "createdAt": render::iso(project.created_at),
        "updatedAt": render::iso(project.updated_at),
    })))
}

/// Takes no body. Only an active owner or admin of the project; everyone else, including
/// callers naming a project that does not exist, gets the same `403`.
pub async fn generate_key(
    req: HttpRequest,
    Ctx(ctx): Ctx,
    core: web::Data<Core>,
    project_id: web::Path<String>,
) -> Result<HttpResponse, TiledeskError> {
    let tenant = &ctx.tenant;
    let agent = token::agent(&req, &core, tenant).await?;
    let project_id = project_id.into_inner();
    // An id that cannot name a project is refused before any query (PostgreSQL rejects NUL bytes).
    if !is_object_id(&project_id) || !agent.may_act_on(&project_id) {
        return Err(TiledeskError::forbidden());
    }
    let member = core
        .membership(tenant, &project_id, MemberOf::User(agent.user.id.clone()))
        .await?;
    let allowed = member.is_some_and(|m| m.active && matches!(m.role, Role::Owner | Role::Admin));
    if !allowed {
        return Err(TiledeskError::forbidden());
    }
    let secret = core.regenerate_project_secret(tenant, &project_id).await?;
    Ok(HttpResponse::Ok().json(json!({"jwtSecret": secret.expose()})))
}
