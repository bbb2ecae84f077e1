//! The operations endpoints on the main listener, answered on any host: liveness, readiness and
//! the OpenAPI document (`HEAD` too, see `head`). Metrics have their own listener (`metrics_listener`).

use actix_web::{web, HttpResponse};
use gatehouse_core::Core;
use serde_json::json;
use std::time::Duration;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
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

async fn openapi() -> HttpResponse {
    HttpResponse::Ok().json(crate::openapi::document())
}
