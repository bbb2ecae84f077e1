//! `Ctx`, what every handler starts from: core, the tenant the binary resolved from `Host`, the
//! client's address and the `Authorization` header, gathered by one extractor whose failures are
//! Boom answers too.

use crate::errors::{ApiError, ApiResult};
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use gatehouse_core::{Core, CoreError, RequestContext, Tenant};
use std::future::{ready, Ready};
use std::net::IpAddr;
use std::sync::Arc;

pub struct Ctx {
    pub core: web::Data<Core>,
    pub tenant: Arc<Tenant>,
    pub client_ip: IpAddr,
    /// The raw `Authorization` header; `Some("")` when it was not valid text.
    pub authorization: Option<String>,
}

impl FromRequest for Ctx {
    type Error = ApiError;
    type Future = Ready<ApiResult<Ctx>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ctx::of(req))
    }
}

impl Ctx {
    fn of(req: &HttpRequest) -> ApiResult<Ctx> {
        // Both come from the binary; missing means it was wired wrongly, not that the client erred.
        let core = req
            .app_data::<web::Data<Core>>()
            .cloned()
            .ok_or_else(|| CoreError::Internal("appmixer: Core is not app data".into()))?;
        let RequestContext { tenant, client_ip } = req
            .extensions()
            .get::<RequestContext>()
            .cloned()
            .ok_or_else(|| CoreError::Internal("appmixer: no tenant resolved".into()))?;
        let authorization = req
            .headers()
            .get(header::AUTHORIZATION)
            .map(|v| v.to_str().unwrap_or("").to_owned());
        Ok(Ctx {
            core,
            tenant,
            client_ip,
            authorization,
        })
    }

    /// The tenant as this node knows it now: a handler that changed a setting reads it back here.
    pub fn fresh_tenant(&self) -> Arc<Tenant> {
        self.core
            .tenant(&self.tenant.id)
            .unwrap_or_else(|| self.tenant.clone())
    }
}
