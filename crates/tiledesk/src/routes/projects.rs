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

/// models/profile.js's defaults for a new project outside `COMMUNITY_VERSION` (lines 9-31):
/// `name` 'Sandbox', `trialDays` 14, `agents` 0, `type` 'free' (`_id: false`). The dashboard reads
/// `project.id_project.profile.type` unguarded (projects.component.ts), so every project has one.
const TRIAL_DAYS: i64 = 14;
const DAY_MS: i64 = 86_400_000;

/// A project as Mongoose's `toJSON({virtuals: true})` shows it (models/project.js), without the
/// `select: false` fields (`jwtSecret`, `publicKey`, `privateKey`): the schema's defaults (lines
/// 26-139) and the virtuals `trialExpired`, `trialDaysLeft` and `isActiveSubscription` (lines
/// 146-227) as they compute for a free project with `TRIAL_MODE_ENABLED` unset.
fn project_doc(p: &Project, now_ms: i64) -> Value {
    // Line 176-177: `Math.floor((now - (createdAt + trialDays * 86400000)) / 86400000)`.
    let trial_days_left = (now_ms - (p.created_at + TRIAL_DAYS * DAY_MS)).div_euclid(DAY_MS);
    json!({
        "_id": p.id,
        "name": p.name,
        "settings": {},
        "status": 100,
        "profile": {"name": "Sandbox", "trialDays": TRIAL_DAYS, "agents": 0, "type": "free"},
        "versions": 20115,
        "channels": [{"name": "chat21"}],
        "ipFilterEnabled": false,
        "ipFilter": [],
        "ipFilterDenyEnabled": false,
        "ipFilterDeny": [],
        "bannedUsers": [],
        "createdBy": p.created_by,
        "createdAt": render::iso(p.created_at),
        "updatedAt": render::iso(p.updated_at),
        "__v": 0,
        // Line 149: `if (trialEnabled === false) { return false; }`.
        "trialExpired": false,
        "trialDaysLeft": trial_days_left,
        // Line 201: only a `payment` profile can have an active subscription.
        "isActiveSubscription": false,
        "id": p.id,
    })
}

/// A membership as project.js's `GET /` answers it: a Project_user with `id_project` populated
/// and the `id`/`isAuthenticated` virtuals of its `toJSON`.
fn membership_doc(m: &Member, p: &Project, user_id: &str, now_ms: i64) -> Value {
    json!({
        "_id": m.id,
        "id_project": project_doc(p, now_ms),
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
    let now_ms = core.now_ms();
    let docs: Vec<Value> = core
        .agent_projects(tenant, &agent.user.id)
        .await?
        .iter()
        .filter(|(_, p)| agent.may_act_on(&p.id))
        .map(|(m, p)| membership_doc(m, p, &agent.user.id, now_ms))
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
    // project.js line 50: `res.json(savedProject)`, the whole new project.
    Ok(HttpResponse::Ok().json(project_doc(&project, core.now_ms())))
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
