//! The OpenAPI 3 document of both facades and the gateway endpoints, served at `/openapi.json`.
//! Placeholder until the facades land; each facade contributes its own paths.

use serde_json::{json, Value};

pub fn document() -> Value {
    json!({
        "openapi": "3.0.3",
        "info": {"title": "Gatehouse", "version": env!("CARGO_PKG_VERSION")},
        "paths": {}
    })
}
