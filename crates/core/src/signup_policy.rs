//! Whether self-service account creation is open on a tenant, decided here once for every path
//! that creates an account or identity in either dialect (issue 8.2): a tenant closes signup by
//! setting `API_USER_CREATE_SCOPE`, and `SIGNUP_CLOSED_COVERS` says which paths that closes.

use crate::settings::Settings;
use crate::validated::Scope;

/// A way in which a caller makes an account (or, for guests, an identity) for themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignupPath {
    /// Tiledesk's `POST /auth/signup`.
    Signup,
    /// A custom-token exchange that creates a password-less agent account.
    CustomToken,
    /// Tiledesk's anonymous guests (`POST /auth/signinAnonymously`).
    Anonymous,
}

impl SignupPath {
    pub const ALL: [SignupPath; 3] = [
        SignupPath::Signup,
        SignupPath::CustomToken,
        SignupPath::Anonymous,
    ];

    /// The name used in `SIGNUP_CLOSED_COVERS`.
    pub fn as_str(self) -> &'static str {
        match self {
            SignupPath::Signup => "signup",
            SignupPath::CustomToken => "custom_token",
            SignupPath::Anonymous => "anonymous",
        }
    }

    pub fn parse(name: &str) -> Option<SignupPath> {
        SignupPath::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

/// Where account creation may happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Creator {
    /// A caller creating their own account or identity through `SignupPath`.
    SelfService(SignupPath),
    /// Appmixer's `POST /user`: closed to anonymous callers whenever signup is closed, but open
    /// to a Bearer token holding one of the tenant's `API_USER_CREATE_SCOPE` scopes.
    AppmixerApi,
}

/// The decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signup<'a> {
    Open,
    /// Closed to anonymous callers; a caller holding one of these scopes may still create.
    ScopeRequired(&'a [Scope]),
    /// Closed, with no exception.
    Closed,
}

/// The one decision: is account creation by `creator` open on a tenant with these settings?
pub fn decide(settings: &Settings, creator: Creator) -> Signup<'_> {
    let Some(scopes) = settings.api_user_create_scope.as_deref() else {
        return Signup::Open;
    };
    match creator {
        Creator::AppmixerApi => Signup::ScopeRequired(scopes),
        Creator::SelfService(path) if settings.signup_closed_covers.contains(&path) => {
            Signup::Closed
        }
        Creator::SelfService(_) => Signup::Open,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn closed(covers: &str) -> Settings {
        let mut pairs = std::collections::BTreeMap::new();
        pairs.insert("API_USER_CREATE_SCOPE".to_string(), "admin".to_string());
        pairs.insert("SIGNUP_CLOSED_COVERS".to_string(), covers.to_string());
        Settings::from_stored(&pairs)
    }

    #[test]
    fn an_open_tenant_is_open_everywhere() {
        let s = Settings::default();
        assert_eq!(decide(&s, Creator::AppmixerApi), Signup::Open);
        for path in SignupPath::ALL {
            assert_eq!(decide(&s, Creator::SelfService(path)), Signup::Open);
        }
    }

    #[test]
    fn a_closed_tenant_closes_the_paths_it_covers() {
        let s = closed("signup,custom_token");
        assert_eq!(
            decide(&s, Creator::AppmixerApi),
            Signup::ScopeRequired(&[Scope::admin()])
        );
        assert_eq!(
            decide(&s, Creator::SelfService(SignupPath::Signup)),
            Signup::Closed
        );
        assert_eq!(
            decide(&s, Creator::SelfService(SignupPath::CustomToken)),
            Signup::Closed
        );
        assert_eq!(
            decide(&s, Creator::SelfService(SignupPath::Anonymous)),
            Signup::Open
        );
        let s = closed("anonymous");
        assert_eq!(
            decide(&s, Creator::SelfService(SignupPath::Anonymous)),
            Signup::Closed
        );
        assert_eq!(
            decide(&s, Creator::SelfService(SignupPath::Signup)),
            Signup::Open
        );
    }
}
