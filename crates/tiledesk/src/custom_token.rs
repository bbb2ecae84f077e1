//! Custom tokens: JWTs that a customer's own system signs (HS256) with a project's `jwtSecret`.
//! The project is named by the token's `aud`, which is read before the signature can be checked
//! (it says which secret to check with) and trusted only once the token verifies with that secret;
//! the tenant's own generic audience says the token is one of ours, checked with the tenant's keys.

use crate::fields::clean_text;
use crate::token;
use actix_web::HttpRequest;
use gatehouse_core::projects::Role;
use gatehouse_core::token::Claims;
use gatehouse_core::Tenant;
use jsonwebtoken::{decode, DecodingKey, Validation};
use serde_json::Value;

const TILEDESK_PROJECTS: &str = "https://tiledesk.com/projects/";

/// The custom token of a request: `Authorization` with a `JWT`/`Bearer` scheme or bare.
pub fn from_request(req: &HttpRequest) -> Option<&str> {
    let value = token::authorization(req)?;
    Some(token::strip_scheme(value).unwrap_or(value))
}

/// The project id an audience names: `https://tiledesk.com/projects/<id>` (or the same under the
/// tenant's own `TILEDESK_AUDIENCE`), with an optional trailing slash.
fn project_in(aud: &str, tenant: &Tenant) -> Option<String> {
    let own = format!(
        "{}/projects/",
        tenant.settings.tiledesk_audience.trim_end_matches('/')
    );
    let rest = aud
        .strip_prefix(TILEDESK_PROJECTS)
        .or_else(|| aud.strip_prefix(own.as_str()))?;
    let id = rest.strip_suffix('/').unwrap_or(rest);
    (!id.is_empty() && !id.contains('/')).then(|| id.to_owned())
}

/// What a token's (unverified) `aud` says about who signed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// The tenant's own generic audience (`TILEDESK_AUDIENCE`): a token this tenant issued, which
    /// the widget posts back to re-check it.
    Own,
    /// A project's audience: a custom token signed with that project's secret.
    Project { aud: String, project_id: String },
}

/// Reads `aud` WITHOUT verifying anything, through jsonwebtoken's own parser: it only says which
/// key to check the token with.
pub fn unverified_audience(token: &str, tenant: &Tenant) -> Option<Audience> {
    let mut peek = Validation::default();
    peek.insecure_disable_signature_validation();
    peek.required_spec_claims.clear();
    peek.validate_exp = false;
    peek.validate_nbf = false;
    peek.validate_aud = false;
    let claims = decode::<Claims>(token, &DecodingKey::from_secret(&[]), &peek)
        .ok()?
        .claims;
    let candidates: Vec<&str> = match claims.get("aud")? {
        Value::String(s) => vec![s.as_str()],
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
        _ => return None,
    };
    let own = tenant.settings.tiledesk_audience.as_str();
    if candidates.contains(&own) {
        return Some(Audience::Own);
    }
    candidates.into_iter().find_map(|aud| {
        project_in(aud, tenant).map(|project_id| Audience::Project {
            aud: aud.to_owned(),
            project_id,
        })
    })
}

/// What a verified custom token says about the customer's user.
#[derive(Debug, Clone)]
pub struct ExternalUser {
    pub id: String,
    pub firstname: Option<String>,
    pub lastname: Option<String>,
    pub email: Option<String>,
    pub role: Role,
}

/// A name claim: absent, or clean text; anything else makes the token unusable.
fn name_claim(claims: &Claims, key: &str) -> Result<Option<String>, ()> {
    match claims.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => clean_text(s).map(Some).ok_or(()),
        Some(_) => Err(()),
    }
}

impl ExternalUser {
    /// `None` when `_id` is missing or unusable, a name is not text, or `role` is not one of
    /// `user`, `agent`, `admin`, `owner`.
    pub fn from_claims(claims: &Claims) -> Option<ExternalUser> {
        let id = match claims.get("_id")? {
            Value::String(s) => clean_text(s)?,
            Value::Number(n) if n.is_u64() || n.is_i64() => n.to_string(),
            _ => return None,
        };
        let role = match claims.get("role") {
            None | Some(Value::Null) => Role::User,
            Some(Value::String(r)) => Role::parse(r).filter(|r| *r != Role::Guest)?,
            Some(_) => return None,
        };
        Some(ExternalUser {
            id,
            firstname: name_claim(claims, "firstname").ok()?,
            lastname: name_claim(claims, "lastname").ok()?,
            email: name_claim(claims, "email").ok()?,
            role,
        })
    }
}

/// The custom token's claims that the response echoes and the membership keeps: all but the
/// registered ones that describe the token rather than the user.
pub fn echoed_claims(claims: &Claims) -> Claims {
    claims
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "iat" | "exp" | "aud" | "sub" | "iss" | "nbf"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Claims a Gatehouse token never takes from a customer: the registered ones and those that
/// say which tenant, key and token this is. The caller's own user claims are laid over the rest.
const NOT_CARRIED: &[&str] = &[
    "tid", "jti", "iat", "exp", "nbf", "sub", "aud", "iss", "kid",
];

/// The customer's extra claims that the Gatehouse token minted for them carries (issue 9.5).
pub fn carried_claims(claims: &Claims) -> Claims {
    claims
        .iter()
        .filter(|(k, _)| !NOT_CARRIED.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_core::token::KeyRing;
    use gatehouse_core::{Settings, TenantSlug};
    use serde_json::json;

    fn tenant() -> Tenant {
        Tenant {
            id: "t".into(),
            slug: TenantSlug::parse("t").unwrap(),
            name: "t".into(),
            hosts: vec![],
            apis: vec![],
            settings: Settings::default(),
            stored_settings: Default::default(),
            keys: KeyRing::default(),
        }
    }

    #[test]
    fn audiences_name_a_project() {
        let t = tenant();
        assert_eq!(
            project_in("https://tiledesk.com/projects/abc", &t).as_deref(),
            Some("abc")
        );
        assert_eq!(
            project_in("https://tiledesk.com/projects/abc/", &t).as_deref(),
            Some("abc")
        );
        assert_eq!(project_in("https://tiledesk.com/projects/", &t), None);
        assert_eq!(project_in("https://tiledesk.com/subscriptions/x", &t), None);
        assert_eq!(project_in("https://evil.com/projects/abc", &t), None);
    }

    #[test]
    fn external_users_need_an_id_and_a_known_role() {
        let c = |v: Value| v.as_object().cloned().unwrap();
        assert!(ExternalUser::from_claims(&c(json!({"firstname": "A"}))).is_none());
        assert!(ExternalUser::from_claims(&c(json!({"_id": "u", "role": "root"}))).is_none());
        assert!(ExternalUser::from_claims(&c(json!({"_id": "u", "role": "guest"}))).is_none());
        assert!(ExternalUser::from_claims(&c(json!({"_id": "u\u{0}"}))).is_none());
        let u = ExternalUser::from_claims(&c(json!({"_id": 42, "firstname": "Ann"}))).unwrap();
        assert_eq!((u.id.as_str(), u.role), ("42", Role::User));
    }
}
