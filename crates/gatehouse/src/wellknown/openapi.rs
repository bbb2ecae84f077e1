//! The OpenAPI 3 `paths` of the dialect-neutral facade; the binary merges them into `/openapi.json`.

use serde_json::{json, Value};

pub fn openapi_paths() -> Value {
    let header =
        |description: &str| json!({"description": description, "schema": {"type": "string"}});
    json!({
        "/.well-known/jwks.json": {"get": {
            "tags": ["wellknown"],
            "summary": "The tenant's public signing keys (RFC 7517); HS256 secrets never appear",
            "responses": {"200": {
                "description": "A JWK set; cacheable for at most tenants.refresh_seconds",
                "headers": {"Cache-Control": header("public, max-age=<seconds>")},
                "content": {"application/jwk-set+json": {"schema": {"type": "object",
                    "required": ["keys"],
                    "properties": {"keys": {"type": "array", "items": {"type": "object",
                        "required": ["kty", "kid", "alg", "use"],
                        "properties": {
                            "kty": {"type": "string", "enum": ["OKP", "RSA"]},
                            "crv": {"type": "string", "enum": ["Ed25519"]},
                            "x": {"type": "string"},
                            "n": {"type": "string"},
                            "e": {"type": "string"},
                            "kid": {"type": "string"},
                            "alg": {"type": "string", "enum": ["EdDSA", "RS256"]},
                            "use": {"type": "string", "enum": ["sig"]}
                        }}}}}}}
            }}
        }},
        "/.well-known/openid-configuration": {"get": {
            "tags": ["wellknown"],
            "summary": "Where the tenant's keys are and which algorithms its tokens use",
            "responses": {"200": {"description": "A partial OpenID Provider Metadata document",
                "content": {"application/json": {"schema": {"type": "object",
                    "required": ["issuer", "jwks_uri", "id_token_signing_alg_values_supported"],
                    "properties": {
                        "issuer": {"type": "string"},
                        "jwks_uri": {"type": "string"},
                        "id_token_signing_alg_values_supported": {"type": "array",
                            "items": {"type": "string"}}
                    }}}}}}
        }},
        "/auth/verify": {"get": {
            "tags": ["wellknown"],
            "summary": "Forward-auth for reverse proxies (nginx auth_request, Traefik forwardAuth)",
            "description": "Checks `Authorization: JWT|Bearer <token>` (a user token of either dialect). \
                Never answers with a body.",
            "parameters": [{"name": "Authorization", "in": "header", "required": false,
                "schema": {"type": "string"}},
                {"name": "tenant", "in": "query", "required": false, "schema": {"type": "string"},
                "description": "Pins the check to this tenant's slug: set it in the proxy from a \
                    fixed value per upstream. The tenant the Host names must be this one, or the \
                    answer is 401 (a token of another tenant never passes, whatever the Host)."}],
            "responses": {
                "200": {"description": "A valid token; who it names is in the headers",
                    "headers": {
                        "X-Auth-User-Id": header("the user's id"),
                        "X-Auth-Email": header("the user's email"),
                        "X-Auth-Tenant": header("the tenant's slug"),
                        "X-Auth-Dialect": header("tiledesk or appmixer"),
                        "X-Auth-Role": header("the user's scopes, comma-separated"),
                        "X-Auth-Token": header("with FORWARD_AUTH_UPSTREAM_TOKEN: a 60 s token signed \
                            with the tenant's EdDSA or RS256 key, checkable against the JWKS")
                    }},
                "401": {"description": "No token, or one that is invalid, expired, or names no \
                    enabled user; or `tenant` names another tenant than the Host (or none)", "headers": {"WWW-Authenticate": header("Bearer realm=\"<tenant>\"")}},
                "503": {"description": "The database does not answer"}
            }
        }}
    })
}
