//! The operations endpoints, answered on any host: liveness, readiness, Prometheus metrics and the
//! OpenAPI document.

use crate::telemetry::HttpMetrics;
use actix_web::{web, HttpResponse};
use gatehouse_core::Core;
use prometheus::{Encoder, TextEncoder};
use serde_json::json;
use std::time::Duration;

pub const OPS_PATHS: &[&str] = &["/healthz", "/readyz", "/metrics", "/openapi.json"];

pub fn is_ops_path(path: &str) -> bool {
    OPS_PATHS.contains(&path)
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(metrics))
        .route("/openapi.json", web::get().to(openapi));
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Ready when the database answers within a few seconds.
async fn readyz(core: web::Data<Core>) -> HttpResponse {
    match tokio::time::timeout(Duration::from_secs(10), core.db().ping()).await {
        Ok(Ok(())) => HttpResponse::Ok().json(json!({"status": "ready"})),
        Ok(Err(e)) => {
            log::warn!("readyz: database unavailable: {e}");
            HttpResponse::ServiceUnavailable()
                .json(json!({"status": "unavailable", "message": "database unavailable"}))
        }
        Err(_) => HttpResponse::ServiceUnavailable()
            .json(json!({"status": "unavailable", "message": "database did not answer in time"})),
    }
}

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

async fn openapi() -> HttpResponse {
    HttpResponse::Ok().json(crate::openapi::document())
}
