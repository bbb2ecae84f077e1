//! Tenants: who they are, which hosts and APIs they answer on, their settings and signing keys;
//! the in-memory directory that resolves a `Host` to a tenant; and the queries behind both.

use crate::error::{found_one, CoreError, CoreResult};
use crate::sealed::{signing_key_aad, Sealer};
use crate::settings::{SetBy, Settings};
use crate::storage::db::write_transaction;
use crate::storage::models::{HostRow, KeyRow, SettingRow, TenantRow};
use crate::storage::schema::{signing_keys, tenant_hosts, tenant_settings, tenants};
use crate::storage::AnyConnection;
use crate::token::{KeyAlg, KeyRing, PublicJwk, SigningKey};
use crate::validated::TenantSlug;
use diesel::prelude::*;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

/// The two facades a tenant can enable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Api {
    Tiledesk,
    Appmixer,
}

impl Api {
    pub const ALL: [Api; 2] = [Api::Tiledesk, Api::Appmixer];

    pub fn as_str(self) -> &'static str {
        match self {
            Api::Tiledesk => "tiledesk",
            Api::Appmixer => "appmixer",
        }
    }

    pub fn parse(raw: &str) -> CoreResult<Api> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "tiledesk" => Ok(Api::Tiledesk),
            "appmixer" => Ok(Api::Appmixer),
            other => Err(CoreError::invalid(
                "api",
                format!("unknown api '{other}' (tiledesk or appmixer)"),
            )),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Tenant {
    pub id: String,
    pub slug: TenantSlug,
    pub name: String,
    pub hosts: Vec<String>,
    pub apis: Vec<Api>,
    pub settings: Settings,
    /// The settings as an admin set them (only keys that were set), for `GET /config`.
    pub stored_settings: BTreeMap<String, String>,
    pub keys: KeyRing,
}

impl Tenant {
    pub fn enables(&self, api: Api) -> bool {
        self.apis.contains(&api)
    }

    /// The `iss` of its tokens and of its discovery document: the `ISSUER` setting, else
    /// `https://` and its first host (its slug when it is served by host patterns only).
    pub fn issuer(&self) -> String {
        match (&self.settings.issuer, self.hosts.first()) {
            (Some(issuer), _) => issuer.clone(),
            (None, Some(host)) => format!("https://{host}"),
            (None, None) => format!("https://{}", self.slug),
        }
    }
}

/// What it takes to create a tenant, or to bring a bootstrap tenant up to date.
#[derive(Debug, Clone)]
pub struct TenantSpec {
    pub slug: TenantSlug,
    pub name: Option<String>,
    pub hosts: Vec<String>,
    pub apis: Vec<Api>,
    pub settings: BTreeMap<String, String>,
    /// The kind of the first signing key (when the tenant is created).
    pub alg: KeyAlg,
}

impl TenantSpec {
    pub fn new(slug: TenantSlug) -> TenantSpec {
        TenantSpec {
            slug,
            name: None,
            hosts: Vec::new(),
            apis: Api::ALL.to_vec(),
            settings: BTreeMap::new(),
            alg: KeyAlg::default(),
        }
    }

    /// Normalises and checks hosts, apis and settings before anything is written.
    pub fn validated(mut self) -> CoreResult<TenantSpec> {
        self.hosts = validated_hosts(&self.hosts)?;
        self.name = self
            .name
            .as_deref()
            .map(crate::operator::tenants::checked_name)
            .transpose()?;
        if self.apis.is_empty() {
            self.apis = Api::ALL.to_vec();
        }
        self.apis.dedup();
        let mut settings = BTreeMap::new();
        for (k, v) in &self.settings {
            settings.insert(k.clone(), Settings::validate(k, v)?);
        }
        self.settings = settings;
        Ok(self)
    }
}

/// Hosts normalised (see `normalize_host`) and checked, duplicates dropped.
pub(crate) fn validated_hosts(raw: &[String]) -> CoreResult<Vec<String>> {
    let mut hosts = Vec::new();
    for h in raw {
        let host = normalize_host(h);
        if host.is_empty()
            || host.len() > 253
            || !host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._[]:".contains(&b))
        {
            return Err(CoreError::invalid(
                "host",
                format!("'{h}' is not a host name"),
            ));
        }
        if !hosts.contains(&host) {
            hosts.push(host);
        }
    }
    Ok(hosts)
}

/// `Host` as the directory keys it: port dropped, lower-cased, no trailing dot.
pub fn normalize_host(raw: &str) -> String {
    normalized_host(raw).into_owned()
}

/// `normalize_host`, copying only when the host must change case (every request resolves one).
pub fn normalized_host(raw: &str) -> std::borrow::Cow<'_, str> {
    let h = raw.trim();
    let without_port = if let Some(rest) = h.strip_prefix('[') {
        // [v6]:port
        match rest.split_once(']') {
            Some((addr, _)) => &h[..addr.len() + 2],
            None => h,
        }
    } else {
        match h.rsplit_once(':') {
            Some((name, port))
                if !name.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) =>
            {
                name
            }
            _ => h,
        }
    };
    let host = without_port.trim_end_matches('.');
    if host.bytes().any(|b| b.is_ascii_uppercase()) {
        std::borrow::Cow::Owned(host.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(host)
    }
}

/// A configured host pattern such as `api.{tenant}.example.com`.
#[derive(Debug, Clone)]
pub struct HostPattern {
    prefix: String,
    suffix: String,
}

impl HostPattern {
    pub fn parse(raw: &str) -> CoreResult<HostPattern> {
        let lower = raw.trim().to_ascii_lowercase();
        match lower.split_once("{tenant}") {
            Some((prefix, suffix)) if !suffix.contains("{tenant}") => Ok(HostPattern {
                prefix: prefix.to_owned(),
                suffix: suffix.to_owned(),
            }),
            _ => Err(CoreError::invalid(
                "tenants.patterns",
                format!("'{raw}' must contain {{tenant}} exactly once"),
            )),
        }
    }

    /// The slug this pattern reads out of `host`, if it matches.
    pub fn slug_of<'h>(&self, host: &'h str) -> Option<&'h str> {
        let middle = host
            .strip_prefix(self.prefix.as_str())?
            .strip_suffix(self.suffix.as_str())?;
        TenantSlug::parse(middle).ok().map(|_| middle)
    }
}

#[derive(Default)]
struct Snapshot {
    by_id: HashMap<String, Arc<Tenant>>,
    by_host: HashMap<String, Arc<Tenant>>,
    by_slug: HashMap<String, Arc<Tenant>>,
    /// Sorted once per refresh, not per request: with 10,000 tenants a sort (and lower-casing
    /// every name) on each list request was most of the operator's tenants page.
    in_order: Arc<[Listed]>,
}

/// A tenant as the operator's list reads it: in slug order, its name already lower-cased for
/// the search.
pub(crate) struct Listed {
    pub tenant: Arc<Tenant>,
    pub name_key: String,
}

/// Every tenant, held in memory and replaced wholesale by `Core::refresh_tenants`, so a change
/// made on another node is seen after the next refresh.
pub struct TenantDirectory {
    snapshot: RwLock<Arc<Snapshot>>,
    patterns: Vec<HostPattern>,
}

impl TenantDirectory {
    pub fn new(patterns: Vec<HostPattern>) -> TenantDirectory {
        TenantDirectory {
            snapshot: RwLock::new(Arc::new(Snapshot::default())),
            patterns,
        }
    }

    fn current(&self) -> Arc<Snapshot> {
        self.snapshot
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn replace(&self, tenants: Vec<Tenant>) {
        let mut snap = Snapshot::default();
        for t in tenants {
            let t = Arc::new(t);
            for h in &t.hosts {
                snap.by_host.insert(h.clone(), t.clone());
            }
            snap.by_slug.insert(t.slug.as_str().to_owned(), t.clone());
            snap.by_id.insert(t.id.clone(), t);
        }
        let mut in_order: Vec<Listed> = snap
            .by_id
            .values()
            .map(|t| Listed {
                tenant: t.clone(),
                name_key: t.name.to_lowercase(),
            })
            .collect();
        in_order.sort_by(|a, b| a.tenant.slug.as_str().cmp(b.tenant.slug.as_str()));
        snap.in_order = in_order.into();
        *self.snapshot.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(snap);
    }

    /// Exact hosts win; then the patterns, in order. A pattern reaches only tenants with no host
    /// of their own: a tenant given explicit hosts is served on those alone.
    pub fn resolve(&self, host: &str) -> Option<Arc<Tenant>> {
        let host = normalized_host(host);
        let snap = self.current();
        if let Some(t) = snap.by_host.get(host.as_ref()) {
            return Some(t.clone());
        }
        self.patterns
            .iter()
            .filter_map(|p| p.slug_of(&host))
            .find_map(|slug| {
                snap.by_slug
                    .get(slug)
                    .filter(|t| t.hosts.is_empty())
                    .cloned()
            })
    }

    pub fn by_id(&self, id: &str) -> Option<Arc<Tenant>> {
        self.current().by_id.get(id).cloned()
    }

    pub fn by_slug(&self, slug: &str) -> Option<Arc<Tenant>> {
        self.current().by_slug.get(slug).cloned()
    }

    /// Every tenant, in slug order.
    pub fn all(&self) -> Vec<Arc<Tenant>> {
        self.current()
            .in_order
            .iter()
            .map(|l| l.tenant.clone())
            .collect()
    }

    /// Every tenant in slug order, shared (no copy): what the operator's list pages through.
    pub(crate) fn in_order(&self) -> Arc<[Listed]> {
        self.current().in_order.clone()
    }
}

// ---- queries ----

pub(crate) fn load_all(conn: &mut AnyConnection, sealer: &Sealer) -> CoreResult<Vec<Tenant>> {
    let rows: Vec<TenantRow> = tenants::table.select(TenantRow::as_select()).load(conn)?;
    let hosts: Vec<HostRow> = tenant_hosts::table
        .select(HostRow::as_select())
        .load(conn)?;
    let settings: Vec<SettingRow> = tenant_settings::table
        .select(SettingRow::as_select())
        .load(conn)?;
    let keys: Vec<KeyRow> = signing_keys::table.select(KeyRow::as_select()).load(conn)?;

    let mut hosts_of: HashMap<String, Vec<String>> = HashMap::new();
    for h in hosts {
        hosts_of.entry(h.tenant_id).or_default().push(h.host);
    }
    let mut settings_of: HashMap<String, BTreeMap<String, String>> = HashMap::new();
    for s in settings {
        settings_of
            .entry(s.tenant_id)
            .or_default()
            .insert(s.name, s.value);
    }
    let mut keys_of: HashMap<String, Vec<SigningKey>> = HashMap::new();
    for k in keys {
        let opened = sealer
            .open(&k.secret, &signing_key_aad(&k.tenant_id, &k.kid))
            .map_err(|e| {
                CoreError::invalid(
                    "master key",
                    format!("signing key {} of tenant {}: {e}", k.kid, k.tenant_id),
                )
            })?;
        let (tenant_id, kid) = (k.tenant_id.clone(), k.kid.clone());
        match key_of_row(k, opened.plain.expose()) {
            Ok(key) => keys_of.entry(tenant_id).or_default().push(key),
            Err(_) => log::error!("signing key {kid} of tenant {tenant_id} is corrupt"),
        }
    }

    let mut legacy_of = crate::migrate::legacy_keys::load_all(conn, sealer)?;

    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let Ok(slug) = TenantSlug::parse(&row.slug) else {
            log::error!("tenant {} has an invalid slug; skipped", row.id);
            continue;
        };
        let stored = settings_of.remove(&row.id).unwrap_or_default();
        let opened = open_sealed_settings(sealer, &row.id, &stored);
        let mut hosts = hosts_of.remove(&row.id).unwrap_or_default();
        hosts.sort();
        out.push(Tenant {
            apis: row
                .apis
                .split(',')
                .filter_map(|a| Api::parse(a).ok())
                .collect(),
            settings: Settings::from_stored(&opened),
            stored_settings: stored,
            keys: KeyRing::new(keys_of.remove(&row.id).unwrap_or_default())
                .with_legacy(legacy_of.remove(&row.id).unwrap_or_default()),
            hosts,
            slug,
            name: row.name,
            id: row.id,
        });
    }
    Ok(out)
}

/// The stored settings with sealed values (`SMTP_URL`) opened; one that does not open is left
/// out (logged), so the tenant serves without it rather than with garbage.
fn open_sealed_settings(
    sealer: &Sealer,
    tenant_id: &str,
    stored: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut out = stored.clone();
    for (key, value) in stored {
        if !crate::sealed::is_sealed_setting(key) {
            continue;
        }
        match sealer.open(value, &crate::sealed::setting_aad(tenant_id, key)) {
            Ok(opened) => {
                out.insert(key.clone(), opened.plain.expose().clone());
            }
            Err(e) => {
                log::error!("setting {key} of tenant {tenant_id} does not open: {e}");
                out.remove(key);
            }
        }
    }
    out
}

/// A stored key, its secret already opened (`secret_hex`: the hex of the HMAC secret or the PEM).
fn key_of_row(k: KeyRow, secret_hex: &str) -> CoreResult<SigningKey> {
    let corrupt = || CoreError::Internal("corrupt signing key".into());
    let secret = hex::decode(secret_hex).map_err(|_| corrupt())?;
    let public = k
        .public_key
        .as_deref()
        .map(serde_json::from_str::<PublicJwk>)
        .transpose()
        .map_err(|_| corrupt())?;
    Ok(SigningKey::from_parts(
        k.kid,
        KeyAlg::parse(&k.alg)?,
        secret,
        public,
        k.created_at,
        k.not_before,
        k.retired_at,
    )?
    .issued_for(k.issued_for))
}

pub(crate) fn apis_column(apis: &[Api]) -> String {
    apis.iter()
        .map(|a| a.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

pub(crate) fn insert_hosts(
    conn: &mut AnyConnection,
    tenant_id: &str,
    hosts: &[String],
) -> CoreResult<()> {
    for host in hosts {
        let taken: Option<String> = tenant_hosts::table
            .filter(tenant_hosts::host.eq(host))
            .select(tenant_hosts::tenant_id)
            .first(conn)
            .optional()?;
        match taken {
            Some(owner) if owner == tenant_id => {}
            Some(_) => return Err(CoreError::Conflict("host already serves another tenant")),
            None => {
                diesel::insert_into(tenant_hosts::table)
                    .values(HostRow {
                        host: host.clone(),
                        tenant_id: tenant_id.to_owned(),
                    })
                    .execute(conn)?;
            }
        }
    }
    Ok(())
}

/// Stores `key` (made beforehand, off the database thread: an RSA key takes a while) as the
/// tenant's newest key, signing `lead_ms` from now. Returns its kid.
pub(crate) fn insert_key(
    conn: &mut AnyConnection,
    sealer: &Sealer,
    tenant_id: &str,
    key: &SigningKey,
    now_ms: i64,
    lead_ms: i64,
) -> CoreResult<String> {
    // The newest key signs, so a new key must sort after every existing one even when the clock
    // has not moved (two rotations in one millisecond, or a clock that stepped back).
    let newest: Option<i64> = signing_keys::table
        .filter(signing_keys::tenant_id.eq(tenant_id))
        .select(diesel::dsl::max(signing_keys::created_at))
        .first(conn)?;
    let created = newest.map_or(now_ms, |n| now_ms.max(n + 1));
    let public_key = key
        .public
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| CoreError::Internal(format!("encoding a public key: {e}")))?;
    diesel::insert_into(signing_keys::table)
        .values(KeyRow {
            tenant_id: tenant_id.to_owned(),
            kid: key.kid.clone(),
            secret: sealer.seal(
                &hex::encode(key.secret.expose()),
                &signing_key_aad(tenant_id, &key.kid),
            ),
            created_at: created,
            retired_at: None,
            alg: key.alg.as_str().to_owned(),
            public_key,
            not_before: now_ms.saturating_add(lead_ms.max(0)),
            issued_for: None,
        })
        .execute(conn)?;
    Ok(key.kid.clone())
}

pub(crate) fn retire_key(
    conn: &mut AnyConnection,
    tenant_id: &str,
    kid: &str,
    now_ms: i64,
) -> CoreResult<()> {
    let active: i64 = signing_keys::table
        .filter(signing_keys::tenant_id.eq(tenant_id))
        .filter(signing_keys::retired_at.is_null())
        .count()
        .get_result(conn)?;
    if active <= 1 {
        return Err(CoreError::Conflict("cannot retire the only active key"));
    }
    let n = diesel::update(
        signing_keys::table
            .filter(signing_keys::tenant_id.eq(tenant_id))
            .filter(signing_keys::kid.eq(kid))
            .filter(signing_keys::retired_at.is_null()),
    )
    .set(signing_keys::retired_at.eq(Some(now_ms)))
    .execute(conn)?;
    found_one(n, "key")
}

/// Writes validated settings (an operator's: tenant creation and bootstrap); those that hold a
/// secret (`SMTP_URL`) are sealed first.
fn write_settings(
    conn: &mut AnyConnection,
    sealer: &Sealer,
    tenant_id: &str,
    settings: &BTreeMap<String, String>,
    now_ms: i64,
) -> CoreResult<()> {
    for (name, value) in settings {
        if crate::sealed::is_sealed_setting(name) {
            let sealed = sealer.seal(value, &crate::sealed::setting_aad(tenant_id, name));
            put_setting(conn, tenant_id, name, &sealed, now_ms, SetBy::Operator)?;
        } else {
            put_setting(conn, tenant_id, name, value, now_ms, SetBy::Operator)?;
        }
    }
    Ok(())
}

/// Inserts or replaces one (already validated) setting. Written as update-then-insert because
/// `ON CONFLICT` does not compile for the multi-backend connection.
pub(crate) fn put_setting(
    conn: &mut AnyConnection,
    tenant_id: &str,
    name: &str,
    value: &str,
    now_ms: i64,
    by: SetBy,
) -> CoreResult<()> {
    let updated = diesel::update(
        tenant_settings::table
            .filter(tenant_settings::tenant_id.eq(tenant_id))
            .filter(tenant_settings::name.eq(name)),
    )
    .set((
        tenant_settings::value.eq(value),
        tenant_settings::updated_at.eq(now_ms),
        tenant_settings::set_by.eq(Some(by.as_str())),
    ))
    .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(tenant_settings::table)
            .values(SettingRow {
                tenant_id: tenant_id.to_owned(),
                name: name.to_owned(),
                value: value.to_owned(),
                updated_at: now_ms,
                set_by: Some(by.as_str().to_owned()),
            })
            .execute(conn)?;
    }
    Ok(())
}

/// Who set each of the tenant's stored settings last (`None`: before that was recorded).
pub(crate) fn setting_sources(
    conn: &mut AnyConnection,
    tenant_id: &str,
) -> CoreResult<BTreeMap<String, Option<SetBy>>> {
    let rows: Vec<(String, Option<String>)> = tenant_settings::table
        .filter(tenant_settings::tenant_id.eq(tenant_id))
        .select((tenant_settings::name, tenant_settings::set_by))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(name, by)| (name, by.as_deref().and_then(SetBy::parse)))
        .collect())
}

pub(crate) fn delete_setting(
    conn: &mut AnyConnection,
    tenant_id: &str,
    name: &str,
) -> CoreResult<bool> {
    let n = diesel::delete(
        tenant_settings::table
            .filter(tenant_settings::tenant_id.eq(tenant_id))
            .filter(tenant_settings::name.eq(name)),
    )
    .execute(conn)?;
    Ok(n > 0)
}

pub(crate) fn tenant_id_of(
    conn: &mut AnyConnection,
    slug: &TenantSlug,
) -> CoreResult<Option<String>> {
    Ok(tenants::table
        .filter(tenants::slug.eq(slug.as_str()))
        .select(tenants::id)
        .first(conn)
        .optional()?)
}

/// Creates the tenant with its hosts, settings and a first signing key, in one transaction.
pub(crate) fn create(
    conn: &mut AnyConnection,
    sealer: &Sealer,
    spec: &TenantSpec,
    id: String,
    first_key: &SigningKey,
    now_ms: i64,
) -> CoreResult<String> {
    write_transaction(conn, |conn| {
        if tenant_id_of(conn, &spec.slug)?.is_some() {
            return Err(CoreError::Conflict("tenant already exists"));
        }
        diesel::insert_into(tenants::table)
            .values(TenantRow {
                id: id.clone(),
                slug: spec.slug.as_str().to_owned(),
                name: spec
                    .name
                    .clone()
                    .unwrap_or_else(|| spec.slug.as_str().to_owned()),
                apis: apis_column(&spec.apis),
                created_at: now_ms,
                updated_at: now_ms,
            })
            .execute(conn)?;
        insert_hosts(conn, &id, &spec.hosts)?;
        write_settings(conn, sealer, &id, &spec.settings, now_ms)?;
        insert_key(conn, sealer, &id, first_key, now_ms, 0)?;
        Ok(id)
    })
}

/// Brings an existing tenant in line with a bootstrap spec: its apis, hosts (added) and settings.
pub(crate) fn update(
    conn: &mut AnyConnection,
    sealer: &Sealer,
    tenant_id: &str,
    spec: &TenantSpec,
    now_ms: i64,
) -> CoreResult<()> {
    write_transaction(conn, |conn| {
        let mut changes = diesel::update(tenants::table.filter(tenants::id.eq(tenant_id)))
            .set((
                tenants::apis.eq(apis_column(&spec.apis)),
                tenants::updated_at.eq(now_ms),
            ))
            .execute(conn)?;
        if let Some(name) = &spec.name {
            changes += diesel::update(tenants::table.filter(tenants::id.eq(tenant_id)))
                .set(tenants::name.eq(name))
                .execute(conn)?;
        }
        if changes == 0 {
            return Err(CoreError::NotFound("tenant"));
        }
        insert_hosts(conn, tenant_id, &spec.hosts)?;
        write_settings(conn, sealer, tenant_id, &spec.settings, now_ms)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_lose_their_port_case_and_trailing_dot() {
        assert_eq!(normalize_host("LocalHost:8080"), "localhost");
        assert_eq!(
            normalize_host("api.acme.example.com."),
            "api.acme.example.com"
        );
        assert_eq!(normalize_host("[::1]:8080"), "[::1]");
        assert_eq!(normalize_host("127.0.0.1"), "127.0.0.1");
        // Already normal: no copy.
        assert!(matches!(
            normalized_host("auth.acme.test:8080"),
            std::borrow::Cow::Borrowed("auth.acme.test")
        ));
        assert!(matches!(
            normalized_host("[::1]:8080"),
            std::borrow::Cow::Borrowed("[::1]")
        ));
        assert_eq!(normalized_host(" Auth.Acme.Test. "), "auth.acme.test");
    }

    #[test]
    fn patterns_read_a_slug_out_of_a_host() {
        let p = HostPattern::parse("api.{tenant}.example.com").unwrap();
        assert_eq!(p.slug_of("api.acme.example.com"), Some("acme"));
        assert_eq!(p.slug_of("api.example.com"), None);
        assert_eq!(p.slug_of("api.a.b.example.com"), None);
        assert!(HostPattern::parse("no-placeholder.example.com").is_err());
    }

    fn tenant(id: &str, slug: &str, hosts: &[&str]) -> Tenant {
        Tenant {
            id: id.into(),
            slug: TenantSlug::parse(slug).unwrap(),
            name: slug.into(),
            hosts: hosts.iter().map(|h| h.to_string()).collect(),
            apis: Api::ALL.to_vec(),
            settings: Settings::default(),
            stored_settings: BTreeMap::new(),
            keys: KeyRing::default(),
        }
    }

    #[test]
    fn exact_hosts_win_over_patterns() {
        let dir = TenantDirectory::new(vec![HostPattern::parse("api.{tenant}.localhost").unwrap()]);
        dir.replace(vec![
            tenant("1", "acme", &["api.globex.localhost"]),
            tenant("2", "globex", &[]),
        ]);
        assert_eq!(dir.resolve("API.GLOBEX.localhost:9000").unwrap().id, "1");
        // acme has a host of its own, so the pattern does not reach it.
        assert!(dir.resolve("api.acme.localhost").is_none());
        assert!(dir.resolve("api.nobody.localhost").is_none());
        assert!(dir.resolve("").is_none());
    }
}
