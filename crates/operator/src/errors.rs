//! The operator API's one error shape, `{"error": <code>, "message": <text>}` (plus `"field"` for
//! bad input), the gateway's own shape, and the one place a core failure gets its status here.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use gatehouse_core::CoreError;
use serde_json::json;
use std::fmt;

#[derive(Debug)]
pub enum ApiError {
    Core(CoreError),
    /// A body, query or path that does not parse; the message says what was wrong.
    BadRequest(String),
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

    /// Status, code and message; `Internal` is logged with its detail and shown without it.
    fn parts(&self) -> (StatusCode, &'static str, String, Option<&'static str>) {
        use StatusCode as S;
        let e = match self {
            ApiError::BadRequest(m) => return (S::BAD_REQUEST, "bad_request", m.clone(), None),
            ApiError::Core(e) => e,
        };
        match e {
            CoreError::NotFound(what) => {
                (S::NOT_FOUND, "not_found", format!("{what} not found"), None)
            }
            CoreError::Conflict(what) => (S::CONFLICT, "conflict", (*what).to_owned(), None),
            CoreError::InvalidInput { field, message } => (
                S::BAD_REQUEST,
                "invalid_input",
                format!("{field}: {message}"),
                Some(*field),
            ),
            CoreError::Unauthorized(_) => (
                S::UNAUTHORIZED,
                "unauthorized",
                "an active operator API key is required: Authorization: Bearer gho_...".into(),
                None,
            ),
            CoreError::Forbidden(why) => (S::FORBIDDEN, "forbidden", (*why).to_owned(), None),
            CoreError::Locked => (S::TOO_MANY_REQUESTS, "locked", e.to_string(), None),
            CoreError::RateLimited => (S::TOO_MANY_REQUESTS, "rate_limited", e.to_string(), None),
            CoreError::Unavailable(_) => (
                S::SERVICE_UNAVAILABLE,
                "unavailable",
                "the database does not answer now; try again".into(),
                None,
            ),
            CoreError::Internal(detail) => {
                log::error!("operator API: {detail}");
                (
                    S::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error".into(),
                    None,
                )
            }
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.parts().2)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.parts().0
    }

    fn error_response(&self) -> HttpResponse {
        let (status, code, message, field) = self.parts();
        let mut body = json!({"error": code, "message": message});
        if let Some(field) = field {
            body["field"] = json!(field);
        }
        let mut res = HttpResponse::build(status);
        if status == StatusCode::UNAUTHORIZED {
            res.insert_header((
                header::WWW_AUTHENTICATE,
                "Bearer realm=\"gatehouse-operator\"",
            ));
        }
        res.json(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_core::AuthFailure;

    #[test]
    fn core_failures_get_their_status_and_a_safe_message() {
        let e = ApiError::from(CoreError::Internal("SELECT secret".into()));
        assert_eq!(e.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(e.to_string(), "internal error");
        let e = ApiError::from(CoreError::Unauthorized(AuthFailure::InvalidToken));
        assert_eq!(e.status_code(), StatusCode::UNAUTHORIZED);
        let e = ApiError::from(CoreError::invalid("slug", "bad"));
        assert_eq!(e.parts().3, Some("slug"));
    }
}
