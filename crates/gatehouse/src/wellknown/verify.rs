//! `GET /auth/verify`, the forward-auth door (nginx `auth_request`, Traefik `forwardAuth`): 200
//! with `X-Auth-*` headers for a valid user token of either dialect, 401 with `WWW-Authenticate`
//! otherwise; never a body, so a proxy cannot forward one by mistake. Tokens are checked as the
//! dialects check them (`user_token::check`, which introspection asks too).

use super::metrics::{Outcome, VerifyMetrics};
use super::user_token::{self, presented_token};
use super::{no_tenant, tenant_of};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, HttpResponseBuilder};
use gatehouse_core::token::Claims;
use gatehouse_core::users::User;
use gatehouse_core::{Api, Core, Tenant};

/// The life of the upstream token (`X-Auth-Token`): long enough for one proxied request.
const UPSTREAM_TOKEN_TTL_SECS: i64 = 60;
/// The `aud` of upstream tokens, so that neither dialect (nor this door) takes one for its own.
pub const UPSTREAM_AUDIENCE: &str = "gatehouse-forward-auth";

fn refused(tenant: &Tenant, outcome: Outcome) -> HttpResponse {
    // RFC 6750 section 3: a request without credentials gets no error code.
    let challenge = match outcome {
        Outcome::Missing => format!("Bearer realm=\"{}\"", tenant.slug),
        _ => format!("Bearer realm=\"{}\", error=\"invalid_token\"", tenant.slug),
    };
    HttpResponse::Unauthorized()
        .insert_header((header::WWW_AUTHENTICATE, challenge))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

fn upstream_token(core: &Core, tenant: &Tenant, api: Api, user: &User) -> Option<String> {
    let mut claims = Claims::new();
    claims.insert("sub".into(), user.id.clone().into());
    if let Some(email) = &user.email {
        claims.insert("email".into(), email.clone().into());
    }
    claims.insert("role".into(), user.scopes.join(",").into());
    claims.insert("dialect".into(), api.as_str().into());
    claims.insert("aud".into(), UPSTREAM_AUDIENCE.into());
    match core.issue_asymmetric_token(tenant, claims, UPSTREAM_TOKEN_TTL_SECS) {
        Ok(Some(token)) => Some(token),
        Ok(None) => {
            log::warn!(
                "tenant {}: FORWARD_AUTH_UPSTREAM_TOKEN is on but no EdDSA or RS256 key signs; \
                 X-Auth-Token left out",
                tenant.slug
            );
            None
        }
        Err(e) => {
            log::error!("tenant {}: signing an upstream token: {e}", tenant.slug);
            None
        }
    }
}

pub(super) async fn verify(
    req: HttpRequest,
    core: web::Data<Core>,
    metrics: web::Data<VerifyMetrics>,
) -> HttpResponse {
    let Some(tenant) = tenant_of(&req) else {
        return no_tenant();
    };
    let checked = match presented_token(&req) {
        Some(jwt) => user_token::check(&core, &tenant, jwt).await,
        None => Err(Outcome::Missing),
    };
    let (api, user) = match checked {
        Ok(found) => (found.api, found.user),
        Err(outcome) => {
            metrics.count(outcome);
            return match outcome {
                Outcome::Unavailable => HttpResponse::ServiceUnavailable()
                    .insert_header((header::RETRY_AFTER, "1"))
                    .finish(),
                _ => refused(&tenant, outcome),
            };
        }
    };
    metrics.count(Outcome::Allowed);
    let mut res = HttpResponseBuilder::new(StatusCode::OK);
    res.insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Auth-User-Id", user.id.as_str()))
        .insert_header(("X-Auth-Tenant", tenant.slug.as_str()))
        .insert_header(("X-Auth-Dialect", api.as_str()))
        .insert_header(("X-Auth-Role", user.scopes.join(",")));
    // An Appmixer user may have no email: then no X-Auth-Email (the proxy then sends none either).
    if let Some(email) = &user.email {
        res.insert_header(("X-Auth-Email", email.as_str()));
    }
    if tenant.settings.forward_auth_upstream_token {
        if let Some(token) = upstream_token(&core, &tenant, api, &user) {
            res.insert_header(("X-Auth-Token", token));
        }
    }
    res.finish()
}
