//! The OpenAPI 3 document of the operator API, served at `/admin/v1/openapi.json`.

use serde_json::{json, Value};

fn op(summary: &str, ok: &str, body: Option<&str>, params: &[&str]) -> Value {
    let mut parameters: Vec<Value> = params
        .iter()
        .map(|p| json!({"name": p, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect();
    if summary.starts_with("List") || summary.starts_with("Search") {
        for (name, kind) in [("q", "string"), ("limit", "integer"), ("offset", "integer")] {
            parameters.push(
                json!({"name": name, "in": "query", "required": false, "schema": {"type": kind}}),
            );
        }
    }
    let (code, description) = ok.split_once(' ').unwrap_or((ok, "done"));
    let mut responses = json!({
        "400": {"$ref": "#/components/responses/Error"},
        "401": {"$ref": "#/components/responses/Error"},
        "404": {"$ref": "#/components/responses/Error"},
    });
    responses[code] = json!({"description": description});
    if body.is_some() {
        responses["409"] = json!({"$ref": "#/components/responses/Error"});
    }
    let mut v = json!({
        "tags": ["operator"],
        "summary": summary,
        "security": [{"operatorKey": []}],
        "parameters": parameters,
        "responses": responses,
    });
    if let Some(schema) = body {
        v["requestBody"] = json!({"required": true, "content": {"application/json": {
            "schema": {"$ref": format!("#/components/schemas/{schema}")}}}});
    }
    v
}

/// `op` with its `q` parameter described (what the search matches).
fn searching(mut v: Value, q: &str) -> Value {
    if let Some(params) = v["parameters"].as_array_mut() {
        for p in params.iter_mut().filter(|p| p["name"] == "q") {
            p["description"] = json!(q);
        }
    }
    v
}

pub fn document() -> Value {
    let t = &["slug"];
    let tk = &["slug", "key"];
    let tkid = &["slug", "kid"];
    let tu = &["slug", "id"];
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Gatehouse operator API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Tenants, their settings, keys and users, for the operator. Served on the admin listener (server.admin_bind) only. Errors: {\"error\": code, \"message\": text, \"field\"?: name}."
        },
        "tags": [{"name": "operator", "description": "The operator API"}],
        "components": {
            "securitySchemes": {"operatorKey": {"type": "http", "scheme": "bearer",
                "description": "An operator API key (gatehouse operator key create --name NAME)"}},
            "responses": {"Error": {"description": "an error", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Error"}}}}},
            "schemas": {
                "Error": {"type": "object", "required": ["error", "message"], "properties": {
                    "error": {"type": "string"}, "message": {"type": "string"}, "field": {"type": "string"}}},
                "NewTenant": {"type": "object", "required": ["slug"], "additionalProperties": false, "properties": {
                    "slug": {"type": "string", "pattern": "^[a-z0-9-]{1,63}$"},
                    "name": {"type": "string"},
                    "hosts": {"type": "array", "items": {"type": "string"}},
                    "apis": {"type": "array", "items": {"type": "string", "enum": ["tiledesk", "appmixer"]}},
                    "alg": {"type": "string", "enum": ["HS256", "EdDSA", "RS256"]},
                    "settings": {"type": "object", "additionalProperties": {"type": "string"}}}},
                "TenantPatch": {"type": "object", "additionalProperties": false, "properties": {
                    "name": {"type": "string"},
                    "hosts": {"type": "array", "items": {"type": "string"}},
                    "apis": {"type": "array", "items": {"type": "string", "enum": ["tiledesk", "appmixer"]}}}},
                "SettingValue": {"type": "object", "required": ["value"], "additionalProperties": false, "properties": {
                    "value": {"oneOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"},
                        {"type": "array", "items": {"type": "string"}}]}}},
                "Rotate": {"type": "object", "additionalProperties": false, "properties": {
                    "alg": {"type": "string", "enum": ["HS256", "EdDSA", "RS256"],
                        "description": "Absent: the algorithm the tenant signs with now."},
                    "lead_seconds": {"type": "integer", "minimum": 0},
                    "allow_unpublished": {"type": "boolean", "default": false,
                        "description": "Required (true) to move a tenant that signs with EdDSA or RS256 to HS256: services verifying through the JWKS stop verifying its new tokens. Without it such a request is a 400."}}},
                "NewIntrospectionClient": {"type": "object", "required": ["name"], "additionalProperties": false, "properties": {
                    "name": {"type": "string", "pattern": "^[A-Za-z0-9._@-]{1,64}$"}}},
                "NewUser": {"type": "object", "required": ["email", "password"], "additionalProperties": false, "properties": {
                    "email": {"type": "string"}, "password": {"type": "string"}, "username": {"type": "string"},
                    "scopes": {"type": "array", "items": {"type": "string"}},
                    "firstname": {"type": "string"}, "lastname": {"type": "string"}}}
            }
        },
        "paths": {
            "/admin/v1/openapi.json": {"get": {"tags": ["operator"], "summary": "This document",
                "responses": {"200": {"description": "OpenAPI 3 document"}}}},
            "/admin/v1/tenants": {
                "get": searching(op("List tenants (search slug, name and hosts with q)", "200 a page: items, total, limit, offset", None, &[]),
                    "Tenants whose slug, name or one of whose hosts contains q, case-insensitively; in slug order."),
                "post": op("Create a tenant", "201 the tenant", Some("NewTenant"), &[])},
            "/admin/v1/tenants/{slug}": {
                "get": op("Show a tenant", "200 the tenant with its settings and keys", None, t),
                "patch": op("Change a tenant's name, hosts (the whole list) or apis", "200 the tenant", Some("TenantPatch"), t),
                "delete": op("Delete a tenant and everything it owns", "204 deleted", None, t)},
            "/admin/v1/tenants/{slug}/settings": {
                "get": op("Show a tenant's settings", "200 settings and known keys", None, t)},
            "/admin/v1/tenants/{slug}/settings/{key}": {
                "put": op("Set a setting (validated as by the CLI and /config)", "200 key and value", Some("SettingValue"), tk),
                "delete": op("Unset a setting", "204 unset", None, tk)},
            "/admin/v1/tenants/{slug}/keys": {
                "get": op("Show a tenant's signing keys (public parts)", "200 items", None, t),
                "post": op("Rotate: add a signing key (of the tenant's current algorithm unless alg names another)", "201 the new key", Some("Rotate"), t)},
            "/admin/v1/tenants/{slug}/keys/{kid}": {
                "delete": op("Retire a signing key", "204 retired", None, tkid)},
            "/admin/v1/tenants/{slug}/introspection-clients": {
                "get": op("Show the clients that may call the tenant's POST /oauth/introspect (never a secret)", "200 items: id, client_id, name, created_at", None, t),
                "post": op("Register an introspection client; the answer holds its client_secret, shown this once", "201 id, client_id, name, created_at, client_secret", Some("NewIntrospectionClient"), t)},
            "/admin/v1/tenants/{slug}/introspection-clients/{id}": {
                "delete": op("Remove an introspection client (its next call gets 401)", "204 removed", None, tu)},
            "/admin/v1/tenants/{slug}/users": {
                "get": searching(op("Search users by email or username", "200 a page: items, limit, offset, next_offset", None, t),
                    "Users whose email or username begins with q (a prefix, not a substring), case-insensitively (unicode lower case), every character literal (% and _ are not wildcards); surrounding spaces are ignored. Oldest first; absent or empty: every user."),
                "post": op("Create an active user (e.g. the tenant's first admin)", "201 the user", Some("NewUser"), t)},
            "/admin/v1/tenants/{slug}/users/{id}": {
                "get": op("Show a user", "200 the user", None, tu),
                "delete": op("Delete a user", "204 deleted", None, tu)},
            "/admin/v1/tenants/{slug}/users/{id}/disable": {
                "post": op("Disable a user (and end their tokens)", "200 the user", None, tu)},
            "/admin/v1/tenants/{slug}/users/{id}/enable": {
                "post": op("Enable a user", "200 the user", None, tu)},
            "/admin/v1/tenants/{slug}/users/{id}/revoke-tokens": {
                "post": op("End every token the user holds now", "204 done", None, tu)},
            "/admin/v1/tenants/{slug}/audit": {
                "get": op("List the tenant's audit events", "200 items", None, t)}
        }
    })
}
