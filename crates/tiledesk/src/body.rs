//! The request body of Tiledesk's body routes: JSON or form-encoded, at most 64 KiB, read as a
//! JSON object whatever the encoding, so that field checks see one shape.

use crate::errors::TiledeskError;
use actix_web::dev::Payload;
use actix_web::http::{header, StatusCode};
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use gatehouse_core::strict_json::{self, StrictJsonError};
use serde_json::{Map, Value};

pub const BODY_LIMIT: usize = 64 * 1024;

/// A parsed body: the top-level JSON object, or the form's fields as strings.
#[derive(Debug, Default)]
pub struct Body(pub Map<String, Value>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Json,
    Form,
    Missing,
    Unsupported,
}

fn encoding_of(content_type: Option<&header::HeaderValue>) -> Encoding {
    let Some(raw) = content_type else {
        return Encoding::Missing;
    };
    let Ok(raw) = raw.to_str() else {
        return Encoding::Unsupported;
    };
    let mut parts = raw.split(';');
    let essence = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
    if !parts.all(utf8_or_no_charset) {
        // body-parser would decode UTF-16 and others with iconv; Gatehouse reads UTF-8 only, and
        // refuses rather than misreads.
        return Encoding::Unsupported;
    }
    match essence.as_str() {
        "application/json" => Encoding::Json,
        "application/x-www-form-urlencoded" => Encoding::Form,
        e if e.starts_with("application/") && e.ends_with("+json") => Encoding::Json,
        _ => Encoding::Unsupported,
    }
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

fn too_large() -> TiledeskError {
    TiledeskError::Msg(StatusCode::PAYLOAD_TOO_LARGE, "Request entity too large.")
}

/// A field given twice: JSON.parse and qs would each pick one; Gatehouse refuses to guess.
fn duplicate_field() -> TiledeskError {
    TiledeskError::Msg(StatusCode::BAD_REQUEST, "A field is given more than once.")
}

fn parse(encoding: Encoding, bytes: &[u8]) -> Result<Body, TiledeskError> {
    // Express leaves `req.body` empty when nothing was sent, whatever the declared type.
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Body::default());
    }
    match encoding {
        Encoding::Json => match strict_json::parse(bytes) {
            Ok(Value::Object(map)) => Ok(Body(map)),
            // An array parses (body-parser's strict mode allows it) but carries no fields.
            Ok(Value::Array(_)) => Ok(Body::default()),
            Err(StrictJsonError::DuplicateKey(_)) => Err(duplicate_field()),
            _ => Err(TiledeskError::Msg(
                StatusCode::BAD_REQUEST,
                "Malformed JSON body.",
            )),
        },
        Encoding::Form => {
            let pairs =
                serde_urlencoded::from_bytes::<Vec<(String, String)>>(bytes).map_err(|_| {
                    TiledeskError::Msg(StatusCode::BAD_REQUEST, "Malformed form-encoded body.")
                })?;
            let mut map = Map::new();
            for (k, v) in pairs {
                if map.insert(k, Value::String(v)).is_some() {
                    return Err(duplicate_field());
                }
            }
            Ok(Body(map))
        }
        Encoding::Missing | Encoding::Unsupported => Err(TiledeskError::Msg(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported content type: send application/json or application/x-www-form-urlencoded.",
        )),
    }
}

/// A body as a route receives it, from its `Content-Type` and bytes, without a request: the
/// entry point the property tests and fuzz targets drive. Limits on size are the extractor's.
pub fn parse_body(
    content_type: Option<&header::HeaderValue>,
    bytes: &[u8],
) -> Result<Map<String, Value>, TiledeskError> {
    parse(encoding_of(content_type), bytes).map(|b| b.0)
}

impl FromRequest for Body {
    type Error = TiledeskError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let encoding = encoding_of(req.headers().get(header::CONTENT_TYPE));
        let bytes = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let bytes = bytes.await.map_err(|e| {
                if e.as_response_error().status_code() == StatusCode::PAYLOAD_TOO_LARGE {
                    too_large()
                } else {
                    TiledeskError::Msg(StatusCode::BAD_REQUEST, "Could not read the request body.")
                }
            })?;
            parse(encoding, &bytes)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_objects_forms_and_empty_bodies_parse() {
        let b = parse(Encoding::Json, br#"{"email":"a@b.co"}"#).unwrap();
        assert_eq!(b.0["email"], "a@b.co");
        let b = parse(Encoding::Form, b"email=a%40b.co&password=x+y").unwrap();
        assert_eq!(b.0["email"], "a@b.co");
        assert_eq!(b.0["password"], "x y");
        assert!(parse(Encoding::Unsupported, b"").unwrap().0.is_empty());
        assert!(parse(Encoding::Json, b"[1]").unwrap().0.is_empty());
    }

    #[test]
    fn duplicate_fields_and_other_charsets_are_refused() {
        assert!(parse(Encoding::Json, br#"{"a":1,"a":2}"#).is_err());
        assert!(parse(Encoding::Form, b"a=1&a=2").is_err());
        assert!(utf8_or_no_charset(" charset=\"UTF-8\""));
        assert!(utf8_or_no_charset("boundary=x"));
        assert!(!utf8_or_no_charset("charset=utf-16"));
    }

    #[test]
    fn bad_json_and_other_types_are_refused() {
        for (enc, raw, status) in [
            (Encoding::Json, &b"{\"a\":"[..], StatusCode::BAD_REQUEST),
            (Encoding::Json, b"\"text\"", StatusCode::BAD_REQUEST),
            (
                Encoding::Unsupported,
                b"a=b",
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ),
            (Encoding::Missing, b"{}", StatusCode::UNSUPPORTED_MEDIA_TYPE),
        ] {
            match parse(enc, raw) {
                Err(TiledeskError::Msg(s, _)) => assert_eq!(s, status),
                other => panic!("{other:?}"),
            }
        }
    }
}
