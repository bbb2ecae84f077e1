//! Revoked tokens held in memory: a set of `jti`s per tenant, each with the time its token would
//! have expired anyway, after which the entry is dropped.

use std::collections::HashMap;
use std::sync::RwLock;

#[derive(Default)]
pub(super) struct RevokedSet {
    /// tenant -> jti -> expiry (unix seconds)
    by_tenant: RwLock<HashMap<String, HashMap<String, i64>>>,
}

impl RevokedSet {
    pub fn contains(&self, tenant_id: &str, jti: &str) -> bool {
        let map = self.by_tenant.read().unwrap_or_else(|p| p.into_inner());
        map.get(tenant_id).is_some_and(|set| set.contains_key(jti))
    }

    pub fn insert(&self, tenant_id: &str, jti: &str, expires_at: i64) {
        let mut map = self.by_tenant.write().unwrap_or_else(|p| p.into_inner());
        map.entry(tenant_id.to_owned())
            .or_default()
            .insert(jti.to_owned(), expires_at);
    }

    /// Replaces everything with what the database holds.
    pub fn replace(&self, all: Vec<(String, String, i64)>) {
        let mut fresh: HashMap<String, HashMap<String, i64>> = HashMap::new();
        for (tenant, jti, expires_at) in all {
            fresh.entry(tenant).or_default().insert(jti, expires_at);
        }
        *self.by_tenant.write().unwrap_or_else(|p| p.into_inner()) = fresh;
    }

    /// Drops entries whose tokens have expired: they are refused for that reason now.
    pub fn prune(&self, now_secs: i64) {
        let mut map = self.by_tenant.write().unwrap_or_else(|p| p.into_inner());
        for set in map.values_mut() {
            set.retain(|_, expires_at| *expires_at > now_secs);
        }
        map.retain(|_, set| !set.is_empty());
    }

    pub fn len(&self) -> usize {
        let map = self.by_tenant.read().unwrap_or_else(|p| p.into_inner());
        map.values().map(HashMap::len).sum()
    }
}
