//! What each tenant setting means, its default and the values it takes, kept beside `settings::KEYS`
//! so that docs/reference.md is rendered from the code. The tests below hold every entry to the
//! validation in `settings.rs`: a documented range or default that the code does not accept fails,
//! and so does a key without an entry.

/// The values a setting takes, as the reference states them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepts {
    /// An integer from `min` to `max`, both included.
    Int { min: i64, max: i64 },
    /// `true` or `false` (also `1` or `0`, any case).
    Bool,
    /// Anything else, described in words.
    Text(&'static str),
}

/// What a tenant that never set the key gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultValue {
    /// This value: storing it changes nothing.
    Value(&'static str),
    /// Nothing is stored, and this is what applies.
    Unset(&'static str),
}

#[derive(Debug, Clone, Copy)]
pub struct SettingDoc {
    pub key: &'static str,
    pub default: DefaultValue,
    pub accepts: Accepts,
    pub meaning: &'static str,
}

const fn doc(
    key: &'static str,
    default: DefaultValue,
    accepts: Accepts,
    meaning: &'static str,
) -> SettingDoc {
    SettingDoc {
        key,
        default,
        accepts,
        meaning,
    }
}

use Accepts::{Bool, Int, Text};
use DefaultValue::{Unset, Value};

const YEAR: i64 = 31_536_000;

/// One entry a key of `settings::KEYS`, in the same order.
pub const DOCS: &[SettingDoc] = &[
    doc(
        "API_USER_CREATE_SCOPE",
        Unset("signup is open"),
        Text("a comma list of scopes, e.g. `admin`"),
        "Closes signup: creating a user needs a token holding one of these scopes (Appmixer's `POST /user` always; the self-service paths named in `SIGNUP_CLOSED_COVERS`).",
    ),
    doc(
        "PASSWORD_MIN_LENGTH",
        Unset("each dialect's documented minimum: 5 on Appmixer routes, 8 on Tiledesk routes and the CLI"),
        Int { min: 1, max: 72 },
        "The shortest password accepted at signup, change and reset; once set it applies to both dialects.",
    ),
    doc(
        "TOKEN_TTL_SECONDS",
        Value("2592000"),
        Int { min: 1, max: YEAR },
        "How long an issued token lives (30 days by default), in both dialects.",
    ),
    doc(
        "BCRYPT_COST",
        Value("10"),
        Int { min: 4, max: 31 },
        "bcrypt's cost for new hashes when `PASSWORD_HASH` is `bcrypt`; above the operator's `[hashing] max_cost` it is refused (a stored higher value is clamped).",
    ),
    doc(
        "TILEDESK_ISSUER",
        Value("https://tiledesk.com"),
        Text("a string without spaces, up to 512 characters"),
        "The `iss` of Tiledesk tokens (Tiledesk clients read it).",
    ),
    doc(
        "TILEDESK_AUDIENCE",
        Value("https://tiledesk.com"),
        Text("a string without spaces, up to 512 characters"),
        "The `aud` of Tiledesk tokens (tiledesk-server's passport strategy checks it).",
    ),
    doc(
        "CUSTOM_TOKEN_REQUIRE_EXP",
        Value("true"),
        Bool,
        "`signinWithCustomToken` refuses a custom token without `exp`.",
    ),
    doc(
        "CUSTOM_TOKEN_MAX_AGE_SECONDS",
        Value("3600"),
        Int { min: 1, max: YEAR },
        "A custom token whose `iat` is older than this, or which has no `iat` and lives longer than this from now, is refused.",
    ),
    doc(
        "SIGNUP_CLOSED_COVERS",
        Value("signup,custom_token"),
        Text("a comma list of `signup`, `custom_token`, `anonymous` (empty: none)"),
        "Which self-service paths a closed signup (`API_USER_CREATE_SCOPE` set) closes; Appmixer's `POST /user` is always closed to callers without the scope.",
    ),
    doc(
        "SIGNIN_MAX_FAILURES",
        Value("10"),
        Int { min: 1, max: 1_000_000 },
        "Failed sign-ins of one login from one address before that pair answers `429` for `SIGNIN_LOCK_SECONDS`, on every node (the lock is in the database).",
    ),
    doc(
        "SIGNIN_LOCK_SECONDS",
        Value("300"),
        Int { min: 1, max: YEAR },
        "How long such a lock lasts; a failure count older than this is forgotten.",
    ),
    doc(
        "SIGNUP_PER_IP_PER_MINUTE",
        Value("100"),
        Int { min: 0, max: 100_000 },
        "Signups, user creations and anonymous sign-ins one client address may make in a minute (`0`: no limit).",
    ),
    doc(
        "CORS_ALLOWED_ORIGINS",
        Value("*"),
        Text("`*`, or a comma list of origins such as `https://app.example.com,http://localhost:4200`"),
        "Which browser origins may call the tenant's APIs; the calling origin is echoed, credentials are never allowed.",
    ),
    doc(
        "ISSUER",
        Unset("`https://` and the tenant's first host"),
        Text("an `https://` (or `http://`) URL without query or fragment"),
        "The `iss` of Appmixer tokens, forward-auth upstream tokens and the discovery document.",
    ),
    doc(
        "FORWARD_AUTH_UPSTREAM_TOKEN",
        Value("false"),
        Bool,
        "`GET /auth/verify` also answers `X-Auth-Token`: a 60 s token for the upstream, signed with the tenant's EdDSA or RS256 key.",
    ),
    doc(
        "SIGNIN_FAILURES_PER_IP_PER_MINUTE",
        Value("30"),
        Int { min: 0, max: 100_000 },
        "Failed sign-ins one client address may make on the tenant in a fixed minute; past it every sign-in from there answers `429` until the minute ends (`0`: off; per node).",
    ),
    doc(
        "SIGNIN_TARPIT_MAX_MS",
        Value("5000"),
        Int { min: 0, max: 60_000 },
        "The longest wait before each sign-in of a login under attack from many addresses (250 ms, doubling per failure; `0`: off).",
    ),
    doc(
        "SIGNIN_HIDE_UNKNOWN_ACCOUNT",
        Value("false"),
        Bool,
        "Tiledesk: answer \"Wrong password.\" for unknown accounts too, instead of the original's \"User not found.\".",
    ),
    doc(
        "AUDIT_RETENTION_DAYS",
        Value("90"),
        Int { min: 1, max: 3650 },
        "Audit events older than this are deleted (hourly, by every node).",
    ),
    doc(
        "PASSWORD_HASH",
        Value("argon2id"),
        Text("`argon2id` or `bcrypt`"),
        "How new password hashes are made; a hash of another kind or cost is replaced at the next good sign-in. The demo tenant, and tenants made before this setting existed, have `bcrypt`.",
    ),
    doc(
        "ARGON2_MEMORY_KIB",
        Value("19456"),
        Int { min: 1024, max: 4_194_304 },
        "argon2id's memory in KiB (OWASP's 19456); above the operator's `[hashing] max_argon2_memory_kib` it is refused.",
    ),
    doc(
        "ARGON2_ITERATIONS",
        Value("2"),
        Int { min: 1, max: 100 },
        "argon2id's iterations; above the operator's `[hashing] max_argon2_iterations` it is refused.",
    ),
    doc(
        "ARGON2_PARALLELISM",
        Value("1"),
        Int { min: 1, max: 16 },
        "argon2id's lanes.",
    ),
    doc(
        "SMTP_URL",
        Unset("no mail: the mail routes answer \"not configured\" (Tiledesk `503`, Appmixer `403`)"),
        Text("`smtp://[user:pass@]host[:port]` (`?tls=required` for STARTTLS) or `smtps://...`"),
        "Where the tenant's mail goes out; stored sealed under the master key.",
    ),
    doc(
        "MAIL_FROM",
        Unset("`no-reply@` the tenant's first host that is not an IP address (none: mail waits, its last error naming `MAIL_FROM`)"),
        Text("an address, or `Name <address>`, not at an IP address"),
        "The `From` of the tenant's mail.",
    ),
    doc(
        "RESET_URL",
        Unset("the dialect's front end (`<issuer>/#/resetpassword/{code}` for Tiledesk, `<issuer>/reset-password?code={code}` for Appmixer)"),
        Text("a link with `{code}` (and `{uid}`)"),
        "The link a password-reset mail carries.",
    ),
    doc(
        "VERIFY_URL",
        Unset("Tiledesk's dashboard: `<issuer>/#/verify/email/{uid}/{code}`"),
        Text("a link with `{uid}` and `{code}`"),
        "The link an email-verification mail carries.",
    ),
    doc(
        "RESET_CODE_TTL_SECONDS",
        Value("3600"),
        Int { min: 60, max: 604_800 },
        "How long a reset or verification code works.",
    ),
    doc(
        "MAIL_PER_EMAIL_PER_HOUR",
        Value("5"),
        Int { min: 0, max: 100_000 },
        "Mail-sending requests naming one address, per node and fixed hour; past it the dialect's `429` (`0`: off).",
    ),
    doc(
        "MAIL_PER_IP_PER_HOUR",
        Value("20"),
        Int { min: 0, max: 100_000 },
        "Mail-sending requests from one client address, per node and fixed hour; past it the dialect's `429` (`0`: off).",
    ),
    doc(
        "LEGACY_TOKENS_UNTIL",
        Unset("tokens of an imported tiledesk-server key verify with no cut-off yet"),
        Text("an RFC 3339 time such as `2027-03-31T00:00:00Z`"),
        "From this time on, tokens signed by a key imported with `gatehouse tenant import-key` are refused.",
    ),
    doc(
        "MAIL_RESET_SUBJECT",
        Unset("the built-in template"),
        Text("a template of at most 4,096 characters: `if`/`for`, a few filters, the variables `tenant`, `email`, `firstname`, `lastname`, `link`, `code`, `ttl_minutes`"),
        "Replaces the password-reset mail's subject. Checked when set (syntax, variables, a trial render within the budget of 20,000 instructions and 64 KiB); see docs/security.md.",
    ),
    doc(
        "MAIL_RESET_TEXT",
        Unset("the built-in template"),
        Text("a template of at most 4,096 characters: `if`/`for`, a few filters, the variables `tenant`, `email`, `firstname`, `lastname`, `link`, `code`, `ttl_minutes`"),
        "Replaces the password-reset mail's plain-text part. Checked when set (syntax, variables, a trial render within the budget of 20,000 instructions and 64 KiB); see docs/security.md.",
    ),
    doc(
        "MAIL_RESET_HTML",
        Unset("the built-in template"),
        Text("a template of at most 4,096 characters: `if`/`for`, a few filters, the variables `tenant`, `email`, `firstname`, `lastname`, `link`, `code`, `ttl_minutes`"),
        "Replaces the password-reset mail's HTML part (every value escaped). Checked when set (syntax, variables, a trial render within the budget of 20,000 instructions and 64 KiB); see docs/security.md.",
    ),
    doc(
        "MAIL_VERIFY_SUBJECT",
        Unset("the built-in template"),
        Text("a template of at most 4,096 characters: `if`/`for`, a few filters, the variables `tenant`, `email`, `firstname`, `lastname`, `link`, `code`, `ttl_minutes`"),
        "Replaces the email-verification mail's subject. Checked when set (syntax, variables, a trial render within the budget of 20,000 instructions and 64 KiB); see docs/security.md.",
    ),
    doc(
        "MAIL_VERIFY_TEXT",
        Unset("the built-in template"),
        Text("a template of at most 4,096 characters: `if`/`for`, a few filters, the variables `tenant`, `email`, `firstname`, `lastname`, `link`, `code`, `ttl_minutes`"),
        "Replaces the email-verification mail's plain-text part. Checked when set (syntax, variables, a trial render within the budget of 20,000 instructions and 64 KiB); see docs/security.md.",
    ),
    doc(
        "MAIL_VERIFY_HTML",
        Unset("the built-in template"),
        Text("a template of at most 4,096 characters: `if`/`for`, a few filters, the variables `tenant`, `email`, `firstname`, `lastname`, `link`, `code`, `ttl_minutes`"),
        "Replaces the email-verification mail's HTML part (every value escaped). Checked when set (syntax, variables, a trial render within the budget of 20,000 instructions and 64 KiB); see docs/security.md.",
    ),
    doc(
        "TILEDESK_PREFIXES",
        Value("/v1,/v2,/v3,/api"),
        Text("a comma list of `/v1`, `/v2`, `/v3`, `/api` and `/` (the root only while the Appmixer API is off)"),
        "The path prefixes the tenant's Tiledesk API answers under; any other prefix is a 404.",
    ),
];

/// The entry of `key`, if it has one.
pub fn doc_of(key: &str) -> Option<&'static SettingDoc> {
    DOCS.iter().find(|d| d.key == key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{Settings, KEYS};
    use std::collections::BTreeMap;

    #[test]
    fn every_setting_has_one_entry_and_every_entry_is_a_setting() {
        let missing: Vec<&str> = KEYS
            .iter()
            .copied()
            .filter(|k| doc_of(k).is_none())
            .collect();
        assert!(
            missing.is_empty(),
            "settings without an entry in crates/core/src/settings_doc.rs: {missing:?}"
        );
        for d in DOCS {
            assert!(
                KEYS.contains(&d.key),
                "{} is documented but no setting",
                d.key
            );
            assert_eq!(
                DOCS.iter().filter(|o| o.key == d.key).count(),
                1,
                "{} twice",
                d.key
            );
            assert!(!d.meaning.trim().is_empty(), "{} has no meaning", d.key);
        }
    }

    #[test]
    fn documented_ranges_are_the_ones_validation_applies() {
        for d in DOCS {
            match d.accepts {
                Accepts::Int { min, max } => {
                    for ok in [min, max] {
                        assert!(
                            Settings::validate(d.key, &ok.to_string()).is_ok(),
                            "{}={ok} is documented but refused",
                            d.key
                        );
                    }
                    for out in [min - 1, max + 1] {
                        assert!(
                            Settings::validate(d.key, &out.to_string()).is_err(),
                            "{}={out} is outside the documented range but accepted",
                            d.key
                        );
                    }
                }
                Accepts::Bool => {
                    for ok in ["true", "false"] {
                        assert!(Settings::validate(d.key, ok).is_ok(), "{}={ok}", d.key);
                    }
                    assert!(Settings::validate(d.key, "maybe").is_err(), "{}", d.key);
                }
                Accepts::Text(words) => assert!(!words.is_empty(), "{}", d.key),
            }
        }
    }

    #[test]
    fn a_documented_default_value_changes_nothing_when_stored() {
        for d in DOCS {
            if let DefaultValue::Value(v) = d.default {
                let mut pairs = BTreeMap::new();
                pairs.insert(d.key.to_owned(), v.to_owned());
                assert!(
                    Settings::validate(d.key, v).is_ok(),
                    "{}'s documented default {v} is refused",
                    d.key
                );
                assert_eq!(
                    Settings::from_stored(&pairs),
                    Settings::default(),
                    "{}'s documented default {v} is not the default",
                    d.key
                );
            }
        }
    }
}
