//! `/admin/v1/tenants/{slug}/introspection-clients`: the resource servers that may call the
//! tenant's `POST /oauth/introspect` with HTTP Basic. Listing never shows a secret; creating
//! answers the secret once (only its hash is kept); removing ends the client's access at once.

use super::tenant_of;
use crate::audit::{self, Actor};
use crate::auth::Operator;
use crate::errors::ApiResult;
use actix_web::http::header;
use actix_web::{web, HttpResponse};
use gatehouse_core::introspection::IntrospectionClient;
use gatehouse_core::Core;
use serde::Deserialize;
use serde_json::{json, Value};

fn view(c: &IntrospectionClient) -> Value {
    json!({"id": c.id, "client_id": c.id, "name": c.name, "created_at": crate::views::time(c.created_at)})
}

pub async fn list(
    _op: Operator,
    core: web::Data<Core>,
    slug: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let t = tenant_of(&core, &slug).await?;
    let items: Vec<Value> = core
        .introspection_clients(&t)
        .await?
        .iter()
        .map(view)
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewClient {
    /// What the list shows: 1 to 64 letters, digits and - _ . @, unique in the tenant.
    pub name: String,
}

pub async fn create(
    op: Operator,
    core: web::Data<Core>,
    slug: web::Path<String>,
    body: web::Json<NewClient>,
) -> ApiResult<HttpResponse> {
    let t = tenant_of(&core, &slug).await?;
    let (client, secret) = core.create_introspection_client(&t, &body.name).await?;
    let target = format!("{} ({})", client.id, client.name);
    audit::record(
        &core,
        &Actor::operator(&op),
        &t,
        "introspection_client.create",
        &target,
    );
    let mut v = view(&client);
    v["client_secret"] = json!(secret.expose());
    // Shown once: no cache may keep it.
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(v))
}

pub async fn remove(
    op: Operator,
    core: web::Data<Core>,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (slug, id) = path.into_inner();
    let t = tenant_of(&core, &slug).await?;
    let client = core.remove_introspection_client(&t, &id).await?;
    let target = format!("{} ({})", client.id, client.name);
    audit::record(
        &core,
        &Actor::operator(&op),
        &t,
        "introspection_client.remove",
        &target,
    );
    Ok(HttpResponse::NoContent().finish())
}
