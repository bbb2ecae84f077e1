//! `GET /auth/verify`, the forward-auth door (nginx `auth_request`, Traefik `forwardAuth`): 200
//! with `X-Auth-*` headers for a valid user token of either dialect, 401 with `WWW-Authenticate`
//! otherwise; never a body, so a proxy cannot forward one by mistake. Tokens are checked as the
//! dialects check them (`user_token::check`, which introspection asks too): core verifies the signature (the key and algorithm its `kid` names) and
//! that the token was not ended (logout, revocation), each dialect says whether the claims are one
//! of its user tokens, and core's `token_user` refuses disabled and deleted users and tokens
//! issued before the user's tokens were ended.
//!
//! `?tenant=<slug>` pins the door to the tenant the upstream belongs to (issue 21.3): the proxy
//! sets it from a fixed value per upstream, and a token of any other tenant is refused whatever
//! `Host` reached the proxy, so a user of one tenant cannot walk into another tenant's app by
//! choosing the host the tenant is resolved from.

use super::metrics::{Outcome, VerifyMetrics};
use super::user_token::{self, presented_token, UserToken};
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

/// The `tenant` query parameter, if the proxy pinned the door: `Some(None)` when it is present but
/// unreadable (then nothing passes), `None` when absent.
fn pinned_tenant(req: &HttpRequest) -> Option<Option<String>> {
    let pairs = web::Query::<Vec<(String, String)>>::from_query(req.query_string());
    let Ok(pairs) = pairs else {
        // An unreadable query may hide a pin: refuse rather than ignore it.
        return req.query_string().contains("tenant").then_some(None);
    };
    let mut pins = pairs
        .into_inner()
        .into_iter()
        .filter(|(k, _)| k == "tenant");
    let first = pins.next()?;
    // Two pins disagree or repeat: a proxy config never sends that, so refuse rather than choose.
    Some(pins.next().is_none().then_some(first.1))
}

/// The door's check: the pin first (when the proxy set one), then the user token.
async fn check(core: &Core, tenant: &Tenant, req: &HttpRequest) -> Result<UserToken, Outcome> {
    if let Some(pin) = pinned_tenant(req) {
        // The tenant the Host resolved to must be the one the proxy pinned; an unknown slug names
        // no tenant and so matches none.
        if pin.as_deref() != Some(tenant.slug.as_str()) {
            return Err(Outcome::WrongTenant);
        }
    }
    let jwt = presented_token(req).ok_or(Outcome::Missing)?;
    user_token::check(core, tenant, jwt).await
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
    let checked = check(&core, &tenant, &req).await;
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

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn the_tenant_pin_is_read_once_and_a_repeated_one_pins_nothing_that_passes() {
        for (query, want) in [
            ("", None),
            ("x=1", None),
            ("tenant=acme", Some(Some("acme"))),
            ("tenant=ac%6De&x=1", Some(Some("acme"))),
            ("tenant=acme&tenant=beta", Some(None)),
            ("tenant=acme&tenant=acme", Some(None)),
        ] {
            let req = TestRequest::with_uri(&format!("/auth/verify?{query}")).to_http_request();
            let got = pinned_tenant(&req);
            assert_eq!(got.as_ref().map(|p| p.as_deref()), want, "{query}");
        }
    }
}
