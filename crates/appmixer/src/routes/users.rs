//! The admin routes over the tenant's users: list, count, read, update, delete, and setting
//! another user's password (`POST /user/reset-password`). All need the `admin` scope.

use super::empty_ok;
use crate::auth;
use crate::body::JsonBody;
use crate::context::Ctx;
use crate::errors::{ApiError, ApiResult};
use crate::views;
use actix_web::{web, HttpRequest, HttpResponse};
use gatehouse_core::user_list::{SortKey, UserFilter, UserQuery};
use gatehouse_core::users::UserPatch;
use gatehouse_core::{CoreError, Email, Password, Scope, Vendor};
use serde_json::{json, Value};

const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;
const MAX_PLAN_CHARS: usize = 64;

/// `?limit=&offset=&pattern=&filter=&sort=` of `GET /users`, checked by hand so a bad value is a
/// named 400. The docs' example: "Get the first 30 users with a scope \"acme1\"":
/// `/users?filter=scope:acme1&sort=created:-1&limit=30&offset=0`.
fn list_query(raw: &str) -> ApiResult<UserQuery> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw)
        .map_err(|_| ApiError::bad_request("Invalid request query"))?;
    if pairs.iter().any(|(_, v)| v.contains('\0')) {
        // A backend that cannot compare NUL (PostgreSQL) must answer as the other does.
        return Err(ApiError::bad_request(
            "Invalid request query: NUL characters are not allowed",
        ));
    }
    let last = |name: &str| {
        pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let int = |name: &str, default: i64, lo: i64, hi: i64| -> ApiResult<i64> {
        match last(name) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|n| (lo..=hi).contains(n))
                .ok_or_else(|| ApiError::must_be(name, &format!("an integer from {lo} to {hi}"))),
        }
    };
    let mut q = UserQuery::page(
        int("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)?,
        int("offset", 0, 0, i64::MAX)?,
    );
    q.pattern = last("pattern").map(str::to_owned);
    // `filter` may be given more than once; every condition must hold.
    for (_, f) in pairs.iter().filter(|(k, _)| k == "filter") {
        q.filters.push(filter_of(f)?);
    }
    q.sort = last("sort").map(sort_of).transpose()?;
    Ok(q)
}

const FILTERS: &str = "scope, vendor, plan, isActive, email or username";

/// `field:value`, e.g. `scope:acme1`.
fn filter_of(raw: &str) -> ApiResult<UserFilter> {
    let wrong = || {
        ApiError::must_be(
            "filter",
            &format!("field:value with a field among {FILTERS}"),
        )
    };
    let (field, value) = raw.split_once(':').ok_or_else(wrong)?;
    let value = value.trim();
    if value.is_empty() || value.chars().any(char::is_control) || value.len() > 256 {
        return Err(wrong());
    }
    Ok(match field.trim() {
        "scope" => UserFilter::Scope(Scope::parse(value)?.as_str().to_owned()),
        "vendor" => UserFilter::Vendor(Vendor::name(value)?),
        "plan" => UserFilter::Plan(value.to_owned()),
        "isActive" => UserFilter::IsActive(match value {
            "true" => true,
            "false" => false,
            _ => {
                return Err(ApiError::must_be(
                    "filter",
                    "isActive:true or isActive:false",
                ))
            }
        }),
        "email" => UserFilter::Email(value.to_owned()),
        "username" => UserFilter::Username(value.to_owned()),
        _ => return Err(wrong()),
    })
}

/// `field:1` or `field:-1`, e.g. `created:-1` (newest first).
fn sort_of(raw: &str) -> ApiResult<(SortKey, bool)> {
    let wrong = || ApiError::must_be("sort", "created, email or username, then :1 or :-1");
    let (field, dir) = raw.split_once(':').unwrap_or((raw, "1"));
    let key = match field.trim() {
        "created" => SortKey::Created,
        "email" => SortKey::Email,
        "username" => SortKey::Username,
        _ => return Err(wrong()),
    };
    match dir.trim() {
        "1" => Ok((key, false)),
        "-1" => Ok((key, true)),
        _ => Err(wrong()),
    }
}

pub async fn list(ctx: Ctx, req: HttpRequest) -> ApiResult<HttpResponse> {
    auth::admin(&ctx).await?;
    let q = list_query(req.query_string())?;
    let users = ctx.core.list_users(&ctx.tenant, q).await?;
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
/// The docs list `vendor` ("String|Array: One or more vendors") among them.
const UPDATABLE: &[&str] = &["scope", "email", "metadata", "isActive", "plan", "vendor"];

fn vendor_of(body: &JsonBody) -> ApiResult<Option<Vendor>> {
    let wrong = || ApiError::must_be("vendor", "a string or an array of strings");
    Ok(match body.get("vendor") {
        None => None,
        Some(Value::String(v)) => Some(Vendor::One(Vendor::name(v)?)),
        Some(Value::Array(items)) => Some(Vendor::Many(
            items
                .iter()
                .map(|v| {
                    v.as_str()
                        .ok_or_else(wrong)
                        .and_then(|v| Ok(Vendor::name(v)?))
                })
                .collect::<ApiResult<Vec<_>>>()?,
        )),
        Some(_) => return Err(wrong()),
    })
}

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
        vendor: vendor_of(body)?,
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

/// The docs: "The response is a ticket, the operation may take a long time. You can use the ticket
/// and poll for the result". Here the account and its memberships go in one transaction before
/// the answer, so the ticket's delete is already done when it is polled.
pub async fn delete(ctx: Ctx, id: web::Path<String>) -> ApiResult<HttpResponse> {
    auth::admin(&ctx).await?;
    ctx.core.delete_user(&ctx.tenant, &id).await?;
    let ticket = uuid::Uuid::new_v4().to_string();
    Ok(HttpResponse::Ok().json(json!({ "ticket": ticket })))
}

/// `GET /users/{id}/delete-status/{ticket}`: `{"status": "in-progress | completed | failed |
/// cancelled", "stepsDone", "stepsTotal"}` in the docs. A delete is complete once it answered, so
/// a well-formed ticket for an account that is gone reports `completed`; a ticket for an account
/// that still exists was not one of its deletes, and is not found.
pub async fn delete_status(ctx: Ctx, path: web::Path<(String, String)>) -> ApiResult<HttpResponse> {
    auth::admin(&ctx).await?;
    let (id, ticket) = path.into_inner();
    let not_found = || ApiError::Core(CoreError::NotFound("ticket"));
    uuid::Uuid::parse_str(&ticket).map_err(|_| not_found())?;
    match ctx.core.user(&ctx.tenant, &id).await {
        Err(CoreError::NotFound(_)) => Ok(HttpResponse::Ok()
            .json(json!({"status": "completed", "stepsDone": 1, "stepsTotal": 1}))),
        Ok(_) => Err(not_found()),
        Err(other) => Err(other.into()),
    }
}

pub async fn reset_password(ctx: Ctx, body: ApiResult<JsonBody>) -> ApiResult<HttpResponse> {
    auth::admin(&ctx).await?;
    let body = body?;
    let email = Email::parse(body.required_str("email")?)?;
    let password = Password::new(
        body.required_str("password")?,
        ctx.tenant
            .settings
            .min_password_length(crate::PASSWORD_MIN_LENGTH),
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
