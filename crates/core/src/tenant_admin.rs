//! What a tenant admin may not set although the operator may (issue 21: the tenant-admin threat).
//! A tenant admin changes settings through Appmixer's `/config` and the console; both ask here
//! before `set_config`, the operator's doors (CLI, operator API, the console as operator) do not.
//! Core's own validation (`Settings::validate`) still applies to everyone.

use crate::error::{CoreError, CoreResult};
use crate::service::Core;
use crate::tenants::Tenant;

impl Core {
    /// `InvalidInput` when a tenant admin may not set `key` to `value` on `tenant`:
    /// - `ISSUER` must be an `https://` URL on one of the tenant's own hosts (a host that resolves
    ///   to this tenant), so that discovery, tokens and forward-auth never claim another tenant's
    ///   (or anyone else's) issuer.
    pub fn check_tenant_admin_setting(
        &self,
        tenant: &Tenant,
        key: &str,
        value: &str,
    ) -> CoreResult<()> {
        if key.trim().eq_ignore_ascii_case("ISSUER") {
            return self.check_own_issuer(tenant, value.trim());
        }
        Ok(())
    }

    fn check_own_issuer(&self, tenant: &Tenant, value: &str) -> CoreResult<()> {
        let refused = || {
            CoreError::invalid(
                "value",
                "ISSUER must be an https:// URL on one of this tenant's own hosts \
                 (only the operator may set another)",
            )
        };
        let url = url::Url::parse(value).map_err(|_| refused())?;
        if url.scheme() != "https" || !url.username().is_empty() || url.password().is_some() {
            return Err(refused());
        }
        let host = url.host_str().ok_or_else(refused)?;
        match self.resolve_host(host) {
            Some(owner) if owner.id == tenant.id => Ok(()),
            _ => Err(refused()),
        }
    }
}
