//! The OpenAPI 3 `paths` of this facade, under both prefixes; the binary merges them into
//! `/openapi.json`. Written from the same table of routes the spec (tiledesk.md) describes.

use crate::PATH_PREFIXES;
use serde_json::{json, Map, Value};

fn fail() -> Value {
    json!({"type": "object", "properties": {"success": {"type": "boolean"}, "msg": {"type": "string"}}})
}

fn validation() -> Value {
    json!({"description": "Invalid fields (express-validator shape)", "content": {"application/json": {"schema": {
        "type": "object",
        "properties": {"errors": {"type": "array", "items": {"type": "object", "properties": {
            "value": {}, "msg": {"type": "string"}, "param": {"type": "string"}, "location": {"type": "string"}
        }}}}
    }}}})
}

fn answer(description: &str, schema: Value) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

fn unauthorized() -> Value {
    json!({"description": "Missing, malformed, expired or foreign token", "content": {"text/plain": {"schema": {"type": "string", "example": "Unauthorized"}}}})
}

/// A request body taken as JSON or form-encoded, with these string `fields` (`required` ones first).
fn body(required: &[&str], optional: &[&str]) -> Value {
    let mut props = Map::new();
    for f in required.iter().chain(optional) {
        props.insert((*f).into(), json!({"type": "string"}));
    }
    let mut schema = json!({"type": "object", "properties": props});
    // OpenAPI 3.0 wants a non-empty `required` list, or none.
    if !required.is_empty() {
        schema["required"] = json!(required);
    }
    json!({"required": true, "content": {
        "application/json": {"schema": schema},
        "application/x-www-form-urlencoded": {"schema": schema}
    }})
}

/// `PUT /users`: every field optional, `attributes` an object.
fn profile_body() -> Value {
    let texts = [
        "firstname",
        "lastname",
        "description",
        "public_email",
        "public_website",
        "phone",
    ];
    let mut b = body(&[], &texts);
    b["required"] = json!(false);
    for ct in ["application/json", "application/x-www-form-urlencoded"] {
        b["content"][ct]["schema"]["properties"]["attributes"] = json!({"type": "object"});
    }
    b
}

fn token_answer() -> Value {
    json!({"type": "object", "properties": {
        "success": {"type": "boolean"}, "token": {"type": "string", "description": "\"JWT \" + jwt"},
        "user": {"type": "object"}, "role": {"type": "string"}
    }})
}

/// The agent routes take a Tiledesk token or HTTP Basic `email:password`, as passport's
/// `['basic', 'jwt']` does.
fn jwt_auth() -> Value {
    json!([{"tiledeskJwt": []}, {"tiledeskBasic": []}])
}

fn user_doc_answer() -> Value {
    json!({"type": "object", "properties": {
        "success": {"type": "boolean"}, "updatedUser": {"type": "object"}
    }})
}

fn pending_invitation() -> Value {
    json!({
        "summary": "A pending invitation: Gatehouse has none, so always 404",
        "tags": ["tiledesk"],
        "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
        "responses": {"404": answer("Object not found.", fail())}
    })
}

/// `(path under the prefix, method, operation)`.
fn operations() -> Vec<(&'static str, &'static str, Value)> {
    let common = |mut op: Value| {
        op["responses"]["413"] = json!({"description": "Body over 64 KiB"});
        op["responses"]["415"] = json!({"description": "Body in another content type"});
        op["responses"]["400"] = answer("Malformed JSON", fail());
        op
    };
    vec![
        (
            "/auth/signup",
            "post",
            common(json!({
                "summary": "Create an agent account",
                "tags": ["tiledesk"],
                "requestBody": body(&["email", "password", "firstname", "lastname"], &["phone"]),
                "responses": {
                    "200": answer("Created (or `success:false` when the password is missing); the email of a password-less account made by a custom token is claimed", json!({"type": "object"})),
                    "403": answer("Email already registered (`message`), or signup closed on this tenant (`msg`)", json!({"type": "object", "properties": {"success": {"type": "boolean"}, "message": {"type": "string"}, "msg": {"type": "string"}}})),
                    "422": validation(),
                    "429": answer("Too many signups from this address", fail())
                }
            })),
        ),
        (
            "/auth/signin",
            "post",
            common(json!({
                "summary": "Sign in with email and password",
                "tags": ["tiledesk"],
                "requestBody": body(&["email", "password"], &[]),
                "responses": {
                    "200": answer("Signed in", token_answer()),
                    "401": answer("User not found, or wrong password", fail()),
                    "422": validation(),
                    "429": answer("Account locked after repeated failures", fail())
                }
            })),
        ),
        (
            "/auth/signinAnonymously",
            "post",
            common(json!({
                "summary": "Sign in as an anonymous guest of a project",
                "tags": ["tiledesk"],
                "requestBody": body(&["id_project"], &["firstname", "lastname", "email", "attributes"]),
                "responses": {
                    "200": answer("Guest token", token_answer()),
                    "404": answer("Project not found", fail()),
                    "422": validation(),
                    "429": answer("Too many requests from this address", fail())
                }
            })),
        ),
        (
            "/auth/signinWithCustomToken",
            "post",
            json!({
                "summary": "Exchange a project-signed custom token (HS256, `aud` https://tiledesk.com/projects/<id>) for a Tiledesk token expiring no later than it; or re-check a token this tenant issued (generic `aud`), which comes back as sent with its claims as `user`",
                "description": "Custom tokens need `exp` (unless CUSTOM_TOKEN_REQUIRE_EXP=false), an `iat` within CUSTOM_TOKEN_MAX_AGE_SECONDS, and a passed `nbf`. An agent role names an existing account only if it is already a member of the project with at least that role; a new email creates a password-less account (signup policy permitting).",
                "tags": ["tiledesk"],
                "parameters": [{"name": "Authorization", "in": "header", "required": true, "schema": {"type": "string"}, "description": "The custom JWT, with or without `JWT `"}],
                "responses": {
                    "200": answer("Tiledesk token", token_answer()),
                    "401": {"description": "Bad custom token (plain `Unauthorized`), or a disabled membership (JSON)"},
                    "403": answer("An account outside the project or its role, or a closed signup", fail())
                }
            }),
        ),
        (
            "/auth/logout",
            "post",
            json!({
                "summary": "End the presented token, or with ?all=true every token of the agent issued so far, on every node",
                "tags": ["tiledesk"],
                "security": jwt_auth(),
                "parameters": [{"name": "all", "in": "query", "required": false,
                    "schema": {"type": "boolean", "default": false}}],
                "responses": {
                    "200": answer("Logged out", json!({"type": "object", "properties": {
                        "success": {"type": "boolean"}, "msg": {"type": "string"}}})),
                    "401": unauthorized(),
                    "422": validation()
                }
            }),
        ),
        (
            "/auth/requestresetpsw",
            "put",
            json!({
                "summary": "Mail a password-reset link to the account of `email` (the same answer whether or not it exists)",
                "tags": ["tiledesk"],
                "requestBody": body(&["email"], &[]),
                "responses": {
                    "200": answer("Asked", json!({"type": "object", "properties": {
                        "success": {"type": "boolean"}, "message": {"type": "string"}}})),
                    "422": validation(),
                    "429": answer("Too many password reset requests", fail()),
                    "503": answer("Mail is not configured for this tenant", fail())
                }
            }),
        ),
        (
            "/auth/checkpswresetkey/{key}",
            "get",
            json!({
                "summary": "Whether a password-reset key works (it stays usable)",
                "tags": ["tiledesk"],
                "parameters": [{"name": "key", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": {
                    "200": answer("Valid password reset key", json!({"type": "object"})),
                    "404": answer("Invalid password reset key", fail())
                }
            }),
        ),
        (
            "/auth/resetpsw/{key}",
            "put",
            json!({
                "summary": "Set a new password with a reset key (once; earlier tokens end)",
                "tags": ["tiledesk"],
                "parameters": [{"name": "key", "in": "path", "required": true, "schema": {"type": "string"}}],
                "requestBody": body(&["password"], &[]),
                "responses": {
                    "200": answer("Password change successful", json!({"type": "object"})),
                    "404": answer("Invalid password reset key", fail()),
                    "422": validation()
                }
            }),
        ),
        (
            "/auth/verifyemail/{uid}/{code}",
            "put",
            json!({
                "summary": "Follow a verification mail: the account's email is verified",
                "tags": ["tiledesk"],
                "parameters": [
                    {"name": "uid", "in": "path", "required": true, "schema": {"type": "string"}},
                    {"name": "code", "in": "path", "required": true, "schema": {"type": "string"}}
                ],
                "responses": {
                    "200": answer("The user", json!({"type": "object"})),
                    "401": answer("Expired, invalid or another user's code", json!({"type": "object", "properties": {
                        "success": {"type": "boolean"}, "error": {"type": "string"}}}))
                }
            }),
        ),
        (
            "/users/resendverifyemail",
            "get",
            json!({
                "summary": "Mail the current agent a new verification link",
                "tags": ["tiledesk"],
                "security": jwt_auth(),
                "responses": {
                    "200": answer("Sent", json!({"type": "object"})),
                    "401": unauthorized(),
                    "429": answer("Too many mails", fail()),
                    "503": answer("Mail is not configured for this tenant", fail())
                }
            }),
        ),
        (
            "/users",
            "get",
            json!({
                "summary": "The current agent",
                "tags": ["tiledesk"],
                "security": jwt_auth(),
                "responses": {"200": answer("The agent", json!({"type": "object"})), "401": unauthorized()}
            }),
        ),
        (
            "/users",
            "put",
            common(json!({
                "summary": "Update the current agent's profile (firstname, lastname, attributes, description, public_email, public_website, phone)",
                "tags": ["tiledesk"],
                "security": jwt_auth(),
                "requestBody": profile_body(),
                "responses": {"200": answer("Updated", user_doc_answer()), "401": unauthorized(), "422": validation()}
            })),
        ),
        (
            "/users",
            "delete",
            json!({
                "summary": "Delete the current agent's account and its memberships (answered as the original's anonymisation)",
                "tags": ["tiledesk"],
                "security": jwt_auth(),
                "responses": {"200": answer("Deleted", user_doc_answer()), "401": unauthorized(), "403": answer("A token from a custom-token exchange", fail())}
            }),
        ),
        (
            "/auth/pendinginvitationsnoauth/{id}",
            "get",
            pending_invitation(),
        ),
        // auth.js mounts it at the API root too (`router.get('/pendinginvitationsnoauth/:id')`).
        (
            "/pendinginvitationsnoauth/{id}",
            "get",
            pending_invitation(),
        ),
        (
            "/projects",
            "get",
            json!({
                "summary": "The caller's active agent memberships, each with its project (`id_project`), newest project first",
                "tags": ["tiledesk"],
                "security": jwt_auth(),
                "responses": {"200": answer("Memberships", json!({"type": "array", "items": {"type": "object"}})), "401": unauthorized()}
            }),
        ),
        (
            "/users/changepsw",
            "put",
            common(json!({
                "summary": "Change the current agent's password",
                "tags": ["tiledesk"],
                "security": jwt_auth(),
                "requestBody": body(&["oldpsw", "newpsw"], &[]),
                "responses": {
                    "200": answer("Changed", fail()),
                    "401": answer("Current password is invalid (or a bad token: plain `Unauthorized`)", fail()),
                    "403": answer("Same as the old password", json!({"type": "object"})),
                    "422": validation()
                }
            })),
        ),
        (
            "/projects",
            "post",
            common(json!({
                "summary": "Create a project owned by the caller",
                "tags": ["tiledesk"],
                "security": jwt_auth(),
                "requestBody": body(&["name"], &[]),
                "responses": {
                    "200": answer("The project", json!({"type": "object", "properties": {
                        "_id": {"type": "string"}, "name": {"type": "string"}, "createdBy": {"type": "string"},
                        "createdAt": {"type": "string"}, "updatedAt": {"type": "string"}
                    }})),
                    "401": unauthorized(),
                    "422": validation()
                }
            })),
        ),
        (
            "/{project_id}/keys/generate",
            "post",
            json!({
                "summary": "Set a new jwtSecret for the project (owner or admin); the old one stops verifying",
                "tags": ["tiledesk"],
                "security": jwt_auth(),
                "parameters": [{"name": "project_id", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": {
                    "200": answer("The new secret", json!({"type": "object", "properties": {"jwtSecret": {"type": "string"}}})),
                    "401": unauthorized(),
                    "403": answer("Not an owner or admin of the project", fail())
                }
            }),
        ),
    ]
}

/// The OpenAPI 3 `paths` object of every Tiledesk route, under `/v1` and `/v3`.
pub fn openapi_paths() -> Value {
    let mut paths = Map::new();
    for prefix in PATH_PREFIXES {
        let prefix = prefix.trim_end_matches('/');
        for (path, method, op) in operations() {
            let entry = paths
                .entry(format!("{prefix}{path}"))
                .or_insert_with(|| json!({}));
            entry[method] = op;
        }
    }
    Value::Object(paths)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_route_is_documented_under_both_prefixes() {
        let paths = super::openapi_paths();
        for p in [
            "/v1/auth/signin",
            "/v3/auth/signin",
            "/v1/{project_id}/keys/generate",
            "/v1/auth/logout",
            "/v3/auth/logout",
        ] {
            assert!(paths.get(p).is_some(), "{p}");
        }
        assert!(paths["/v3/users/changepsw"].get("put").is_some());
        for method in ["get", "put", "delete"] {
            assert!(paths["/v1/users"].get(method).is_some(), "{method}");
        }
        assert!(paths["/v3/projects"].get("get").is_some());
        assert!(paths["/v1/auth/pendinginvitationsnoauth/{id}"]
            .get("get")
            .is_some());
    }

    /// The document and the router say the same: every mounted route is documented under each
    /// prefix, and nothing is documented that is not mounted (the isolation matrix reads the
    /// document to find every route that takes a token).
    #[test]
    fn the_document_lists_exactly_the_mounted_routes() {
        let paths = super::openapi_paths();
        let mut documented = std::collections::BTreeSet::new();
        for (path, item) in paths.as_object().into_iter().flatten() {
            for method in item.as_object().into_iter().flatten().map(|(m, _)| m) {
                documented.insert((method.clone(), path.clone()));
            }
        }
        let mut mounted = std::collections::BTreeSet::new();
        for prefix in crate::PATH_PREFIXES {
            for (method, path) in crate::routes::ROUTES {
                let full = format!("{}{path}", prefix.trim_end_matches('/'));
                mounted.insert(((*method).to_owned(), full));
            }
        }
        assert_eq!(documented, mounted);
    }
}
