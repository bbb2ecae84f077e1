//! `GET /.well-known/jwks.json`: the tenant's published public keys as an RFC 7517 key set
//! (`kty`, `crv`+`x` or `n`+`e`, `kid`, `alg`, `use`). HS256 secrets never appear.

use super::{no_tenant, tenant_of, WellKnownOptions};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use gatehouse_core::token::SigningKey;
use gatehouse_core::Core;
use serde_json::{json, Value};

/// One key as a JWK, or `None` for a key without a public half.
pub(super) fn jwk(key: &SigningKey) -> Option<Value> {
    let mut jwk = serde_json::to_value(key.public.as_ref()?).ok()?;
    let fields = jwk.as_object_mut()?;
    fields.insert("kid".into(), key.kid.clone().into());
    fields.insert("alg".into(), key.alg.as_str().into());
    fields.insert("use".into(), "sig".into());
    Some(jwk)
}

pub(super) async fn jwks(
    req: HttpRequest,
    core: web::Data<Core>,
    options: web::Data<WellKnownOptions>,
) -> HttpResponse {
    let Some(tenant) = tenant_of(&req) else {
        return no_tenant();
    };
    let keys: Vec<Value> = core
        .published_keys(&tenant)
        .iter()
        .filter_map(jwk)
        .collect();
    HttpResponse::Ok()
        .insert_header((
            header::CACHE_CONTROL,
            format!("public, max-age={}", options.max_age_secs),
        ))
        .content_type("application/jwk-set+json")
        .json(json!({ "keys": keys }))
}
