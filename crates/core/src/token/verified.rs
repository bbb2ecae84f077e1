//! Tokens this node verified lately. A signed-in front end presents the same token on every
//! request, and a token's signature, tenant and audience do not change: so a token seen again
//! costs a lookup here instead of decoding its header and claims and checking its signature
//! (a fifth of a token check's time, by profile; bench/README.md). Only that time-independent
//! half of verification is kept (`token::verify_signed`). On every hit, against the tenant as this
//! node knows it at that moment:
//! - the entry must be for this tenant and this audience (else the token is verified in full);
//! - the key that signed it must still verify: a retired key's tokens are refused at once;
//! - `exp` and `nbf` are checked against the clock again (`token::check_times`).
//!
//! Revocation and the user's state are checked after, as for any token (`Core::verify_token`,
//! `Core::token_user`). A token that fails verification is never kept. The cache is bounded
//! (`MAX_TOKENS`; the least used go first) and an entry not asked for in `IDLE` is dropped.

use super::{check_times, verify_signed, Claims, KeyRing};
use crate::error::CoreResult;
use jsonwebtoken::Algorithm;
use prometheus::{IntCounter, IntCounterVec, Opts, Registry};
use std::sync::Arc;
use std::time::Duration;

/// Tokens held at most (per node, all tenants together). About 1 KiB each with its claims.
pub const MAX_TOKENS: u64 = 10_000;
/// A token not presented for this long is dropped.
const IDLE: Duration = Duration::from_secs(300);
/// Longer strings are verified every time and never kept (ours are a few hundred bytes).
const MAX_TOKEN_LEN: usize = 4096;

struct Verified {
    tenant_id: String,
    kid: String,
    alg: Algorithm,
    audience: Option<String>,
    claims: Arc<Claims>,
}

pub struct VerifiedTokens {
    cache: moka::sync::Cache<Box<str>, Arc<Verified>>,
    hits: IntCounter,
    misses: IntCounter,
}

/// A cache whose figures go to a registry of its own (fuzzing, tools).
impl Default for VerifiedTokens {
    fn default() -> VerifiedTokens {
        VerifiedTokens::new(&Registry::new())
    }
}

impl VerifiedTokens {
    pub fn new(registry: &Registry) -> VerifiedTokens {
        let lookups = IntCounterVec::new(
            Opts::new(
                "gatehouse_token_cache_lookups_total",
                "Token verifications by result (hit: the signature was checked earlier on this node)",
            ),
            &["result"],
        )
        .expect("static metric definition");
        // A second core on one registry (tests) finds the metric registered: that is fine.
        let _ = registry.register(Box::new(lookups.clone()));
        VerifiedTokens {
            cache: moka::sync::Cache::builder()
                .max_capacity(MAX_TOKENS)
                .time_to_idle(IDLE)
                .build(),
            hits: lookups.with_label_values(&["hit"]),
            misses: lookups.with_label_values(&["miss"]),
        }
    }

    /// `token::verify`, answered from the cache when this token verified here before and still
    /// would (see the module's rules).
    pub fn verify(
        &self,
        tenant_id: &str,
        keys: &KeyRing,
        token: &str,
        audience: Option<&str>,
        now_secs: i64,
    ) -> CoreResult<Arc<Claims>> {
        match self.cached(tenant_id, keys, token, audience, now_secs) {
            Some(answer) => answer,
            None => self.verify_and_keep(tenant_id, keys, token, audience, now_secs),
        }
    }

    /// The answer for a token verified here before that still would verify (`None`: not held, or
    /// held for another tenant, audience or key; verify it in full). Only tokens that name a key
    /// are ever held, so a miss is also where a legacy token goes its own way.
    pub fn cached(
        &self,
        tenant_id: &str,
        keys: &KeyRing,
        token: &str,
        audience: Option<&str>,
        now_secs: i64,
    ) -> Option<CoreResult<Arc<Claims>>> {
        let hit = self.cache.get(token)?;
        let still_verifies = hit.tenant_id == tenant_id
            && hit.audience.as_deref() == audience
            && keys
                .verifying_key(Some(&hit.kid))
                .is_some_and(|key| key.alg.algorithm() == hit.alg);
        if !still_verifies {
            return None;
        }
        self.hits.inc();
        Some(check_times(&hit.claims, true, now_secs).map(|()| hit.claims.clone()))
    }

    /// `token::verify` in full; a token that passes is kept for `cached`.
    pub fn verify_and_keep(
        &self,
        tenant_id: &str,
        keys: &KeyRing,
        token: &str,
        audience: Option<&str>,
        now_secs: i64,
    ) -> CoreResult<Arc<Claims>> {
        self.misses.inc();
        let signed = verify_signed(tenant_id, keys, token, audience)?;
        check_times(&signed.claims, true, now_secs)?;
        let claims = Arc::new(signed.claims);
        if token.len() <= MAX_TOKEN_LEN {
            self.cache.insert(
                token.into(),
                Arc::new(Verified {
                    tenant_id: tenant_id.to_owned(),
                    kid: signed.kid,
                    alg: signed.alg,
                    audience: audience.map(str::to_owned),
                    claims: claims.clone(),
                }),
            );
        }
        Ok(claims)
    }

    /// How many tokens are held.
    #[cfg(test)]
    fn len(&self) -> u64 {
        self.cache.run_pending_tasks();
        self.cache.entry_count()
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{claims, NOW};
    use super::super::{issue, issue_at_ms, SigningKey};
    use super::*;
    use crate::error::{AuthFailure, CoreError};

    fn cache() -> VerifiedTokens {
        VerifiedTokens::new(&Registry::new())
    }

    fn retired(key: &SigningKey) -> SigningKey {
        let mut k = key.clone();
        k.retired_at = Some(NOW * 1000);
        k
    }

    #[test]
    fn a_token_seen_again_is_answered_from_the_cache_with_the_same_claims() {
        let (cache, keys) = (cache(), KeyRing::new(vec![SigningKey::generate(0)]));
        let t = issue("t1", &keys, claims(), 60, NOW).unwrap();
        let first = cache.verify("t1", &keys, &t, None, NOW).unwrap();
        let again = cache.verify("t1", &keys, &t, None, NOW + 1).unwrap();
        assert!(
            Arc::ptr_eq(&first, &again),
            "the second answer is the cached one"
        );
        assert_eq!(first["id"], "u1");
        assert_eq!((cache.hits.get(), cache.misses.get()), (1, 1));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn a_cached_token_expires_on_time() {
        let (cache, keys) = (cache(), KeyRing::new(vec![SigningKey::generate(0)]));
        let t = issue("t1", &keys, claims(), 60, NOW).unwrap();
        cache.verify("t1", &keys, &t, None, NOW).unwrap();
        assert!(cache.verify("t1", &keys, &t, None, NOW + 59).is_ok());
        assert!(matches!(
            cache.verify("t1", &keys, &t, None, NOW + 60),
            Err(CoreError::Unauthorized(AuthFailure::ExpiredToken))
        ));
        // Not before: a token whose `nbf` is ahead is refused from the cache too.
        let mut later = claims();
        later.insert("nbf".into(), (NOW + 10).into());
        let t = issue_at_ms("t1", &keys, later, 60, NOW * 1000, None).unwrap();
        assert!(cache.verify("t1", &keys, &t, None, NOW).is_err());
        assert!(cache.verify("t1", &keys, &t, None, NOW + 10).is_ok());
        assert!(cache.verify("t1", &keys, &t, None, NOW + 5).is_err());
    }

    #[test]
    fn a_retired_key_ends_its_cached_tokens_at_once() {
        let key = SigningKey::generate(0);
        let (cache, keys) = (cache(), KeyRing::new(vec![key.clone()]));
        let t = issue("t1", &keys, claims(), 60, NOW).unwrap();
        cache.verify("t1", &keys, &t, None, NOW).unwrap();
        // The tenant as the node knows it next: the key retired, a new one signing.
        let rotated = KeyRing::new(vec![retired(&key), SigningKey::generate(1)]);
        assert!(cache.verify("t1", &rotated, &t, None, NOW).is_err());
        // A ring without the key at all (deleted) refuses it as well.
        let other = KeyRing::new(vec![SigningKey::generate(2)]);
        assert!(cache.verify("t1", &other, &t, None, NOW).is_err());
        // And the ring that still holds it accepts it again.
        assert!(cache.verify("t1", &keys, &t, None, NOW).is_ok());
    }

    #[test]
    fn a_cached_token_holds_only_for_its_tenant_and_audience() {
        let (cache, keys) = (cache(), KeyRing::new(vec![SigningKey::generate(0)]));
        let t = issue("t1", &keys, claims(), 60, NOW).unwrap();
        cache.verify("t1", &keys, &t, None, NOW).unwrap();
        // Another tenant, even one holding the same key, refuses it (its `tid` is not theirs).
        assert!(cache.verify("t2", &keys, &t, None, NOW).is_err());
        // Asked with an audience the token lacks: verified in full, and refused.
        assert!(cache.verify("t1", &keys, &t, Some("aud"), NOW).is_err());
        // The entry itself is still good for what it was verified for.
        assert!(cache.verify("t1", &keys, &t, None, NOW).is_ok());
        let mut with_aud = claims();
        with_aud.insert("aud".into(), "aud".into());
        let t = issue("t1", &keys, with_aud, 60, NOW).unwrap();
        assert!(cache.verify("t1", &keys, &t, Some("aud"), NOW).is_ok());
        assert!(cache.verify("t1", &keys, &t, Some("other"), NOW).is_err());
    }

    #[test]
    fn a_refused_token_is_never_kept() {
        let (cache, keys) = (cache(), KeyRing::new(vec![SigningKey::generate(0)]));
        let t = issue("t1", &keys, claims(), 60, NOW).unwrap();
        let forged = format!("{}x", &t[..t.len() - 1]);
        assert!(cache.verify("t1", &keys, &forged, None, NOW).is_err());
        assert!(cache.verify("t1", &keys, &t, None, NOW + 61).is_err());
        let other = KeyRing::new(vec![SigningKey::generate(0)]);
        let foreign = issue("t1", &other, claims(), 60, NOW).unwrap();
        assert!(cache.verify("t1", &keys, &foreign, None, NOW).is_err());
        assert_eq!(cache.len(), 0);
        assert_eq!(cache.hits.get(), 0);
    }
}
