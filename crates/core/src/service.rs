//! `Core`: the one object the facades and the binary call. It owns the database pool, the hashing
//! pool, the clock, the tenant directory and the rate limiter. Users and projects add their own
//! `impl Core` blocks in `users.rs` and `projects.rs`.

use crate::audit::{kind, Record};
use crate::clock::{SharedClock, SystemClock};
use crate::error::{AuthFailure, CoreError, CoreResult};
use crate::hash_pool::HashingLimits;
use crate::metrics::CoreMetrics;
use crate::password::{HashPolicy, Hasher};
use crate::ratelimit::RateLimiter;
use crate::sealed::Sealer;
use crate::settings::SetBy;
use crate::signup_policy::{self, Creator, Signup, SignupPath};
use crate::storage::{Access, AnyConnection, Db};
use crate::tenants::{self, HostPattern, Tenant, TenantDirectory, TenantSpec};
use crate::token::{self, Claims, KeyAlg, SigningKey};
use crate::validated::TenantSlug;
use crate::view::change::{self, Change};
use crate::view::View;
use std::net::IpAddr;
use std::sync::Arc;

/// The settings that make a tenant's `HashPolicy`: a change prepares its dummy hash.
const HASH_POLICY_KEYS: &[&str] = &[
    "BCRYPT_COST",
    "PASSWORD_HASH",
    "ARGON2_MEMORY_KIB",
    "ARGON2_ITERATIONS",
    "ARGON2_PARALLELISM",
];

/// The `Forbidden` reason of a closed signup.
pub const SIGNUP_CLOSED: &str = "self-service account creation is closed on this tenant";

pub struct CoreOptions {
    pub host_patterns: Vec<String>,
    /// The hashing pool: threads, each tenant's share, the queue deadline and the cost cap.
    pub hashing: HashingLimits,
    pub clock: SharedClock,
    pub registry: prometheus::Registry,
    /// Seals signing keys and project secrets at rest (see `sealed`, `master_key`).
    pub sealer: Sealer,
    /// The mail sender's pace (see `mail`).
    pub mail: crate::mail::MailOptions,
    /// Where the node may connect on a tenant's behalf (see `outbound`).
    pub outbound: crate::outbound::OutboundOptions,
}

impl Default for CoreOptions {
    fn default() -> Self {
        CoreOptions {
            host_patterns: Vec::new(),
            hashing: HashingLimits::default(),
            clock: Arc::new(SystemClock),
            registry: prometheus::Registry::new(),
            sealer: Sealer::ephemeral(),
            mail: crate::mail::MailOptions::default(),
            outbound: crate::outbound::OutboundOptions::default(),
        }
    }
}

pub struct Core {
    pub(crate) db: Db,
    pub(crate) hasher: Hasher,
    pub(crate) clock: SharedClock,
    pub(crate) directory: TenantDirectory,
    pub(crate) limiter: RateLimiter,
    pub(crate) metrics: CoreMetrics,
    /// What token checks read instead of the database (users, revocations); see `view`.
    pub(crate) view: View,
    /// Tokens whose signatures this node checked lately (see `token::VerifiedTokens`).
    pub(crate) verified: token::VerifiedTokens,
    pub(crate) sealer: Arc<Sealer>,
    /// The audit log's batching writer (see `audit`).
    pub(crate) auditor: crate::audit::AuditWriter,
    /// Mail: the sender's pace and its metrics (see `mail`).
    pub(crate) mail: crate::mail::Mailer,
    /// The operator's rule for every outbound connection (see `outbound`).
    pub(crate) outbound: crate::outbound::Guard,
    /// Serialises reloads: an older reload finishing after a newer one would put stale tenants
    /// back (say, the periodic refresh racing the refresh that follows a setting change).
    refresh_lock: tokio::sync::Mutex<()>,
}

impl Core {
    pub fn new(db: Db, options: CoreOptions) -> CoreResult<Core> {
        let patterns = options
            .host_patterns
            .iter()
            .map(|p| HostPattern::parse(p))
            .collect::<CoreResult<Vec<_>>>()?;
        let metrics = CoreMetrics::new(&options.registry);
        let db_for_audit = db.clone();
        Ok(Core {
            hasher: Hasher::new(options.hashing, metrics.clone())?,
            db,
            view: View::new(options.clock.clone(), &options.registry),
            verified: token::VerifiedTokens::new(&options.registry),
            clock: options.clock,
            directory: TenantDirectory::new(patterns),
            limiter: RateLimiter::default(),
            metrics,
            sealer: Arc::new(options.sealer),
            auditor: crate::audit::AuditWriter::start(db_for_audit, &options.registry),
            mail: crate::mail::Mailer::new(options.mail, &options.registry),
            outbound: crate::outbound::Guard::new(&options.outbound)?,
            refresh_lock: tokio::sync::Mutex::new(()),
        })
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn view(&self) -> &View {
        &self.view
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    // ---- tenants ----

    /// Reloads every tenant from the database into the directory.
    pub async fn refresh_tenants(&self) -> CoreResult<()> {
        let _one_at_a_time = self.refresh_lock.lock().await;
        let sealer = self.sealer.clone();
        let all = self
            .db
            .run_system(move |c| tenants::load_all(c, &sealer))
            .await?;
        self.directory.replace(all);
        Ok(())
    }

    pub fn resolve_host(&self, host: &str) -> Option<Arc<Tenant>> {
        self.directory.resolve(host)
    }

    pub fn tenant_by_slug(&self, slug: &str) -> Option<Arc<Tenant>> {
        self.directory.by_slug(slug)
    }

    /// The current copy of a tenant (after a change, the caller's copy is stale).
    pub fn tenant(&self, id: &str) -> Option<Arc<Tenant>> {
        self.directory.by_id(id)
    }

    pub fn tenants(&self) -> Vec<Arc<Tenant>> {
        self.directory.all()
    }

    /// Looks a tenant up in the database (not the cache): what the CLI needs.
    pub async fn require_tenant(&self, slug: &TenantSlug) -> CoreResult<Arc<Tenant>> {
        self.refresh_tenants().await?;
        self.directory
            .by_slug(slug.as_str())
            .ok_or(CoreError::NotFound("tenant"))
    }

    pub async fn create_tenant(&self, spec: TenantSpec) -> CoreResult<Arc<Tenant>> {
        let spec = spec.validated()?;
        self.check_settings_caps(&spec.settings)?;
        self.vet_outbound_settings(&spec.settings).await?;
        let now = self.now_ms();
        let id = crate::ids::object_id(now / 1000);
        let slug = spec.slug.clone();
        let key = self.generate_key(spec.alg).await?;
        let sealer = self.sealer.clone();
        // Across tenants: a host the spec names may be another tenant's.
        self.feed_write(Access::System, &id.clone(), move |c| {
            tenants::create(c, &sealer, &spec, id, &key, now)
        })
        .await?;
        self.require_tenant(&slug).await
    }

    /// Creates the tenant if missing, else brings its apis, hosts and settings in line with `spec`.
    pub async fn ensure_tenant(&self, spec: TenantSpec) -> CoreResult<Arc<Tenant>> {
        let spec = spec.validated()?;
        self.check_settings_caps(&spec.settings)?;
        self.vet_outbound_settings(&spec.settings).await?;
        let now = self.now_ms();
        let slug = spec.slug.clone();
        let id = crate::ids::object_id(now / 1000);
        let key = self.generate_key(spec.alg).await?;
        let sealer = self.sealer.clone();
        // Across tenants: a host the spec names may be another tenant's.
        self.db
            .run_system(move |c| match tenants::tenant_id_of(c, &spec.slug)? {
                Some(existing) => tenants::update(c, &sealer, &existing, &spec, now),
                None => tenants::create(c, &sealer, &spec, id, &key, now).map(|_| ()),
            })
            .await?;
        self.require_tenant(&slug).await
    }

    /// Prepares the dummy hashes for every tenant's hash policy (see `Hasher::prewarm`) in the
    /// background: start-up and setting changes never wait on a tenant's cost. Until a dummy
    /// exists, an unknown-account sign-in makes it (one extra hash, once).
    pub fn prewarm_hashing(&self) {
        let mut policies: Vec<HashPolicy> = Vec::new();
        for t in self.tenants() {
            let policy = self.hasher.effective(t.settings.hash_policy());
            if !policies.contains(&policy) && !self.hasher.has_dummy(policy) {
                policies.push(policy);
            }
        }
        if policies.is_empty() {
            return;
        }
        let hasher = self.hasher.clone();
        tokio::spawn(async move {
            for policy in policies {
                if let Err(e) = hasher.prewarm(policy).await {
                    log::warn!("preparing the dummy hash for {policy:?} failed: {e}");
                }
            }
        });
    }

    /// Whether every tenant's dummy hash is ready (the background prewarm has finished).
    pub fn hashing_prewarmed(&self) -> bool {
        self.tenants()
            .iter()
            .all(|t| self.hasher.has_dummy(t.settings.hash_policy()))
    }

    /// Hashing jobs waiting for a thread now, every tenant together.
    pub fn hashing_queue_depth(&self) -> i64 {
        self.metrics.hash_queue_depth.get()
    }

    /// The operator's caps on tenant settings: `BCRYPT_COST` at most `[hashing] max_cost`.
    fn check_settings_caps(
        &self,
        settings: &std::collections::BTreeMap<String, String>,
    ) -> CoreResult<()> {
        settings
            .iter()
            .try_for_each(|(key, value)| self.check_setting_cap(key, value))
    }

    fn check_setting_cap(&self, key: &str, value: &str) -> CoreResult<()> {
        let limits = self.hasher.limits();
        let over = |cap: u32| value.trim().parse::<u32>().is_ok_and(|n| n > cap);
        let capped = match key {
            "ARGON2_MEMORY_KIB" => Some((limits.max_argon2_memory_kib, "max_argon2_memory_kib")),
            "ARGON2_ITERATIONS" => Some((limits.max_argon2_iterations, "max_argon2_iterations")),
            _ => None,
        };
        if let Some((cap, name)) = capped.filter(|(cap, _)| over(*cap)) {
            return Err(CoreError::invalid(
                "value",
                format!(
                    "{key} must be at most {cap} on this server (the operator's [hashing] {name}), not '{value}'"
                ),
            ));
        }
        let max = self.hasher.max_cost();
        if key == "BCRYPT_COST" && value.trim().parse::<u32>().is_ok_and(|cost| cost > max) {
            return Err(CoreError::invalid(
                "value",
                format!(
                    "BCRYPT_COST must be at most {max} on this server (the operator's [hashing] max_cost), not '{value}'"
                ),
            ));
        }
        Ok(())
    }

    /// Validates and stores one setting; this node serves it at once, others when the change feed
    /// reaches them (NOTIFY on PostgreSQL, else within `tenants.refresh_seconds`).
    pub async fn set_setting(&self, tenant: &Tenant, key: &str, value: &str) -> CoreResult<()> {
        self.set_setting_by(tenant, key, value, SetBy::Operator)
            .await
    }

    /// `set_setting`, recording who set it (`set_setting` is an operator's).
    pub async fn set_setting_by(
        &self,
        tenant: &Tenant,
        key: &str,
        value: &str,
        by: SetBy,
    ) -> CoreResult<()> {
        let mut value = crate::settings::Settings::validate(key, value)?;
        self.check_setting_cap(key, &value)?;
        self.vet_outbound_setting(key, &value).await?;
        if key == "TILEDESK_PREFIXES"
            && value.split(',').any(|p| p == "/")
            && tenant.enables(crate::Api::Appmixer)
        {
            // Both dialects serve `/users` at the root: one path cannot mean two things.
            return Err(CoreError::invalid(
                "value",
                "TILEDESK_PREFIXES may include the root (/) only for a tenant whose Appmixer API is off (both serve /users there)",
            ));
        }
        if crate::sealed::is_sealed_setting(key) {
            value = self
                .sealer
                .seal(&value, &crate::sealed::setting_aad(&tenant.id, key));
        }
        let (id, name, now) = (tenant.id.clone(), key.to_owned(), self.now_ms());
        self.tenant_write(&tenant.id, move |c| {
            tenants::put_setting(c, &id, &name, &value, now, by)
        })
        .await?;
        self.audit_setting(tenant, key, "set");
        if HASH_POLICY_KEYS.contains(&key) {
            self.prewarm_hashing();
        }
        Ok(())
    }

    /// A setting's change on record: its name only, never its value (free-form configuration
    /// may hold a webhook's credentials).
    fn audit_setting(&self, tenant: &Tenant, key: &str, what: &str) {
        let key: String = key.chars().take(128).collect();
        self.audit(
            tenant,
            Record::success(kind::SETTING_CHANGED).detail(format!("{key} {what}")),
        );
    }

    /// Validates and stores one configuration key: a setting as `set_setting` does, or any other
    /// well-formed key as free-form configuration (Appmixer's `/config`).
    pub async fn set_config(&self, tenant: &Tenant, key: &str, value: &str) -> CoreResult<()> {
        self.set_config_by(tenant, key, value, SetBy::Operator)
            .await
    }

    /// `set_config`, recording who set it (`set_config` is an operator's).
    pub async fn set_config_by(
        &self,
        tenant: &Tenant,
        key: &str,
        value: &str,
        by: SetBy,
    ) -> CoreResult<()> {
        if !crate::settings::is_free_form_key(key) {
            return self.set_setting_by(tenant, key, value, by).await;
        }
        let value = crate::settings::Settings::validate_config(key, value)?;
        let (id, name, now) = (tenant.id.clone(), key.to_owned(), self.now_ms());
        self.db
            .run_tenant(&tenant.id, move |c| {
                tenants::put_setting(c, &id, &name, &value, now, by)
            })
            .await?;
        self.audit_setting(tenant, key, "set");
        self.refresh_tenants().await
    }

    /// Who set each of the tenant's stored settings (and free-form keys) last; a key that is not
    /// stored is at its default. `None`: stored before the source was recorded.
    pub async fn setting_sources(
        &self,
        tenant: &Tenant,
    ) -> CoreResult<std::collections::BTreeMap<String, Option<SetBy>>> {
        let id = tenant.id.clone();
        self.db
            .run_tenant(&tenant.id, move |c| tenants::setting_sources(c, &id))
            .await
    }

    /// Removes a setting or a free-form key; unsetting one that is not set is not an error.
    pub async fn unset_config(&self, tenant: &Tenant, key: &str) -> CoreResult<()> {
        if !crate::settings::is_free_form_key(key) {
            return self.unset_setting(tenant, key).await;
        }
        let (id, name) = (tenant.id.clone(), key.to_owned());
        self.db
            .run_tenant(&tenant.id, move |c| tenants::delete_setting(c, &id, &name))
            .await?;
        self.audit_setting(tenant, key, "unset");
        self.refresh_tenants().await
    }

    /// Removes a setting (back to its default). Unknown keys are an error; unsetting an unset key is not.
    pub async fn unset_setting(&self, tenant: &Tenant, key: &str) -> CoreResult<()> {
        if !crate::settings::KEYS.contains(&key) {
            return Err(CoreError::invalid(
                "key",
                format!(
                    "unknown setting '{key}' (known: {})",
                    crate::settings::KEYS.join(", ")
                ),
            ));
        }
        let (id, name) = (tenant.id.clone(), key.to_owned());
        self.tenant_write(&tenant.id, move |c| tenants::delete_setting(c, &id, &name))
            .await?;
        self.audit_setting(tenant, key, "unset");
        Ok(())
    }

    /// A fresh key of `alg`, made on the blocking pool (an RSA key takes a while).
    async fn generate_key(&self, alg: KeyAlg) -> CoreResult<SigningKey> {
        let now = self.now_ms();
        tokio::task::spawn_blocking(move || SigningKey::generate_alg(alg, now, now))
            .await
            .map_err(|e| CoreError::Internal(format!("key generation failed: {e}")))?
    }

    /// Adds a new signing key of `alg`, which signs `lead_secs` from now (published in the JWKS
    /// meanwhile, if asymmetric); older keys keep verifying until retired. A move from a published
    /// (asymmetric) key to HS256 is refused: see `rotate_key_with`.
    pub async fn rotate_key(
        &self,
        tenant: &Tenant,
        alg: KeyAlg,
        lead_secs: u64,
    ) -> CoreResult<String> {
        self.rotate_key_with(tenant, alg, lead_secs, false).await
    }

    /// `rotate_key`; with `allow_unpublished`, a tenant that signs with an asymmetric key may
    /// move to HS256, whose tokens nobody verifying through the JWKS can check. Without it that
    /// move is refused, saying so: it is never what a rotation should do by default.
    pub async fn rotate_key_with(
        &self,
        tenant: &Tenant,
        alg: KeyAlg,
        lead_secs: u64,
        allow_unpublished: bool,
    ) -> CoreResult<String> {
        if let Some(current) = tenant.keys.current_alg() {
            if current.is_asymmetric() && !alg.is_asymmetric() && !allow_unpublished {
                return Err(CoreError::invalid(
                    "alg",
                    format!(
                        "tenant {} signs with {}, published in its JWKS; an {} key has no public \
                         half, so every service verifying its tokens through \
                         /.well-known/jwks.json would stop verifying them. Keep {} (the default), \
                         or ask for it explicitly (CLI: --alg {} --allow-unpublished; API: \
                         \"allow_unpublished\": true)",
                        tenant.slug,
                        current.as_str(),
                        alg.as_str(),
                        current.as_str(),
                        alg.as_str()
                    ),
                ));
            }
        }
        let key = self.generate_key(alg).await?;
        let (id, now, sealer) = (tenant.id.clone(), self.now_ms(), self.sealer.clone());
        let lead_ms = i64::try_from(lead_secs)
            .ok()
            .and_then(|s| s.checked_mul(1000))
            .ok_or_else(|| CoreError::invalid("lead", "the lead is too long"))?;
        let kid = self
            .tenant_write(&tenant.id, move |c| {
                tenants::insert_key(c, &sealer, &id, &key, now, lead_ms)
            })
            .await?;
        let detail = format!("kid {kid} ({})", alg.as_str());
        self.audit(tenant, Record::success(kind::KEY_ROTATED).detail(detail));
        Ok(kid)
    }

    /// Retires a key: tokens it signed stop verifying.
    pub async fn retire_key(&self, tenant: &Tenant, kid: &str) -> CoreResult<()> {
        crate::validated::storable("kid", kid)?;
        let (id, retired, now) = (tenant.id.clone(), kid.to_owned(), self.now_ms());
        self.tenant_write(&tenant.id, move |c| {
            tenants::retire_key(c, &id, &retired, now)
        })
        .await?;
        let record = Record::success(kind::KEY_RETIRED).detail(format!("kid {kid}"));
        self.audit(tenant, record);
        Ok(())
    }

    /// Runs a write to a tenant's settings, hosts or keys with "tenant changed" appended to the
    /// change feed in the same transaction, then applies it here at once: this node serves the
    /// change immediately, others when NOTIFY or their next poll brings it.
    pub(crate) async fn tenant_write<T, F>(&self, tenant_id: &str, write: F) -> CoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut AnyConnection) -> CoreResult<T> + Send + 'static,
    {
        self.feed_write(Access::Tenant(tenant_id.to_owned()), tenant_id, write)
            .await
    }

    /// `tenant_write` with `access`.
    async fn feed_write<T, F>(&self, access: Access, tenant_id: &str, write: F) -> CoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut AnyConnection) -> CoreResult<T> + Send + 'static,
    {
        let change = Change::tenant(tenant_id, self.now_ms());
        let feed = change.clone();
        let out = self
            .db
            .run_as(access, move |c| {
                crate::storage::db::write_transaction(c, |c| {
                    let out = write(c)?;
                    change::append(c, &feed)?;
                    Ok(out)
                })
            })
            .await?;
        self.publish(&[change]).await?;
        Ok(out)
    }

    // ---- tokens ----

    /// Signs `claims` with the tenant's key for the tenant's `TOKEN_TTL_SECONDS`.
    pub fn issue_token(&self, tenant: &Tenant, claims: Claims) -> CoreResult<String> {
        self.issue_token_until(tenant, claims, None)
    }

    /// As `issue_token`, expiring no later than `not_after` (Unix seconds) when given.
    pub fn issue_token_until(
        &self,
        tenant: &Tenant,
        mut claims: Claims,
        not_after: Option<i64>,
    ) -> CoreResult<String> {
        // `iss` is the tenant's issuer unless the dialect put its own.
        claims
            .entry("iss")
            .or_insert_with(|| tenant.issuer().into());
        token::issue_at_ms(
            &tenant.id,
            &tenant.keys,
            claims,
            tenant.settings.token_ttl_seconds,
            self.clock.now_ms(),
            not_after,
        )
    }

    /// Verifies a custom token signed with a project's secret, by the tenant's `CUSTOM_TOKEN_*`
    /// rules (see `token::verify_custom`).
    pub fn verify_custom_token(
        &self,
        tenant: &Tenant,
        secret: &[u8],
        jwt: &str,
        audience: &str,
    ) -> CoreResult<Claims> {
        let rules = token::CustomTokenRules {
            require_exp: tenant.settings.custom_token_require_exp,
            max_age_secs: tenant.settings.custom_token_max_age_seconds,
        };
        token::verify_custom(secret, jwt, audience, rules, self.clock.now_secs())
    }

    /// Whether a caller may create an account through `creator` here (see `signup_policy`).
    pub fn signup_policy<'t>(&self, tenant: &'t Tenant, creator: Creator) -> Signup<'t> {
        signup_policy::decide(&tenant.settings, creator)
    }

    /// For self-service paths with no exception: `Forbidden` when the tenant's signup covers `path`.
    pub fn check_self_signup(&self, tenant: &Tenant, path: SignupPath) -> CoreResult<()> {
        match self.signup_policy(tenant, Creator::SelfService(path)) {
            Signup::Open => Ok(()),
            _ => Err(CoreError::Forbidden(SIGNUP_CLOSED)),
        }
    }

    /// Signs a short-lived token with the tenant's newest asymmetric key, for a service that checks
    /// it against the JWKS. `None` when the tenant has no asymmetric key that signs.
    pub fn issue_asymmetric_token(
        &self,
        tenant: &Tenant,
        mut claims: Claims,
        ttl_secs: i64,
    ) -> CoreResult<Option<String>> {
        let Some(key) = tenant.keys.asymmetric_signing_key(self.now_ms()) else {
            return Ok(None);
        };
        claims
            .entry("iss")
            .or_insert_with(|| tenant.issuer().into());
        token::sign_with(key, &tenant.id, claims, ttl_secs, self.now_ms(), None).map(Some)
    }

    /// The tenant's asymmetric keys to publish now (see `KeyRing::published`).
    pub fn published_keys(&self, tenant: &Tenant) -> Vec<SigningKey> {
        let ttl_ms = tenant.settings.token_ttl_seconds.saturating_mul(1000);
        tenant
            .keys
            .published(self.now_ms(), ttl_ms)
            .into_iter()
            .cloned()
            .collect()
    }

    /// Verifies a token this tenant issued (see `token::verify`; a token seen before is answered
    /// by `token::VerifiedTokens`) and that it was not revoked (from memory). The user behind it
    /// is checked by `token_user`. The claims are shared with the cache: reading them copies nothing.
    pub fn verify_token(
        &self,
        tenant: &Tenant,
        jwt: &str,
        audience: Option<&str>,
    ) -> CoreResult<Arc<Claims>> {
        self.verify_token_of(tenant, jwt, audience, true)
    }

    /// `verify_token` for routes the replaced system never served (Appmixer's): a token without a
    /// `kid` is refused there even when an imported legacy key would verify it, so a legacy key
    /// opens only the doors it opened before (issue 21.8).
    pub fn verify_own_token(
        &self,
        tenant: &Tenant,
        jwt: &str,
        audience: Option<&str>,
    ) -> CoreResult<Arc<Claims>> {
        self.verify_token_of(tenant, jwt, audience, false)
    }

    fn verify_token_of(
        &self,
        tenant: &Tenant,
        jwt: &str,
        audience: Option<&str>,
        legacy: bool,
    ) -> CoreResult<Arc<Claims>> {
        let (tid, keys, now) = (&tenant.id, &tenant.keys, self.clock.now_secs());
        // The cache first: deciding whether a token is a legacy one decodes its header. Legacy
        // tokens are never kept in the cache, so a cached answer is never one.
        let claims = match self.verified.cached(tid, keys, jwt, audience, now) {
            Some(answer) => answer?,
            None if token::names_no_key(jwt) => {
                if !legacy {
                    return Err(CoreError::Unauthorized(AuthFailure::InvalidToken));
                }
                Arc::new(self.verify_legacy_token(tenant, jwt, audience)?)
            }
            None => self
                .verified
                .verify_and_keep(tid, keys, jwt, audience, now)?,
        };
        self.refuse_revoked(tenant, &claims)?;
        Ok(claims)
    }

    // ---- limits ----

    /// Counts a signup-like request from `ip` against the tenant's `SIGNUP_PER_IP_PER_MINUTE`.
    pub fn check_signup_rate(&self, tenant: &Tenant, ip: IpAddr) -> CoreResult<()> {
        let limit = tenant.settings.signup_per_ip_per_minute;
        if self.limiter.allow(&tenant.id, ip, limit, self.now_ms()) {
            Ok(())
        } else {
            Err(CoreError::RateLimited)
        }
    }
}
