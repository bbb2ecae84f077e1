//! CORS for browser clients on other origins (the chat widget, the dashboard, the Appmixer SDK).
//! Which origins may call is the tenant's `CORS_ALLOWED_ORIGINS` (default `*`, as both originals);
//! an origin it does not allow gets no `Access-Control-Allow-Origin`. No credentials: Gatehouse
//! uses no cookies. Preflights are answered 204 with the methods of the `cors` package's defaults
//! and the request headers the client asks for, as tiledesk-server's `app.use(cors())` does.

use crate::forwarded::{host_of, Trust};
use actix_cors::Cors;
use actix_web::body::BoxBody;
use actix_web::dev::{RequestHead, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderValue, ACCESS_CONTROL_REQUEST_METHOD, ORIGIN};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::Error;
use gatehouse_core::Core;
use std::sync::Arc;

/// actix-cors shows the check only the request head (not its extensions), so the tenant is
/// looked up again from the same host the resolver reads (an in-memory map).
fn tenant_allows(core: &Core, trust: Trust, origin: &HeaderValue, head: &RequestHead) -> bool {
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    core.resolve_host(&host_of(head, trust))
        .is_some_and(|t| t.settings.allows_origin(origin))
}

/// Built once per worker; the tenant's setting is read per request.
pub fn cors(core: Arc<Core>, trust: Trust) -> Cors {
    Cors::default()
        .allowed_origin_fn(move |origin, head| tenant_allows(&core, trust, origin, head))
        .allowed_methods([
            Method::GET,
            Method::HEAD,
            Method::PUT,
            Method::PATCH,
            Method::POST,
            Method::DELETE,
        ])
        // Echoes Access-Control-Request-Headers, as the `cors` package does by default.
        .allow_any_header()
        .block_on_origin_mismatch(false)
}

/// actix-cors answers an accepted preflight 200; the `cors` package (optionsSuccessStatus) and
/// the fetch standard's "ok status" both expect 204 with no body, which this wraps it to give.
pub async fn preflight_no_content(
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let preflight = req.method() == Method::OPTIONS
        && req.headers().contains_key(ORIGIN)
        && req.headers().contains_key(ACCESS_CONTROL_REQUEST_METHOD);
    let mut res = next.call(req).await?;
    if preflight && res.status() == StatusCode::OK {
        res.response_mut().head_mut().status = StatusCode::NO_CONTENT;
    }
    Ok(res)
}
