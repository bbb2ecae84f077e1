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
        }},
        "/oauth/introspect": {"post": {
            "tags": ["wellknown"],
            "summary": "Token introspection (RFC 7662): whether a token is live now",
            "description": "For a resource server that must see logouts, revocations and disabled \
                users before a token's `exp` (a JWKS verifier sees them only then). The caller is a \
                tenant admin (`Authorization: Bearer|JWT <token>` of either dialect, whose user holds \
                `admin`) or a client the operator registered for this tenant (HTTP Basic \
                `client_id:client_secret`). A live user token is answered with its claims; anything \
                else (revoked, expired, another tenant's, a retired key's, a disabled or deleted \
                user's, a guest's, garbage) with exactly `{\"active\": false}`. Failed client \
                authentications count per client address and tenant: past 10 in a minute, 429.",
            "security": [{"introspectionClient": []}, {"tenantAdminBearer": []}],
            "requestBody": {"required": true, "content": {"application/x-www-form-urlencoded": {
                "schema": {"type": "object", "required": ["token"], "properties": {
                    "token": {"type": "string", "description": "The token (a leading `JWT ` is allowed)"},
                    "token_type_hint": {"type": "string", "description": "Accepted and not needed"}
                }}}}},
            "responses": {
                "200": {"description": "The token's state",
                    "headers": {"Cache-Control": header("no-store")},
                    "content": {"application/json": {"schema": {"type": "object",
                        "required": ["active"],
                        "properties": {
                            "active": {"type": "boolean"},
                            "sub": {"type": "string", "description": "the user's id"},
                            "tid": {"type": "string", "description": "the tenant's id"},
                            "tenant": {"type": "string", "description": "the tenant's slug"},
                            "exp": {"type": "integer"},
                            "iat": {"type": "integer"},
                            "jti": {"type": "string"},
                            "iss": {"type": "string"},
                            "aud": {"type": "string"},
                            "scope": {"type": "string", "description": "the user's scopes now, space-separated"},
                            "token_type": {"type": "string", "enum": ["Bearer"]},
                            "client_id": {"type": "string",
                                "description": "the Tiledesk project a custom-token exchange bound the token to"},
                            "username": {"type": "string"},
                            "email": {"type": "string"},
                            "dialect": {"type": "string", "enum": ["tiledesk", "appmixer"]}
                        }}}}},
                "400": {"description": "No `token`, or a parameter given twice (`invalid_request`)"},
                "401": {"description": "No credentials, an unknown client or wrong secret \
                    (`invalid_client`), a token that is not live (`invalid_token`) or whose user is \
                    not an admin (`insufficient_scope`)",
                    "headers": {"WWW-Authenticate": header("Basic realm=\"<tenant>\" and Bearer realm=\"<tenant>\"")}},
                "415": {"description": "A body that is not form-encoded"},
                "429": {"description": "Too many failed client authentications from this address",
                    "headers": {"Retry-After": header("seconds")}},
                "503": {"description": "The database does not answer"}
            }
        }}
    })
}

#[cfg(test)]
mod tests {
    /// The document and the router say the same: the isolation matrix reads the document to find
    /// every route that takes a token.
    #[test]
    fn the_document_lists_exactly_the_mounted_routes() {
        let paths = super::openapi_paths();
        let mut documented = std::collections::BTreeSet::new();
        for (path, item) in paths.as_object().into_iter().flatten() {
            for method in item.as_object().into_iter().flatten().map(|(m, _)| m) {
                documented.insert((method.clone(), path.clone()));
            }
        }
        let mounted = super::super::ROUTES
            .iter()
            .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
            .collect();
        assert_eq!(documented, mounted);
        for prefix in super::super::PATH_PREFIXES {
            assert!(
                documented.iter().any(|(_, p)| p.starts_with(prefix)),
                "{prefix} serves no documented route"
            );
        }
    }
}
