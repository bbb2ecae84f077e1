//! Console sessions: a random id in an `HttpOnly`, `SameSite=Strict` cookie (`Secure` over TLS),
//! held in this node's memory with its CSRF token, who signed in, and one flash message. A
//! session lasts `SESSION_MS` from sign-in; every page re-checks that its operator key is still
//! active (or its tenant admin still an enabled admin), so revoking ends it at once.

use base64::Engine;
use rand::RngCore;
use std::collections::HashMap;
use std::sync::Mutex;

/// The session cookie; `Path=/console` keeps it off the API.
pub const COOKIE: &str = "gh_console";
/// The sign-in form's double-submit CSRF cookie (there is no session yet to hold a token).
pub const SIGNIN_COOKIE: &str = "gh_console_signin";
/// How long a session lasts from sign-in.
pub const SESSION_MS: i64 = 8 * 3600 * 1000;
/// Past this many sessions, expired ones are swept at the next sign-in.
const SWEEP_ABOVE: usize = 1_000;

/// Who a session belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    Operator {
        key_id: String,
        name: String,
    },
    /// A user with the `admin` scope of one tenant: sees that tenant only.
    TenantAdmin {
        tenant_id: String,
        slug: String,
        user_id: String,
        email: String,
    },
}

impl Who {
    pub fn is_operator(&self) -> bool {
        matches!(self, Who::Operator { .. })
    }

    /// Whether this session may see and manage the tenant with this id.
    pub fn may_manage(&self, tenant_id: &str) -> bool {
        match self {
            Who::Operator { .. } => true,
            Who::TenantAdmin { tenant_id: own, .. } => own == tenant_id,
        }
    }

    pub fn label(&self) -> String {
        match self {
            Who::Operator { name, .. } => format!("operator {name}"),
            Who::TenantAdmin { slug, email, .. } => format!("{email} (admin of {slug})"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Session {
    pub who: Who,
    pub csrf: String,
    pub expires_at: i64,
    /// One message for the next page (after a form's redirect): (is_error, text).
    pub flash: Option<(bool, String)>,
}

/// 32 random bytes, base64url: session ids and CSRF tokens.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Equal without telling, by its timing, how much of the two matched.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[derive(Default)]
pub struct Sessions {
    by_id: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// Starts a session; returns its id (the cookie's value).
    pub fn start(&self, who: Who, now_ms: i64) -> String {
        let id = random_token();
        let mut map = self.by_id.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > SWEEP_ABOVE {
            map.retain(|_, s| s.expires_at > now_ms);
        }
        map.insert(
            id.clone(),
            Session {
                who,
                csrf: random_token(),
                expires_at: now_ms + SESSION_MS,
                flash: None,
            },
        );
        id
    }

    /// The live session with this id (an expired one is removed).
    pub fn get(&self, id: &str, now_ms: i64) -> Option<Session> {
        let mut map = self.by_id.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(id) {
            Some(s) if s.expires_at > now_ms => Some(s.clone()),
            Some(_) => {
                map.remove(id);
                None
            }
            None => None,
        }
    }

    /// Takes the flash message (shown once).
    pub fn take_flash(&self, id: &str) -> Option<(bool, String)> {
        let mut map = self.by_id.lock().unwrap_or_else(|p| p.into_inner());
        map.get_mut(id).and_then(|s| s.flash.take())
    }

    pub fn flash(&self, id: &str, error: bool, text: impl Into<String>) {
        let mut map = self.by_id.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = map.get_mut(id) {
            s.flash = Some((error, text.into()));
        }
    }

    pub fn end(&self, id: &str) {
        self.by_id
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op() -> Who {
        Who::Operator {
            key_id: "k".into(),
            name: "ops".into(),
        }
    }

    #[test]
    fn sessions_expire_and_end() {
        let s = Sessions::default();
        let id = s.start(op(), 1_000);
        assert!(s.get(&id, 1_000 + SESSION_MS - 1).is_some());
        assert!(s.get(&id, 1_000 + SESSION_MS).is_none());
        let id = s.start(op(), 0);
        s.end(&id);
        assert!(s.get(&id, 1).is_none());
        assert!(s.get("nobody", 1).is_none());
    }

    #[test]
    fn flash_is_shown_once() {
        let s = Sessions::default();
        let id = s.start(op(), 0);
        s.flash(&id, false, "saved");
        assert_eq!(s.take_flash(&id), Some((false, "saved".into())));
        assert_eq!(s.take_flash(&id), None);
    }

    #[test]
    fn a_tenant_admin_manages_only_their_tenant() {
        let admin = Who::TenantAdmin {
            tenant_id: "t1".into(),
            slug: "acme".into(),
            user_id: "u".into(),
            email: "a@acme.test".into(),
        };
        assert!(admin.may_manage("t1"));
        assert!(!admin.may_manage("t2"));
        assert!(op().may_manage("t2"));
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    }
}
