//! `/admin/v1/tenants/{slug}/keys`: a tenant's signing keys (public parts only), rotating a new
//! one in, retiring one.

use super::{tenant_of, OperatorOptions};
use crate::audit::{self, Actor};
use crate::auth::Operator;
use crate::errors::ApiResult;
use crate::views;
use actix_web::{web, HttpResponse};
use gatehouse_core::token::KeyAlg;
use gatehouse_core::Core;
use serde::Deserialize;
use serde_json::json;

pub async fn list(
    _op: Operator,
    core: web::Data<Core>,
    slug: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let t = tenant_of(&core, &slug).await?;
    Ok(HttpResponse::Ok().json(json!({"items": views::keys(&t, core.now_ms())})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateBody {
    /// HS256, EdDSA or RS256; when absent, the algorithm the tenant signs with now.
    pub alg: Option<String>,
    /// Seconds between publishing and signing (default as the CLI's `tenant rotate-key`).
    pub lead_seconds: Option<u64>,
    /// Allow moving from a published key (EdDSA, RS256) to HS256 (else that is a 400).
    #[serde(default)]
    pub allow_unpublished: bool,
}

/// The algorithm a rotation gets: as asked, else the tenant's current one (HS256 for a tenant
/// without keys).
pub fn rotation_alg(
    t: &gatehouse_core::Tenant,
    asked: Option<&str>,
) -> gatehouse_core::CoreResult<KeyAlg> {
    match asked {
        Some(alg) => KeyAlg::parse(alg),
        None => Ok(t.keys.current_alg().unwrap_or_default()),
    }
}

/// The lead a new key gets: as asked, else the configured lead for a published (asymmetric) key
/// and none for HS256.
pub fn lead_for(alg: KeyAlg, asked: Option<u64>, options: &OperatorOptions) -> u64 {
    asked.unwrap_or(if alg.is_asymmetric() {
        options.key_lead_secs
    } else {
        0
    })
}

pub async fn rotate(
    op: Operator,
    core: web::Data<Core>,
    options: web::Data<OperatorOptions>,
    slug: web::Path<String>,
    body: web::Json<RotateBody>,
) -> ApiResult<HttpResponse> {
    let t = tenant_of(&core, &slug).await?;
    let alg = rotation_alg(&t, body.alg.as_deref())?;
    let lead = lead_for(alg, body.lead_seconds, &options);
    let kid = core
        .rotate_key_with(&t, alg, lead, body.allow_unpublished)
        .await?;
    audit::record(&core, &Actor::operator(&op), &t, "key.rotate", &kid);
    let fresh = core.tenant(&t.id).unwrap_or(t);
    let now = core.now_ms();
    let signing = fresh.keys.signing_key_at(now).map(|k| k.kid.clone());
    let key = fresh
        .keys
        .all()
        .iter()
        .find(|k| k.kid == kid)
        .map(|k| views::key(k, signing.as_deref() == Some(kid.as_str())))
        .unwrap_or_else(|| json!({"kid": kid}));
    Ok(HttpResponse::Created().json(key))
}

pub async fn retire(
    op: Operator,
    core: web::Data<Core>,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (slug, kid) = path.into_inner();
    let t = tenant_of(&core, &slug).await?;
    core.retire_key(&t, &kid).await?;
    audit::record(&core, &Actor::operator(&op), &t, "key.retire", &kid);
    Ok(HttpResponse::NoContent().finish())
}
