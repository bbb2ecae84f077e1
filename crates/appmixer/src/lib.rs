//! gatehouse-appmixer: the Appmixer user API (`/user`, `/users`, `/config`) over gatehouse-core.

use actix_web::web;

/// Paths this facade answers; the binary checks the tenant enables Appmixer before routing here.
pub const PATH_PREFIXES: &[&str] = &["/user", "/users", "/config"];

pub fn configure(_cfg: &mut web::ServiceConfig) {}
