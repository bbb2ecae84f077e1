//! Tiledesk tokens: issued as `"JWT " + jwt` with Tiledesk's claims, read back from
//! `Authorization` (`JWT` or `Bearer`, any case), and turned into the agent behind them.

use crate::context::Ctx;
use crate::errors::TiledeskError;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest};
use gatehouse_core::token::Claims;
use gatehouse_core::users::Login;
use gatehouse_core::view::CheckedUser;
use gatehouse_core::{Core, CoreError, Email, Password, Tenant};
use serde_json::Value;
use std::sync::Arc;

/// The `sub` of a Tiledesk token: who holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// An agent: a user account.
    User,
    /// An anonymous visitor.
    Guest,
    /// A customer's own user, brought in by a custom token.
    External,
}

impl Subject {
    fn as_str(self) -> &'static str {
        match self {
            Subject::User => "user",
            Subject::Guest => "guest",
            Subject::External => "userexternal",
        }
    }
}

/// The claim that binds an agent token minted by a custom-token exchange to its project.
pub const BOUND_PROJECT: &str = "id_project";

/// Signs `claims` (the public user fields) as a Tiledesk token of this tenant.
pub fn issue(
    core: &Core,
    tenant: &Tenant,
    subject: Subject,
    claims: Claims,
) -> Result<String, TiledeskError> {
    issue_until(core, tenant, subject, claims, None)
}

/// As `issue`, expiring no later than `not_after` (Unix seconds) when given.
pub fn issue_until(
    core: &Core,
    tenant: &Tenant,
    subject: Subject,
    mut claims: Claims,
    not_after: Option<i64>,
) -> Result<String, TiledeskError> {
    claims.insert("sub".into(), subject.as_str().into());
    claims.insert("iss".into(), tenant.settings.tiledesk_issuer.clone().into());
    claims.insert(
        "aud".into(),
        tenant.settings.tiledesk_audience.clone().into(),
    );
    Ok(format!(
        "JWT {}",
        core.issue_token_until(tenant, claims, not_after)?
    ))
}

/// The raw `Authorization` value, if it is readable text.
pub fn authorization(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// The token after a `JWT ` or `Bearer ` scheme (either in any case); `None` without one.
pub fn strip_scheme(value: &str) -> Option<&str> {
    let (scheme, rest) = value.split_once(' ')?;
    let known = scheme.eq_ignore_ascii_case("jwt") || scheme.eq_ignore_ascii_case("bearer");
    known.then(|| rest.trim()).filter(|t| !t.is_empty())
}

/// An agent, authenticated by a Tiledesk token of this tenant.
pub struct Agent {
    pub user: CheckedUser,
    /// Set when the token came from a custom-token exchange: it acts for that project only.
    pub bound_project: Option<String>,
    /// The token's claims (logout ends this token by its `jti`).
    pub claims: Arc<Claims>,
}

impl Agent {
    /// Whether this token may act on `project_id` at all (before any membership check).
    pub fn may_act_on(&self, project_id: &str) -> bool {
        self.bound_project.is_none() || self.bound_project.as_deref() == Some(project_id)
    }
}

/// `email:password` of an HTTP Basic `Authorization` value; `None` when it is not Basic.
/// `Some(None)` when it is Basic but unreadable.
fn basic_credentials(value: &str) -> Option<Option<(String, String)>> {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD
        .decode(rest.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok());
    Some(decoded.and_then(|text| {
        let (user, password) = text.split_once(':')?;
        Some((user.to_owned(), password.to_owned()))
    }))
}

/// The agent of an HTTP Basic `email:password`, as passport.js's basic strategy reads it
/// (`User.findOne({ email: userid.toLowerCase(), status: 100})`, then `comparePassword`), through
/// core's sign-in so that it costs and counts exactly as a sign-in does (lock-out included).
async fn basic_agent(
    req: &HttpRequest,
    core: &Core,
    tenant: &Tenant,
    credentials: Option<(String, String)>,
) -> Result<Agent, TiledeskError> {
    let (user, password) = credentials.ok_or(TiledeskError::Unauthorized)?;
    let email = Email::parse(&user).map_err(|_| TiledeskError::Unauthorized)?;
    let Ctx(ctx) = Ctx::extract(req).await?;
    let user = core
        .signin(
            tenant,
            ctx.client_ip,
            Login::Email(email),
            &Password::candidate(&password),
        )
        .await
        .map_err(|e| match e {
            CoreError::Locked | CoreError::RateLimited => TiledeskError::Core(e),
            other => TiledeskError::token_failure(other),
        })?;
    // No token: nothing for a logout to end but "all" (which needs no claims).
    Ok(Agent {
        user: user.into(),
        bound_project: None,
        claims: Arc::default(),
    })
}

/// The agent behind the request's token (or HTTP Basic `email:password`, which the original
/// accepts on these routes too). Guest and external tokens, tokens of another tenant or dialect
/// (Appmixer tokens carry neither `sub` nor `_id`), and disabled or deleted users: `401`.
pub async fn agent(
    req: &HttpRequest,
    core: &Core,
    tenant: &Tenant,
) -> Result<Agent, TiledeskError> {
    let value = authorization(req).ok_or(TiledeskError::Unauthorized)?;
    if let Some(credentials) = basic_credentials(value) {
        return basic_agent(req, core, tenant, credentials).await;
    }
    let jwt = strip_scheme(value).ok_or(TiledeskError::Unauthorized)?;
    let claims = core
        .verify_token(tenant, jwt, Some(&tenant.settings.tiledesk_audience))
        .map_err(TiledeskError::token_failure)?;
    let id = agent_id(tenant, &claims).ok_or(TiledeskError::Unauthorized)?;
    let user = core
        .token_user(tenant, &claims, id)
        .await
        .map_err(TiledeskError::token_failure)?;
    let bound_project = claims
        .get(BOUND_PROJECT)
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok(Agent {
        user,
        bound_project,
        claims,
    })
}

/// The agent id of a verified token if it is a Tiledesk agent token of this tenant: `sub` "user",
/// the tenant's Tiledesk audience, and an `_id`. Guest and external tokens, and tokens of the
/// other dialect (which carry neither `sub` nor `_id`), are not.
pub fn agent_id<'c>(tenant: &Tenant, claims: &'c Claims) -> Option<&'c str> {
    let claim = |k: &str| claims.get(k).and_then(Value::as_str);
    let audience = tenant.settings.tiledesk_audience.as_str();
    (claim("sub") == Some("user") && claim("aud") == Some(audience))
        .then(|| claim("_id"))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_are_jwt_or_bearer_in_any_case() {
        assert_eq!(strip_scheme("JWT abc"), Some("abc"));
        assert_eq!(strip_scheme("jwt abc"), Some("abc"));
        assert_eq!(strip_scheme("Bearer abc"), Some("abc"));
        assert_eq!(strip_scheme("BEARER  abc "), Some("abc"));
        assert_eq!(strip_scheme("Basic abc"), None);
        assert_eq!(strip_scheme("abc"), None);
        assert_eq!(strip_scheme("JWT "), None);
    }

    #[test]
    fn basic_credentials_are_email_colon_password() {
        // "a@b.io:p:w" in base64: the password keeps its colons.
        assert_eq!(
            basic_credentials("Basic YUBiLmlvOnA6dw=="),
            Some(Some(("a@b.io".into(), "p:w".into())))
        );
        assert_eq!(basic_credentials("basic !!"), Some(None));
        assert_eq!(basic_credentials("Basic bm9jb2xvbg=="), Some(None));
        assert_eq!(basic_credentials("JWT abc"), None);
    }
}
