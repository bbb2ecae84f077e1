//! The request-body deadline: a request's whole body must arrive within `server.body_timeout_seconds`
//! (else 408 and the connection is closed) and be at most `server.max_body_bytes` (else 413).
//! actix cuts slow headers itself; without this a client could hold a connection open forever by
//! announcing a body and never sending it. Bodies here are small JSON documents, so reading them
//! whole before routing costs nothing and leaves the facades' own limits and shapes in charge.

use crate::gateway_error::gateway_error;
use actix_web::body::BoxBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{header, ConnectionType, StatusCode};
use actix_web::middleware::Next;
use actix_web::web::{Bytes, BytesMut};
use actix_web::{web, Error, HttpResponse};
use futures_util::StreamExt;
use std::time::Duration;

/// From `[server]`.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    pub timeout: Duration,
    pub max_bytes: usize,
}

enum Refusal {
    TooLarge,
    Broken,
}

fn closing(mut res: HttpResponse) -> HttpResponse {
    // The unread rest of the body must not be taken for the next request on this connection.
    res.head_mut().set_connection_type(ConnectionType::Close);
    res
}

fn declared_length(req: &ServiceRequest) -> Option<usize> {
    req.headers()
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

pub async fn read_body_within_deadline(
    mut req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let Some(limits) = req
        .app_data::<web::Data<BodyLimits>>()
        .map(|l| *l.get_ref())
    else {
        return next.call(req).await;
    };
    let too_large = || {
        closing(gateway_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body is over {} bytes", limits.max_bytes),
        ))
    };
    if declared_length(&req).is_some_and(|n| n > limits.max_bytes) {
        return Ok(req.into_response(too_large()));
    }
    let mut payload = actix_web::HttpMessage::take_payload(&mut req);
    let read = async {
        let mut buf = BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|_| Refusal::Broken)?;
            if buf.len() + chunk.len() > limits.max_bytes {
                return Err(Refusal::TooLarge);
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf.freeze())
    };
    let body: Bytes = match tokio::time::timeout(limits.timeout, read).await {
        Ok(Ok(body)) => body,
        Ok(Err(Refusal::TooLarge)) => return Ok(req.into_response(too_large())),
        Ok(Err(Refusal::Broken)) => {
            let res = gateway_error(StatusCode::BAD_REQUEST, "bad_request", "unreadable body");
            return Ok(req.into_response(closing(res)));
        }
        Err(_) => {
            let res = gateway_error(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                format!(
                    "the request body did not arrive within {} s",
                    limits.timeout.as_secs_f64()
                ),
            );
            return Ok(req.into_response(closing(res)));
        }
    };
    req.set_payload(Payload::Stream {
        payload: Box::pin(futures_util::stream::once(async move { Ok(body) })),
    });
    next.call(req).await
}
