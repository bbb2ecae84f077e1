//! The one check of a user token that the dialect-neutral doors share (forward-auth and
//! introspection), so that both accept exactly what the dialects accept: core verifies the
//! signature (the key and algorithm its `kid` names, through the cache of verified tokens) and
//! that the token was not ended (logout, revocation); each enabled dialect says whether the claims
//! are one of its user tokens; and core's `token_user` refuses disabled and deleted users and
//! tokens issued before the user's tokens were ended.

use super::metrics::Outcome;
use actix_web::http::header;
use actix_web::HttpRequest;
use gatehouse_core::token::Claims;
use gatehouse_core::view::CheckedUser;
use gatehouse_core::{Api, AuthFailure, Core, CoreError, Tenant};
use std::sync::Arc;

/// A live user token: its dialect, its claims and the user it names (as the view has them now).
pub(super) struct UserToken {
    pub api: Api,
    pub claims: Arc<Claims>,
    pub user: CheckedUser,
}

/// The token after `JWT ` or `Bearer ` (either in any case) in `Authorization`.
pub(super) fn presented_token(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let known = scheme.eq_ignore_ascii_case("jwt") || scheme.eq_ignore_ascii_case("bearer");
    let token = token.trim();
    (known && !token.is_empty()).then_some(token)
}

/// Which enabled dialect the verified claims belong to, and the user id they name. A legacy
/// (kid-less) token passes only as a Tiledesk user: the replaced system issued no other kind, and
/// the Appmixer routes refuse such tokens too (issue 21.8).
fn dialect_user<'c>(tenant: &Tenant, jwt: &str, claims: &'c Claims) -> Option<(Api, &'c str)> {
    if tenant.enables(Api::Tiledesk) {
        if let Some(id) = gatehouse_tiledesk::agent_id(tenant, claims) {
            return Some((Api::Tiledesk, id));
        }
    }
    // Decoding the header only here keeps the Tiledesk path as it was.
    if tenant.enables(Api::Appmixer) && !gatehouse_core::token::names_no_key(jwt) {
        if let Some(id) = gatehouse_appmixer::user_id_of(claims) {
            return Some((Api::Appmixer, id));
        }
    }
    None
}

/// Checks `jwt` as a user token of `tenant`; the error says why it is not one.
pub(super) async fn check(core: &Core, tenant: &Tenant, jwt: &str) -> Result<UserToken, Outcome> {
    let claims = core.verify_token(tenant, jwt, None).map_err(|e| match e {
        CoreError::Unauthorized(AuthFailure::ExpiredToken) => Outcome::Expired,
        _ => Outcome::Invalid,
    })?;
    let (api, id) = dialect_user(tenant, jwt, &claims).ok_or(Outcome::NotAUserToken)?;
    match core.token_user(tenant, &claims, id).await {
        Ok(user) => Ok(UserToken {
            api,
            claims: claims.clone(),
            user,
        }),
        Err(CoreError::Unavailable(_)) => Err(Outcome::Unavailable),
        Err(_) => Err(Outcome::UserRefused),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn a_token_comes_after_jwt_or_bearer_in_any_case() {
        for (value, want) in [
            ("JWT abc", Some("abc")),
            ("bearer  abc ", Some("abc")),
            ("Basic abc", None),
            ("Bearer ", None),
            ("abc", None),
        ] {
            let req = TestRequest::default()
                .insert_header((header::AUTHORIZATION, value))
                .to_http_request();
            assert_eq!(presented_token(&req), want, "{value}");
        }
    }
}
