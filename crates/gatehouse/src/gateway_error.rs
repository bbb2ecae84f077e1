//! The gateway's own error shape, `{"error": <code>, "message": <text>}`, for answers given before
//! a facade is chosen or without one (unknown tenant, disabled API, unknown route, a body past its
//! deadline, too many requests in flight from one address).

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use serde_json::json;

pub fn gateway_error(status: StatusCode, code: &str, message: impl Into<String>) -> HttpResponse {
    HttpResponse::build(status).json(json!({"error": code, "message": message.into()}))
}
