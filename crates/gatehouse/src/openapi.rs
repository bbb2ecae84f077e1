//! The OpenAPI 3 document served at `/openapi.json`: the gateway's own endpoints plus the paths
//! each facade describes for itself.

use serde_json::{json, Map, Value};

fn gateway_paths() -> Value {
    let plain = |summary: &str, ok: &str| {
        json!({"get": {
            "tags": ["gateway"],
            "summary": summary,
            "responses": {"200": {"description": ok}, "503": {"description": "the database does not answer"}}
        }})
    };
    json!({
        "/healthz": {"get": {"tags": ["gateway"], "summary": "Liveness: the process runs",
            "responses": {"200": {"description": "{\"status\":\"ok\"}"}}}},
        "/readyz": plain("Readiness: the database answers", "ready"),
        "/openapi.json": {"get": {"tags": ["gateway"], "summary": "This document",
            "responses": {"200": {"description": "OpenAPI 3 document"}}}},
    })
}

fn merge(into: &mut Map<String, Value>, paths: Value) {
    if let Value::Object(paths) = paths {
        into.extend(paths);
    }
}

pub fn document() -> Value {
    let mut paths = Map::new();
    merge(&mut paths, gateway_paths());
    merge(&mut paths, gatehouse_tiledesk::openapi_paths());
    merge(&mut paths, gatehouse_appmixer::openapi_paths());
    merge(&mut paths, crate::wellknown::openapi_paths());
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Gatehouse",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "A multi-tenant authentication gateway speaking the Tiledesk and Appmixer auth APIs. \
                Every path but the gateway's own is answered for the tenant that the Host header names."
        },
        "tags": [
            {"name": "gateway", "description": "Operations endpoints, on any host"},
            {"name": "tiledesk", "description": "The Tiledesk auth API (also under /v3)"},
            {"name": "appmixer", "description": "The Appmixer user API"},
            {"name": "wellknown", "description": "Public keys, discovery, forward-auth and introspection, per tenant host"}
        ],
        "components": {"securitySchemes": {
            "appmixerBearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            "tiledeskJwt": {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "\"JWT <token>\" as returned by sign-in"},
            "tiledeskBasic": {"type": "http", "scheme": "basic",
                "description": "email:password, on the Tiledesk agent routes (counted as a sign-in)"},
            "introspectionClient": {"type": "http", "scheme": "basic",
                "description": "client_id:client_secret of a client the operator registered for the tenant \
                    (gatehouse introspection-client add), on /oauth/introspect"},
            "tenantAdminBearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                "description": "A token of either dialect (JWT or Bearer) whose user holds the admin scope"}
        }},
        "paths": paths
    })
}
