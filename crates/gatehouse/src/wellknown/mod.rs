//! The dialect-neutral facade: a tenant's public keys (`/.well-known/jwks.json`), its discovery
//! document (`/.well-known/openid-configuration`), the forward-auth door for reverse proxies
//! (`/auth/verify`) and token introspection for resource servers (`/oauth/introspect`). Like the
//! dialects it calls core and never the database; it answers only for a request the router
//! resolved to a tenant.

mod discovery;
mod introspect;
mod jwks;
mod metrics;
mod openapi;
mod user_token;
mod verify;

pub use metrics::VerifyMetrics;
pub use openapi::openapi_paths;

use crate::gateway_error::gateway_error;
use actix_web::body::BoxBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use gatehouse_core::{RequestContext, Tenant};
use std::sync::Arc;

/// Paths this facade answers.
pub const PATH_PREFIXES: &[&str] = &["/.well-known", "/auth/verify", "/oauth/introspect"];

/// Whether this facade serves a matched route pattern (for the request metrics' `facade` label).
pub fn serves(path: &str) -> bool {
    path.starts_with("/.well-known/") || path == "/auth/verify" || path == "/oauth/introspect"
}

/// The largest body a route here reads (an introspection form holds one token).
const MAX_BODY: usize = 64 * 1024;

/// How long a JWKS may be cached: no longer than a node takes to see a retired key
/// (`tenants.refresh_seconds`).
#[derive(Debug, Clone, Copy)]
pub struct WellKnownOptions {
    pub max_age_secs: u64,
}

/// Declares the route table once: `configure` mounts it (each scope behind the gate that needs a
/// resolved tenant, whichever dialects it enables: keys, forward-auth and introspection belong to
/// the tenant, not to a dialect) and `ROUTES` lists it, so the OpenAPI document (and the isolation
/// matrix that reads it) is checked against what is really mounted.
macro_rules! doors {
    ($($scope:literal { $($res:literal => $method:ident $handler:path),+ })+) => {
        /// `(method, path)` of every route `configure` mounts.
        pub const ROUTES: &[(&str, &str)] = &[$($((stringify!($method), concat!($scope, $res)),)+)+];

        /// Mounts the facade's routes.
        pub fn configure(cfg: &mut web::ServiceConfig) {
            $(cfg.service(
                web::scope($scope)
                    .wrap(from_fn(tenant_gate))
                    .app_data(web::PayloadConfig::new(MAX_BODY))
                    $(.route($res, web::$method().to($handler)))+
            );)+
        }
    };
}

doors! {
    "/.well-known" {
        "/jwks.json" => get jwks::jwks,
        "/openid-configuration" => get discovery::openid_configuration
    }
    "/auth" {
        "/verify" => get verify::verify
    }
    "/oauth" {
        "/introspect" => post introspect::introspect
    }
}

/// Refuses a request whose host no tenant serves, as the dialects' gates do.
async fn tenant_gate(
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if let Some(res) = crate::tenancy::unknown_tenant(req.request()) {
        return Ok(req.into_response(res));
    }
    next.call(req).await
}

/// The tenant the gate let through (a miss is a guard, answered by `no_tenant`, not a decision).
fn tenant_of(req: &HttpRequest) -> Option<Arc<Tenant>> {
    req.extensions()
        .get::<RequestContext>()
        .map(|c| c.tenant.clone())
}

fn no_tenant() -> HttpResponse {
    gateway_error(StatusCode::NOT_FOUND, "unknown_tenant", "no tenant")
}
