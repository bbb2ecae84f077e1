//! The one error type of core. Each facade maps it to its own wire shape in exactly one place
//! (its `ResponseError` impl); nothing else decides a status code.
//!
//! Policy: `InvalidInput` is the caller's fault and names the field; `Unavailable` means the
//! database (or the hashing pool) cannot answer now and the caller may retry; `Internal` is a bug
//! or an unexpected database answer, logged with detail here and shown to clients without it.

use thiserror::Error;

pub type CoreResult<T> = Result<T, CoreError>;

/// Why a sign-in or token check failed. Facades that must not tell these apart (Appmixer's
/// "Invalid credentials") collapse them; Tiledesk reports the first two separately, as the original does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    UnknownAccount,
    WrongPassword,
    Disabled,
    /// A token that is missing, malformed, badly signed, for another tenant or audience.
    InvalidToken,
    ExpiredToken,
    MissingToken,
}

#[derive(Debug, Error)]
pub enum CoreError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(&'static str),
    #[error("invalid {field}: {message}")]
    InvalidInput {
        field: &'static str,
        message: String,
    },
    #[error("authentication failed: {0:?}")]
    Unauthorized(AuthFailure),
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("too many failed attempts")]
    Locked,
    #[error("too many requests")]
    RateLimited,
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl CoreError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        CoreError::InvalidInput {
            field,
            message: message.into(),
        }
    }
}

/// For updates and deletes by key: no row touched means there was no such record.
pub(crate) fn found_one(rows: usize, what: &'static str) -> CoreResult<()> {
    if rows == 0 {
        Err(CoreError::NotFound(what))
    } else {
        Ok(())
    }
}

impl From<diesel::result::Error> for CoreError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::NotFound => CoreError::NotFound("record"),
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                CoreError::Conflict("already exists")
            }
            Error::DatabaseError(DatabaseErrorKind::ClosedConnection, info)
            | Error::DatabaseError(DatabaseErrorKind::UnableToSendCommand, info) => {
                CoreError::Unavailable(info.message().to_owned())
            }
            Error::DatabaseError(DatabaseErrorKind::Unknown, info)
                if is_transient(info.message()) =>
            {
                CoreError::Unavailable(info.message().to_owned())
            }
            other => CoreError::Internal(other.to_string()),
        }
    }
}

/// Messages of errors that mean "the database is not answering now" rather than "this query is wrong".
fn is_transient(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "database is locked",
        "server closed the connection",
        "terminating connection",
        "connection refused",
        "no connection to the server",
        "could not connect",
        "broken pipe",
        "connection reset",
        "the database system is",
    ]
    .iter()
    .any(|needle| m.contains(needle))
}

impl From<r2d2::Error> for CoreError {
    fn from(e: r2d2::Error) -> Self {
        CoreError::Unavailable(e.to_string())
    }
}
