//! gatehouse-tiledesk: the Tiledesk auth API (`/v1/auth/*` and friends) over gatehouse-core.
//! Parses the Tiledesk dialect, calls core, and renders Tiledesk's bodies and error shapes.

use actix_web::middleware::from_fn;
use actix_web::web;
use gatehouse_core::Api;

mod body;
mod context;
mod custom_token;
mod errors;
mod fields;
mod openapi;
mod render;
mod routes;
mod token;

/// For the property tests and fuzz targets: a body parsed as the routes parse it.
pub use body::parse_body;
pub use errors::TiledeskError;
pub use openapi::openapi_paths;
/// Every route this facade mounts under each of `PATH_PREFIXES`, `(method, path)`: the registry its
/// OpenAPI paths are checked against.
pub use routes::ROUTES;
/// For the forward-auth door: which verified tokens are Tiledesk agent tokens.
pub use token::agent_id;

/// The password minimum when the tenant sets no `PASSWORD_MIN_LENGTH`. tiledesk-server checks no
/// length at all; the dashboard's sign-up and change-password forms require 8 characters, and
/// that is the rule Tiledesk users know.
pub(crate) const PASSWORD_MIN_LENGTH: usize = 8;

/// The dashboard's own routes for the links in reset and verification mails (emailService.js
/// builds them so), used when the tenant sets no `RESET_URL` / `VERIFY_URL`.
pub const MAIL_LINKS: gatehouse_core::mail::Links = gatehouse_core::mail::Links {
    reset: "{base}/#/resetpassword/{code}",
    verify: "{base}/#/verify/email/{uid}/{code}",
};

/// Paths this facade answers (each is one scope, wrapped in the binary's gate, which serves a
/// tenant only the prefixes of its `TILEDESK_PREFIXES`). A tenant that serves the root (`/`) has
/// its requests for a Tiledesk route moved under `/v1` before routing (`root_route`).
pub const PATH_PREFIXES: &[&str] = &["/v1/", "/v2/", "/v3/", "/api/"];

/// Whether `path` (without prefix) names a route of this facade, whatever the method: for a
/// tenant that serves the Tiledesk API at the root, the paths to move under a prefix.
pub fn is_route_path(path: &str) -> bool {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    ROUTES.iter().any(|(_, route)| {
        let pattern: Vec<&str> = route.trim_start_matches('/').split('/').collect();
        pattern.len() == segments.len()
            && pattern.iter().zip(&segments).all(|(p, s)| {
                if p.starts_with('{') {
                    !s.is_empty()
                } else {
                    p == s
                }
            })
    })
}

/// The binary's check that the request's tenant enables a facade. It wraps this facade's scopes,
/// so the router, on the path it matches, decides which facade (and so which check) a request meets.
pub type Gate = fn(
    Api,
    actix_web::dev::ServiceRequest,
    actix_web::middleware::Next<actix_web::body::BoxBody>,
) -> futures_util::future::LocalBoxFuture<
    'static,
    Result<actix_web::dev::ServiceResponse<actix_web::body::BoxBody>, actix_web::Error>,
>;

/// Mounts every route under each prefix (the hosted API serves `/v3` as well as `/v1`).
pub fn configure(cfg: &mut web::ServiceConfig, gate: Gate) {
    for prefix in PATH_PREFIXES {
        cfg.service(
            web::scope(prefix.trim_end_matches('/'))
                // Scoped, not app-wide, so the Appmixer facade keeps its own limits.
                .app_data(web::PayloadConfig::new(body::BODY_LIMIT))
                .configure(routes::register)
                .wrap(from_fn(move |req, next| gate(Api::Tiledesk, req, next))),
        );
    }
}
