//! Request bodies, read by hand so that every failure is a Boom answer: a content type other than
//! JSON is 415, more than `BODY_LIMIT` bytes is 413, and bad JSON or a field of the wrong type is a
//! 400 that names the problem. Fields are read from a `serde_json::Value` rather than a derived
//! struct, so a wrong type says which field it was.

use crate::errors::{ApiError, ApiResult};
use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use gatehouse_core::strict_json::{self, StrictJsonError};
use serde_json::{Map, Value};

/// The largest body any route takes (gateway.md, Security rules).
pub const BODY_LIMIT: usize = 64 * 1024;

/// A JSON object body. Routes take it as `ApiResult<JsonBody>` and unwrap it after authentication,
/// so an anonymous caller learns that it needs a token before anything about its body.
#[derive(Debug)]
pub struct JsonBody(Map<String, Value>);

impl FromRequest for JsonBody {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, ApiResult<Self>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let content_type_ok = takes_json(req.headers().get(header::CONTENT_TYPE));
        let bytes = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if !content_type_ok {
                return Err(ApiError::UnsupportedMediaType);
            }
            let bytes = bytes
                .await
                .map_err(|e| match e.as_error::<PayloadError>() {
                    Some(PayloadError::Overflow) => ApiError::PayloadTooLarge { limit: BODY_LIMIT },
                    _ => ApiError::bad_request("Invalid request payload"),
                })?;
            JsonBody::parse(&bytes)
        })
    }
}

/// No content type at all is read as JSON (clients of this API send nothing else); any other type
/// than `application/json` or a `+json` type is refused.
fn takes_json(content_type: Option<&header::HeaderValue>) -> bool {
    let Some(value) = content_type else {
        return true;
    };
    let Ok(value) = value.to_str() else {
        return false;
    };
    let mut parts = value.split(';');
    let essence = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    // Bodies are read as UTF-8: another charset is refused rather than misread.
    let json = essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"));
    json && parts.all(utf8_or_no_charset)
}

/// A body as a route receives it, from its `Content-Type` and bytes, without a request: the
/// entry point the property tests and fuzz targets drive. Limits on size are the extractor's.
pub fn parse_body(
    content_type: Option<&header::HeaderValue>,
    bytes: &[u8],
) -> ApiResult<Map<String, Value>> {
    if !takes_json(content_type) {
        return Err(ApiError::UnsupportedMediaType);
    }
    JsonBody::parse(bytes).map(|b| b.0)
}

/// A content-type parameter other than `charset`, or a charset that is UTF-8 (or its subset ASCII).
fn utf8_or_no_charset(param: &str) -> bool {
    match param.split_once('=') {
        Some((name, value)) if name.trim().eq_ignore_ascii_case("charset") => {
            let charset = value.trim().trim_matches('"').to_ascii_lowercase();
            matches!(charset.as_str(), "utf-8" | "utf8" | "us-ascii")
        }
        _ => true,
    }
}

impl JsonBody {
    /// An empty body is an empty object, so the answer names the first required field.
    pub fn parse(bytes: &[u8]) -> ApiResult<JsonBody> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(JsonBody(Map::new()));
        }
        match strict_json::parse(bytes) {
            Ok(Value::Object(map)) => Ok(JsonBody(map)),
            Ok(_) => Err(ApiError::bad_request("\"value\" must be of type object")),
            // hapi keeps the last of two equal keys; Gatehouse refuses to guess which was meant.
            Err(StrictJsonError::DuplicateKey(key)) => Err(ApiError::bad_request(format!(
                "\"{key}\" is given more than once"
            ))),
            Err(StrictJsonError::Syntax) => {
                Err(ApiError::bad_request("Invalid request payload JSON format"))
            }
        }
    }

    /// A field that must be present and a string; an empty string counts as missing.
    pub fn required_str(&self, name: &str) -> ApiResult<&str> {
        self.optional_str(name)?
            .ok_or_else(|| ApiError::bad_request(format!("\"{name}\" is required")))
    }

    /// A field that may be absent; when present it must be a non-empty string (null is not).
    pub fn optional_str(&self, name: &str) -> ApiResult<Option<&str>> {
        match self.0.get(name) {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Err(ApiError::bad_request(format!(
                "\"{name}\" is not allowed to be empty"
            ))),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ApiError::must_be(name, "a string")),
        }
    }

    pub fn optional_object(&self, name: &str) -> ApiResult<Option<&Map<String, Value>>> {
        match self.0.get(name) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m)),
            Some(_) => Err(ApiError::must_be(name, "of type object")),
        }
    }

    pub fn optional_bool(&self, name: &str) -> ApiResult<Option<bool>> {
        match self.0.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(ApiError::must_be(name, "a boolean")),
        }
    }

    /// An array of strings, e.g. `scope`.
    pub fn optional_str_array(&self, name: &str) -> ApiResult<Option<Vec<&str>>> {
        match self.0.get(name) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .ok_or_else(|| ApiError::must_be(name, "an array of strings"))
                })
                .collect::<ApiResult<Vec<_>>>()
                .map(Some),
            Some(_) => Err(ApiError::must_be(name, "an array of strings")),
        }
    }

    /// The raw value of a field, for fields that take more than one type.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    /// Refuses fields outside `allowed`, for updates where ignoring one would hide a mistake.
    pub fn only(&self, allowed: &[&str]) -> ApiResult<()> {
        match self.0.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(ApiError::bad_request(format!("\"{k}\" is not allowed"))),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(raw: &str) -> JsonBody {
        JsonBody::parse(raw.as_bytes()).unwrap()
    }

    fn message(e: ApiError) -> String {
        e.to_string()
    }

    #[test]
    fn fields_of_the_wrong_type_are_named() {
        let b = body(r#"{"a": 1, "b": null, "c": [], "d": "", "e": "x"}"#);
        assert_eq!(
            message(b.required_str("a").unwrap_err()),
            "400 \"a\" must be a string"
        );
        assert_eq!(
            message(b.required_str("b").unwrap_err()),
            "400 \"b\" must be a string"
        );
        assert_eq!(
            message(b.optional_object("c").unwrap_err()),
            "400 \"c\" must be of type object"
        );
        assert_eq!(
            message(b.required_str("d").unwrap_err()),
            "400 \"d\" is not allowed to be empty"
        );
        assert_eq!(
            message(b.required_str("z").unwrap_err()),
            "400 \"z\" is required"
        );
        assert_eq!(b.required_str("e").unwrap(), "x");
        assert_eq!(
            message(b.only(&["a"]).unwrap_err()),
            "400 \"b\" is not allowed"
        );
    }

    #[test]
    fn duplicate_keys_and_other_charsets_are_refused() {
        assert_eq!(
            message(JsonBody::parse(br#"{"password":"a","password":"b"}"#).unwrap_err()),
            "400 \"password\" is given more than once"
        );
        assert!(utf8_or_no_charset("charset=UTF-8"));
        assert!(!utf8_or_no_charset("charset=utf-16"));
    }

    #[test]
    fn bodies_must_be_json_objects() {
        assert!(JsonBody::parse(b"").is_ok());
        assert!(JsonBody::parse(b"[1]").is_err());
        assert!(JsonBody::parse(b"{\"a\":").is_err());
    }
}
