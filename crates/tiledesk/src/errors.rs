//! The facade's one error type, and the one place (`impl ResponseError`) that turns a core error or
//! a dialect rule into Tiledesk's wire shapes: express-validator's `422`, `{"success":false,...}`
//! bodies, and passport's plain-text `401 Unauthorized`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use gatehouse_core::{AuthFailure, CoreError};
use serde::Serialize;
use serde_json::{json, Value};

/// One entry of express-validator's `errors` array.
#[derive(Debug, Clone, Serialize)]
pub struct FieldError {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    pub msg: &'static str,
    pub param: &'static str,
    pub location: &'static str,
}

impl FieldError {
    /// A failing field, echoing what was sent as express-validator does.
    pub fn echo(param: &'static str, sent: Option<&Value>) -> FieldError {
        FieldError {
            value: sent.cloned(),
            msg: "Invalid value",
            param,
            location: "body",
        }
    }

    /// A failing secret field: the value is never echoed back.
    pub fn hidden(param: &'static str) -> FieldError {
        FieldError::echo(param, None)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TiledeskError {
    #[error("invalid fields")]
    Invalid(Vec<FieldError>),
    /// `{"success":false,"msg":...}`, the shape of most Tiledesk failures.
    #[error("{1}")]
    Msg(StatusCode, &'static str),
    /// `{"success":false,"message":...}`: a few original routes spell it this way.
    #[error("{1}")]
    Message(StatusCode, &'static str),
    /// `{"success":false,"error":...,"error_code":...}`: how auth.js's email verification fails
    /// (errorCodes.js `AUTH.ERRORS`: 10005 expired or invalid, 10006 another user's code).
    #[error("{1}")]
    Error(StatusCode, &'static str, u32),
    /// A missing, malformed, expired or foreign token: passport's bare `Unauthorized`.
    #[error("unauthorized")]
    Unauthorized,
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl From<FieldError> for TiledeskError {
    fn from(e: FieldError) -> Self {
        TiledeskError::Invalid(vec![e])
    }
}

pub const PERMISSION_DENIED: &str = "You don't have the permission required.";
pub const PROJECT_USER_NOT_ACTIVE: &str = "Authentication failed. Project_user not active.";
/// The original has no closed signup; this is Gatehouse's answer when the tenant closed it.
pub const SIGNUP_CLOSED: &str = "Signup is closed on this server.";

impl TiledeskError {
    pub fn forbidden() -> TiledeskError {
        TiledeskError::Msg(StatusCode::FORBIDDEN, PERMISSION_DENIED)
    }

    pub fn member_not_active() -> TiledeskError {
        TiledeskError::Msg(StatusCode::UNAUTHORIZED, PROJECT_USER_NOT_ACTIVE)
    }

    /// For token checks: every refusal is the bare `401`, but an outage stays an outage.
    pub fn token_failure(e: CoreError) -> TiledeskError {
        match e {
            CoreError::Unavailable(_) | CoreError::Internal(_) => TiledeskError::Core(e),
            _ => TiledeskError::Unauthorized,
        }
    }

    /// For the custom-token agent link: refusals by policy (`403`) are told as such, outages
    /// stay outages, and everything else is the bare `401` of a bad token.
    pub fn agent_link_failure(e: CoreError) -> TiledeskError {
        match e {
            CoreError::Forbidden(_) | CoreError::RateLimited => TiledeskError::Core(e),
            other => TiledeskError::token_failure(other),
        }
    }

    fn core_shape(e: &CoreError) -> (StatusCode, &'static str) {
        use StatusCode as S;
        match e {
            CoreError::NotFound("project") => (S::NOT_FOUND, "Project not found."),
            CoreError::NotFound(_) => (S::NOT_FOUND, "Not found."),
            CoreError::Conflict(_) => (S::CONFLICT, "Already exists."),
            CoreError::Unauthorized(AuthFailure::UnknownAccount) => {
                (S::UNAUTHORIZED, "Authentication failed. User not found.")
            }
            CoreError::Unauthorized(AuthFailure::WrongPassword) => {
                (S::UNAUTHORIZED, "Authentication failed. Wrong password.")
            }
            CoreError::Unauthorized(AuthFailure::Disabled) => {
                (S::UNAUTHORIZED, "Authentication failed. User is disabled.")
            }
            CoreError::Unauthorized(_) => (S::UNAUTHORIZED, "Unauthorized"),
            CoreError::Forbidden(reason) if *reason == gatehouse_core::service::SIGNUP_CLOSED => {
                (S::FORBIDDEN, SIGNUP_CLOSED)
            }
            CoreError::Forbidden(_) => (S::FORBIDDEN, PERMISSION_DENIED),
            CoreError::Locked => (
                S::TOO_MANY_REQUESTS,
                "Too many failed attempts. Try again later.",
            ),
            CoreError::RateLimited => (S::TOO_MANY_REQUESTS, "Too many requests. Try again later."),
            CoreError::Unavailable(_) => (
                S::SERVICE_UNAVAILABLE,
                "Service temporarily unavailable. Try again later.",
            ),
            CoreError::InvalidInput { .. } => (S::UNPROCESSABLE_ENTITY, "Invalid value"),
            CoreError::Internal(_) => (S::INTERNAL_SERVER_ERROR, "Internal server error."),
        }
    }
}

impl ResponseError for TiledeskError {
    fn status_code(&self) -> StatusCode {
        match self {
            TiledeskError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            TiledeskError::Msg(s, _)
            | TiledeskError::Message(s, _)
            | TiledeskError::Error(s, _, _) => *s,
            TiledeskError::Unauthorized => StatusCode::UNAUTHORIZED,
            TiledeskError::Core(CoreError::Unauthorized(
                AuthFailure::InvalidToken | AuthFailure::ExpiredToken | AuthFailure::MissingToken,
            )) => StatusCode::UNAUTHORIZED,
            TiledeskError::Core(e) => TiledeskError::core_shape(e).0,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let fail =
            |msg: &str| HttpResponse::build(status).json(json!({"success": false, "msg": msg}));
        match self {
            TiledeskError::Invalid(errors) => {
                HttpResponse::build(status).json(json!({ "errors": errors }))
            }
            TiledeskError::Msg(_, msg) => fail(msg),
            TiledeskError::Message(_, message) => {
                HttpResponse::build(status).json(json!({"success": false, "message": message}))
            }
            TiledeskError::Error(_, error, code) => HttpResponse::build(status)
                .json(json!({"success": false, "error": error, "error_code": code})),
            TiledeskError::Unauthorized => unauthorized(),
            TiledeskError::Core(CoreError::InvalidInput { field, .. }) => {
                // Core names the field; the value is not echoed since it may be a password.
                let param: &'static str = field;
                HttpResponse::build(status).json(json!({"errors": [FieldError::hidden(param)]}))
            }
            TiledeskError::Core(CoreError::Unauthorized(
                AuthFailure::InvalidToken | AuthFailure::ExpiredToken | AuthFailure::MissingToken,
            )) => unauthorized(),
            TiledeskError::Core(e) => {
                match e {
                    CoreError::Unavailable(detail) => {
                        log::warn!("tiledesk: database unavailable: {detail}")
                    }
                    CoreError::Internal(detail) => {
                        log::error!("tiledesk: internal error: {detail}")
                    }
                    _ => {}
                }
                fail(TiledeskError::core_shape(e).1)
            }
        }
    }
}

fn unauthorized() -> HttpResponse {
    HttpResponse::Unauthorized()
        .content_type("text/plain; charset=utf-8")
        .body("Unauthorized")
}
