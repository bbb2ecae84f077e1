//! `/config`: the tenant's configuration as an admin sees and changes it. Gatehouse's own settings
//! are validated by core (a bad value is a 400 and nothing is stored); any other key of the
//! configuration-key shape is kept as free-form tenant configuration that Gatehouse does not
//! interpret, since Appmixer's `/config` takes any key (its docs' example:
//! `WEBHOOK_FLOW_COMPONENT_ERROR`).

use crate::auth;
use crate::body::JsonBody;
use crate::context::Ctx;
use crate::errors::{ApiError, ApiResult};
use actix_web::{web, HttpResponse};
use gatehouse_core::settings::SetBy;
use serde_json::{json, Value};

pub async fn list(ctx: Ctx) -> ApiResult<HttpResponse> {
    auth::admin(&ctx).await?;
    let tenant = ctx.fresh_tenant();
    let pairs: Vec<Value> = tenant
        .stored_settings
        .iter()
        .map(|(key, value)| json!({"key": key, "value": value}))
        .collect();
    Ok(HttpResponse::Ok().json(pairs))
}

/// Settings are strings in storage; a client may send a number or a boolean (`6`, `true`), or a
/// list of scopes for `API_USER_CREATE_SCOPE`, and means the same thing.
fn setting_value(body: &JsonBody) -> ApiResult<String> {
    let wrong = || {
        ApiError::must_be(
            "value",
            "a string, a number, a boolean or an array of strings",
        )
    };
    match body.get("value") {
        None => Err(ApiError::bad_request("\"value\" is required")),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(Value::Bool(b)) => Ok(b.to_string()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().ok_or_else(wrong))
            .collect::<ApiResult<Vec<_>>>()
            .map(|parts| parts.join(",")),
        Some(_) => Err(wrong()),
    }
}

pub async fn set(ctx: Ctx, body: ApiResult<JsonBody>) -> ApiResult<HttpResponse> {
    auth::admin(&ctx).await?;
    let body = body?;
    let key = body.required_str("key")?;
    let value = setting_value(&body)?;
    // A tenant admin's door: some values only the operator may set.
    ctx.core
        .check_tenant_admin_setting(&ctx.tenant, key, &value)?;
    // The caller holds the admin scope: a tenant admin's change (the console says so).
    ctx.core
        .set_config_by(&ctx.tenant, key, &value, SetBy::TenantAdmin)
        .await?;
    let stored = ctx
        .fresh_tenant()
        .stored_settings
        .get(key)
        .cloned()
        .unwrap_or(value);
    Ok(HttpResponse::Ok().json(json!({"key": key, "value": stored})))
}

pub async fn unset(ctx: Ctx, key: web::Path<String>) -> ApiResult<HttpResponse> {
    auth::admin(&ctx).await?;
    ctx.core.unset_config(&ctx.tenant, &key).await?;
    // Appmixer answers a removed key with `{"ok": true}`, not the `{}` of other changes.
    Ok(HttpResponse::Ok().json(json!({"ok": true})))
}
