//! Password hashing on a bounded pool of blocking threads, so a burst of sign-ins queues here
//! instead of starving the async workers or the blocking pool that database calls share. Each job
//! is admitted for one tenant (see `hash_pool`). A tenant's `HashPolicy` (bcrypt at a cost, or
//! argon2id with memory, iterations and lanes) says how new hashes are made; both formats verify,
//! and a good password whose hash differs from the policy is re-hashed in the same job. Every
//! cost is clamped to the operator's caps, which also bound memory: at most `threads` hashes run
//! at once, so argon2 holds at most `threads x max_argon2_memory_kib` KiB.

use crate::error::{CoreError, CoreResult};
use crate::hash_pool::{HashPool, HashingLimits};
use crate::metrics::CoreMetrics;
use crate::validated::Password;
use argon2::password_hash::{self, Output, ParamsString, PasswordHash, SaltString};
use prometheus::IntCounterVec;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// How a tenant's new hashes are made (`PASSWORD_HASH` and its parameters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashPolicy {
    Bcrypt {
        cost: u32,
    },
    /// OWASP's first choice: memory in KiB, iterations, lanes.
    Argon2id {
        memory_kib: u32,
        iterations: u32,
        lanes: u32,
    },
}

impl HashPolicy {
    pub fn bcrypt(cost: u32) -> HashPolicy {
        HashPolicy::Bcrypt { cost }
    }

    /// OWASP's password storage cheat sheet: m=19456 KiB (19 MiB), t=2, p=1.
    pub const ARGON2_OWASP: HashPolicy = HashPolicy::Argon2id {
        memory_kib: 19_456,
        iterations: 2,
        lanes: 1,
    };

    pub fn name(&self) -> &'static str {
        match self {
            HashPolicy::Bcrypt { .. } => "bcrypt",
            HashPolicy::Argon2id { .. } => "argon2id",
        }
    }
}

/// Cheap to clone: clones share the pool and the dummy hashes (a background prewarm holds one).
#[derive(Clone)]
pub struct Hasher {
    inner: Arc<Inner>,
}

struct Inner {
    pool: HashPool,
    /// Where admitted hashes run (see `hash_pool::hashing_threads`).
    threads: rayon::ThreadPool,
    limits: HashingLimits,
    metrics: CoreMetrics,
    /// One dummy hash per policy, so that a sign-in for an unknown account spends the same time.
    dummies: Mutex<HashMap<HashPolicy, Arc<String>>>,
    /// argon2's working memory, kept between hashes (see `Arenas`).
    arenas: Arenas,
}

/// What a verification found.
#[derive(Debug, PartialEq, Eq)]
pub enum Verified {
    Match,
    /// Matches, and the stored hash should be replaced by this one (its algorithm or cost differs
    /// from the tenant's policy).
    MatchRehashed(String),
    NoMatch,
}

impl Hasher {
    pub fn new(limits: HashingLimits, metrics: CoreMetrics) -> CoreResult<Self> {
        Ok(Hasher {
            inner: Arc::new(Inner {
                pool: HashPool::new(&limits),
                threads: crate::hash_pool::hashing_threads(&limits)?,
                limits,
                metrics,
                dummies: Mutex::new(HashMap::new()),
                arenas: Arenas::default(),
            }),
        })
    }

    /// The cost a bcrypt hash is actually made at: the tenant's, but never above the operator's
    /// cap (a value stored before the cap, or under a higher one on another node, is clamped here).
    pub fn effective_cost(&self, cost: u32) -> u32 {
        cost.min(self.inner.limits.max_cost)
    }

    /// The policy as the operator's caps allow it (bcrypt cost, argon2 memory and iterations).
    pub fn effective(&self, policy: HashPolicy) -> HashPolicy {
        let l = &self.inner.limits;
        match policy {
            HashPolicy::Bcrypt { cost } => HashPolicy::Bcrypt {
                cost: self.effective_cost(cost),
            },
            HashPolicy::Argon2id {
                memory_kib,
                iterations,
                lanes,
            } => {
                let lanes = lanes.clamp(1, MAX_ARGON2_LANES);
                HashPolicy::Argon2id {
                    // argon2 needs at least 8 KiB a lane.
                    memory_kib: memory_kib.min(l.max_argon2_memory_kib).max(8 * lanes),
                    iterations: iterations.clamp(1, l.max_argon2_iterations.max(1)),
                    lanes,
                }
            }
        }
    }

    pub fn max_cost(&self) -> u32 {
        self.inner.limits.max_cost
    }

    pub fn limits(&self) -> &HashingLimits {
        &self.inner.limits
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
        let (reply, result) = tokio::sync::oneshot::channel();
        self.inner.threads.spawn(move || {
            let out = job();
            drop(admission);
            // The caller may have gone (its request was cancelled); the hash is simply dropped.
            let _ = reply.send(out);
        });
        let result = result.await;
        metrics.hash_in_flight.dec();
        result.map_err(|_| CoreError::Internal("a hashing job failed".into()))
    }

    pub async fn hash(
        &self,
        tenant: &str,
        password: &Password,
        policy: HashPolicy,
    ) -> CoreResult<String> {
        let pw = password.expose().to_owned();
        let policy = self.effective(policy);
        let (arenas, work) = (
            self.inner.arenas.clone(),
            self.inner.metrics.hash_work.clone(),
        );
        self.run(tenant, move || make_hash(&pw, policy, &arenas, &work))
            .await?
    }

    /// Verifies `password` against `stored`, or against a dummy hash of the same policy when there
    /// is no stored hash, so that "no such account" costs what "wrong password" costs. A wrong
    /// password against a stored hash that is not the policy's (an older cost, the other kind, an
    /// imported `$2a$`) also spends the policy's cost: a known account then never answers faster
    /// than an unknown one (issue 21.4b; it may answer slower, by its stale hash's cost, until a
    /// good sign-in re-hashes it).
    pub async fn verify(
        &self,
        tenant: &str,
        password: &Password,
        stored: Option<&str>,
        policy: HashPolicy,
    ) -> CoreResult<Verified> {
        let policy = self.effective(policy);
        // bcrypt reads only 72 bytes, so a longer candidate could match a hash of its prefix:
        // such a password was never accepted, so it matches nothing (at the usual price).
        let too_long = password.expose().len() > crate::validated::BCRYPT_MAX_PASSWORD_BYTES;
        let stored = stored.filter(|_| !too_long).map(str::to_owned);
        let pw = password.expose().to_owned();
        let inner = self.inner.clone();
        self.run(tenant, move || {
            let Some(hash) = stored else {
                spend_policy_cost(&inner, &pw, policy)?;
                return Ok(Verified::NoMatch);
            };
            if !matches(
                &pw,
                &hash,
                &inner.limits,
                &inner.arenas,
                &inner.metrics.hash_work,
            ) {
                top_up(&inner, &pw, &hash, policy)?;
                return Ok(Verified::NoMatch);
            }
            if follows(&hash, policy) {
                return Ok(Verified::Match);
            }
            make_hash(&pw, policy, &inner.arenas, &inner.metrics.hash_work)
                .map(Verified::MatchRehashed)
        })
        .await?
    }

    /// Makes the dummy hash for `policy` ahead of time, so that even the first unknown-account
    /// sign-in under it spends exactly one verification. Runs as the server's own work, which
    /// waits for a thread without a deadline.
    pub async fn prewarm(&self, policy: HashPolicy) -> CoreResult<()> {
        let policy = self.effective(policy);
        self.dummy(crate::hash_pool::SERVER, policy).await.map(drop)
    }

    /// Whether the dummy hash for `policy` (as capped) exists yet.
    pub fn has_dummy(&self, policy: HashPolicy) -> bool {
        self.lock_dummies().contains_key(&self.effective(policy))
    }

    async fn dummy(&self, tenant: &str, policy: HashPolicy) -> CoreResult<Arc<String>> {
        if let Some(h) = self.lock_dummies().get(&policy) {
            return Ok(h.clone());
        }
        let inner = self.inner.clone();
        Ok(self.run(tenant, move || dummy_of(&inner, policy)).await??.0)
    }

    fn lock_dummies(&self) -> std::sync::MutexGuard<'_, HashMap<HashPolicy, Arc<String>>> {
        self.inner.dummies.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Lanes an argon2 policy may ask for (each lane may run on its own thread inside the crate only
/// with its `parallel` feature, which Gatehouse does not enable: lanes cost memory, not threads).
pub const MAX_ARGON2_LANES: u32 = 16;

fn argon2_of(memory_kib: u32, iterations: u32, lanes: u32) -> CoreResult<argon2::Argon2<'static>> {
    let params = argon2::Params::new(memory_kib, iterations, lanes, None)
        .map_err(|e| CoreError::Internal(format!("argon2 parameters: {e}")))?;
    Ok(argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        params,
    ))
}

/// argon2's working memory (1 KiB blocks), kept for the next hash instead of being allocated and
/// freed each time: freed memory stays in the allocator's per-thread arenas, so RSS would grow with
/// every blocking thread that ever hashed. Here at most one buffer exists per hash running at once
/// (the pool admits `threads`), so argon2 holds at most `threads x max_argon2_memory_kib` KiB.
#[derive(Clone, Default)]
struct Arenas(Arc<Mutex<Vec<Vec<argon2::Block>>>>);

impl Arenas {
    fn with<T>(&self, blocks: usize, f: impl FnOnce(&mut [argon2::Block]) -> T) -> T {
        let lock = || self.0.lock().unwrap_or_else(|p| p.into_inner());
        let mut buffer = lock().pop().unwrap_or_default();
        if buffer.len() < blocks {
            buffer.resize(blocks, argon2::Block::default());
        }
        let out = f(&mut buffer[..blocks]);
        lock().push(buffer);
        out
    }
}

/// argon2 of `pw` and `salt` into an output of `len` bytes, in reused memory.
fn argon2_output(
    a2: &argon2::Argon2<'_>,
    pw: &[u8],
    salt: &[u8],
    len: usize,
    arenas: &Arenas,
) -> password_hash::Result<Output> {
    Output::init_with(len, |out| {
        arenas
            .with(a2.params().block_count(), |memory| {
                a2.hash_password_into_with_memory(pw, salt, out, memory)
            })
            .map_err(password_hash::Error::from)
    })
}

/// The dummy hash of `policy`, made now (one hash) if this node has none yet.
fn dummy_of(inner: &Inner, policy: HashPolicy) -> CoreResult<(Arc<String>, bool)> {
    let lock = || inner.dummies.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(h) = lock().get(&policy) {
        return Ok((h.clone(), false));
    }
    let random = uuid::Uuid::new_v4().to_string();
    let made = Arc::new(make_hash(
        &random,
        policy,
        &inner.arenas,
        &inner.metrics.hash_work,
    )?);
    Ok((lock().entry(policy).or_insert(made).clone(), true))
}

/// Spends one hash computation at `policy`: a verification against its dummy or, when this node
/// has none yet, making the dummy (the same work: one hash, not a hash and then a verification).
fn spend_policy_cost(inner: &Inner, pw: &str, policy: HashPolicy) -> CoreResult<()> {
    let (dummy, made) = dummy_of(inner, policy)?;
    if !made {
        // Never a match: the dummy is the hash of a random UUID nobody was told.
        let _ = matches(
            pw,
            &dummy,
            &inner.limits,
            &inner.arenas,
            &inner.metrics.hash_work,
        );
    }
    Ok(())
}

/// After a wrong password against `stored`, spends what the policy costs beyond what verifying
/// `stored` cost, so that a known account whose hash is cheaper than the policy's (an older cost,
/// a hash above this node's caps that was not verified at all) answers no faster than an unknown
/// one. bcrypt: verifications at costs c..p-1 add up to exactly 2^p - 2^c. argon2id: one more
/// computation of the missing KiB x iterations. A hash of the other kind is left at its own cost
/// (the two kinds' work has no common unit) until a good sign-in re-hashes it.
fn top_up(inner: &Inner, pw: &str, stored: &str, policy: HashPolicy) -> CoreResult<()> {
    match (stored_work(stored, &inner.limits), policy) {
        (None, _) => spend_policy_cost(inner, pw, policy),
        (Some(Spent::Bcrypt(c)), HashPolicy::Bcrypt { cost }) => {
            for k in c..cost {
                spend_policy_cost(inner, pw, HashPolicy::Bcrypt { cost: k })?;
            }
            Ok(())
        }
        (
            Some(Spent::Argon2(units)),
            HashPolicy::Argon2id {
                memory_kib,
                iterations,
                ..
            },
        ) => {
            let wanted = u64::from(memory_kib) * u64::from(iterations);
            if units >= wanted {
                return Ok(());
            }
            let t = iterations.max(1);
            let m = u32::try_from((wanted - units).div_ceil(u64::from(t)))
                .unwrap_or(memory_kib)
                .clamp(8, memory_kib.max(8));
            let a2 = argon2_of(m, t, 1)?;
            let mut salt = [0u8; 16];
            rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut salt);
            count_work(
                &inner.metrics.hash_work,
                HashPolicy::Argon2id {
                    memory_kib: m,
                    iterations: t,
                    lanes: 1,
                },
            );
            argon2_output(&a2, pw.as_bytes(), &salt, 32, &inner.arenas)
                .map(drop)
                .map_err(|e| CoreError::Internal(format!("argon2: {e}")))
        }
        _ => Ok(()),
    }
}

/// What verifying a stored hash cost (`None`: it could not be read, nothing was computed).
enum Spent {
    Bcrypt(u32),
    /// KiB x iterations; 0 for a hash above this node's caps (not verified).
    Argon2(u64),
}

fn stored_work(hash: &str, limits: &HashingLimits) -> Option<Spent> {
    if !hash.starts_with("$argon2") {
        return crate::bcrypt_verify::is_bcrypt(hash)
            .then(|| hash_cost(hash))
            .flatten()
            .map(Spent::Bcrypt);
    }
    let parsed = PasswordHash::new(hash).ok()?;
    let params = argon2::Params::try_from(&parsed).ok()?;
    if params.m_cost() > limits.max_argon2_memory_kib
        || params.t_cost() > limits.max_argon2_iterations
        || params.p_cost() > MAX_ARGON2_LANES
    {
        return Some(Spent::Argon2(0));
    }
    Some(Spent::Argon2(
        u64::from(params.m_cost()) * u64::from(params.t_cost()),
    ))
}

/// Counts one computation's work (see `CoreMetrics::hash_work`).
fn count_work(work: &IntCounterVec, policy: HashPolicy) {
    let (kind, units) = match policy {
        HashPolicy::Bcrypt { cost } => ("bcrypt", 1u64 << cost.min(31)),
        HashPolicy::Argon2id {
            memory_kib,
            iterations,
            ..
        } => ("argon2id", u64::from(memory_kib) * u64::from(iterations)),
    };
    work.with_label_values(&[kind]).inc_by(units);
}

/// A new hash of `pw` under `policy` (already capped), in its modular-crypt / PHC string form.
fn make_hash(
    pw: &str,
    policy: HashPolicy,
    arenas: &Arenas,
    work: &IntCounterVec,
) -> CoreResult<String> {
    count_work(work, policy);
    match policy {
        HashPolicy::Bcrypt { cost } => {
            bcrypt::hash(pw, cost).map_err(|e| CoreError::Internal(format!("bcrypt: {e}")))
        }
        HashPolicy::Argon2id {
            memory_kib,
            iterations,
            lanes,
        } => {
            let a2 = argon2_of(memory_kib, iterations, lanes)?;
            let mut bytes = [0u8; 16];
            rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
            let made = (|| {
                let salt = SaltString::encode_b64(&bytes)?;
                let output = argon2_output(
                    &a2,
                    pw.as_bytes(),
                    &bytes,
                    argon2::Params::DEFAULT_OUTPUT_LEN,
                    arenas,
                )?;
                let hash = PasswordHash {
                    algorithm: argon2::Algorithm::Argon2id.ident(),
                    version: Some(argon2::Version::V0x13.into()),
                    params: ParamsString::try_from(a2.params())?,
                    salt: Some(salt.as_salt()),
                    hash: Some(output),
                };
                Ok::<_, password_hash::Error>(hash.to_string())
            })();
            made.map_err(|e| CoreError::Internal(format!("argon2: {e}")))
        }
    }
}

/// Whether `pw` matches `hash` (bcrypt `$2a$`/`$2b$`/`$2y$`, or argon2 in PHC form). An argon2
/// hash whose memory or iterations exceed the operator's caps is not verified (it could take the
/// process's memory): it matches nothing, and says so in the log without naming the account.
fn matches(
    pw: &str,
    hash: &str,
    limits: &HashingLimits,
    arenas: &Arenas,
    work: &IntCounterVec,
) -> bool {
    if !hash.starts_with("$argon2") {
        if let Some(cost) = hash_cost(hash).filter(|_| crate::bcrypt_verify::is_bcrypt(hash)) {
            count_work(work, HashPolicy::Bcrypt { cost });
        }
        return crate::bcrypt_verify::verify(pw, hash);
    }
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let Ok(params) = argon2::Params::try_from(&parsed) else {
        return false;
    };
    if params.m_cost() > limits.max_argon2_memory_kib
        || params.t_cost() > limits.max_argon2_iterations
        || params.p_cost() > MAX_ARGON2_LANES
    {
        log::warn!(
            "a stored argon2 hash asks for m={} KiB t={} p={}, above this server's caps: not verified",
            params.m_cost(),
            params.t_cost(),
            params.p_cost()
        );
        return false;
    }
    let (Ok(algorithm), Some(salt), Some(expected)) = (
        argon2::Algorithm::try_from(parsed.algorithm),
        parsed.salt,
        parsed.hash,
    ) else {
        return false;
    };
    let version = match parsed.version.map(argon2::Version::try_from) {
        None => argon2::Version::V0x13,
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let a2 = argon2::Argon2::new(algorithm, version, params);
    count_work(
        work,
        HashPolicy::Argon2id {
            memory_kib: a2.params().m_cost(),
            iterations: a2.params().t_cost(),
            lanes: a2.params().p_cost(),
        },
    );
    // `Output`'s equality is constant-time.
    argon2_output(&a2, pw.as_bytes(), salt, expected.len(), arenas)
        .is_ok_and(|computed| computed == expected)
}

/// Whether a stored (and matching) hash is what `policy` would make now.
fn follows(hash: &str, policy: HashPolicy) -> bool {
    match policy {
        HashPolicy::Bcrypt { cost } => hash.starts_with("$2b$") && hash_cost(hash) == Some(cost),
        HashPolicy::Argon2id {
            memory_kib,
            iterations,
            lanes,
        } => {
            let Ok(parsed) = PasswordHash::new(hash) else {
                return false;
            };
            let Ok(params) = argon2::Params::try_from(&parsed) else {
                return false;
            };
            parsed.algorithm.as_str() == "argon2id"
                && parsed.version == Some(0x13)
                && params.m_cost() == memory_kib
                && params.t_cost() == iterations
                && params.p_cost() == lanes
        }
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

    const B4: HashPolicy = HashPolicy::Bcrypt { cost: 4 };

    fn hasher() -> Hasher {
        let limits = HashingLimits {
            threads: 2,
            ..HashingLimits::default()
        };
        Hasher::new(limits, CoreMetrics::new(&Registry::new())).expect("hashing threads")
    }

    #[tokio::test]
    async fn hashes_are_2b_and_verify() {
        let h = hasher();
        let pw = Password::new("correct horse", 8).unwrap();
        let hash = h.hash("t", &pw, B4).await.unwrap();
        assert!(hash.starts_with("$2b$04$"));
        assert_eq!(
            h.verify("t", &pw, Some(&hash), B4).await.unwrap(),
            Verified::Match
        );
        let wrong = Password::candidate("wrong horse");
        assert_eq!(
            h.verify("t", &wrong, Some(&hash), B4).await.unwrap(),
            Verified::NoMatch
        );
    }

    #[tokio::test]
    async fn a_hash_of_another_cost_is_rehashed_at_the_tenants_cost() {
        let h = hasher();
        let pw = Password::new("correct horse", 8).unwrap();
        let old = h.hash("t", &pw, B4).await.unwrap();
        match h
            .verify("t", &pw, Some(&old), HashPolicy::bcrypt(5))
            .await
            .unwrap()
        {
            Verified::MatchRehashed(new) => {
                assert_eq!(hash_cost(&new), Some(5));
                assert_eq!(
                    h.verify("t", &pw, Some(&new), HashPolicy::bcrypt(5))
                        .await
                        .unwrap(),
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
        match h.verify("t", &pw, Some(&two_a), B4).await.unwrap() {
            Verified::MatchRehashed(new) => assert!(new.starts_with("$2b$04$")),
            other => panic!("expected a rehash, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn unknown_accounts_verify_against_a_dummy_and_never_match() {
        let h = hasher();
        let pw = Password::candidate("anything");
        assert_eq!(
            h.verify("t", &pw, None, B4).await.unwrap(),
            Verified::NoMatch
        );
        // Once the dummy exists, an unknown account costs exactly one verification, as a known one does.
        let before = h.inner.metrics.hash_jobs.get();
        assert_eq!(
            h.verify("t", &pw, None, B4).await.unwrap(),
            Verified::NoMatch
        );
        assert_eq!(h.inner.metrics.hash_jobs.get() - before, 1);
    }

    #[tokio::test]
    async fn a_candidate_over_72_bytes_never_matches_even_when_its_prefix_would() {
        let h = hasher();
        let exact = "a".repeat(72);
        let hash = h
            .hash("t", &Password::new(&exact, 8).unwrap(), B4)
            .await
            .unwrap();
        let longer = Password::candidate(&format!("{exact}-and-more"));
        assert_eq!(
            h.verify("t", &longer, Some(&hash), B4).await.unwrap(),
            Verified::NoMatch
        );
        let same = Password::candidate(&exact);
        assert_eq!(
            h.verify("t", &same, Some(&hash), B4).await.unwrap(),
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
        let h = Hasher::new(limits, CoreMetrics::new(&Registry::new())).expect("hashing threads");
        let pw = Password::new("correct horse", 8).unwrap();
        // A tenant whose stored BCRYPT_COST is 31 hashes at the cap, not for days.
        let hash = h.hash("t", &pw, HashPolicy::bcrypt(31)).await.unwrap();
        assert!(hash.starts_with("$2b$05$"), "{hash}");
        assert_eq!(
            h.verify("t", &pw, Some(&hash), HashPolicy::bcrypt(31))
                .await
                .unwrap(),
            Verified::Match
        );
        assert!(!h.has_dummy(HashPolicy::bcrypt(31)));
        h.prewarm(HashPolicy::bcrypt(31)).await.unwrap();
        assert!(h.has_dummy(HashPolicy::bcrypt(31)) && h.has_dummy(HashPolicy::bcrypt(5)));
    }

    #[tokio::test]
    async fn php_style_2y_hashes_verify_too() {
        let h = hasher();
        let two_y = bcrypt::hash_with_result("secret123", 4)
            .unwrap()
            .format_for_version(bcrypt::Version::TwoY);
        assert!(two_y.starts_with("$2y$"));
        let verified = h
            .verify("t", &Password::candidate("secret123"), Some(&two_y), B4)
            .await
            .unwrap();
        assert!(matches!(verified, Verified::MatchRehashed(_)));
    }

    const A_SMALL: HashPolicy = HashPolicy::Argon2id {
        memory_kib: 1024,
        iterations: 1,
        lanes: 1,
    };

    #[tokio::test]
    async fn argon2id_hashes_verify_and_follow_the_policy() {
        let h = hasher();
        let pw = Password::new("correct horse", 8).unwrap();
        let hash = h.hash("t", &pw, A_SMALL).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{hash}");
        assert_eq!(
            h.verify("t", &pw, Some(&hash), A_SMALL).await.unwrap(),
            Verified::Match
        );
        let wrong = Password::candidate("wrong horse");
        assert_eq!(
            h.verify("t", &wrong, Some(&hash), A_SMALL).await.unwrap(),
            Verified::NoMatch
        );
        // Other parameters, or bcrypt as the policy: re-hashed in the same job.
        let more = HashPolicy::Argon2id {
            memory_kib: 2048,
            iterations: 1,
            lanes: 1,
        };
        match h.verify("t", &pw, Some(&hash), more).await.unwrap() {
            Verified::MatchRehashed(new) => {
                assert!(new.starts_with("$argon2id$v=19$m=2048,t=1,p=1$"))
            }
            other => panic!("expected a rehash, got {other:?}"),
        }
        match h.verify("t", &pw, Some(&hash), B4).await.unwrap() {
            Verified::MatchRehashed(new) => assert!(new.starts_with("$2b$04$")),
            other => panic!("expected a rehash, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_2a_bcrypt_hash_moves_to_argon2id_under_that_policy() {
        let h = hasher();
        let two_a = bcrypt::hash_with_result("secret123", 4)
            .unwrap()
            .format_for_version(bcrypt::Version::TwoA);
        let pw = Password::candidate("secret123");
        match h.verify("t", &pw, Some(&two_a), A_SMALL).await.unwrap() {
            Verified::MatchRehashed(new) => {
                assert!(new.starts_with("$argon2id$"), "{new}");
                assert_eq!(
                    h.verify("t", &pw, Some(&new), A_SMALL).await.unwrap(),
                    Verified::Match
                );
            }
            other => panic!("expected a rehash, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn unknown_accounts_cost_one_argon2_verification_too() {
        let h = hasher();
        let pw = Password::candidate("anything");
        h.prewarm(A_SMALL).await.unwrap();
        assert!(h.has_dummy(A_SMALL));
        assert!(h.lock_dummies()[&A_SMALL].starts_with("$argon2id$"));
        let before = h.inner.metrics.hash_jobs.get();
        assert_eq!(
            h.verify("t", &pw, None, A_SMALL).await.unwrap(),
            Verified::NoMatch
        );
        assert_eq!(h.inner.metrics.hash_jobs.get() - before, 1);
    }

    #[tokio::test]
    async fn argon2_parameters_are_capped_and_hashes_above_the_caps_are_not_verified() {
        let limits = HashingLimits {
            threads: 1,
            max_argon2_memory_kib: 2048,
            max_argon2_iterations: 2,
            ..HashingLimits::default()
        };
        let h = Hasher::new(limits, CoreMetrics::new(&Registry::new())).expect("hashing threads");
        let asked = HashPolicy::Argon2id {
            memory_kib: 1 << 20,
            iterations: 50,
            lanes: 1,
        };
        assert_eq!(
            h.effective(asked),
            HashPolicy::Argon2id {
                memory_kib: 2048,
                iterations: 2,
                lanes: 1
            }
        );
        let pw = Password::new("correct horse", 8).unwrap();
        // A hash made elsewhere with more memory than this server allows matches nothing here.
        let big = hasher()
            .hash(
                "t",
                &pw,
                HashPolicy::Argon2id {
                    memory_kib: 4096,
                    iterations: 1,
                    lanes: 1,
                },
            )
            .await
            .unwrap();
        assert_eq!(
            h.verify("t", &pw, Some(&big), asked).await.unwrap(),
            Verified::NoMatch
        );
    }
}
