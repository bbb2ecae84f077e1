//! Prometheus metrics on their own listener, `server.metrics_bind` (default loopback; "" turns it
//! off), so tenant hosts never serve them: what they count is for the operator, not the public.

use crate::telemetry::HttpMetrics;
use actix_web::dev::Server;
use actix_web::{web, App, HttpResponse, HttpServer};
use prometheus::{Encoder, TextEncoder};
use std::net::TcpListener;

async fn metrics(metrics: web::Data<HttpMetrics>) -> HttpResponse {
    let mut buf = Vec::new();
    match TextEncoder::new().encode(&metrics.registry.gather(), &mut buf) {
        Ok(()) => HttpResponse::Ok()
            .content_type("text/plain; version=0.0.4")
            .body(buf),
        Err(e) => {
            log::error!("encoding metrics: {e}");
            HttpResponse::InternalServerError().finish()
        }
    }
}

/// Binds `bind` and returns the port and the (not yet running) server; `None` when `bind` is "".
pub fn bind(
    bind: &str,
    metrics_data: web::Data<HttpMetrics>,
    shutdown_timeout_seconds: u64,
) -> Result<Option<(u16, Server)>, String> {
    if bind.trim().is_empty() {
        return Ok(None);
    }
    let listener =
        TcpListener::bind(bind).map_err(|e| format!("cannot listen for metrics on {bind}: {e}"))?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(metrics_data.clone())
            .wrap(actix_web::middleware::from_fn(
                crate::head::serve_head_as_get,
            ))
            .route("/metrics", web::get().to(metrics))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(shutdown_timeout_seconds)
    .listen(listener)
    .map_err(|e| e.to_string())?
    .run();
    Ok(Some((port, server)))
}
