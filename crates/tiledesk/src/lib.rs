//! gatehouse-tiledesk: the Tiledesk auth API (`/v1/auth/*` and friends) over gatehouse-core.
//! Parses the Tiledesk dialect, calls core, and renders Tiledesk's bodies and error shapes.

use actix_web::web;

mod body;
mod context;
mod custom_token;
mod errors;
mod fields;
mod openapi;
mod render;
mod routes;
mod token;

pub use errors::TiledeskError;
pub use openapi::openapi_paths;

/// Paths this facade answers; the binary checks the tenant enables Tiledesk before routing here.
pub const PATH_PREFIXES: &[&str] = &["/v1/", "/v3/"];

/// Mounts every route under each prefix (the hosted API serves `/v3` as well as `/v1`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    for prefix in PATH_PREFIXES {
        cfg.service(
            web::scope(prefix.trim_end_matches('/'))
                // Scoped, not app-wide, so the Appmixer facade keeps its own limits.
                .app_data(web::PayloadConfig::new(body::BODY_LIMIT))
                .configure(routes::register),
        );
    }
}
