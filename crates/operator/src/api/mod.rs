//! The operator API, `/admin/v1/*`: JSON over the admin listener, every route behind an operator
//! key (see `auth`), every change audited (see `audit`). Bodies are strict: an unknown field, a
//! wrong type or malformed JSON is a 400 and nothing is written.

mod introspection_clients;
mod keys;
mod settings;
mod tenants;
mod users;

pub use keys::{lead_for, rotation_alg};

use crate::errors::{ApiError, ApiResult};
use actix_web::{web, HttpResponse};
use gatehouse_core::{Core, Tenant, TenantSlug};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// The largest page a list answers.
pub const MAX_LIMIT: usize = 500;
const DEFAULT_LIMIT: usize = 50;
/// The largest body an operator route reads.
const MAX_BODY: usize = 64 * 1024;

/// What the operator routes take from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct OperatorOptions {
    /// The publish-before-signing lead of a rotated-in EdDSA or RS256 key (as the CLI's).
    pub key_lead_secs: u64,
}

/// `?q=&limit=&offset=` of every list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub q: Option<String>,
    pub limit: Option<usize>,
    pub offset: Option<usize>,
}

impl ListQuery {
    pub fn limit(&self) -> ApiResult<usize> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Some(_) => Err(ApiError::bad_request(format!(
                "limit must be from 1 to {MAX_LIMIT}"
            ))),
        }
    }

    pub fn offset(&self) -> usize {
        self.offset.unwrap_or(0)
    }
}

/// The tenant named by a path's slug: from this node's directory, else (made on another node a
/// moment ago) from the database.
pub async fn tenant_of(core: &Core, slug: &str) -> ApiResult<Arc<Tenant>> {
    let slug = TenantSlug::parse(slug)?;
    if let Some(t) = core.tenant_by_slug(slug.as_str()) {
        return Ok(t);
    }
    Ok(core.require_tenant(&slug).await?)
}

fn json_error(err: actix_web::error::JsonPayloadError) -> actix_web::Error {
    use actix_web::error::JsonPayloadError as J;
    let message = match &err {
        J::ContentType => "send a JSON body (Content-Type: application/json)".to_owned(),
        J::Overflow { limit } | J::OverflowKnownLength { limit, .. } => {
            format!("the body is larger than {limit} bytes")
        }
        other => format!("the body is not what this route takes: {other}"),
    };
    ApiError::bad_request(message).into()
}

fn query_error(err: actix_web::error::QueryPayloadError) -> actix_web::Error {
    ApiError::bad_request(format!("bad query string: {err}")).into()
}

fn path_error(err: actix_web::error::PathError) -> actix_web::Error {
    ApiError::bad_request(format!("bad path: {err}")).into()
}

async fn not_found() -> HttpResponse {
    HttpResponse::NotFound().json(json!({"error": "not_found", "message": "no such route"}))
}

async fn openapi() -> HttpResponse {
    HttpResponse::Ok().json(crate::openapi::document())
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/admin/v1")
            .app_data(
                web::JsonConfig::default()
                    .limit(MAX_BODY)
                    .error_handler(|e, _| json_error(e)),
            )
            .app_data(web::QueryConfig::default().error_handler(|e, _| query_error(e)))
            .app_data(web::PathConfig::default().error_handler(|e, _| path_error(e)))
            .route("/openapi.json", web::get().to(openapi))
            .route("/tenants", web::get().to(tenants::list))
            .route("/tenants", web::post().to(tenants::create))
            .route("/tenants/{slug}", web::get().to(tenants::show))
            .route("/tenants/{slug}", web::patch().to(tenants::update))
            .route("/tenants/{slug}", web::delete().to(tenants::delete))
            .route("/tenants/{slug}/settings", web::get().to(settings::list))
            .route(
                "/tenants/{slug}/settings/{key}",
                web::put().to(settings::set),
            )
            .route(
                "/tenants/{slug}/settings/{key}",
                web::delete().to(settings::unset),
            )
            .route("/tenants/{slug}/keys", web::get().to(keys::list))
            .route("/tenants/{slug}/keys", web::post().to(keys::rotate))
            .route("/tenants/{slug}/keys/{kid}", web::delete().to(keys::retire))
            .route(
                "/tenants/{slug}/introspection-clients",
                web::get().to(introspection_clients::list),
            )
            .route(
                "/tenants/{slug}/introspection-clients",
                web::post().to(introspection_clients::create),
            )
            .route(
                "/tenants/{slug}/introspection-clients/{id}",
                web::delete().to(introspection_clients::remove),
            )
            .route("/tenants/{slug}/users", web::get().to(users::list))
            .route("/tenants/{slug}/users", web::post().to(users::create))
            .route("/tenants/{slug}/users/{id}", web::get().to(users::show))
            .route(
                "/tenants/{slug}/users/{id}",
                web::delete().to(users::delete),
            )
            .route(
                "/tenants/{slug}/users/{id}/disable",
                web::post().to(users::disable),
            )
            .route(
                "/tenants/{slug}/users/{id}/enable",
                web::post().to(users::enable),
            )
            .route(
                "/tenants/{slug}/users/{id}/revoke-tokens",
                web::post().to(users::revoke_tokens),
            )
            .route("/tenants/{slug}/audit", web::get().to(crate::audit::list))
            .default_service(web::to(not_found)),
    );
}

#[cfg(test)]
mod tests {
    use actix_web::http::{Method, StatusCode};
    use actix_web::{test, App};

    /// The document and the router say the same: every documented operation reaches its handler
    /// (which, with no core here, fails at the operator-key check), never the 404 of an unknown
    /// route nor a 405; and on every documented path, a method the document does not list is not
    /// served.
    #[actix_web::test]
    async fn the_document_lists_the_mounted_routes() {
        let app = test::init_service(App::new().configure(super::configure)).await;
        let doc = crate::openapi::document();
        let every = ["get", "post", "put", "patch", "delete"];
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            let uri = path
                .replace("{slug}", "demo")
                .replace("{id}", "0123456789abcdef01234567")
                .replace("{kid}", "k1")
                .replace("{key}", "PASSWORD_MIN_LENGTH");
            let item = item.as_object().expect("a path item");
            for method in every {
                let req = test::TestRequest::default()
                    .method(Method::from_bytes(method.to_uppercase().as_bytes()).unwrap())
                    .uri(&uri)
                    .to_request();
                let status = test::call_service(&app, req).await.status();
                let unserved = matches!(
                    status,
                    StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
                );
                assert_eq!(
                    unserved,
                    !item.contains_key(method),
                    "{method} {path}: {status}"
                );
            }
        }
    }
}
