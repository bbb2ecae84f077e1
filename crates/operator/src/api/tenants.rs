//! `/admin/v1/tenants` and `/admin/v1/tenants/{slug}`: list (paginated, `?q=`), create, show,
//! change (name, hosts, apis) and delete tenants.

use super::{tenant_of, ListQuery};
use crate::audit::{self, Actor};
use crate::auth::Operator;
use crate::errors::ApiResult;
use crate::views;
use actix_web::{web, HttpResponse};
use gatehouse_core::operator::TenantPatch;
use gatehouse_core::tenants::TenantSpec;
use gatehouse_core::token::KeyAlg;
use gatehouse_core::{Api, Core, CoreResult, TenantSlug};
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;

pub async fn list(
    _op: Operator,
    core: web::Data<Core>,
    query: web::Query<ListQuery>,
) -> ApiResult<HttpResponse> {
    let (limit, offset) = (query.limit()?, query.offset());
    let page = core.list_tenants(query.q.as_deref(), limit, offset);
    let items: Vec<_> = page
        .items
        .iter()
        .map(|t| views::tenant_summary(t))
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "items": items, "total": page.total, "limit": limit, "offset": offset,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    pub slug: String,
    pub name: Option<String>,
    #[serde(default)]
    pub hosts: Vec<String>,
    #[serde(default)]
    pub apis: Vec<String>,
    /// The first signing key's kind (HS256 when absent).
    pub alg: Option<String>,
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
}

pub fn parse_apis(apis: &[String]) -> CoreResult<Vec<Api>> {
    apis.iter().map(|a| Api::parse(a)).collect()
}

impl NewTenant {
    pub fn spec(self) -> CoreResult<TenantSpec> {
        let mut spec = TenantSpec::new(TenantSlug::parse(&self.slug)?);
        spec.name = self.name;
        spec.hosts = self.hosts;
        spec.apis = parse_apis(&self.apis)?;
        spec.settings = self.settings;
        if let Some(alg) = &self.alg {
            spec.alg = KeyAlg::parse(alg)?;
        }
        Ok(spec)
    }
}

pub async fn create(
    op: Operator,
    core: web::Data<Core>,
    body: web::Json<NewTenant>,
) -> ApiResult<HttpResponse> {
    let spec = body.into_inner().spec()?;
    let t = core.create_tenant(spec).await?;
    audit::record(
        &core,
        &Actor::operator(&op),
        &t,
        "tenant.create",
        t.slug.as_str(),
    );
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/admin/v1/tenants/{}", t.slug.as_str())))
        .json(views::tenant(&t, core.now_ms())))
}

pub async fn show(
    _op: Operator,
    core: web::Data<Core>,
    slug: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let t = tenant_of(&core, &slug).await?;
    Ok(HttpResponse::Ok().json(views::tenant(&t, core.now_ms())))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Patch {
    pub name: Option<String>,
    pub hosts: Option<Vec<String>>,
    pub apis: Option<Vec<String>>,
}

impl Patch {
    pub fn into_core(self) -> CoreResult<TenantPatch> {
        Ok(TenantPatch {
            name: self.name,
            hosts: self.hosts,
            apis: self.apis.as_deref().map(parse_apis).transpose()?,
        })
    }
}

pub async fn update(
    op: Operator,
    core: web::Data<Core>,
    slug: web::Path<String>,
    body: web::Json<Patch>,
) -> ApiResult<HttpResponse> {
    let t = tenant_of(&core, &slug).await?;
    let patch = body.into_inner().into_core()?;
    let t = core.update_tenant(&t, patch).await?;
    audit::record(
        &core,
        &Actor::operator(&op),
        &t,
        "tenant.update",
        t.slug.as_str(),
    );
    Ok(HttpResponse::Ok().json(views::tenant(&t, core.now_ms())))
}

pub async fn delete(
    op: Operator,
    core: web::Data<Core>,
    slug: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let t = tenant_of(&core, &slug).await?;
    core.delete_tenant(&t.slug).await?;
    audit::record(
        &core,
        &Actor::operator(&op),
        &t,
        "tenant.delete",
        t.slug.as_str(),
    );
    Ok(HttpResponse::NoContent().finish())
}
