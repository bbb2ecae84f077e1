//! gatehouse-appmixer: the Appmixer user API (`/user`, `/users`, `/config`) over gatehouse-core,
//! answering in Appmixer's wire format with hapi's Boom errors (see spec/appmixer.md).

mod auth;
mod body;
mod context;
mod errors;
mod openapi;
mod routes;
mod views;

/// For the forward-auth door: which verified tokens are Appmixer user tokens.
pub use auth::user_id_of;
/// For the property tests and fuzz targets: a body parsed as the routes parse it.
pub use body::parse_body;
pub use errors::ApiError;
pub use openapi::openapi_paths;
/// Every route this facade mounts, `(method, path)`: the registry its OpenAPI paths are checked against.
pub use routes::ROUTES;

/// The password minimum when the tenant sets no `PASSWORD_MIN_LENGTH`: Appmixer documents five
/// characters, and its own examples use `abc321`.
pub(crate) const PASSWORD_MIN_LENGTH: usize = 5;

/// Paths this facade answers (each is one scope, wrapped in the binary's gate).
pub const PATH_PREFIXES: &[&str] = &["/user", "/users", "/config", "/forgot-password"];

/// The binary's check that the request's tenant enables a facade. It wraps this facade's scopes,
/// so the router, on the path it matches, decides which facade (and so which check) a request meets.
pub type Gate = fn(
    gatehouse_core::Api,
    actix_web::dev::ServiceRequest,
    actix_web::middleware::Next<actix_web::body::BoxBody>,
) -> futures_util::future::LocalBoxFuture<
    'static,
    Result<actix_web::dev::ServiceResponse<actix_web::body::BoxBody>, actix_web::Error>,
>;

/// Mounts every route of the facade (the binary calls it while building the app).
pub fn configure(cfg: &mut actix_web::web::ServiceConfig, gate: Gate) {
    routes::configure(cfg, gate);
}
