//! `GET /.well-known/openid-configuration`: where a tenant's keys are and which algorithms its
//! tokens use. Gatehouse is no OpenID provider (no authorization endpoint, no id_token flow), so
//! the document holds only what a token verifier needs and nothing Gatehouse does not do: the
//! keys, and the introspection endpoint that sees a logout before `exp`.

use super::{no_tenant, tenant_of, WellKnownOptions};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use gatehouse_core::Core;
use serde_json::json;

pub(super) async fn openid_configuration(
    req: HttpRequest,
    core: web::Data<Core>,
    options: web::Data<WellKnownOptions>,
) -> HttpResponse {
    let Some(tenant) = tenant_of(&req) else {
        return no_tenant();
    };
    let issuer = tenant.issuer();
    // The algorithms its tokens are signed with now or may still be checked under: the key that
    // signs, and every published key.
    let mut algs: Vec<&str> = Vec::new();
    let signing = tenant.keys.signing_key_at(core.now_ms()).map(|k| k.alg);
    let published = core.published_keys(&tenant);
    for alg in signing.into_iter().chain(published.iter().map(|k| k.alg)) {
        if !algs.contains(&alg.as_str()) {
            algs.push(alg.as_str());
        }
    }
    HttpResponse::Ok()
        .insert_header((
            header::CACHE_CONTROL,
            format!("public, max-age={}", options.max_age_secs),
        ))
        .json(json!({
            "issuer": issuer,
            "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
            // RFC 8414: where a resource server asks whether a token is still live.
            "introspection_endpoint": format!("{issuer}/oauth/introspect"),
            "id_token_signing_alg_values_supported": algs,
        }))
}
