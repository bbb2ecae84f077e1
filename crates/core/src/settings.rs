//! Per-tenant settings: the keys of gateway.md's table, validated before they are stored, and read
//! back into a typed `Settings` that the rest of core uses.

use crate::error::CoreError;
use crate::password::HashPolicy;
use crate::signup_policy::SignupPath;
use crate::validated::Scope;
use std::collections::BTreeMap;

/// The setting keys, in the Appmixer-style spelling tenant admins already know.
pub const KEYS: &[&str] = &[
    "API_USER_CREATE_SCOPE",
    "PASSWORD_MIN_LENGTH",
    "TOKEN_TTL_SECONDS",
    "BCRYPT_COST",
    "TILEDESK_ISSUER",
    "TILEDESK_AUDIENCE",
    "CUSTOM_TOKEN_REQUIRE_EXP",
    "CUSTOM_TOKEN_MAX_AGE_SECONDS",
    "SIGNUP_CLOSED_COVERS",
    "SIGNIN_MAX_FAILURES",
    "SIGNIN_LOCK_SECONDS",
    "SIGNUP_PER_IP_PER_MINUTE",
    "CORS_ALLOWED_ORIGINS",
    "ISSUER",
    "FORWARD_AUTH_UPSTREAM_TOKEN",
    "SIGNIN_FAILURES_PER_IP_PER_MINUTE",
    "SIGNIN_TARPIT_MAX_MS",
    "SIGNIN_HIDE_UNKNOWN_ACCOUNT",
    "AUDIT_RETENTION_DAYS",
    "PASSWORD_HASH",
    "ARGON2_MEMORY_KIB",
    "ARGON2_ITERATIONS",
    "ARGON2_PARALLELISM",
    "SMTP_URL",
    "MAIL_FROM",
    "RESET_URL",
    "VERIFY_URL",
    "RESET_CODE_TTL_SECONDS",
    "MAIL_PER_EMAIL_PER_HOUR",
    "MAIL_PER_IP_PER_HOUR",
    "LEGACY_TOKENS_UNTIL",
    "MAIL_RESET_SUBJECT",
    "MAIL_RESET_TEXT",
    "MAIL_RESET_HTML",
    "MAIL_VERIFY_SUBJECT",
    "MAIL_VERIFY_TEXT",
    "MAIL_VERIFY_HTML",
    "TILEDESK_PREFIXES",
];

/// The path prefixes the Tiledesk API may be served under: the hosted API's `/v1`, `/v2` (the
/// dashboard's stock production config), `/v3`, self-hosted installs' `/api`, and the root (`/`,
/// `/auth/signin`; only for a tenant whose Appmixer API is off: both dialects serve `/users` there).
pub const TILEDESK_PREFIX_CHOICES: &[&str] = &["/v1", "/v2", "/v3", "/api", "/"];
/// `TILEDESK_PREFIXES` when unset: every prefix but the root.
pub const TILEDESK_DEFAULT_PREFIXES: &[&str] = &["/v1", "/v2", "/v3", "/api"];
/// Who set a stored setting last (kept beside it, `tenant_settings.set_by`), so the console can
/// say where an effective value comes from: the default, an operator or a tenant admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetBy {
    /// The CLI, the operator API, an operator in the console, tenant creation, an import.
    Operator,
    /// A tenant admin: in the console, or through Appmixer's `/config`.
    TenantAdmin,
}

impl SetBy {
    pub fn as_str(self) -> &'static str {
        match self {
            SetBy::Operator => "operator",
            SetBy::TenantAdmin => "tenant_admin",
        }
    }

    pub fn parse(s: &str) -> Option<SetBy> {
        match s {
            "operator" => Some(SetBy::Operator),
            "tenant_admin" => Some(SetBy::TenantAdmin),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The prefixes (of `TILEDESK_PREFIX_CHOICES`) the tenant's Tiledesk API answers under.
    pub tiledesk_prefixes: Vec<&'static str>,
    /// `None`: open signup. `Some(scopes)`: creating a user needs a token holding one of them.
    pub api_user_create_scope: Option<Vec<Scope>>,
    /// `None`: each dialect applies its own documented minimum (`min_password_length`).
    pub password_min_length: Option<usize>,
    pub token_ttl_seconds: i64,
    pub bcrypt_cost: u32,
    pub tiledesk_issuer: String,
    pub tiledesk_audience: String,
    pub custom_token_require_exp: bool,
    /// A custom token older than this (by `iat`), or living longer than this from now (by `exp`
    /// when it has no `iat`), is refused: a leaked token cannot be replayed for long.
    pub custom_token_max_age_seconds: i64,
    /// The self-service paths that a closed signup (`API_USER_CREATE_SCOPE` set) closes.
    pub signup_closed_covers: Vec<SignupPath>,
    pub signin_max_failures: u32,
    pub signin_lock_seconds: i64,
    pub signup_per_ip_per_minute: u32,
    /// `None`: any origin (`*`). `Some(list)`: only these origins (lower-case `scheme://host[:port]`).
    pub cors_allowed_origins: Option<Vec<String>>,
    /// The tenant's `iss` (see `Tenant::issuer` for the default); an `https://` or `http://` URL.
    pub issuer: Option<String>,
    /// The forward-auth door also hands the upstream a short-lived token signed with the tenant's
    /// asymmetric key (`X-Auth-Token`).
    pub forward_auth_upstream_token: bool,
    /// Failed sign-ins one client address may make in a minute (0: no limit).
    pub signin_failures_per_ip_per_minute: u32,
    /// The longest an account under attack from many addresses delays each sign-in (0: no tarpit).
    pub signin_tarpit_max_ms: u64,
    /// Tiledesk: answer "Wrong password" for unknown accounts too, instead of "User not found".
    pub signin_hide_unknown_account: bool,
    /// Tokens of an imported legacy key (no `kid`, see `token::legacy`) verify until this time
    /// (Unix seconds); `None`: no cut-off yet.
    pub legacy_tokens_until: Option<i64>,
    /// Where the tenant's mail goes out (`smtp://` or `smtps://`, credentials in the URL); stored
    /// sealed. `None`: mail is not configured, and the routes that send mail say so.
    pub smtp_url: Option<crate::secret::Secret<String>>,
    /// The `From` of the tenant's mail (`None`: `no-reply@` the issuer's host).
    pub mail_from: Option<String>,
    /// The link a reset mail carries, with `{code}` (and `{uid}`); `None`: the dialect's default.
    pub reset_url: Option<String>,
    /// The link a verification mail carries, with `{uid}` and `{code}`; `None`: the dialect's default.
    pub verify_url: Option<String>,
    /// How long a reset or verification code works.
    pub reset_code_ttl_seconds: i64,
    /// Mail-sending requests naming one email address per hour (0: no limit).
    pub mail_per_email_per_hour: u32,
    /// Mail-sending requests from one client address per hour (0: no limit).
    pub mail_per_ip_per_hour: u32,
    /// Audit events older than this many days are pruned in the background.
    pub audit_retention_days: u32,
    /// How new password hashes are made: argon2id (the default) or bcrypt (at `bcrypt_cost`).
    pub password_hash: PasswordHashAlg,
    /// argon2id's memory (KiB), iterations and lanes; OWASP's m=19456, t=2, p=1 by default.
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
}

/// `PASSWORD_HASH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordHashAlg {
    Argon2id,
    Bcrypt,
}

impl Settings {
    /// The tenant's hashing policy (before the operator's caps, which the hasher applies).
    pub fn hash_policy(&self) -> HashPolicy {
        match self.password_hash {
            PasswordHashAlg::Bcrypt => HashPolicy::Bcrypt {
                cost: self.bcrypt_cost,
            },
            PasswordHashAlg::Argon2id => HashPolicy::Argon2id {
                memory_kib: self.argon2_memory_kib,
                iterations: self.argon2_iterations,
                lanes: self.argon2_parallelism,
            },
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            api_user_create_scope: None,
            password_min_length: None,
            token_ttl_seconds: 2_592_000,
            bcrypt_cost: 10,
            tiledesk_issuer: "https://tiledesk.com".into(),
            tiledesk_audience: "https://tiledesk.com".into(),
            custom_token_require_exp: true,
            custom_token_max_age_seconds: 3600,
            signup_closed_covers: vec![SignupPath::Signup, SignupPath::CustomToken],
            signin_max_failures: 10,
            signin_lock_seconds: 300,
            signup_per_ip_per_minute: 100,
            cors_allowed_origins: None,
            issuer: None,
            forward_auth_upstream_token: false,
            signin_failures_per_ip_per_minute: 30,
            signin_tarpit_max_ms: 5_000,
            signin_hide_unknown_account: false,
            audit_retention_days: 90,
            password_hash: PasswordHashAlg::Argon2id,
            argon2_memory_kib: 19_456,
            argon2_iterations: 2,
            argon2_parallelism: 1,
            smtp_url: None,
            mail_from: None,
            reset_url: None,
            verify_url: None,
            reset_code_ttl_seconds: 3600,
            mail_per_email_per_hour: 5,
            mail_per_ip_per_hour: 20,
            legacy_tokens_until: None,
            tiledesk_prefixes: TILEDESK_DEFAULT_PREFIXES.to_vec(),
        }
    }
}

fn int_in<T>(key: &str, value: &str, lo: i64, hi: i64) -> Result<T, CoreError>
where
    T: TryFrom<i64>,
{
    value
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|n| (lo..=hi).contains(n))
        .and_then(|n| T::try_from(n).ok())
        .ok_or_else(|| {
            CoreError::invalid(
                "value",
                format!("{key} must be an integer from {lo} to {hi}, not '{value}'"),
            )
        })
}

fn boolean(key: &str, value: &str) -> Result<bool, CoreError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(CoreError::invalid(
            "value",
            format!("{key} must be true or false, not '{value}'"),
        )),
    }
}

fn url_like(key: &str, value: &str) -> Result<String, CoreError> {
    let v = value.trim();
    if v.is_empty() || v.len() > 512 || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(CoreError::invalid(
            "value",
            format!("{key} must be a non-empty string without spaces, up to 512 characters"),
        ));
    }
    Ok(v.to_owned())
}

/// The minimum where no dialect's rule applies (the command line): the stricter of the two
/// dialects' defaults, so an account made there can sign in through either.
pub const DEFAULT_PASSWORD_MIN_LENGTH: usize = 8;

/// Free-form configuration: Appmixer's `/config` "takes any key" (its docs' own example is
/// `WEBHOOK_FLOW_COMPONENT_ERROR`). Gatehouse stores such a key for the tenant's own tools and does
/// not interpret it; it must look like a configuration key (upper case, digits and `_`, so that a
/// typo such as `password_min_length` is refused rather than silently ignored), and its value
/// must fit a table cell.
pub const FREE_FORM_KEY_MAX: usize = 128;
pub const FREE_FORM_VALUE_MAX: usize = 4096;

/// True for a key that is not a setting but may be kept as free-form configuration.
pub fn is_free_form_key(key: &str) -> bool {
    !KEYS.contains(&key)
        && (1..=FREE_FORM_KEY_MAX).contains(&key.len())
        && key.starts_with(|c: char| c.is_ascii_uppercase())
        && key
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// `*`, or a comma list of origins (`https://app.example.com`, `http://localhost:4200`).
fn origins(key: &str, value: &str) -> Result<Option<Vec<String>>, CoreError> {
    if value.trim() == "*" {
        return Ok(None);
    }
    let bad = |o: &str| {
        CoreError::invalid(
            "value",
            format!("{key} must be * or a comma-separated list of origins such as https://app.example.com, not '{o}'"),
        )
    };
    let list = value
        .split(',')
        .map(|o| {
            let o = o.trim().trim_end_matches('/').to_ascii_lowercase();
            let host = o
                .strip_prefix("https://")
                .or_else(|| o.strip_prefix("http://"))
                .ok_or_else(|| bad(&o))?;
            let clean = !host.is_empty()
                && o.len() <= 512
                && !host.contains(['/', '?', '#', '@', '*'])
                && !host.chars().any(|c| c.is_whitespace() || c.is_control());
            if clean {
                Ok(o)
            } else {
                Err(bad(&o))
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(list))
}

/// A comma-separated list of `SignupPath` names; empty means a closed signup closes only
/// Appmixer's `POST /user`.
fn signup_paths(key: &str, value: &str) -> Result<Vec<SignupPath>, CoreError> {
    let mut paths = Vec::new();
    for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let path = SignupPath::parse(name).ok_or_else(|| {
            let known: Vec<&str> = SignupPath::ALL.iter().map(|p| p.as_str()).collect();
            CoreError::invalid(
                "value",
                format!("{key} takes a list of {}, not '{name}'", known.join(", ")),
            )
        })?;
        if !paths.contains(&path) {
            paths.push(path);
        }
    }
    Ok(paths)
}

/// A comma-separated list of `TILEDESK_PREFIX_CHOICES` (a trailing `/` is dropped), at least one.
fn tiledesk_prefixes(key: &str, value: &str) -> Result<Vec<&'static str>, CoreError> {
    let mut list = Vec::new();
    for raw in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let name = match raw.trim_end_matches('/') {
            "" => "/",
            p => p,
        };
        let known = TILEDESK_PREFIX_CHOICES
            .iter()
            .find(|c| c.eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                CoreError::invalid(
                    "value",
                    format!(
                        "{key} takes a list of {}, not '{raw}'",
                        TILEDESK_PREFIX_CHOICES.join(", ")
                    ),
                )
            })?;
        if !list.contains(known) {
            list.push(*known);
        }
    }
    if list.is_empty() {
        return Err(CoreError::invalid(
            "value",
            format!(
                "{key} needs at least one of {}",
                TILEDESK_PREFIX_CHOICES.join(", ")
            ),
        ));
    }
    Ok(list)
}

/// An RFC 3339 time (`2027-03-31T00:00:00Z`) as Unix seconds.
fn rfc3339(key: &str, value: &str) -> Result<i64, CoreError> {
    chrono::DateTime::parse_from_rfc3339(value.trim())
        .map(|t| t.timestamp())
        .map_err(|_| {
            CoreError::invalid(
                "value",
                format!(
                    "{key} must be an RFC 3339 time such as 2027-03-31T00:00:00Z, not '{value}'"
                ),
            )
        })
}

/// An issuer is a URL without query or fragment (OpenID Connect Discovery 1.0, section 2), so
/// that `<issuer>/.well-known/openid-configuration` names its discovery document.
fn issuer_url(key: &str, value: &str) -> Result<String, CoreError> {
    let v = url_like(key, value)?;
    let rest = v
        .strip_prefix("https://")
        .or_else(|| v.strip_prefix("http://"));
    match rest {
        Some(rest) if !rest.is_empty() && !rest.contains(['?', '#']) => {
            Ok(v.trim_end_matches('/').to_owned())
        }
        _ => Err(CoreError::invalid(
            "value",
            format!("{key} must be an https:// (or http://) URL without query or fragment"),
        )),
    }
}

impl Settings {
    /// Like `validate`, but a key that is not a setting is kept as free-form configuration when
    /// its name and value are fit to store (see `is_free_form_key`).
    pub fn validate_config(key: &str, value: &str) -> Result<String, CoreError> {
        if !is_free_form_key(key) {
            return Settings::validate(key, value);
        }
        if value.chars().count() > FREE_FORM_VALUE_MAX || value.contains('\0') {
            return Err(CoreError::invalid(
                "value",
                format!("{key} must be at most {FREE_FORM_VALUE_MAX} characters without NUL"),
            ));
        }
        Ok(value.to_owned())
    }

    /// The tenant's `PASSWORD_MIN_LENGTH` when set, else the caller's own default (Appmixer
    /// documents 5, Tiledesk's dashboard 8): the facade says which rule it speaks for.
    pub fn min_password_length(&self, dialect_default: usize) -> usize {
        self.password_min_length.unwrap_or(dialect_default)
    }

    /// Whether a browser page from `origin` may call this tenant's API (CORS).
    pub fn allows_origin(&self, origin: &str) -> bool {
        match &self.cors_allowed_origins {
            None => true,
            Some(list) => list.iter().any(|o| o.eq_ignore_ascii_case(origin.trim())),
        }
    }

    /// Checks one key/value pair and returns the value in the form it is stored in.
    pub fn validate(key: &str, value: &str) -> Result<String, CoreError> {
        crate::validated::storable("value", value)?;
        // A mail template is kept as written (its spaces and lines are its text); the mail
        // module reads it from the stored pairs, not from `Settings`.
        if crate::mail::templates::TEMPLATE_KEYS.contains(&key) {
            crate::mail::templates::validate(key, value)?;
            return Ok(value.to_owned());
        }
        let mut probe = Settings::default();
        probe.apply(key, value)?;
        Ok(match key {
            "CORS_ALLOWED_ORIGINS" => probe
                .cors_allowed_origins
                .map_or_else(|| "*".to_owned(), |list| list.join(",")),
            "API_USER_CREATE_SCOPE" => probe
                .api_user_create_scope
                .unwrap_or_default()
                .iter()
                .map(Scope::as_str)
                .collect::<Vec<_>>()
                .join(","),
            "SIGNUP_CLOSED_COVERS" => probe
                .signup_closed_covers
                .iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>()
                .join(","),
            "ISSUER" => probe.issuer.unwrap_or_default(),
            "TILEDESK_PREFIXES" => probe.tiledesk_prefixes.join(","),
            "PASSWORD_HASH" => value.trim().to_ascii_lowercase(),
            _ => value.trim().to_owned(),
        })
    }

    fn apply(&mut self, key: &str, value: &str) -> Result<(), CoreError> {
        match key {
            "API_USER_CREATE_SCOPE" => {
                let scopes = Scope::parse_list(value).map_err(|_| {
                    CoreError::invalid(
                        "value",
                        format!("{key} must be a comma-separated list of scopes, not '{value}'"),
                    )
                })?;
                if scopes.is_empty() {
                    return Err(CoreError::invalid(
                        "value",
                        format!("{key} needs at least one scope (unset it to open signup)"),
                    ));
                }
                self.api_user_create_scope = Some(scopes);
            }
            "PASSWORD_MIN_LENGTH" => self.password_min_length = Some(int_in(key, value, 1, 72)?),
            "TOKEN_TTL_SECONDS" => self.token_ttl_seconds = int_in(key, value, 1, 31_536_000)?,
            "BCRYPT_COST" => self.bcrypt_cost = int_in(key, value, 4, 31)?,
            "TILEDESK_ISSUER" => self.tiledesk_issuer = url_like(key, value)?,
            "TILEDESK_AUDIENCE" => self.tiledesk_audience = url_like(key, value)?,
            "CUSTOM_TOKEN_REQUIRE_EXP" => self.custom_token_require_exp = boolean(key, value)?,
            "CUSTOM_TOKEN_MAX_AGE_SECONDS" => {
                self.custom_token_max_age_seconds = int_in(key, value, 1, 31_536_000)?
            }
            "SIGNUP_CLOSED_COVERS" => self.signup_closed_covers = signup_paths(key, value)?,
            "SIGNIN_MAX_FAILURES" => self.signin_max_failures = int_in(key, value, 1, 1_000_000)?,
            "SIGNIN_LOCK_SECONDS" => self.signin_lock_seconds = int_in(key, value, 1, 31_536_000)?,
            "SIGNUP_PER_IP_PER_MINUTE" => {
                self.signup_per_ip_per_minute = int_in(key, value, 0, 100_000)?
            }
            "CORS_ALLOWED_ORIGINS" => self.cors_allowed_origins = origins(key, value)?,
            "ISSUER" => self.issuer = Some(issuer_url(key, value)?),
            "FORWARD_AUTH_UPSTREAM_TOKEN" => {
                self.forward_auth_upstream_token = boolean(key, value)?
            }
            "SIGNIN_FAILURES_PER_IP_PER_MINUTE" => {
                self.signin_failures_per_ip_per_minute = int_in(key, value, 0, 100_000)?
            }
            "SIGNIN_TARPIT_MAX_MS" => self.signin_tarpit_max_ms = int_in(key, value, 0, 60_000)?,
            "SIGNIN_HIDE_UNKNOWN_ACCOUNT" => {
                self.signin_hide_unknown_account = boolean(key, value)?
            }
            "AUDIT_RETENTION_DAYS" => self.audit_retention_days = int_in(key, value, 1, 3650)?,
            "PASSWORD_HASH" => {
                self.password_hash = match value.trim().to_ascii_lowercase().as_str() {
                    "argon2id" => PasswordHashAlg::Argon2id,
                    "bcrypt" => PasswordHashAlg::Bcrypt,
                    _ => {
                        return Err(CoreError::invalid(
                            "value",
                            format!("{key} must be argon2id or bcrypt, not '{value}'"),
                        ))
                    }
                }
            }
            "ARGON2_MEMORY_KIB" => self.argon2_memory_kib = int_in(key, value, 1024, 4_194_304)?,
            "ARGON2_ITERATIONS" => self.argon2_iterations = int_in(key, value, 1, 100)?,
            "ARGON2_PARALLELISM" => self.argon2_parallelism = int_in(key, value, 1, 16)?,
            "SMTP_URL" => self.smtp_url = Some(crate::mail::settings::smtp_url(key, value)?),
            "MAIL_FROM" => self.mail_from = Some(crate::mail::settings::mailbox(key, value)?),
            "RESET_URL" => self.reset_url = Some(crate::mail::settings::link(key, value)?),
            "VERIFY_URL" => self.verify_url = Some(crate::mail::settings::link(key, value)?),
            "RESET_CODE_TTL_SECONDS" => {
                self.reset_code_ttl_seconds = int_in(key, value, 60, 604_800)?
            }
            "MAIL_PER_EMAIL_PER_HOUR" => {
                self.mail_per_email_per_hour = int_in(key, value, 0, 100_000)?
            }
            "MAIL_PER_IP_PER_HOUR" => self.mail_per_ip_per_hour = int_in(key, value, 0, 100_000)?,
            "LEGACY_TOKENS_UNTIL" => self.legacy_tokens_until = Some(rfc3339(key, value)?),
            // Checked by `validate` (a trial render is too costly for every refresh of a tenant).
            k if crate::mail::templates::TEMPLATE_KEYS.contains(&k) => {}
            "TILEDESK_PREFIXES" => self.tiledesk_prefixes = tiledesk_prefixes(key, value)?,
            _ => {
                return Err(CoreError::invalid(
                    "key",
                    format!("unknown setting '{key}' (known: {})", KEYS.join(", ")),
                ))
            }
        }
        Ok(())
    }

    /// The value `key` has in effect, as a person reads it: what is stored, normalised, or the
    /// default. A default that depends on more than the settings (the issuer, the mail sender,
    /// each front end's minimum or link) is described; a secret (`SMTP_URL`) is never shown.
    /// `None` for a key that is not a setting.
    pub fn effective(&self, key: &str) -> Option<String> {
        let list = |v: &[String]| v.join(",");
        let or = |v: &Option<String>, default: &str| v.clone().unwrap_or_else(|| default.into());
        Some(match key {
            "API_USER_CREATE_SCOPE" => match &self.api_user_create_scope {
                None => "(none: anyone may sign up)".into(),
                Some(scopes) => scopes
                    .iter()
                    .map(Scope::as_str)
                    .collect::<Vec<_>>()
                    .join(","),
            },
            "PASSWORD_MIN_LENGTH" => match self.password_min_length {
                Some(n) => n.to_string(),
                None => format!(
                    "each front end's own (Appmixer 5, Tiledesk 8, CLI and operator {DEFAULT_PASSWORD_MIN_LENGTH})"
                ),
            },
            "TOKEN_TTL_SECONDS" => self.token_ttl_seconds.to_string(),
            "BCRYPT_COST" => self.bcrypt_cost.to_string(),
            "TILEDESK_ISSUER" => self.tiledesk_issuer.clone(),
            "TILEDESK_AUDIENCE" => self.tiledesk_audience.clone(),
            "CUSTOM_TOKEN_REQUIRE_EXP" => self.custom_token_require_exp.to_string(),
            "CUSTOM_TOKEN_MAX_AGE_SECONDS" => self.custom_token_max_age_seconds.to_string(),
            "SIGNUP_CLOSED_COVERS" => self
                .signup_closed_covers
                .iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>()
                .join(","),
            "SIGNIN_MAX_FAILURES" => self.signin_max_failures.to_string(),
            "SIGNIN_LOCK_SECONDS" => self.signin_lock_seconds.to_string(),
            "SIGNUP_PER_IP_PER_MINUTE" => self.signup_per_ip_per_minute.to_string(),
            "CORS_ALLOWED_ORIGINS" => self
                .cors_allowed_origins
                .as_deref()
                .map_or_else(|| "*".into(), list),
            "ISSUER" => or(&self.issuer, "derived from the tenant's first host"),
            "FORWARD_AUTH_UPSTREAM_TOKEN" => self.forward_auth_upstream_token.to_string(),
            "SIGNIN_FAILURES_PER_IP_PER_MINUTE" => {
                self.signin_failures_per_ip_per_minute.to_string()
            }
            "SIGNIN_TARPIT_MAX_MS" => self.signin_tarpit_max_ms.to_string(),
            "SIGNIN_HIDE_UNKNOWN_ACCOUNT" => self.signin_hide_unknown_account.to_string(),
            "AUDIT_RETENTION_DAYS" => self.audit_retention_days.to_string(),
            "PASSWORD_HASH" => match self.password_hash {
                PasswordHashAlg::Argon2id => "argon2id".into(),
                PasswordHashAlg::Bcrypt => "bcrypt".into(),
            },
            "ARGON2_MEMORY_KIB" => self.argon2_memory_kib.to_string(),
            "ARGON2_ITERATIONS" => self.argon2_iterations.to_string(),
            "ARGON2_PARALLELISM" => self.argon2_parallelism.to_string(),
            "SMTP_URL" => match self.smtp_url {
                Some(_) => "(set; sealed, not shown)".into(),
                None => "(none: mail is not configured)".into(),
            },
            "MAIL_FROM" => or(&self.mail_from, "no-reply@ the tenant's host"),
            "RESET_URL" => or(&self.reset_url, "each front end's own link"),
            "VERIFY_URL" => or(&self.verify_url, "each front end's own link"),
            "RESET_CODE_TTL_SECONDS" => self.reset_code_ttl_seconds.to_string(),
            "MAIL_PER_EMAIL_PER_HOUR" => self.mail_per_email_per_hour.to_string(),
            "MAIL_PER_IP_PER_HOUR" => self.mail_per_ip_per_hour.to_string(),
            "LEGACY_TOKENS_UNTIL" => match self.legacy_tokens_until {
                Some(secs) => chrono::DateTime::from_timestamp(secs, 0)
                    .map_or_else(|| secs.to_string(), |t| t.to_rfc3339()),
                None => "(none: no cut-off)".into(),
            },
            "TILEDESK_PREFIXES" => self.tiledesk_prefixes.join(","),
            // A template is stored text, not a parsed setting: the console shows a stored one.
            k if crate::mail::templates::TEMPLATE_KEYS.contains(&k) => {
                "(the built-in template)".into()
            }
            _ => return None,
        })
    }

    /// Settings from stored pairs. Stored pairs were validated on the way in; one that no longer
    /// parses (say, a key from a newer version) is logged and ignored rather than taking a tenant down.
    pub fn from_stored(pairs: &BTreeMap<String, String>) -> Settings {
        let mut settings = Settings::default();
        for (key, value) in pairs.iter().filter(|(k, _)| !is_free_form_key(k)) {
            if let Err(e) = settings.apply(key, value) {
                log::warn!("ignoring stored setting {key}: {e}");
            }
        }
        settings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_spec() {
        let s = Settings::default();
        assert_eq!(s.password_min_length, None);
        assert_eq!(s.min_password_length(5), 5);
        assert_eq!(s.min_password_length(DEFAULT_PASSWORD_MIN_LENGTH), 8);
        assert_eq!(s.token_ttl_seconds, 30 * 24 * 3600);
        assert_eq!(s.bcrypt_cost, 10);
        assert_eq!(s.signin_max_failures, 10);
        assert_eq!(s.signin_lock_seconds, 300);
        assert_eq!(s.signup_per_ip_per_minute, 100);
        // Issue 8.7: 60 failures a minute from one address must meet a 429.
        assert!((1..60).contains(&s.signin_failures_per_ip_per_minute));
        assert_eq!(s.signin_tarpit_max_ms, 5_000);
        assert!(!s.signin_hide_unknown_account);
        // New tenants hash with argon2id at OWASP's parameters (issue 13.5).
        assert_eq!(s.hash_policy(), HashPolicy::ARGON2_OWASP);
        assert_eq!(s.audit_retention_days, 90);
        assert_eq!(
            Settings::validate("PASSWORD_HASH", " BCrypt ").unwrap(),
            "bcrypt"
        );
        assert!(s.api_user_create_scope.is_none());
        assert!(s.issuer.is_none());
        assert!(!s.forward_auth_upstream_token);
        assert!(s.custom_token_require_exp);
        assert_eq!(s.custom_token_max_age_seconds, 3600);
        assert_eq!(
            s.signup_closed_covers,
            vec![SignupPath::Signup, SignupPath::CustomToken]
        );
    }

    #[test]
    fn signup_closed_covers_takes_known_paths_only() {
        assert_eq!(
            Settings::validate("SIGNUP_CLOSED_COVERS", " anonymous, signup,anonymous ").unwrap(),
            "anonymous,signup"
        );
        assert_eq!(Settings::validate("SIGNUP_CLOSED_COVERS", "").unwrap(), "");
        assert!(Settings::validate("SIGNUP_CLOSED_COVERS", "signup,importer").is_err());
        assert!(Settings::validate("CUSTOM_TOKEN_MAX_AGE_SECONDS", "0").is_err());
        assert!(Settings::validate("CUSTOM_TOKEN_MAX_AGE_SECONDS", "120").is_ok());
    }

    #[test]
    fn validation_rejects_unknown_keys_and_bad_values() {
        assert!(Settings::validate("NOPE", "1").is_err());
        for (k, bad) in [
            ("PASSWORD_MIN_LENGTH", "0"),
            ("PASSWORD_MIN_LENGTH", "73"),
            ("PASSWORD_MIN_LENGTH", "eight"),
            ("TOKEN_TTL_SECONDS", "31536001"),
            ("BCRYPT_COST", "3"),
            ("BCRYPT_COST", "32"),
            ("CUSTOM_TOKEN_REQUIRE_EXP", "maybe"),
            ("SIGNUP_PER_IP_PER_MINUTE", "-1"),
            ("API_USER_CREATE_SCOPE", ""),
            ("API_USER_CREATE_SCOPE", "ad min"),
            ("TILEDESK_ISSUER", "has space"),
            ("ISSUER", "acme.example.com"),
            ("ISSUER", "https://"),
            ("ISSUER", "https://acme.example.com/?x=1"),
            ("FORWARD_AUTH_UPSTREAM_TOKEN", "yes please"),
        ] {
            assert!(Settings::validate(k, bad).is_err(), "{k}={bad} accepted");
        }
        assert_eq!(
            Settings::validate("API_USER_CREATE_SCOPE", "admin, ops").unwrap(),
            "admin,ops"
        );
        assert_eq!(Settings::validate("BCRYPT_COST", " 4 ").unwrap(), "4");
        assert_eq!(
            Settings::validate("ISSUER", "https://id.acme.example/").unwrap(),
            "https://id.acme.example"
        );
    }

    #[test]
    fn config_keeps_unknown_keys_free_form_but_still_checks_known_ones() {
        assert_eq!(
            Settings::validate_config("WEBHOOK_FLOW_COMPONENT_ERROR", "https://x.test/hook")
                .unwrap(),
            "https://x.test/hook"
        );
        assert!(Settings::validate("WEBHOOK_FLOW_COMPONENT_ERROR", "x").is_err());
        assert!(Settings::validate_config("PASSWORD_MIN_LENGTH", "0").is_err());
        for bad_key in ["password_min_length", "9LIVES", "A-B", "", &"K".repeat(129)] {
            assert!(!is_free_form_key(bad_key), "{bad_key}");
            assert!(
                Settings::validate_config(bad_key, "1").is_err(),
                "{bad_key}"
            );
        }
        assert!(Settings::validate_config("K", &"v".repeat(4097)).is_err());
        assert!(Settings::validate_config("K", "a\0b").is_err());
    }

    #[test]
    fn ranges_are_inclusive_at_both_ends() {
        for (k, lo, hi) in [
            ("PASSWORD_MIN_LENGTH", "1", "72"),
            ("TOKEN_TTL_SECONDS", "1", "31536000"),
            ("BCRYPT_COST", "4", "31"),
            ("SIGNUP_PER_IP_PER_MINUTE", "0", "100000"),
            ("SIGNIN_FAILURES_PER_IP_PER_MINUTE", "0", "100000"),
            ("SIGNIN_TARPIT_MAX_MS", "0", "60000"),
            ("AUDIT_RETENTION_DAYS", "1", "3650"),
            ("ARGON2_MEMORY_KIB", "1024", "4194304"),
            ("ARGON2_ITERATIONS", "1", "100"),
            ("ARGON2_PARALLELISM", "1", "16"),
        ] {
            assert!(Settings::validate(k, lo).is_ok(), "{k}={lo}");
            assert!(Settings::validate(k, hi).is_ok(), "{k}={hi}");
        }
        for (k, out) in [
            ("TOKEN_TTL_SECONDS", "0"),
            ("SIGNUP_PER_IP_PER_MINUTE", "100001"),
            ("SIGNIN_MAX_FAILURES", "0"),
            ("SIGNIN_LOCK_SECONDS", "0"),
            ("SIGNIN_FAILURES_PER_IP_PER_MINUTE", "-1"),
            ("SIGNIN_TARPIT_MAX_MS", "60001"),
            ("SIGNIN_HIDE_UNKNOWN_ACCOUNT", "yes"),
            ("AUDIT_RETENTION_DAYS", "0"),
            ("AUDIT_RETENTION_DAYS", "3651"),
            ("ARGON2_MEMORY_KIB", "1023"),
            ("ARGON2_ITERATIONS", "0"),
            ("ARGON2_PARALLELISM", "17"),
            ("PASSWORD_HASH", "md5"),
        ] {
            assert!(Settings::validate(k, out).is_err(), "{k}={out} accepted");
        }
        assert_eq!(
            Settings::validate("CUSTOM_TOKEN_REQUIRE_EXP", "TRUE").unwrap(),
            "TRUE"
        );
    }

    #[test]
    fn the_legacy_token_cut_off_is_an_rfc3339_time() {
        assert_eq!(Settings::default().legacy_tokens_until, None);
        let mut pairs = BTreeMap::new();
        pairs.insert(
            "LEGACY_TOKENS_UNTIL".to_string(),
            Settings::validate("LEGACY_TOKENS_UNTIL", " 2027-01-01T01:00:00+01:00 ").unwrap(),
        );
        assert_eq!(
            Settings::from_stored(&pairs).legacy_tokens_until,
            Some(1_798_761_600)
        );
        for bad in ["", "tomorrow", "2027-01-01", "1798761600"] {
            assert!(
                Settings::validate("LEGACY_TOKENS_UNTIL", bad).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn cors_origins_are_star_or_a_list_of_origins() {
        assert!(Settings::default().allows_origin("https://anything.example"));
        assert_eq!(
            Settings::validate("CORS_ALLOWED_ORIGINS", " * ").unwrap(),
            "*"
        );
        assert_eq!(
            Settings::validate(
                "CORS_ALLOWED_ORIGINS",
                "https://App.example.com/, http://localhost:4200"
            )
            .unwrap(),
            "https://app.example.com,http://localhost:4200"
        );
        for bad in [
            "",
            "app.example.com",
            "https://a.io/path",
            "https://*.a.io",
            "*,https://a.io",
        ] {
            assert!(
                Settings::validate("CORS_ALLOWED_ORIGINS", bad).is_err(),
                "{bad:?} accepted"
            );
        }
        let mut pairs = BTreeMap::new();
        pairs.insert(
            "CORS_ALLOWED_ORIGINS".to_string(),
            "https://app.example.com".to_string(),
        );
        let s = Settings::from_stored(&pairs);
        assert!(s.allows_origin("https://APP.example.com"));
        assert!(!s.allows_origin("https://evil.example.com"));
    }

    #[test]
    fn every_setting_has_an_effective_value_and_secrets_stay_hidden() {
        let defaults = Settings::default();
        for key in KEYS {
            assert!(
                defaults.effective(key).is_some(),
                "{key} has no effective value"
            );
        }
        assert_eq!(defaults.effective("NOT_A_SETTING"), None);
        assert_eq!(defaults.effective("TOKEN_TTL_SECONDS").unwrap(), "2592000");
        assert_eq!(defaults.effective("PASSWORD_HASH").unwrap(), "argon2id");
        assert_eq!(defaults.effective("CORS_ALLOWED_ORIGINS").unwrap(), "*");
        assert_eq!(
            defaults.effective("SIGNUP_CLOSED_COVERS").unwrap(),
            "signup,custom_token"
        );
        let mut pairs = BTreeMap::new();
        pairs.insert("TOKEN_TTL_SECONDS".to_string(), "60".to_string());
        pairs.insert(
            "SMTP_URL".to_string(),
            "smtp://user:hunter2@mail.test:25".to_string(),
        );
        pairs.insert(
            "LEGACY_TOKENS_UNTIL".to_string(),
            "2027-01-01T00:00:00Z".to_string(),
        );
        let s = Settings::from_stored(&pairs);
        assert_eq!(s.effective("TOKEN_TTL_SECONDS").unwrap(), "60");
        let smtp = s.effective("SMTP_URL").unwrap();
        assert!(!smtp.contains("hunter2") && smtp.contains("set"), "{smtp}");
        assert_eq!(
            s.effective("LEGACY_TOKENS_UNTIL").unwrap(),
            "2027-01-01T00:00:00+00:00"
        );
        assert_eq!(
            SetBy::parse(SetBy::TenantAdmin.as_str()),
            Some(SetBy::TenantAdmin)
        );
        assert_eq!(
            SetBy::parse(SetBy::Operator.as_str()),
            Some(SetBy::Operator)
        );
        assert_eq!(SetBy::parse("someone"), None);
    }

    #[test]
    fn stored_pairs_become_typed_settings() {
        let mut pairs = BTreeMap::new();
        pairs.insert("API_USER_CREATE_SCOPE".to_string(), "admin".to_string());
        pairs.insert("BCRYPT_COST".to_string(), "4".to_string());
        pairs.insert("FROM_THE_FUTURE".to_string(), "x".to_string());
        let s = Settings::from_stored(&pairs);
        assert_eq!(s.bcrypt_cost, 4);
        assert!(s.password_min_length.is_none());
        pairs.insert("PASSWORD_MIN_LENGTH".to_string(), "12".to_string());
        let s = Settings::from_stored(&pairs);
        // A tenant's minimum overrides every dialect's default, up or down.
        assert_eq!(
            (s.min_password_length(5), s.min_password_length(8)),
            (12, 12)
        );
        assert_eq!(s.api_user_create_scope, Some(vec![Scope::admin()]));
    }
}
