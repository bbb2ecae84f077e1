//! Every operator action, recorded in the tenant's audit log (core's `audit`): who (an operator
//! key's name, or a tenant admin in the console), what (`tenant.create`, `setting.set`...) and on
//! what, as one `operator_action` event; core adds its own events for the change itself
//! (`setting_changed`, `key_rotated`, `user_disabled`...). The request's address, user agent and
//! id come from the context the admin listener scopes around each request (dialect `operator`).

use crate::auth::Operator;
use crate::errors::{ApiError, ApiResult};
use crate::views;
use actix_web::{web, HttpResponse};
use gatehouse_core::audit::{AuditEvent, AuditQuery, Record, AUDIT_QUERY_MAX};
use gatehouse_core::{Core, Tenant};
use serde::Deserialize;
use serde_json::{json, Value};

/// The audit kind of an action taken through the operator API or the console.
pub const OPERATOR_ACTION: &str = "operator_action";

/// Who acted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// An operator key, by name.
    Operator(String),
    /// A tenant admin signed in to the console: the user's id.
    TenantAdmin(String),
}

impl Actor {
    pub fn operator(op: &Operator) -> Actor {
        Actor::Operator(op.0.name.clone())
    }

    pub fn describe(&self) -> String {
        match self {
            Actor::Operator(name) => format!("operator:{name}"),
            Actor::TenantAdmin(id) => format!("tenant-admin:{id}"),
        }
    }
}

/// Records one action (never a secret: names, slugs, kids and ids only). Never fails the request
/// it follows: the action is done by then, and core's queue never blocks.
pub fn record(core: &Core, actor: &Actor, tenant: &Tenant, action: &str, target: &str) {
    let mut r = Record::success(OPERATOR_ACTION)
        .detail(format!("{action} {target} by {}", actor.describe()));
    if let Actor::TenantAdmin(id) = actor {
        r = r.user(id.clone());
    }
    core.audit(tenant, r);
}

/// An event as the API and the console show it.
pub fn event(e: &AuditEvent) -> Value {
    json!({
        "id": e.id, "at": views::time(e.at), "kind": e.kind, "outcome": e.outcome,
        "user_id": e.user_id, "client_ip": e.client_ip, "user_agent": e.user_agent,
        "dialect": e.dialect, "request_id": e.request_id, "detail": e.detail,
    })
}

/// The tenant's newest events for the console.
pub async fn recent(
    core: &Core,
    tenant: &Tenant,
    limit: i64,
) -> Result<Vec<Value>, gatehouse_core::CoreError> {
    let events = core
        .audit_events(
            tenant,
            AuditQuery {
                limit,
                ..AuditQuery::default()
            },
        )
        .await?;
    Ok(events.iter().map(event).collect())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    pub kind: Option<String>,
    pub user_id: Option<String>,
    /// e.g. `15m`, `24h`, `7d` or an RFC 3339 time (as `gatehouse audit --since`).
    pub since: Option<String>,
    pub limit: Option<i64>,
}

/// `GET /admin/v1/tenants/{slug}/audit?kind=&user_id=&since=&limit=`: newest first.
pub async fn list(
    _op: Operator,
    core: web::Data<Core>,
    slug: web::Path<String>,
    params: web::Query<AuditParams>,
) -> ApiResult<HttpResponse> {
    let t = crate::api::tenant_of(&core, &slug).await?;
    let limit = params.limit.unwrap_or(100);
    if !(1..=AUDIT_QUERY_MAX).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit must be from 1 to {AUDIT_QUERY_MAX}"
        )));
    }
    let since_ms = match &params.since {
        Some(s) => Some(gatehouse_core::audit::parse_since(s, core.now_ms())?),
        None => None,
    };
    let query = AuditQuery {
        since_ms,
        user_id: params.user_id.clone(),
        kind: params.kind.clone(),
        limit,
    };
    let events = core.audit_events(&t, query).await?;
    let items: Vec<Value> = events.iter().map(event).collect();
    Ok(HttpResponse::Ok().json(json!({"items": items})))
}
