//! Request metrics (by facade, route and status, with latency histograms) and the one log line a
//! request, which names tenant, route, status and time, and never a header, body or query string.
//! The facade label is what the router matched: the facade's gate marks the request with its `Api`;
//! any other matched route is the gateway's own; nothing matched is "none".

use actix_web::body::BoxBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpMessage};
use gatehouse_core::{Api, RequestContext};
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};
use std::time::Instant;

pub struct HttpMetrics {
    pub registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
}

impl HttpMetrics {
    pub fn new(registry: Registry) -> HttpMetrics {
        let requests = IntCounterVec::new(
            Opts::new(
                "gatehouse_http_requests_total",
                "HTTP requests by facade, route and status",
            ),
            &["facade", "route", "status"],
        )
        .expect("static metric definition");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "gatehouse_http_request_duration_seconds",
                "HTTP request latency",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["facade", "route"],
        )
        .expect("static metric definition");
        let _ = registry.register(Box::new(requests.clone()));
        let _ = registry.register(Box::new(latency.clone()));
        HttpMetrics {
            registry,
            requests,
            latency,
        }
    }
}

pub async fn observe(
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let started = Instant::now();
    let metrics = req.app_data::<web::Data<HttpMetrics>>().cloned();
    let method = req.method().clone();
    let res = next.call(req).await?;
    let elapsed = started.elapsed();
    let request = res.request();
    let route = request
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let marked = request.extensions().get::<Api>().copied();
    let facade = match (marked, route.as_str()) {
        (Some(api), _) => api.as_str(),
        (None, "unmatched") => "none",
        (None, pattern) if crate::wellknown::serves(pattern) => "wellknown",
        (None, _) => "gateway",
    };
    let status = res.status();
    if let Some(m) = metrics {
        m.requests
            .with_label_values(&[facade, &route, status.as_str()])
            .inc();
        m.latency
            .with_label_values(&[facade, &route])
            .observe(elapsed.as_secs_f64());
    }
    if log::log_enabled!(log::Level::Info) {
        let tenant = request
            .extensions()
            .get::<RequestContext>()
            .map_or_else(|| "-".to_owned(), |c| c.tenant.slug.to_string());
        log::info!(
            "tenant={tenant} {method} {route} status={} time_ms={:.1}",
            status.as_u16(),
            elapsed.as_secs_f64() * 1000.0
        );
    }
    Ok(res)
}
