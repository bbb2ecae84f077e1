//! `POST /oauth/introspect`, token introspection (RFC 7662) on a tenant's host: whether a token is
//! live now, for a resource server that must see a logout or a disabled user before `exp` (a JWKS
//! verifier cannot). The caller must be a tenant admin (either dialect's token, `JWT` or `Bearer`,
//! whose user holds `admin` now) or a client the operator registered for this tenant (HTTP Basic
//! `client_id:client_secret`, section 2.1); anyone else gets 401 with `WWW-Authenticate`.
//!
//! The token is checked exactly as the gateway's routes check it (`user_token::check`: core's
//! verification with its cache, the revoked `jti`s and the user's state in the view). A live user
//! token is answered with its claims; anything else (revoked, expired, another tenant's, a retired
//! key's, a disabled or deleted user's, a guest's, garbage) with exactly `{"active": false}`.

use super::metrics::Outcome;
use super::user_token::{self, presented_token, UserToken};
use super::{no_tenant, tenant_of};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use gatehouse_core::{CoreError, RequestContext, Scope, Tenant};
use serde_json::{json, Map, Value};
use std::net::{IpAddr, Ipv4Addr};

/// The claim that binds a Tiledesk token minted by a custom-token exchange to its project: the
/// client (in RFC 7662's sense) that asked for it.
const BOUND_PROJECT: &str = "id_project";

/// Why the caller may not introspect.
enum Refusal {
    /// No credentials, or a scheme this endpoint does not take.
    Missing,
    /// A token that is not a live user token of this tenant.
    InvalidToken,
    /// A live token whose user is not an admin of the tenant.
    NotAdmin,
    /// An unknown client id or a wrong secret (or unreadable Basic credentials).
    InvalidClient,
    /// Too many failed client authentications from this address this minute.
    RateLimited,
    /// The database did not answer.
    Unavailable,
}

/// `client_id:client_secret` of an HTTP Basic `Authorization` value; `None` when it is not Basic,
/// `Some(None)` when it is Basic but unreadable. Gatehouse's ids and secrets hold no character
/// that RFC 6749's form-encoding of them would change.
fn basic_credentials(value: &str) -> Option<Option<(String, String)>> {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    let (scheme, rest) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD
        .decode(rest.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok());
    Some(decoded.and_then(|text| {
        let (id, secret) = text.split_once(':')?;
        Some((id.to_owned(), secret.to_owned()))
    }))
}

fn client_ip(req: &HttpRequest) -> IpAddr {
    req.extensions()
        .get::<RequestContext>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.client_ip)
}

/// Whether the request comes from a tenant admin or a registered client of `tenant`.
async fn authorize(
    core: &gatehouse_core::Core,
    tenant: &Tenant,
    req: &HttpRequest,
) -> Result<(), Refusal> {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if let Some(basic) = value.and_then(basic_credentials) {
        let (id, secret) = basic.ok_or(Refusal::InvalidClient)?;
        return match core
            .authenticate_introspection_client(tenant, client_ip(req), &id, &secret)
            .await
        {
            Ok(_) => Ok(()),
            Err(CoreError::RateLimited) => Err(Refusal::RateLimited),
            Err(CoreError::Unavailable(_)) => Err(Refusal::Unavailable),
            Err(_) => Err(Refusal::InvalidClient),
        };
    }
    let jwt = presented_token(req).ok_or(Refusal::Missing)?;
    match user_token::check(core, tenant, jwt).await {
        Ok(t) if t.user.has_scope(Scope::admin().as_str()) => Ok(()),
        Ok(_) => Err(Refusal::NotAdmin),
        Err(Outcome::Unavailable) => Err(Refusal::Unavailable),
        Err(_) => Err(Refusal::InvalidToken),
    }
}

fn no_store(mut res: HttpResponse) -> HttpResponse {
    let headers = res.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    headers.insert(header::PRAGMA, header::HeaderValue::from_static("no-cache"));
    res
}

/// An OAuth error body (RFC 6749 section 5.2).
fn oauth_error(status: StatusCode, code: &str, description: &str) -> HttpResponse {
    no_store(
        HttpResponse::build(status).json(json!({"error": code, "error_description": description})),
    )
}

fn refused(tenant: &Tenant, refusal: Refusal) -> HttpResponse {
    let realm = format!("realm=\"{}\"", tenant.slug);
    let (code, description, bearer_error) = match refusal {
        Refusal::Unavailable => {
            let mut res = oauth_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the database does not answer; try again",
            );
            res.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
            return res;
        }
        Refusal::RateLimited => {
            let mut res = oauth_error(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                "too many failed client authentications from this address; try again next minute",
            );
            res.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("60"));
            return res;
        }
        Refusal::Missing => (
            "invalid_client",
            "introspection needs a tenant admin's token or a registered client's credentials",
            None,
        ),
        Refusal::InvalidClient => ("invalid_client", "unknown client or wrong secret", None),
        Refusal::InvalidToken => (
            "invalid_token",
            "the token is not a live token of this tenant",
            Some("invalid_token"),
        ),
        Refusal::NotAdmin => (
            "insufficient_scope",
            "the token's user is not an admin of this tenant",
            Some("insufficient_scope"),
        ),
    };
    // Both ways in are offered; a Bearer attempt is told what was wrong with it (RFC 6750 3.1).
    let bearer = match bearer_error {
        Some(e) => format!("Bearer {realm}, error=\"{e}\""),
        None => format!("Bearer {realm}"),
    };
    let mut res = oauth_error(StatusCode::UNAUTHORIZED, code, description);
    for challenge in [format!("Basic {realm}"), bearer] {
        if let Ok(v) = header::HeaderValue::from_str(&challenge) {
            res.headers_mut().append(header::WWW_AUTHENTICATE, v);
        }
    }
    res
}

/// The `token` of a form body (RFC 7662 section 2.1), once and not empty; `token_type_hint` may
/// come once and is not needed (every token Gatehouse issues is an access token). A Tiledesk
/// token may keep the `JWT ` its sign-in put before it.
fn token_of(body: &[u8]) -> Result<String, &'static str> {
    let mut token = None;
    let mut hints = 0;
    for (name, value) in url::form_urlencoded::parse(body) {
        match &*name {
            "token" if token.is_some() => return Err("token is given more than once"),
            "token" => token = Some(value.into_owned()),
            "token_type_hint" => hints += 1,
            _ => {}
        }
    }
    if hints > 1 {
        return Err("token_type_hint is given more than once");
    }
    let token = token.ok_or("token is missing")?;
    let token = token.trim();
    let bare = match token.split_once(' ') {
        Some((scheme, rest))
            if scheme.eq_ignore_ascii_case("jwt") || scheme.eq_ignore_ascii_case("bearer") =>
        {
            rest.trim()
        }
        _ => token,
    };
    if bare.is_empty() {
        return Err("token is empty");
    }
    Ok(bare.to_owned())
}

fn is_form(req: &HttpRequest) -> bool {
    req.mime_type()
        .ok()
        .flatten()
        .is_some_and(|m| m.essence_str() == "application/x-www-form-urlencoded")
}

/// The answer for a live token: who it names, for which tenant, until when, with which scopes.
fn active(tenant: &Tenant, found: &UserToken) -> Value {
    let (claims, user) = (&found.claims, &found.user);
    let mut out = Map::new();
    out.insert("active".into(), true.into());
    out.insert("sub".into(), user.id.clone().into());
    for name in ["tid", "exp", "iat", "jti", "iss", "aud"] {
        if let Some(v) = claims.get(name) {
            out.insert(name.into(), v.clone());
        }
    }
    // The scopes the user holds now (a scope taken away is gone at once), space-separated.
    out.insert("scope".into(), user.scopes.join(" ").into());
    out.insert("token_type".into(), "Bearer".into());
    if let Some(project) = claims.get(BOUND_PROJECT).and_then(Value::as_str) {
        out.insert("client_id".into(), project.into());
    }
    let username = user.username.as_ref().or(user.email.as_ref());
    if let Some(name) = username {
        out.insert("username".into(), name.clone().into());
    }
    if let Some(email) = &user.email {
        out.insert("email".into(), email.clone().into());
    }
    out.insert("tenant".into(), tenant.slug.as_str().into());
    out.insert("dialect".into(), found.api.as_str().into());
    Value::Object(out)
}

pub(super) async fn introspect(
    req: HttpRequest,
    core: web::Data<gatehouse_core::Core>,
    body: web::Bytes,
) -> HttpResponse {
    let Some(tenant) = tenant_of(&req) else {
        return no_tenant();
    };
    // The caller first: nothing about the body is told to someone who may not ask.
    if let Err(refusal) = authorize(&core, &tenant, &req).await {
        return refused(&tenant, refusal);
    }
    if !is_form(&req) {
        return oauth_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request",
            "send the token form-encoded (Content-Type: application/x-www-form-urlencoded)",
        );
    }
    let token = match token_of(&body) {
        Ok(t) => t,
        Err(why) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", why),
    };
    let answer = match user_token::check(&core, &tenant, &token).await {
        Ok(found) => active(&tenant, &found),
        Err(Outcome::Unavailable) => return refused(&tenant, Refusal::Unavailable),
        Err(_) => json!({"active": false}),
    };
    no_store(HttpResponse::Ok().json(answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_read_once_from_the_form() {
        assert_eq!(token_of(b"token=abc").unwrap(), "abc");
        assert_eq!(
            token_of(b"token_type_hint=access_token&token=a.b.c").unwrap(),
            "a.b.c"
        );
        assert_eq!(token_of(b"token=JWT%20a.b.c").unwrap(), "a.b.c");
        assert_eq!(token_of(b"token=bearer+a.b.c").unwrap(), "a.b.c");
        assert!(token_of(b"").is_err());
        assert!(token_of(b"token=").is_err());
        assert!(token_of(b"token=a&token=b").is_err());
        assert!(token_of(b"token=a&token_type_hint=x&token_type_hint=y").is_err());
    }

    #[test]
    fn basic_credentials_are_client_id_colon_secret() {
        // "c1:s:2" in base64: the secret keeps its colons.
        assert_eq!(
            basic_credentials("Basic YzE6czoy"),
            Some(Some(("c1".into(), "s:2".into())))
        );
        assert_eq!(basic_credentials("basic !!"), Some(None));
        assert_eq!(basic_credentials("Basic bm9jb2xvbg=="), Some(None));
        assert_eq!(basic_credentials("Bearer abc"), None);
    }
}
