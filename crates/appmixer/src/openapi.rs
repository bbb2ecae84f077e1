//! The OpenAPI 3 `paths` of this facade; the binary merges them into `/openapi.json`.

use serde_json::{json, Map, Value};

fn boom(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"type": "object", "properties": {
            "statusCode": {"type": "integer"}, "error": {"type": "string"},
            "message": {"type": "string"}
        }}}}
    })
}

fn ok(description: &str, schema: Value) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

fn body(required: &[&str], properties: Value) -> Value {
    let mut schema = json!({"type": "object", "properties": properties});
    // OpenAPI 3.0 wants a non-empty `required` list, or none at all.
    if !required.is_empty() {
        schema["required"] = json!(required);
    }
    json!({"required": true, "content": {"application/json": {"schema": schema}}})
}

/// One operation. `secured`: it takes `Authorization: Bearer <jwt>`, so it may answer 401.
fn op(summary: &str, secured: bool, request: Option<Value>, responses: &[(&str, Value)]) -> Value {
    let mut all: Map<String, Value> = responses
        .iter()
        .map(|(code, v)| ((*code).to_owned(), v.clone()))
        .collect();
    if secured {
        all.insert("401".into(), boom("Missing, invalid or expired token"));
    }
    if request.is_some() {
        all.insert("400".into(), boom("A field is missing or invalid"));
        all.insert("413".into(), boom("Body over 64 KiB"));
        all.insert("415".into(), boom("Body is not JSON"));
    }
    let mut o = json!({"summary": summary, "tags": ["appmixer"], "responses": all});
    if secured {
        o["security"] = json!([{"appmixerBearer": []}]);
    }
    if let Some(r) = request {
        o["requestBody"] = r;
    }
    o
}

fn user_schema() -> Value {
    json!({"type": "object", "properties": {
        "id": {"type": "string"}, "username": {"type": "string"}, "email": {"type": "string"},
        "isActive": {"type": "boolean"}, "scope": {"type": "array", "items": {"type": "string"}},
        "plan": {"type": "string"}, "metadata": {"type": "object"},
        "vendor": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
        "created": {"type": "string", "format": "date-time"}
    }})
}

fn admin_op(summary: &str, request: Option<Value>, ok_response: Value) -> Value {
    op(
        summary,
        true,
        request,
        &[
            ("200", ok_response),
            ("403", boom("Insufficient scope")),
            ("404", boom("User not found")),
        ],
    )
}

pub fn openapi_paths() -> Value {
    let s = json!({"type": "string"});
    let empty = ok("Done", json!({"type": "object"}));
    let user = ok("The user", user_schema());
    let token = json!({"type": "object", "properties": {"token": {"type": "string"}}});
    let setting = json!({"type": "object", "properties": {"key": s, "value": s}});
    json!({
        "/user/auth": {"post": op("Sign in", false,
            Some(body(&["password"], json!({"username": s, "email": s, "password": s}))),
            &[("200", ok("The user and a token", json!({"type": "object", "properties": {
                "user": user_schema(), "token": {"type": "string"}}}))),
              ("403", boom("Invalid credentials")),
              ("429", boom("Account locked after repeated failures"))])},
        "/user": {
            "post": op("Create a user (open, or guarded by API_USER_CREATE_SCOPE); username or email names it", true,
                Some(body(&["password"], json!({
                    "username": s, "email": s, "password": s, "metadata": {"type": "object"}}))),
                &[("200", ok("A token for the new user", token)),
                  ("403", boom("Insufficient scope")),
                  ("409", boom("User already exists")),
                  ("429", boom("Too many requests from this address"))]),
            "get": op("The caller's own user", true, None,
                &[("200", user.clone()), ("404", boom("User not found"))])
        },
        "/user/logout": {"post": {
            "summary": "End the presented token, or with ?all=true every token of the caller issued so far, on every node",
            "tags": ["appmixer"],
            "security": [{"appmixerBearer": []}],
            "parameters": [{"name": "all", "in": "query", "required": false,
                "schema": {"type": "boolean", "default": false}}],
            "responses": {"200": empty.clone(), "400": boom("\"all\" must be a boolean"),
                "401": boom("Missing, invalid, expired or ended token")}
        }},
        "/user/change-password": {"post": op("Change the caller's password", true,
            Some(body(&["oldPassword", "newPassword"], json!({"oldPassword": s, "newPassword": s}))),
            &[("200", empty.clone()), ("403", boom("Invalid old password"))])},
        "/user/reset-password": {"post": admin_op("Set another user's password (admin)",
            Some(body(&["email", "password"], json!({"email": s, "password": s}))), empty.clone())},
        "/user/forgot-password": {"post": op("Mail a reset code to the account of `email` (the same answer whether or not it exists)", false,
            Some(body(&["email"], json!({"email": s}))),
            &[("200", empty.clone()), ("400", boom("\"email\" must be a valid email")),
              ("403", boom("Mail is not configured for this tenant")),
              ("429", boom("Too many requests; try again later"))])},
        "/user/forgot-password/reset": {"post": op("Set a new password with a mailed code (once; earlier tokens end)", false,
            Some(body(&["code", "password"], json!({"code": s, "password": s}))),
            &[("200", empty.clone()), ("400", boom("Invalid password")), ("404", boom("Code not found"))])},
        "/forgot-password/reset": {"post": op("The same as `POST /user/forgot-password/reset` (kept for earlier clients)", false,
            Some(body(&["code", "password"], json!({"code": s, "password": s}))),
            &[("200", empty), ("400", boom("Invalid password")), ("404", boom("Code not found"))])},
        "/audit": {"get": op("The tenant's audit events, newest first (admin scope); query `since` (e.g. 24h or an RFC 3339 time), `user`, `kind`, `limit`", true, None,
            &[("200", json!({"description": "The events", "content": {"application/json": {"schema": {"type": "array", "items": {"type": "object"}}}}})),
              ("400", boom("Invalid query")), ("403", boom("Insufficient scope"))])},
        "/users": {"get": {
            "parameters": [
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}},
                {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "default": 0}},
                {"name": "pattern", "in": "query", "schema": s},
                {"name": "filter", "in": "query", "description":
                    "field:value, e.g. scope:acme1; fields: scope, vendor, plan, isActive, email, username; may repeat",
                    "schema": s},
                {"name": "sort", "in": "query", "description":
                    "created, email or username, then :1 or :-1, e.g. created:-1 (default created:1)",
                    "schema": s}
            ],
            "summary": "List the tenant's users (admin)", "tags": ["appmixer"],
            "security": [{"appmixerBearer": []}],
            "responses": {"200": ok("Users", json!({"type": "array", "items": user_schema()})),
                "400": boom("Bad limit, offset, filter or sort"), "401": boom("Missing, invalid or expired token"),
                "403": boom("Insufficient scope")}
        }},
        "/users/count": {"get": admin_op("Count the tenant's users (admin)", None,
            ok("The count", json!({"type": "object", "properties": {"count": {"type": "integer"}}})))},
        "/users/{id}": {
            "parameters": [{"name": "id", "in": "path", "required": true, "schema": s}],
            "get": admin_op("A user (admin)", None, user.clone()),
            "put": admin_op("Update a user (admin)", Some(body(&[], json!({
                "scope": {"type": "array", "items": s}, "email": s, "metadata": {"type": "object"},
                "isActive": {"type": "boolean"}, "plan": s,
                "vendor": {"oneOf": [s, {"type": "array", "items": s}]}}))), user),
            "delete": admin_op("Delete a user (admin); poll the ticket at delete-status", None,
                ok("A ticket", json!({"type": "object", "properties": {"ticket": s}})))
        },
        "/users/{id}/delete-status/{ticket}": {
            "parameters": [{"name": "id", "in": "path", "required": true, "schema": s},
                {"name": "ticket", "in": "path", "required": true, "schema": s}],
            "get": admin_op("Where a delete stands (admin); a delete completes before it answers", None,
                ok("The status", json!({"type": "object", "properties": {
                    "status": {"type": "string", "enum": ["in-progress", "completed", "failed", "cancelled"]},
                    "stepsDone": {"type": "integer"}, "stepsTotal": {"type": "integer"}}})))
        },
        "/config": {
            "get": admin_op("The tenant's configuration (admin)", None,
                ok("Keys that were set", json!({"type": "array", "items": setting}))),
            "post": admin_op("Set one key (admin): a Gatehouse setting (validated) or free-form configuration",
                Some(body(&["key", "value"], json!({"key": s, "value": {}}))), ok("The stored setting", setting))
        },
        "/config/{key}": {
            "parameters": [{"name": "key", "in": "path", "required": true, "schema": s}],
            "delete": admin_op("Unset one key (admin)", None,
                ok("Done", json!({"type": "object", "properties": {"ok": {"type": "boolean"}}})))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_described() {
        let paths = openapi_paths();
        for (path, method) in [
            ("/user/auth", "post"),
            ("/user", "post"),
            ("/user", "get"),
            ("/user/change-password", "post"),
            ("/user/logout", "post"),
            ("/user/reset-password", "post"),
            ("/users", "get"),
            ("/users/count", "get"),
            ("/users/{id}", "get"),
            ("/users/{id}", "put"),
            ("/users/{id}", "delete"),
            ("/users/{id}/delete-status/{ticket}", "get"),
            ("/config", "get"),
            ("/config", "post"),
            ("/config/{key}", "delete"),
            ("/user/forgot-password", "post"),
            ("/forgot-password/reset", "post"),
            ("/user/forgot-password/reset", "post"),
            ("/audit", "get"),
        ] {
            let op = &paths[path][method];
            assert!(op["responses"]["200"].is_object(), "{method} {path}");
            assert!(op["summary"].is_string(), "{method} {path}");
        }
        assert_eq!(paths.as_object().map(|p| p.len()), Some(15));
    }

    /// The document and the router say the same (the isolation matrix reads the document to find
    /// every route that takes a token), and every security requirement names a declared scheme.
    #[test]
    fn the_document_lists_exactly_the_mounted_routes() {
        let paths = openapi_paths();
        let mut documented = std::collections::BTreeSet::new();
        for (path, item) in paths.as_object().into_iter().flatten() {
            for (method, op) in item.as_object().into_iter().flatten() {
                if method == "parameters" {
                    continue;
                }
                documented.insert((method.clone(), path.clone()));
                for req in op["security"].as_array().into_iter().flatten() {
                    assert_eq!(req, &json!({"appmixerBearer": []}), "{method} {path}");
                }
            }
        }
        let mounted = crate::routes::ROUTES
            .iter()
            .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
            .collect();
        assert_eq!(documented, mounted);
    }
}
