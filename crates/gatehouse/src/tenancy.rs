//! Host -> tenant resolution, and the gate each facade's scopes wear. Resolution only records the
//! tenant (or none) in the request's extensions; the refusal (`unknown_tenant`, `api_disabled`) is
//! made by the gate of the facade the router matched, so every decision uses the router's path.

use crate::forwarded::{client_ip_of, host_of, Trust};
use crate::gateway_error::gateway_error;
use actix_web::body::BoxBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpMessage, HttpResponse};
use futures_util::future::LocalBoxFuture;
use gatehouse_core::audit::AuditContext;
use gatehouse_core::{Api, Core, RequestContext};

/// The host of a request that no tenant serves, kept for the refusal's message.
#[derive(Debug, Clone)]
pub struct Unresolved {
    pub host: String,
}

/// App-wide: records the request's tenant and client address, or `Unresolved`, and scopes the
/// request's audit context (address, user agent, request id) around everything after it. Never
/// refuses.
pub async fn resolve_tenant(
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let (Some(core), Some(trust)) = (
        req.app_data::<web::Data<Core>>().cloned(),
        req.app_data::<web::Data<Trust>>().map(|t| *t.get_ref()),
    ) else {
        return Err(actix_web::error::ErrorInternalServerError(
            "gateway not configured",
        ));
    };
    let host = host_of(req.head(), trust);
    let client_ip = client_ip_of(req.head(), trust);
    match core.resolve_host(&host) {
        Some(tenant) => {
            req.extensions_mut()
                .insert(RequestContext { tenant, client_ip });
        }
        None => {
            req.extensions_mut().insert(Unresolved { host });
        }
    }
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let audit = AuditContext::http(
        client_ip,
        header("user-agent"),
        header("x-request-id"),
        "gateway",
    );
    req.extensions_mut().insert(audit.clone());
    audit.scope(next.call(req)).await
}

/// The refusal for a request whose host no tenant serves, if that is the case.
pub fn unknown_tenant(req: &actix_web::HttpRequest) -> Option<HttpResponse> {
    if req.extensions().get::<RequestContext>().is_some() {
        return None;
    }
    let host = req
        .extensions()
        .get::<Unresolved>()
        .map(|u| u.host.clone())
        .unwrap_or_default();
    let shown = gatehouse_core::tenants::normalize_host(&host);
    Some(gateway_error(
        StatusCode::NOT_FOUND,
        "unknown_tenant",
        format!("no tenant serves host '{shown}'"),
    ))
}

/// Marks a request moved from the root under a Tiledesk prefix by `tiledesk_root`.
#[derive(Debug, Clone, Copy)]
struct TiledeskRoot;

/// App-wide, just inside `resolve_tenant`: for a tenant whose `TILEDESK_PREFIXES` holds the root
/// (and whose Appmixer API is off, as the setting requires), a request for a Tiledesk route
/// without prefix (`/auth/signin`) is moved under `/v1`, so the router matches it to the Tiledesk
/// facade; nothing else is touched (the ops and discovery routes stay where they are).
pub async fn tiledesk_root(
    mut req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let serves_root = req.extensions().get::<RequestContext>().is_some_and(|c| {
        c.tenant.enables(Api::Tiledesk)
            && !c.tenant.enables(Api::Appmixer)
            && c.tenant.settings.tiledesk_prefixes.contains(&"/")
    });
    if serves_root && gatehouse_tiledesk::is_route_path(req.path()) {
        let moved = match req.uri().query() {
            Some(q) => format!("/v1{}?{q}", req.path()),
            None => format!("/v1{}", req.path()),
        };
        if let Ok(uri) = moved.parse::<actix_web::http::Uri>() {
            req.match_info_mut().get_mut().update(&uri);
            req.head_mut().uri = uri;
            req.extensions_mut().insert(TiledeskRoot);
        }
    }
    next.call(req).await
}

/// The refusal for a Tiledesk request under a prefix its tenant does not serve
/// (`TILEDESK_PREFIXES`); `None` when it does (or the request came from the root, already checked).
fn prefix_not_served(req: &ServiceRequest, api: Api) -> Option<HttpResponse> {
    if api != Api::Tiledesk || req.extensions().get::<TiledeskRoot>().is_some() {
        return None;
    }
    let ext = req.extensions();
    let ctx = ext.get::<RequestContext>()?;
    let path = req.path();
    let served = ctx.tenant.settings.tiledesk_prefixes.iter().any(|p| {
        *p != "/"
            && path
                .strip_prefix(p)
                .is_some_and(|rest| rest.starts_with('/'))
    });
    (!served).then(|| {
        gateway_error(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such route (this tenant's TILEDESK_PREFIXES does not include this prefix)",
        )
    })
}

/// Wraps each scope of facade `api`: refuses unless the request's tenant exists and enables
/// `api` (and, for Tiledesk, serves the request's prefix). It also marks the request as served by `api`, which the metrics read.
pub fn gate(
    api: Api,
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> LocalBoxFuture<'static, Result<ServiceResponse<BoxBody>, Error>> {
    Box::pin(async move {
        req.extensions_mut().insert(api);
        if let Some(res) = unknown_tenant(req.request()) {
            return Ok(req.into_response(res));
        }
        let disabled = req
            .extensions()
            .get::<RequestContext>()
            .filter(|c| !c.tenant.enables(api))
            .map(|c| c.tenant.slug.to_string());
        if let Some(slug) = disabled {
            let res = gateway_error(
                StatusCode::NOT_FOUND,
                "api_disabled",
                format!("tenant '{slug}' does not enable the {} API", api.as_str()),
            );
            return Ok(req.into_response(res));
        }
        if let Some(res) = prefix_not_served(&req, api) {
            return Ok(req.into_response(res));
        }
        // The facade's requests are audited under its dialect.
        let audit = req.extensions().get::<AuditContext>().cloned();
        match audit {
            Some(audit) => audit.with_dialect(api.as_str()).scope(next.call(req)).await,
            None => next.call(req).await,
        }
    })
}
