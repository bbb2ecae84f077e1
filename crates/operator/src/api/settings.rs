//! `/admin/v1/tenants/{slug}/settings`: what is set, set one key, unset one key. The same
//! validation as the CLI and Appmixer's `/config` (core's `set_config`): a bad value is a 400 and
//! nothing is stored.

use super::tenant_of;
use crate::audit::{self, Actor};
use crate::auth::Operator;
use crate::errors::{ApiError, ApiResult};
use actix_web::{web, HttpResponse};
use gatehouse_core::settings::KEYS;
use gatehouse_core::Core;
use serde::Deserialize;
use serde_json::{json, Value};

pub async fn list(
    _op: Operator,
    core: web::Data<Core>,
    slug: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let t = tenant_of(&core, &slug).await?;
    Ok(HttpResponse::Ok().json(json!({"settings": t.stored_settings, "known": KEYS})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetBody {
    pub value: Value,
}

/// Settings are strings in storage; a number, a boolean or (for `API_USER_CREATE_SCOPE`) a list
/// of scopes means the same thing, as on `/config`.
pub fn setting_value(value: &Value) -> ApiResult<String> {
    let wrong = || {
        ApiError::bad_request("value must be a string, a number, a boolean or an array of strings")
    };
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().ok_or_else(wrong))
            .collect::<ApiResult<Vec<_>>>()
            .map(|parts| parts.join(",")),
        _ => Err(wrong()),
    }
}

pub async fn set(
    op: Operator,
    core: web::Data<Core>,
    path: web::Path<(String, String)>,
    body: web::Json<SetBody>,
) -> ApiResult<HttpResponse> {
    let (slug, key) = path.into_inner();
    let t = tenant_of(&core, &slug).await?;
    let value = setting_value(&body.value)?;
    core.set_config(&t, &key, &value).await?;
    audit::record(&core, &Actor::operator(&op), &t, "setting.set", &key);
    let stored = core
        .tenant(&t.id)
        .and_then(|t| t.stored_settings.get(&key).cloned())
        .unwrap_or(value);
    Ok(HttpResponse::Ok().json(json!({"key": key, "value": stored})))
}

pub async fn unset(
    op: Operator,
    core: web::Data<Core>,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (slug, key) = path.into_inner();
    let t = tenant_of(&core, &slug).await?;
    core.unset_config(&t, &key).await?;
    audit::record(&core, &Actor::operator(&op), &t, "setting.unset", &key);
    Ok(HttpResponse::NoContent().finish())
}
