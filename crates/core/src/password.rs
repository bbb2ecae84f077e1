//! Password hashing on a bounded pool of blocking threads, so a burst of sign-ins queues here
//! instead of starving the async workers or the blocking pool that database calls share. Each job
//! is admitted for one tenant (see `hash_pool`), and every cost is clamped to the operator's cap.

use crate::error::{CoreError, CoreResult};
use crate::hash_pool::{HashPool, HashingLimits};
use crate::metrics::CoreMetrics;
use crate::validated::Password;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Cheap to clone: clones share the pool and the dummy hashes (a background prewarm holds one).
#[derive(Clone)]
pub struct Hasher {
    inner: Arc<Inner>,
}

struct Inner {
    pool: HashPool,
    max_cost: u32,
    metrics: CoreMetrics,
    /// One dummy hash per cost, so that a sign-in for an unknown account spends the same time.
    dummies: Mutex<HashMap<u32, Arc<String>>>,
}

/// What a verification found.
#[derive(Debug, PartialEq, Eq)]
pub enum Verified {
    Match,
    /// Matches, and the stored hash should be replaced by this one (its cost differs from the tenant's).
    MatchRehashed(String),
    NoMatch,
}

impl Hasher {
    pub fn new(limits: HashingLimits, metrics: CoreMetrics) -> Self {
        Hasher {
            inner: Arc::new(Inner {
                pool: HashPool::new(&limits),
                max_cost: limits.max_cost,
                metrics,
                dummies: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The cost a hash is actually made at: the tenant's, but never above the operator's cap (a
    /// value stored before the cap, or under a higher one on another node, is clamped here).
    pub fn effective_cost(&self, cost: u32) -> u32 {
        cost.min(self.inner.max_cost)
    }

    pub fn max_cost(&self) -> u32 {
        self.inner.max_cost
    }

    async fn run<T: Send + 'static>(
        &self,
        tenant: &str,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> CoreResult<T> {
        let metrics = &self.inner.metrics;
        metrics.hash_queue_depth.inc();
        let admission = self.inner.pool.admit(tenant).await;
        metrics.hash_queue_depth.dec();
        let admission = admission?;
        metrics.hash_in_flight.inc();
        metrics.hash_jobs.inc();
        let result = tokio::task::spawn_blocking(move || {
            let out = job();
            drop(admission);
            out
        })
        .await;
        metrics.hash_in_flight.dec();
        result.map_err(|e| CoreError::Internal(format!("hashing task failed: {e}")))
    }

    pub async fn hash(&self, tenant: &str, password: &Password, cost: u32) -> CoreResult<String> {
        let pw = password.expose().to_owned();
        let cost = self.effective_cost(cost);
        self.run(tenant, move || bcrypt::hash(pw, cost))
            .await?
            .map_err(|e| CoreError::Internal(format!("bcrypt: {e}")))
    }

    /// Verifies `password` against `stored`, or against a dummy hash of the same cost when there is
    /// no stored hash, so that "no such account" costs what "wrong password" costs.
    pub async fn verify(
        &self,
        tenant: &str,
        password: &Password,
        stored: Option<&str>,
        cost: u32,
    ) -> CoreResult<Verified> {
        let cost = self.effective_cost(cost);
        // bcrypt reads only 72 bytes, so a longer candidate could match a hash of its prefix:
        // such a password was never accepted, so it matches nothing (at the usual price).
        let too_long = password.expose().len() > crate::validated::BCRYPT_MAX_PASSWORD_BYTES;
        let (hash, real) = match stored {
            Some(h) if !too_long => (h.to_owned(), true),
            _ => (self.dummy(tenant, cost).await?.as_str().to_owned(), false),
        };
        let pw = password.expose().to_owned();
        let outcome = self
            .run(tenant, move || {
                let ok = crate::bcrypt_verify::verify(&pw, &hash);
                if !ok || !real {
                    return Ok(Verified::NoMatch);
                }
                if hash_cost(&hash) != Some(cost) || !hash.starts_with("$2b$") {
                    return bcrypt::hash(&pw, cost).map(Verified::MatchRehashed);
                }
                Ok(Verified::Match)
            })
            .await?;
        outcome.map_err(|e: bcrypt::BcryptError| CoreError::Internal(format!("bcrypt: {e}")))
    }

    /// Makes the dummy hash for `cost` ahead of time, so that even the first unknown-account
    /// sign-in at that cost spends exactly one verification. Runs as the server's own work, which
    /// waits for a thread without a deadline.
    pub async fn prewarm(&self, cost: u32) -> CoreResult<()> {
        let cost = self.effective_cost(cost);
        self.dummy(crate::hash_pool::SERVER, cost).await.map(drop)
    }

    /// Whether the dummy hash for `cost` (as clamped) exists yet.
    pub fn has_dummy(&self, cost: u32) -> bool {
        self.lock_dummies().contains_key(&self.effective_cost(cost))
    }

    async fn dummy(&self, tenant: &str, cost: u32) -> CoreResult<Arc<String>> {
        if let Some(h) = self.lock_dummies().get(&cost) {
            return Ok(h.clone());
        }
        let random = uuid::Uuid::new_v4().to_string();
        let hash = self
            .run(tenant, move || bcrypt::hash(random, cost))
            .await?
            .map_err(|e| CoreError::Internal(format!("bcrypt: {e}")))?;
        let hash = Arc::new(hash);
        self.lock_dummies().insert(cost, hash.clone());
        Ok(hash)
    }

    fn lock_dummies(&self) -> std::sync::MutexGuard<'_, HashMap<u32, Arc<String>>> {
        self.inner.dummies.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The cost field of a modular-crypt bcrypt hash (`$2b$10$...`).
pub fn hash_cost(hash: &str) -> Option<u32> {
    hash.split('$').nth(2)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus::Registry;

    fn hasher() -> Hasher {
        let limits = HashingLimits {
            threads: 2,
            ..HashingLimits::default()
        };
        Hasher::new(limits, CoreMetrics::new(&Registry::new()))
    }

    #[tokio::test]
    async fn hashes_are_2b_and_verify() {
        let h = hasher();
        let pw = Password::new("correct horse", 8).unwrap();
        let hash = h.hash("t", &pw, 4).await.unwrap();
        assert!(hash.starts_with("$2b$04$"));
        assert_eq!(
            h.verify("t", &pw, Some(&hash), 4).await.unwrap(),
            Verified::Match
        );
        let wrong = Password::candidate("wrong horse");
        assert_eq!(
            h.verify("t", &wrong, Some(&hash), 4).await.unwrap(),
            Verified::NoMatch
        );
    }

    #[tokio::test]
    async fn a_hash_of_another_cost_is_rehashed_at_the_tenants_cost() {
        let h = hasher();
        let pw = Password::new("correct horse", 8).unwrap();
        let old = h.hash("t", &pw, 4).await.unwrap();
        match h.verify("t", &pw, Some(&old), 5).await.unwrap() {
            Verified::MatchRehashed(new) => {
                assert_eq!(hash_cost(&new), Some(5));
                assert_eq!(
                    h.verify("t", &pw, Some(&new), 5).await.unwrap(),
                    Verified::Match
                );
            }
            other => panic!("expected a rehash, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn tiledesk_2a_hashes_verify_and_are_upgraded_to_2b() {
        let h = hasher();
        let pw = Password::candidate("secret123");
        let two_a = bcrypt::hash_with_result("secret123", 4)
            .unwrap()
            .format_for_version(bcrypt::Version::TwoA);
        match h.verify("t", &pw, Some(&two_a), 4).await.unwrap() {
            Verified::MatchRehashed(new) => assert!(new.starts_with("$2b$04$")),
            other => panic!("expected a rehash, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn unknown_accounts_verify_against_a_dummy_and_never_match() {
        let h = hasher();
        let pw = Password::candidate("anything");
        assert_eq!(
            h.verify("t", &pw, None, 4).await.unwrap(),
            Verified::NoMatch
        );
        // Once the dummy exists, an unknown account costs exactly one verification, as a known one does.
        let before = h.inner.metrics.hash_jobs.get();
        assert_eq!(
            h.verify("t", &pw, None, 4).await.unwrap(),
            Verified::NoMatch
        );
        assert_eq!(h.inner.metrics.hash_jobs.get() - before, 1);
    }

    #[tokio::test]
    async fn a_candidate_over_72_bytes_never_matches_even_when_its_prefix_would() {
        let h = hasher();
        let exact = "a".repeat(72);
        let hash = h
            .hash("t", &Password::new(&exact, 8).unwrap(), 4)
            .await
            .unwrap();
        let longer = Password::candidate(&format!("{exact}-and-more"));
        assert_eq!(
            h.verify("t", &longer, Some(&hash), 4).await.unwrap(),
            Verified::NoMatch
        );
        let same = Password::candidate(&exact);
        assert_eq!(
            h.verify("t", &same, Some(&hash), 4).await.unwrap(),
            Verified::Match
        );
    }

    #[tokio::test]
    async fn costs_above_the_operators_cap_are_clamped() {
        let limits = HashingLimits {
            threads: 1,
            max_cost: 5,
            ..HashingLimits::default()
        };
        let h = Hasher::new(limits, CoreMetrics::new(&Registry::new()));
        let pw = Password::new("correct horse", 8).unwrap();
        // A tenant whose stored BCRYPT_COST is 31 hashes at the cap, not for days.
        let hash = h.hash("t", &pw, 31).await.unwrap();
        assert!(hash.starts_with("$2b$05$"), "{hash}");
        assert_eq!(
            h.verify("t", &pw, Some(&hash), 31).await.unwrap(),
            Verified::Match
        );
        assert!(!h.has_dummy(31));
        h.prewarm(31).await.unwrap();
        assert!(h.has_dummy(31) && h.has_dummy(5));
    }

    #[tokio::test]
    async fn php_style_2y_hashes_verify_too() {
        let h = hasher();
        let two_y = bcrypt::hash_with_result("secret123", 4)
            .unwrap()
            .format_for_version(bcrypt::Version::TwoY);
        assert!(two_y.starts_with("$2y$"));
        let verified = h
            .verify("t", &Password::candidate("secret123"), Some(&two_y), 4)
            .await
            .unwrap();
        assert!(matches!(verified, Verified::MatchRehashed(_)));
    }
}
