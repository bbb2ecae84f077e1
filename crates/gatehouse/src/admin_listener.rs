//! The operator API and console on their own listener, `server.admin_bind` (default loopback;
//! "" turns it off). Tenant hosts never serve them, and this listener serves nothing of a tenant's:
//! who may reach it is the operator's network decision, on top of the operator keys.

use actix_web::body::BoxBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::middleware::{from_fn, Next, NormalizePath};
use actix_web::{web, App, Error, HttpResponse, HttpServer};
use gatehouse_core::audit::AuditContext;
use gatehouse_core::Core;
use gatehouse_operator::console::Sessions;
use gatehouse_operator::OperatorOptions;
use std::net::TcpListener;
use std::sync::Arc;

async fn not_found() -> HttpResponse {
    crate::gateway_error::gateway_error(
        actix_web::http::StatusCode::NOT_FOUND,
        "not_found",
        "no such route on the admin listener (the operator API is under /admin/v1, the console at /console)",
    )
}

/// Scopes each request's audit context (the peer's address: no forwarded header is trusted here,
/// user agent, request id; dialect `operator`), so what core and the operator crate record names
/// where an operator action came from.
async fn audit_context(
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let ip = req
        .peer_addr()
        .map(|a| a.ip())
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    let context = AuditContext::http(ip, header("user-agent"), header("x-request-id"), "operator");
    context.scope(next.call(req)).await
}

/// Binds `bind` and returns the port and the (not yet running) server; `None` when `bind` is "".
pub fn bind(
    bind: &str,
    core: Arc<Core>,
    options: OperatorOptions,
    shutdown_timeout_seconds: u64,
) -> Result<Option<(u16, Server)>, String> {
    if bind.trim().is_empty() {
        return Ok(None);
    }
    let listener = TcpListener::bind(bind)
        .map_err(|e| format!("cannot listen for the operator API on {bind}: {e}"))?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let core = web::Data::from(core);
    let sessions = web::Data::new(Sessions::default());
    let options = web::Data::new(options);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(core.clone())
            .app_data(sessions.clone())
            .app_data(options.clone())
            .configure(gatehouse_operator::configure)
            .default_service(web::to(not_found))
            .wrap(from_fn(audit_context))
            .wrap(NormalizePath::trim())
    })
    .workers(2)
    .disable_signals()
    .shutdown_timeout(shutdown_timeout_seconds)
    .listen(listener)
    .map_err(|e| e.to_string())?
    .run();
    Ok(Some((port, server)))
}
