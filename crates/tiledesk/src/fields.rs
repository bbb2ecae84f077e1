//! Field checks of request bodies, answering in express-validator's terms: each check returns the
//! parsed value or one `FieldError`, and `AllValid` turns a tuple of checks into all the values or
//! every failing field at once (as express-validator reports them).

use crate::errors::{FieldError, TiledeskError};
use gatehouse_core::Email;
use serde_json::{Map, Value};

/// Longest name or project name accepted; the store has no limit but nobody needs more.
pub const MAX_TEXT_CHARS: usize = 256;

type Fields = Map<String, Value>;

/// What the client sent for `param`, treating JSON `null` as not sent.
fn sent<'a>(body: &'a Fields, param: &str) -> Option<&'a Value> {
    body.get(param).filter(|v| !v.is_null())
}

/// A name-like string: trimmed, 1 to `MAX_TEXT_CHARS` characters, no control characters (which
/// also keeps NUL, refused by PostgreSQL text, out of the store).
pub fn clean_text(raw: &str) -> Option<String> {
    let t = raw.trim();
    let ok =
        !t.is_empty() && t.chars().count() <= MAX_TEXT_CHARS && !t.chars().any(char::is_control);
    ok.then(|| t.to_owned())
}

pub fn email(body: &Fields, param: &'static str) -> Result<Email, FieldError> {
    let v = sent(body, param);
    v.and_then(Value::as_str)
        .and_then(|s| Email::parse(s).ok())
        .ok_or_else(|| FieldError::echo(param, v))
}

/// An email that may be left out (or empty).
pub fn optional_email(body: &Fields, param: &'static str) -> Result<Option<Email>, FieldError> {
    match sent(body, param) {
        None => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(_) => email(body, param).map(Some),
    }
}

pub fn text(body: &Fields, param: &'static str) -> Result<String, FieldError> {
    let v = sent(body, param);
    v.and_then(Value::as_str)
        .and_then(clean_text)
        .ok_or_else(|| FieldError::echo(param, v))
}

/// A name that may be left out (or empty, which counts as left out, as `req.body.x || default` does).
pub fn optional_text(body: &Fields, param: &'static str) -> Result<Option<String>, FieldError> {
    match sent(body, param) {
        None => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(_) => text(body, param).map(Some),
    }
}

/// A profile field of users.js's `PUT /`, which sets whatever is sent (`if (req.body.x !=
/// undefined) update.x = req.body.x`): `None` when left out, `Some("")` when sent empty (it clears
/// the field), else a clean name-like string.
pub fn clearable_text(body: &Fields, param: &'static str) -> Result<Option<String>, FieldError> {
    match sent(body, param) {
        None => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(Some(String::new())),
        Some(_) => text(body, param).map(Some),
    }
}

/// Longest free text (a profile `description`) accepted.
pub const MAX_FREE_TEXT_CHARS: usize = 4096;

/// Like `clearable_text`, for free text a textarea sends: line breaks and tabs are kept, other
/// control characters (NUL among them) are refused, up to `MAX_FREE_TEXT_CHARS`.
pub fn clearable_free_text(
    body: &Fields,
    param: &'static str,
) -> Result<Option<String>, FieldError> {
    match sent(body, param) {
        None => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(Some(String::new())),
        Some(v @ Value::String(s)) => {
            let t = s.trim();
            let ok = t.chars().count() <= MAX_FREE_TEXT_CHARS
                && !t
                    .chars()
                    .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'));
            if ok {
                Ok(Some(t.to_owned()))
            } else {
                Err(FieldError::echo(param, Some(v)))
            }
        }
        Some(other) => Err(FieldError::echo(param, Some(other))),
    }
}

/// A password as sent: `None` when left out; never echoed when wrong.
pub fn optional_secret(body: &Fields, param: &'static str) -> Result<Option<String>, FieldError> {
    match sent(body, param) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(FieldError::hidden(param)),
    }
}

/// A password that must be there and not empty.
pub fn secret(body: &Fields, param: &'static str) -> Result<String, FieldError> {
    optional_secret(body, param)?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| FieldError::hidden(param))
}

/// A JSON object that may be left out.
pub fn optional_object(body: &Fields, param: &'static str) -> Result<Option<Fields>, FieldError> {
    match sent(body, param) {
        None => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m.clone())),
        Some(other) => Err(FieldError::echo(param, Some(other))),
    }
}

/// Every check of a tuple passed, or the errors of all that failed.
pub trait AllValid {
    type Out;
    fn all_valid(self) -> Result<Self::Out, TiledeskError>;
}

macro_rules! all_valid_for_tuple {
    ($($t:ident $v:ident),+) => {
        impl<$($t),+> AllValid for ($(Result<$t, FieldError>,)+) {
            type Out = ($($t,)+);
            fn all_valid(self) -> Result<Self::Out, TiledeskError> {
                match self {
                    ($(Ok($v),)+) => Ok(($($v,)+)),
                    ($($v,)+) => Err(TiledeskError::Invalid(
                        [$($v.err()),+].into_iter().flatten().collect(),
                    )),
                }
            }
        }
    };
}

all_valid_for_tuple!(A a, B b);
all_valid_for_tuple!(A a, B b, C c);
all_valid_for_tuple!(A a, B b, C c, D d);
all_valid_for_tuple!(A a, B b, C c, D d, E e);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(v: Value) -> Fields {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn every_failing_field_is_reported_in_order_with_its_value() {
        let b = fields(json!({"email": "x@email", "firstname": "", "lastname": "Ok"}));
        let Err(TiledeskError::Invalid(errs)) = (
            email(&b, "email"),
            text(&b, "firstname"),
            text(&b, "lastname"),
        )
            .all_valid()
        else {
            panic!("should fail")
        };
        let params: Vec<_> = errs.iter().map(|e| e.param).collect();
        assert_eq!(params, ["email", "firstname"]);
        assert_eq!(errs[0].value, Some(json!("x@email")));
    }

    #[test]
    fn secrets_are_never_echoed_and_control_characters_are_refused() {
        let b = fields(json!({"password": 12345678, "name": "a\u{0}b"}));
        assert_eq!(secret(&b, "password").unwrap_err().value, None);
        assert!(text(&b, "name").is_err());
        assert_eq!(optional_text(&b, "missing").unwrap(), None);
        assert_eq!(clean_text("  Zoë  ").as_deref(), Some("Zoë"));
    }
}
