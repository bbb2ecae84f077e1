//! Seeding many tenants at once, for load tests and demos (`gatehouse tenant seed`): each made as
//! `create_tenant` makes one (a row, its settings and an HS256 key, sealed), in batches of one
//! transaction each, and the directory reloaded once at the end instead of after every tenant.

use crate::error::CoreResult;
use crate::service::Core;
use crate::storage::db::write_transaction;
use crate::tenants::{self, TenantSpec};
use crate::token::SigningKey;
use crate::validated::TenantSlug;
use std::collections::BTreeMap;

/// Tenants per transaction.
const TENANTS_PER_TRANSACTION: u64 = 1_000;

impl Core {
    /// Creates tenants `{prefix}{n}` for n in `first..first + count` (n zero-padded to 5 digits),
    /// each with `settings`; calls `progress` with the running total after each batch. A slug that
    /// exists stops the run with `Conflict`; the batches before it stay.
    pub async fn seed_tenants(
        &self,
        prefix: &str,
        first: u64,
        count: u64,
        settings: BTreeMap<String, String>,
        mut progress: impl FnMut(u64),
    ) -> CoreResult<u64> {
        let slug = |n: u64| TenantSlug::parse(&format!("{prefix}{n:05}"));
        slug(first)?;
        let mut done = 0;
        while done < count {
            let batch = TENANTS_PER_TRANSACTION.min(count - done);
            let from = first + done;
            let mut specs = Vec::with_capacity(batch as usize);
            for n in from..from + batch {
                let mut spec = TenantSpec::new(slug(n)?);
                spec.settings = settings.clone();
                specs.push(spec.validated()?);
            }
            let (sealer, now) = (self.sealer.clone(), self.now_ms());
            self.db
                .run_system(move |c| {
                    write_transaction(c, |c| {
                        for spec in &specs {
                            let id = crate::ids::object_id(now / 1000);
                            let key = SigningKey::generate(now);
                            tenants::create(c, &sealer, spec, id, &key, now)?;
                        }
                        Ok(())
                    })
                })
                .await?;
            done += batch;
            progress(done);
        }
        self.refresh_tenants().await?;
        Ok(done)
    }
}
