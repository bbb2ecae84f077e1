//! gatehouse-appmixer: the Appmixer user API (`/user`, `/users`, `/config`) over gatehouse-core,
//! answering in Appmixer's wire format with hapi's Boom errors (see spec/appmixer.md).

mod auth;
mod body;
mod context;
mod errors;
mod openapi;
mod routes;
mod views;

pub use errors::ApiError;
pub use openapi::openapi_paths;

/// Paths this facade answers; the binary checks the tenant enables Appmixer before routing here.
pub const PATH_PREFIXES: &[&str] = &["/user", "/users", "/config"];

/// Mounts every route of the facade (the binary calls it while building the app).
pub fn configure(cfg: &mut actix_web::web::ServiceConfig) {
    routes::configure(cfg);
}
