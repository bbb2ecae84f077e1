//! gatehouse-operator: the operator API (`/admin/v1/*`, JSON, operator API keys) and the web
//! console (`/console`, server-rendered HTML for operators and tenant admins). Mounted by the
//! binary on its own listener, `server.admin_bind`, never on a tenant host. Calls core; no SQL.

pub mod api;
pub mod audit;
pub mod auth;
pub mod console;
pub mod errors;
pub mod openapi;
pub mod views;

pub use api::OperatorOptions;

/// Mounts the API and the console.
pub fn configure(cfg: &mut actix_web::web::ServiceConfig) {
    api::configure(cfg);
    console::configure(cfg);
}
