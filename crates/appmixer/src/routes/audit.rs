//! `GET /audit`: the tenant's audit log for a token with the `admin` scope, newest first.
//! Appmixer has no such route; this one follows its admin routes (`GET /users`): Bearer token,
//! `admin` scope, query parameters checked by hand, Boom errors.

use crate::auth;
use crate::context::Ctx;
use crate::errors::{ApiError, ApiResult};
use actix_web::{HttpRequest, HttpResponse};
use gatehouse_core::audit::{parse_since, AuditEvent, AuditQuery};
use serde_json::{json, Value};

const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;

/// `?since=24h&user=<id>&kind=signin&limit=100`.
fn audit_query(raw: &str, now_ms: i64) -> ApiResult<AuditQuery> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw)
        .map_err(|_| ApiError::bad_request("Invalid request query"))?;
    let last = |name: &str| {
        pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let token = |name: &str| -> ApiResult<Option<String>> {
        match last(name) {
            None => Ok(None),
            Some(v) if !v.is_empty() && v.len() <= 64 && !v.chars().any(char::is_control) => {
                Ok(Some(v.to_owned()))
            }
            Some(_) => Err(ApiError::must_be(name, "a string of 1 to 64 characters")),
        }
    };
    let limit = match last("limit") {
        None => DEFAULT_LIMIT,
        Some(v) => v
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::must_be("limit", &format!("an integer from 1 to {MAX_LIMIT}"))
            })?,
    };
    let since_ms = match last("since") {
        None => None,
        Some(v) => Some(parse_since(v, now_ms).map_err(|_| {
            ApiError::must_be(
                "since",
                "a duration (90s, 15m, 24h, 7d) or an RFC 3339 time",
            )
        })?),
    };
    Ok(AuditQuery {
        since_ms,
        user_id: token("user")?,
        kind: token("kind")?,
        limit,
    })
}

fn view(e: &AuditEvent) -> Value {
    json!({
        "id": e.id,
        "at": gatehouse_core::clock::iso8601(e.at),
        "kind": e.kind,
        "outcome": e.outcome,
        "userId": e.user_id,
        "clientIp": e.client_ip,
        "userAgent": e.user_agent,
        "dialect": e.dialect,
        "requestId": e.request_id,
        "detail": e.detail,
    })
}

pub async fn list(ctx: Ctx, req: HttpRequest) -> ApiResult<HttpResponse> {
    auth::admin(&ctx).await?;
    let query = audit_query(req.query_string(), ctx.core.now_ms())?;
    let events = ctx.core.audit_events(&ctx.tenant, query).await?;
    let rows: Vec<Value> = events.iter().map(view).collect();
    Ok(HttpResponse::Ok().json(rows))
}
