//! gatehouse-tiledesk: the Tiledesk auth API (`/v1/auth/*` and friends) over gatehouse-core.

use actix_web::web;

/// Paths this facade answers; the binary checks the tenant enables Tiledesk before routing here.
pub const PATH_PREFIXES: &[&str] = &["/v1/", "/v3/"];

pub fn configure(_cfg: &mut web::ServiceConfig) {}
