//! What an operator does to tenants beyond creating them (`Core::create_tenant`): a searchable
//! page of them, changing a tenant's name, hosts and APIs, and deleting one with everything it
//! owns. The operator API, the console and the CLI all call these.

use crate::error::{found_one, CoreError, CoreResult};
use crate::service::Core;
use crate::storage::schema::{
    introspection_clients, project_members, projects, revoked_tokens, signin_locks, signing_keys,
    tenant_hosts, tenant_settings, tenants, users,
};
use crate::tenants::{apis_column, insert_hosts, validated_hosts, Api, Tenant};
use crate::validated::{storable, TenantSlug};
use diesel::prelude::*;
use std::sync::Arc;

/// What a `PATCH` changes; `None` leaves it as it is. `hosts` replaces the whole list.
#[derive(Debug, Clone, Default)]
pub struct TenantPatch {
    pub name: Option<String>,
    pub hosts: Option<Vec<String>>,
    pub apis: Option<Vec<Api>>,
}

/// A page of tenants and how many matched in all.
#[derive(Debug, Clone)]
pub struct TenantPage {
    pub total: usize,
    pub items: Vec<Arc<Tenant>>,
}

/// Whether `q` (already lower-cased) is in the tenant's slug, name (`name_key`, lower-cased) or
/// one of its hosts (stored lower-cased).
fn matches(t: &Tenant, name_key: &str, q: &str) -> bool {
    t.slug.as_str().contains(q) || name_key.contains(q) || t.hosts.iter().any(|h| h.contains(q))
}

/// A tenant's display name: 1 to 200 characters, no NUL.
pub(crate) fn checked_name(raw: &str) -> CoreResult<String> {
    let name = storable("name", raw.trim())?;
    if name.is_empty() || name.chars().count() > 200 {
        return Err(CoreError::invalid("name", "must be 1 to 200 characters"));
    }
    Ok(name.to_owned())
}

impl Core {
    /// Tenants in slug order, narrowed to those whose slug, name or a host contains `q`
    /// (case-insensitively). Read from this node's directory, already in order: no query and no
    /// sort, whatever the count; a search tests each tenant once (an in-memory substring test,
    /// so it needs no index to stay cheap at 10,000 tenants).
    pub fn list_tenants(&self, q: Option<&str>, limit: usize, offset: usize) -> TenantPage {
        let q = q
            .map(str::trim)
            .filter(|q| !q.is_empty())
            .map(str::to_lowercase);
        let listed = self.directory.in_order();
        let Some(q) = q else {
            let items = listed.get(offset..).unwrap_or_default();
            return TenantPage {
                total: listed.len(),
                items: items.iter().take(limit).map(|l| l.tenant.clone()).collect(),
            };
        };
        let mut total = 0;
        let mut items = Vec::new();
        for l in listed.iter() {
            if matches(&l.tenant, &l.name_key, &q) {
                if total >= offset && items.len() < limit {
                    items.push(l.tenant.clone());
                }
                total += 1;
            }
        }
        TenantPage { total, items }
    }

    /// Changes a tenant's name, hosts (the whole list) and APIs together, or nothing when one is
    /// refused (a host that serves another tenant is `Conflict`).
    pub async fn update_tenant(
        &self,
        tenant: &Tenant,
        patch: TenantPatch,
    ) -> CoreResult<Arc<Tenant>> {
        let name = patch.name.as_deref().map(checked_name).transpose()?;
        let hosts = patch.hosts.as_deref().map(validated_hosts).transpose()?;
        let apis = match patch.apis {
            Some(a) if a.is_empty() => {
                return Err(CoreError::invalid(
                    "apis",
                    "a tenant enables at least one api",
                ))
            }
            Some(mut a) => {
                a.dedup();
                Some(apis_column(&a))
            }
            None => None,
        };
        let (id, now) = (tenant.id.clone(), self.now_ms());
        let tid = id.clone();
        self.tenant_write(&id, move |c| {
            let row = || tenants::table.filter(tenants::id.eq(tid.clone()));
            found_one(
                diesel::update(row())
                    .set(tenants::updated_at.eq(now))
                    .execute(c)?,
                "tenant",
            )?;
            if let Some(name) = name {
                diesel::update(row())
                    .set(tenants::name.eq(name))
                    .execute(c)?;
            }
            if let Some(apis) = apis {
                diesel::update(row())
                    .set(tenants::apis.eq(apis))
                    .execute(c)?;
            }
            if let Some(hosts) = hosts {
                diesel::delete(tenant_hosts::table.filter(tenant_hosts::tenant_id.eq(&tid)))
                    .execute(c)?;
                insert_hosts(c, &tid, &hosts)?;
            }
            Ok(())
        })
        .await?;
        self.tenant(&id).ok_or(CoreError::NotFound("tenant"))
    }

    /// Deletes a tenant and everything it owns (users, projects, keys, settings, hosts,
    /// revocations, sign-in locks) in one transaction; its hosts stop answering at once here and
    /// on other nodes when the change feed reaches them.
    pub async fn delete_tenant(&self, slug: &TenantSlug) -> CoreResult<()> {
        let tenant = self.require_tenant(slug).await?;
        let tid = tenant.id.clone();
        self.tenant_write(&tenant.id, move |c| {
            let t = tid.as_str();
            diesel::delete(project_members::table.filter(project_members::tenant_id.eq(t)))
                .execute(c)?;
            diesel::delete(projects::table.filter(projects::tenant_id.eq(t))).execute(c)?;
            diesel::delete(users::table.filter(users::tenant_id.eq(t))).execute(c)?;
            diesel::delete(revoked_tokens::table.filter(revoked_tokens::tenant_id.eq(t)))
                .execute(c)?;
            diesel::delete(signin_locks::table.filter(signin_locks::tenant_id.eq(t))).execute(c)?;
            diesel::delete(
                introspection_clients::table.filter(introspection_clients::tenant_id.eq(t)),
            )
            .execute(c)?;
            diesel::delete(tenant_settings::table.filter(tenant_settings::tenant_id.eq(t)))
                .execute(c)?;
            diesel::delete(signing_keys::table.filter(signing_keys::tenant_id.eq(t))).execute(c)?;
            diesel::delete(tenant_hosts::table.filter(tenant_hosts::tenant_id.eq(t))).execute(c)?;
            found_one(
                diesel::delete(tenants::table.filter(tenants::id.eq(t))).execute(c)?,
                "tenant",
            )
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Settings;
    use crate::token::KeyRing;
    use std::collections::BTreeMap;

    fn tenant(slug: &str, name: &str, hosts: &[&str]) -> Tenant {
        Tenant {
            id: slug.into(),
            slug: TenantSlug::parse(slug).unwrap(),
            name: name.into(),
            hosts: hosts.iter().map(|h| h.to_string()).collect(),
            apis: Api::ALL.to_vec(),
            settings: Settings::default(),
            stored_settings: BTreeMap::new(),
            keys: KeyRing::default(),
        }
    }

    #[test]
    fn search_looks_at_slug_name_and_hosts() {
        let t = tenant("acme", "ACME Corp", &["auth.acme.example"]);
        let name_key = t.name.to_lowercase();
        assert!(matches(&t, &name_key, "acm"));
        assert!(matches(&t, &name_key, "corp"));
        assert!(matches(&t, &name_key, "auth.acme"));
        assert!(!matches(&t, &name_key, "globex"));
    }

    #[test]
    fn names_are_checked() {
        assert_eq!(checked_name("  Acme ").unwrap(), "Acme");
        assert!(checked_name(" ").is_err());
        assert!(checked_name("a\0b").is_err());
        assert!(checked_name(&"n".repeat(201)).is_err());
    }
}
