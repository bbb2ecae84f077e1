//! Host -> tenant resolution: every request but the operations endpoints is resolved to a tenant
//! before a facade sees it, and refused here when no tenant serves its host or the tenant does not
//! enable the facade its path belongs to.

use crate::gateway_error::gateway_error;
use crate::ops::is_ops_path;
use actix_web::body::BoxBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpMessage};
use gatehouse_core::{Api, Core, RequestContext};
use std::net::{IpAddr, Ipv4Addr};

/// How the binary reads hosts and client addresses; from `[server]`.
#[derive(Debug, Clone, Copy)]
pub struct Trust {
    pub forwarded_host: bool,
    pub forwarded_for: bool,
}

/// The facade a path belongs to, if any.
pub fn facade_of(path: &str) -> Option<Api> {
    // `/user` covers `/user` and `/user/auth`, not `/userx`; `/v1/` covers everything below it.
    let under = |prefix: &str| {
        let root = prefix.trim_end_matches('/');
        path == root
            || path
                .strip_prefix(root)
                .is_some_and(|rest| rest.starts_with('/'))
    };
    if gatehouse_tiledesk::PATH_PREFIXES.iter().any(|p| under(p)) {
        Some(Api::Tiledesk)
    } else if gatehouse_appmixer::PATH_PREFIXES.iter().any(|p| under(p)) {
        Some(Api::Appmixer)
    } else {
        None
    }
}

fn first_header_value(req: &ServiceRequest, name: &str) -> Option<String> {
    let v = req.headers().get(name)?.to_str().ok()?;
    v.split(',')
        .next()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

fn host_of(req: &ServiceRequest, trust: Trust) -> String {
    if trust.forwarded_host {
        if let Some(h) = first_header_value(req, "x-forwarded-host") {
            return h;
        }
    }
    req.headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().host().map(str::to_owned))
        .unwrap_or_default()
}

fn client_ip_of(req: &ServiceRequest, trust: Trust) -> IpAddr {
    if trust.forwarded_for {
        if let Some(ip) = first_header_value(req, "x-forwarded-for").and_then(|v| v.parse().ok()) {
            return ip;
        }
    }
    req.peer_addr()
        .map(|a| a.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

pub async fn resolve_tenant(
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    if is_ops_path(req.path()) {
        return next.call(req).await;
    }
    let (Some(core), Some(trust)) = (
        req.app_data::<web::Data<Core>>().cloned(),
        req.app_data::<web::Data<Trust>>().map(|t| *t.get_ref()),
    ) else {
        return Err(actix_web::error::ErrorInternalServerError(
            "gateway not configured",
        ));
    };
    let host = host_of(&req, trust);
    let Some(tenant) = core.resolve_host(&host) else {
        let shown = gatehouse_core::tenants::normalize_host(&host);
        let res = gateway_error(
            StatusCode::NOT_FOUND,
            "unknown_tenant",
            format!("no tenant serves host '{shown}'"),
        );
        return Ok(req.into_response(res));
    };
    if let Some(api) = facade_of(req.path()) {
        if !tenant.enables(api) {
            let res = gateway_error(
                StatusCode::NOT_FOUND,
                "api_disabled",
                format!(
                    "tenant '{}' does not enable the {} API",
                    tenant.slug,
                    api.as_str()
                ),
            );
            return Ok(req.into_response(res));
        }
    }
    let client_ip = client_ip_of(&req, trust);
    req.extensions_mut()
        .insert(RequestContext { tenant, client_ip });
    next.call(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_belong_to_their_facade() {
        assert_eq!(facade_of("/v1/auth/signin"), Some(Api::Tiledesk));
        assert_eq!(facade_of("/v3/auth/signin"), Some(Api::Tiledesk));
        assert_eq!(facade_of("/user"), Some(Api::Appmixer));
        assert_eq!(facade_of("/user/auth"), Some(Api::Appmixer));
        assert_eq!(facade_of("/users/count"), Some(Api::Appmixer));
        assert_eq!(facade_of("/config"), Some(Api::Appmixer));
        assert_eq!(facade_of("/userx"), None);
        assert_eq!(facade_of("/"), None);
    }
}
