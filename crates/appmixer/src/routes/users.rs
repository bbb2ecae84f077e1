//! The admin routes over the tenant's users: list, count, read, update, delete, and setting
//! another user's password (`POST /user/reset-password`). All need the `admin` scope.

use super::empty_ok;
use crate::auth;
use crate::body::JsonBody;
use crate::context::Ctx;
use crate::errors::{ApiError, ApiResult};
use crate::views;
use actix_web::{web, HttpRequest, HttpResponse};
use gatehouse_core::users::UserPatch;
use gatehouse_core::{CoreError, Email, Password, Scope};
use serde_json::{json, Value};
use std::collections::HashMap;

const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;
const MAX_PLAN_CHARS: usize = 64;

/// `?limit=&offset=&pattern=` of `GET /users`, checked by hand so a bad value is a named 400.
struct ListQuery {
    limit: i64,
    offset: i64,
    pattern: Option<String>,
}

impl ListQuery {
    fn parse(raw: &str) -> ApiResult<ListQuery> {
        let pairs: HashMap<String, String> = serde_urlencoded::from_str(raw)
            .map_err(|_| ApiError::bad_request("Invalid request query"))?;
        let int = |name: &str, default: i64, lo: i64, hi: i64| -> ApiResult<i64> {
            match pairs.get(name) {
                None => Ok(default),
                Some(v) => v
                    .trim()
                    .parse::<i64>()
                    .ok()
                    .filter(|n| (lo..=hi).contains(n))
                    .ok_or_else(|| {
                        ApiError::must_be(name, &format!("an integer from {lo} to {hi}"))
                    }),
            }
        };
        Ok(ListQuery {
            limit: int("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)?,
            offset: int("offset", 0, 0, i64::MAX)?,
            pattern: pairs.get("pattern").cloned(),
        })
    }
}

pub async fn list(ctx: Ctx, req: HttpRequest) -> ApiResult<HttpResponse> {
    auth::admin(&ctx).await?;
    let q = ListQuery::parse(req.query_string())?;
    let users = ctx
        .core
        .list_users(&ctx.tenant, q.limit, q.offset, q.pattern)
        .await?;
    let rows: Vec<Value> = users.iter().map(views::listed).collect();
    Ok(HttpResponse::Ok().json(rows))
}

pub async fn count(ctx: Ctx) -> ApiResult<HttpResponse> {
    auth::admin(&ctx).await?;
    let n = ctx.core.count_users(&ctx.tenant).await?;
    Ok(HttpResponse::Ok().json(json!({ "count": n })))
}

pub async fn get(ctx: Ctx, id: web::Path<String>) -> ApiResult<HttpResponse> {
    auth::admin(&ctx).await?;
    let user = ctx.core.user(&ctx.tenant, &id).await?;
    Ok(HttpResponse::Ok().json(views::detail(&user)))
}

/// The fields `PUT /users/{id}` may change; anything else in the body is refused, not ignored.
const UPDATABLE: &[&str] = &["scope", "email", "metadata", "isActive", "plan"];

fn patch_of(body: &JsonBody) -> ApiResult<UserPatch> {
    body.only(UPDATABLE)?;
    let scopes = match body.optional_str_array("scope")? {
        Some(items) if items.is_empty() => {
            return Err(ApiError::bad_request(
                "\"scope\" must contain at least 1 item",
            ))
        }
        Some(items) => Some(
            items
                .into_iter()
                .map(Scope::parse)
                .collect::<Result<Vec<_>, _>>()?,
        ),
        None => None,
    };
    let plan = body.optional_str("plan")?;
    if plan.is_some_and(|p| p.chars().count() > MAX_PLAN_CHARS || p.chars().any(char::is_control)) {
        return Err(ApiError::must_be(
            "plan",
            &format!("at most {MAX_PLAN_CHARS} characters without control characters"),
        ));
    }
    Ok(UserPatch {
        email: body.optional_str("email")?.map(Email::parse).transpose()?,
        scopes,
        metadata: body
            .optional_object("metadata")?
            .cloned()
            .map(Value::Object),
        is_active: body.optional_bool("isActive")?,
        plan: plan.map(str::to_owned),
    })
}

pub async fn update(
    ctx: Ctx,
    id: web::Path<String>,
    body: ApiResult<JsonBody>,
) -> ApiResult<HttpResponse> {
    auth::admin(&ctx).await?;
    let patch = patch_of(&body?)?;
    let user = ctx
        .core
        .update_user(&ctx.tenant, &id, patch)
        .await
        .map_err(|e| match e {
            CoreError::Conflict(_) => CoreError::Conflict("user already exists"),
            other => other,
        })?;
    Ok(HttpResponse::Ok().json(views::detail(&user)))
}

pub async fn delete(ctx: Ctx, id: web::Path<String>) -> ApiResult<HttpResponse> {
    auth::admin(&ctx).await?;
    ctx.core.delete_user(&ctx.tenant, &id).await?;
    Ok(empty_ok())
}

pub async fn reset_password(ctx: Ctx, body: ApiResult<JsonBody>) -> ApiResult<HttpResponse> {
    auth::admin(&ctx).await?;
    let body = body?;
    let email = Email::parse(body.required_str("email")?)?;
    let password = Password::new(
        body.required_str("password")?,
        ctx.tenant.settings.password_min_length,
    )?;
    let user = ctx
        .core
        .user_by_email(&ctx.tenant, &email)
        .await?
        .ok_or(CoreError::NotFound("user"))?;
    ctx.core
        .set_password(&ctx.tenant, &user.id, &password)
        .await?;
    Ok(empty_ok())
}
