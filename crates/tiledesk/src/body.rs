//! The request body of Tiledesk's body routes: JSON or form-encoded, at most 64 KiB, read as a
//! JSON object whatever the encoding, so that field checks see one shape.

use crate::errors::TiledeskError;
use actix_web::dev::Payload;
use actix_web::http::{header, StatusCode};
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
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

fn encoding_of(req: &HttpRequest) -> Encoding {
    let Some(raw) = req.headers().get(header::CONTENT_TYPE) else {
        return Encoding::Missing;
    };
    let Ok(raw) = raw.to_str() else {
        return Encoding::Unsupported;
    };
    let essence = raw
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/json" => Encoding::Json,
        "application/x-www-form-urlencoded" => Encoding::Form,
        e if e.starts_with("application/") && e.ends_with("+json") => Encoding::Json,
        _ => Encoding::Unsupported,
    }
}

fn too_large() -> TiledeskError {
    TiledeskError::Msg(StatusCode::PAYLOAD_TOO_LARGE, "Request entity too large.")
}

fn parse(encoding: Encoding, bytes: &[u8]) -> Result<Body, TiledeskError> {
    // Express leaves `req.body` empty when nothing was sent, whatever the declared type.
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Body::default());
    }
    match encoding {
        Encoding::Json => match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(map)) => Ok(Body(map)),
            // An array parses (body-parser's strict mode allows it) but carries no fields.
            Ok(Value::Array(_)) => Ok(Body::default()),
            _ => Err(TiledeskError::Msg(
                StatusCode::BAD_REQUEST,
                "Malformed JSON body.",
            )),
        },
        Encoding::Form => serde_urlencoded::from_bytes::<Vec<(String, String)>>(bytes)
            .map(|pairs| {
                Body(
                    pairs
                        .into_iter()
                        .map(|(k, v)| (k, Value::String(v)))
                        .collect(),
                )
            })
            .map_err(|_| {
                TiledeskError::Msg(StatusCode::BAD_REQUEST, "Malformed form-encoded body.")
            }),
        Encoding::Missing | Encoding::Unsupported => Err(TiledeskError::Msg(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported content type: send application/json or application/x-www-form-urlencoded.",
        )),
    }
}

impl FromRequest for Body {
    type Error = TiledeskError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let encoding = encoding_of(req);
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
