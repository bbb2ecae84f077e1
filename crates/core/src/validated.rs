//! Newtypes for input that core accepts only once validated: they parse at the edge (`parse`/
//! `TryFrom`), so no core function can receive an unchecked string.

use crate::error::CoreError;
use crate::secret::Secret;
use std::fmt;

/// bcrypt only reads the first 72 bytes of a password; longer ones are refused rather than truncated.
pub const BCRYPT_MAX_PASSWORD_BYTES: usize = 72;

/// A trimmed, lower-cased email address with a dot in its domain (`x@email` is refused, as Tiledesk's validator does).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, CoreError> {
        let email = raw.trim().to_lowercase();
        let invalid = || CoreError::invalid("email", "must be a valid email address");
        if email.is_empty() || email.len() > 254 {
            return Err(invalid());
        }
        let (local, domain) = email.rsplit_once('@').ok_or_else(invalid)?;
        let bad_char =
            |c: char| c.is_whitespace() || c.is_control() || "<>()[]\\,;:\"@".contains(c);
        if local.is_empty() || local.len() > 64 || local.chars().any(bad_char) {
            return Err(invalid());
        }
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return Err(invalid());
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2
            || labels.iter().any(|l| {
                l.is_empty()
                    || l.len() > 63
                    || l.starts_with('-')
                    || l.ends_with('-')
                    || !l.chars().all(|c| c.is_alphanumeric() || c == '-')
            })
        {
            return Err(invalid());
        }
        let tld = labels[labels.len() - 1];
        if tld.len() < 2 || tld.chars().all(|c| c.is_ascii_digit()) {
            return Err(invalid());
        }
        Ok(Email(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A password fit to be hashed: within the tenant's minimum length and bcrypt's 72 bytes.
#[derive(Debug, Clone)]
pub struct Password(Secret<String>);

impl Password {
    /// A password for a new hash (signup, creation, change): length rules apply, after NFC
    /// normalisation, and a password of only whitespace is refused.
    pub fn new(raw: &str, min_length: usize) -> Result<Self, CoreError> {
        let raw = &nfc(raw);
        storable("password", raw)?;
        if raw.trim().is_empty() {
            return Err(CoreError::invalid(
                "password",
                "must not be only whitespace",
            ));
        }
        if raw.chars().count() < min_length {
            return Err(CoreError::invalid(
                "password",
                format!("must be at least {min_length} characters long"),
            ));
        }
        if raw.len() > BCRYPT_MAX_PASSWORD_BYTES {
            return Err(CoreError::invalid(
                "password",
                format!("must be at most {BCRYPT_MAX_PASSWORD_BYTES} bytes long"),
            ));
        }
        Ok(Password(Secret::new(raw.to_owned())))
    }

    /// A password offered at sign-in: only checked against a hash, so no length rule applies
    /// (a tenant may have raised its minimum after the account was made).
    pub fn candidate(raw: &str) -> Self {
        Password(Secret::new(nfc(raw)))
    }

    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

/// The NFC form of a password, so that two spellings of one text (a precomposed `é`, or `e` and a
/// combining accent, as keyboards and platforms differ) hash alike.
fn nfc(raw: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    raw.nfc().collect()
}

/// Refuses text that a backend cannot store or compare alike: NUL, which PostgreSQL's text
/// refuses (and SQLite keeps). Rust strings cannot hold lone surrogates or invalid UTF-8, so NUL is
/// the one case left. The facades refuse it at the edge; core asks again before any query.
pub fn storable<'s>(field: &'static str, text: &'s str) -> Result<&'s str, CoreError> {
    if text.contains('\0') {
        Err(CoreError::invalid(
            field,
            "must not contain a NUL character",
        ))
    } else {
        Ok(text)
    }
}

/// `storable` for every key and string of a JSON value (metadata, profiles).
pub fn storable_json(field: &'static str, value: &serde_json::Value) -> Result<(), CoreError> {
    use serde_json::Value;
    match value {
        Value::String(s) => storable(field, s).map(|_| ()),
        Value::Array(items) => items.iter().try_for_each(|v| storable_json(field, v)),
        Value::Object(map) => map.iter().try_for_each(|(k, v)| {
            storable(field, k)?;
            storable_json(field, v)
        }),
        _ => Ok(()),
    }
}

/// A tenant slug: `[a-z0-9-]{1,63}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TenantSlug(String);

impl TenantSlug {
    pub fn parse(raw: &str) -> Result<Self, CoreError> {
        let ok = (1..=63).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(TenantSlug(raw.to_owned()))
        } else {
            Err(CoreError::invalid(
                "slug",
                format!("'{raw}' is not a tenant slug ([a-z0-9-], 1 to 63 characters)"),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A scope name (`user`, `admin`, or a custom string of letters, digits and `_:.-`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope(String);

impl Scope {
    pub fn parse(raw: &str) -> Result<Self, CoreError> {
        let s = raw.trim();
        let ok = (1..=64).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_:.-".contains(&b));
        if ok {
            Ok(Scope(s.to_owned()))
        } else {
            Err(CoreError::invalid(
                "scope",
                format!("'{s}' is not a scope (letters, digits and _:.- up to 64)"),
            ))
        }
    }

    pub fn user() -> Self {
        Scope("user".into())
    }

    pub fn admin() -> Self {
        Scope("admin".into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Parses a comma-separated list (the form settings and the CLI use); empty items are skipped.
    pub fn parse_list(raw: &str) -> Result<Vec<Scope>, CoreError> {
        let mut scopes: Vec<Scope> = raw
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(Scope::parse)
            .collect::<Result<_, _>>()?;
        scopes.dedup();
        Ok(scopes)
    }
}

/// An Appmixer username: 1 to 128 characters, no control characters, stored as given and
/// matched case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, CoreError> {
        let s = raw.trim();
        if s.is_empty() || s.chars().count() > 128 || s.chars().any(char::is_control) {
            return Err(CoreError::invalid(
                "username",
                "must be 1 to 128 characters without control characters",
            ));
        }
        Ok(Username(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form used for uniqueness and lookup.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

/// The `vendor` of an account (Appmixer: "One or more vendors", a string or an array), kept in the
/// form it was given. Each name follows the scope rule (letters, digits and `_:.-`, up to 64), so
/// its JSON form is the name in quotes and nothing else: a lookup can match it in the stored text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Vendor {
    One(String),
    Many(Vec<String>),
}

impl Vendor {
    pub fn name(raw: &str) -> Result<String, CoreError> {
        Scope::parse(raw).map(|s| s.0).map_err(|_| {
            CoreError::invalid(
                "vendor",
                "must be a name of letters, digits and _:.- up to 64 characters, or an array of them",
            )
        })
    }

    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Vendor::One(v) => v.as_str().into(),
            Vendor::Many(vs) => vs.clone().into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendors_keep_their_form_and_refuse_what_a_lookup_could_not_match() {
        assert_eq!(Vendor::name(" acme1 ").unwrap(), "acme1");
        for bad in ["", "a\"b", "a,b", "a%", "x".repeat(65).as_str()] {
            assert!(Vendor::name(bad).is_err(), "{bad:?}");
        }
        let many = Vendor::Many(vec!["a".into(), "b".into()]);
        assert_eq!(many.to_json(), serde_json::json!(["a", "b"]));
        assert_eq!(Vendor::One("a".into()).to_json(), serde_json::json!("a"));
    }

    #[test]
    fn emails_are_trimmed_lowercased_and_need_a_dotted_domain() {
        assert_eq!(
            Email::parse("  Abc@Example.COM ").unwrap().as_str(),
            "abc@example.com"
        );
        assert!(Email::parse("x@email").is_err());
        assert!(Email::parse("no-at.example.com").is_err());
        assert!(Email::parse("a b@example.com").is_err());
        assert!(Email::parse("a@example.c").is_err());
        assert!(Email::parse("'; DROP TABLE users;--@example.com").is_err());
        assert!(Email::parse("o'brien@example.com").is_ok());
        assert!(Email::parse("jürgen@bücher.de").is_ok());
    }

    #[test]
    fn passwords_respect_min_length_and_the_72_byte_limit() {
        assert!(Password::new("short", 8).is_err());
        assert!(Password::new("longenough", 8).is_ok());
        assert!(Password::new(&"a".repeat(72), 8).is_ok());
        assert!(Password::new(&"a".repeat(73), 8).is_err());
        // 24 three-byte characters are 72 bytes; 25 are 75.
        assert!(Password::new(&"€".repeat(24), 8).is_ok());
        assert!(Password::new(&"€".repeat(25), 8).is_err());
    }

    #[test]
    fn passwords_are_nfc_and_not_only_whitespace() {
        let composed = Password::new("caf\u{e9}-secret", 8).unwrap();
        let decomposed = Password::candidate("cafe\u{301}-secret");
        assert_eq!(composed.expose(), decomposed.expose());
        assert!(Password::new("          ", 8).is_err());
        assert!(Password::new("\t\u{a0} \u{3000}      ", 8).is_err());
        assert!(Password::new("nul\u{0}-in-the-middle", 8).is_err());
    }

    #[test]
    fn nul_is_not_storable_anywhere_in_text_or_json() {
        assert!(storable("name", "a\u{0}b").is_err());
        assert!(storable("name", "' OR 1=1 --").is_ok());
        let v = serde_json::json!({"a": [1, {"b\u{0}": "c"}]});
        assert!(storable_json("metadata", &v).is_err());
        assert!(storable_json("metadata", &serde_json::json!({"a": ["ok"]})).is_ok());
    }

    #[test]
    fn slugs_and_scopes() {
        assert!(TenantSlug::parse("acme-2").is_ok());
        assert!(TenantSlug::parse("Acme").is_err());
        assert!(TenantSlug::parse("").is_err());
        assert!(TenantSlug::parse(&"a".repeat(64)).is_err());
        assert_eq!(Scope::parse_list("admin, user,").unwrap().len(), 2);
        assert!(Scope::parse_list("ad min").is_err());
    }
}
