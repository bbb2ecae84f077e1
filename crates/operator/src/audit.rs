//! Every operator action, recorded: who (an operator key's name, or a tenant admin in the
//! console), what (`tenant.create`, `setting.set`...), on which tenant and target.

use crate::auth::Operator;
use crate::errors::{ApiError, ApiResult};
use actix_web::HttpResponse;
use gatehouse_core::{Core, Tenant};

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

/// Records one action. Never fails the request it follows: the action is done by then.
pub fn record(_core: &Core, actor: &Actor, tenant: &Tenant, action: &str, target: &str) {
    log::info!(
        "operator action {action} by {} on tenant {} target {target}",
        actor.describe(),
        tenant.slug.as_str(),
    );
}

/// The tenant's newest events for the console (`None` while there is no audit log).
pub async fn recent(_core: &Core, _tenant: &Tenant, _limit: i64) -> Option<Vec<serde_json::Value>> {
    None
}

pub async fn list(_op: Operator) -> ApiResult<HttpResponse> {
    Err(ApiError::bad_request("the audit log is not available on this build"))
}
