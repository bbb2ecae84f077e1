//! The one error type of the Appmixer facade and its one `ResponseError`: every failure, from core
//! or from this dialect, leaves as a Boom body `{"statusCode","error","message"}`, as hapi sends.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use gatehouse_core::{AuthFailure, CoreError};
use serde_json::json;
use std::fmt;

/// Why a request failed. Core's errors pass through untouched and are given their status here, so
/// the policy lives in one place; the other variants are the dialect's own answers.
#[derive(Debug)]
pub enum ApiError {
    Core(CoreError),
    /// A body, query or path that does not validate; the message names the field.
    BadRequest(String),
    /// Authenticated, but not allowed: "Insufficient scope", "Invalid credentials"...
    Forbidden(&'static str),
    /// A body over the route's limit; the limit is carried so this module needs no body rules.
    PayloadTooLarge {
        limit: usize,
    },
    UnsupportedMediaType,
    MethodNotAllowed,
    NotFound,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        ApiError::Core(e)
    }
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::BadRequest(message.into())
    }

    /// Joi's wording for a field of the wrong type or range: `"limit" must be ...`.
    pub fn must_be(name: &str, what: &str) -> Self {
        ApiError::BadRequest(format!("\"{name}\" must be {what}"))
    }

    fn status_and_message(&self) -> (StatusCode, String) {
        use StatusCode as S;
        match self {
            ApiError::Core(e) => core_status_and_message(e),
            ApiError::BadRequest(m) => (S::BAD_REQUEST, m.clone()),
            ApiError::Forbidden(m) => (S::FORBIDDEN, (*m).to_owned()),
            // hapi's own wording for these three.
            ApiError::PayloadTooLarge { limit } => (
                S::PAYLOAD_TOO_LARGE,
                format!("Payload content length greater than maximum allowed: {limit}"),
            ),
            ApiError::UnsupportedMediaType => (
                S::UNSUPPORTED_MEDIA_TYPE,
                "Unsupported Media Type: send application/json".to_owned(),
            ),
            ApiError::MethodNotAllowed => (S::METHOD_NOT_ALLOWED, "Method Not Allowed".to_owned()),
            ApiError::NotFound => (S::NOT_FOUND, "Not Found".to_owned()),
        }
    }
}

/// The written policy: which core failure is which status, and what a client may read of it.
fn core_status_and_message(e: &CoreError) -> (StatusCode, String) {
    use StatusCode as S;
    match e {
        CoreError::NotFound(what) => (S::NOT_FOUND, capitalized(&format!("{what} not found"))),
        CoreError::Conflict(what) => (S::CONFLICT, capitalized(what)),
        CoreError::InvalidInput { field, message } => {
            (S::BAD_REQUEST, invalid_input(field, message))
        }
        CoreError::Unauthorized(failure) => match failure {
            AuthFailure::MissingToken => (S::UNAUTHORIZED, "Missing authentication".into()),
            // The appmixer CLI matches this exact text to ask for a new login.
            AuthFailure::InvalidToken => (
                S::UNAUTHORIZED,
                "Invalid JWT: key or signature is invalid".into(),
            ),
            AuthFailure::ExpiredToken => (S::UNAUTHORIZED, "Token expired".into()),
            AuthFailure::Disabled => (S::UNAUTHORIZED, "User is disabled".into()),
            // One answer for both, so a response never tells which accounts exist.
            AuthFailure::UnknownAccount | AuthFailure::WrongPassword => {
                (S::FORBIDDEN, "Invalid credentials".into())
            }
        },
        CoreError::Forbidden(what) => (S::FORBIDDEN, capitalized(what)),
        CoreError::Locked => (
            S::TOO_MANY_REQUESTS,
            "Too many failed sign-in attempts; try again later".into(),
        ),
        CoreError::RateLimited => (
            S::TOO_MANY_REQUESTS,
            "Too many requests; try again later".into(),
        ),
        CoreError::Unavailable(detail) => {
            log::warn!("appmixer: service unavailable: {detail}");
            (
                S::SERVICE_UNAVAILABLE,
                "Service temporarily unavailable; try again".into(),
            )
        }
        CoreError::Internal(detail) => {
            log::error!("appmixer: internal error: {detail}");
            (
                S::INTERNAL_SERVER_ERROR,
                "An internal server error occurred".into(),
            )
        }
    }
}

/// Core phrases field rules as "must be ..."; Joi, which Appmixer validates with, says
/// `"password" must be ...`. Messages that already name their subject pass through.
fn invalid_input(field: &str, message: &str) -> String {
    if message.starts_with("must ") {
        format!("\"{field}\" {message}")
    } else {
        capitalized(message)
    }
}

fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (status, message) = self.status_and_message();
        write!(f, "{} {message}", status.as_u16())
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status_and_message().0
    }

    fn error_response(&self) -> HttpResponse {
        let (status, message) = self.status_and_message();
        HttpResponse::build(status).json(json!({
            "statusCode": status.as_u16(),
            "error": status.canonical_reason().unwrap_or("Error"),
            "message": message,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_errors_get_the_dialects_statuses_and_words() {
        let cases = [
            (CoreError::NotFound("user"), 404, "User not found"),
            (
                CoreError::Conflict("user already exists"),
                409,
                "User already exists",
            ),
            (
                CoreError::invalid("password", "must be at least 6 characters long"),
                400,
                "\"password\" must be at least 6 characters long",
            ),
            (
                CoreError::Unauthorized(AuthFailure::WrongPassword),
                403,
                "Invalid credentials",
            ),
            (
                CoreError::Unauthorized(AuthFailure::UnknownAccount),
                403,
                "Invalid credentials",
            ),
            (
                CoreError::Unauthorized(AuthFailure::ExpiredToken),
                401,
                "Token expired",
            ),
            (
                CoreError::Internal("secret detail".into()),
                500,
                "An internal server error occurred",
            ),
        ];
        for (e, status, message) in cases {
            let (s, m) = ApiError::Core(e).status_and_message();
            assert_eq!((s.as_u16(), m.as_str()), (status, message));
        }
    }
}
