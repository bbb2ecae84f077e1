//! The request-body deadline: a request's body must arrive within `server.body_timeout_seconds`,
//! else 408 and the connection is closed. actix cuts slow headers itself; without this a client
//! could hold a connection open forever by announcing a body and never sending it. Bodies here are
//! small JSON documents, so up to `server.max_body_bytes` are read whole before routing; a larger
//! or broken body is handed on as it came, so the facade's own limit answers in its dialect's shape.

use crate::gateway_error::gateway_error;
use actix_web::body::BoxBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::{header, ConnectionType, StatusCode};
use actix_web::middleware::Next;
use actix_web::web::{Bytes, BytesMut};
use actix_web::{web, Error, HttpResponse};
use futures_util::StreamExt;
use std::pin::Pin;
use std::time::Duration;

type BoxedPayloadStream = Pin<Box<dyn futures_util::Stream<Item = Result<Bytes, PayloadError>>>>;

/// From `[server]`.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    pub timeout: Duration,
    pub max_bytes: usize,
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
    if declared_length(&req).is_some_and(|n| n > limits.max_bytes) {
        // The facade refuses it from the header alone (its limit is smaller), without reading.
        return next.call(req).await;
    }
    let mut payload = actix_web::HttpMessage::take_payload(&mut req);
    if matches!(payload, Payload::None) {
        // No body announced (most GETs, every token check): nothing to wait for, no timer to set.
        req.set_payload(payload);
        return next.call(req).await;
    }
    let deadline = tokio::time::Instant::now() + limits.timeout;
    let mut buf = BytesMut::new();
    let mut tail: Option<Result<Bytes, PayloadError>> = None;
    loop {
        match tokio::time::timeout_at(deadline, payload.next()).await {
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
            Ok(None) => break,
            Ok(Some(Ok(chunk))) if buf.len() + chunk.len() <= limits.max_bytes => {
                buf.extend_from_slice(&chunk);
            }
            Ok(Some(over_or_broken)) => {
                tail = Some(over_or_broken);
                break;
            }
        }
    }
    let read = futures_util::stream::once(std::future::ready(Ok(buf.freeze())));
    let stream: BoxedPayloadStream = match tail {
        None => Box::pin(read),
        Some(tail) => Box::pin(
            read.chain(futures_util::stream::once(std::future::ready(tail)))
                .chain(payload),
        ),
    };
    req.set_payload(Payload::Stream { payload: stream });
    next.call(req).await
}
