//! Admission to the hashing pool: a fixed number of threads, a per-tenant share of them, and a queue
//! deadline. One tenant's burst of sign-ins (or its expensive bcrypt cost) then waits in its own
//! queue, never holding every thread, and a request that cannot start in time answers 503.

use crate::error::{CoreError, CoreResult};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The tenant key of the server's own work (the dummy hashes made in the background).
pub(crate) const SERVER: &str = "";

/// The pool's size and rules, as the operator configured them (`[hashing]`).
#[derive(Debug, Clone, Copy)]
pub struct HashingLimits {
    /// Hashes that may run at once.
    pub threads: usize,
    /// Of those, how many one tenant may hold (0: half the threads, rounded up).
    pub tenant_share: usize,
    /// How long a hash may wait for a thread before the request answers 503.
    pub queue_timeout: Duration,
    /// The highest bcrypt cost any tenant may use; a stored higher cost is clamped to it.
    pub max_cost: u32,
    /// The most memory one argon2 hash may use (KiB): with `threads`, it bounds hashing's memory.
    pub max_argon2_memory_kib: u32,
    /// The most argon2 iterations a tenant may ask for.
    pub max_argon2_iterations: u32,
    /// How much lower the hashing threads' CPU priority is than the server's (Linux `nice`
    /// increment, 0 to 19). When hashes keep every core busy, the async workers (token checks,
    /// everything that is not a hash) still get a core at once; with nothing else to run, the
    /// hashing threads get the whole machine as before.
    pub nice: i32,
}

impl Default for HashingLimits {
    fn default() -> Self {
        HashingLimits {
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            tenant_share: 0,
            queue_timeout: Duration::from_millis(3_000),
            max_cost: 14,
            max_argon2_memory_kib: 65_536,
            max_argon2_iterations: 10,
            nice: DEFAULT_NICE,
        }
    }
}

/// The default of `[hashing] nice`.
pub const DEFAULT_NICE: i32 = 10;

/// The threads hashes run on: `limits.threads` of them, each lowered by `limits.nice` when it
/// starts. Admission (`HashPool`) lets at most that many hashes in at once, so a job never waits
/// here for a thread.
pub(crate) fn hashing_threads(limits: &HashingLimits) -> CoreResult<rayon::ThreadPool> {
    let nice = limits.nice.clamp(0, 19);
    rayon::ThreadPoolBuilder::new()
        .num_threads(limits.threads.max(1))
        .thread_name(|i| format!("gatehouse-hash-{i}"))
        .start_handler(move |_| lower_priority(nice))
        // A job that panics drops its reply channel, so its caller gets an error; the process and
        // the thread go on (rayon's default would abort).
        .panic_handler(|_| log::error!("a hashing job panicked"))
        .build()
        .map_err(|e| CoreError::Internal(format!("cannot start the hashing threads: {e}")))
}

/// Lowers the calling thread's CPU priority by `nice` (Linux: `setpriority` on a thread id applies
/// to that thread alone). Raising it back would need privileges, so these threads do only hashing.
fn lower_priority(nice: i32) {
    #[cfg(target_os = "linux")]
    if nice > 0 {
        // SAFETY: gettid and setpriority take plain integers and touch no memory of ours.
        let done = unsafe {
            let tid = libc::gettid();
            let now = libc::getpriority(libc::PRIO_PROCESS, tid as libc::id_t);
            libc::setpriority(
                libc::PRIO_PROCESS,
                tid as libc::id_t,
                now.saturating_add(nice),
            )
        };
        if done != 0 {
            log::warn!("hashing threads keep the server's CPU priority: setpriority failed");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
}

impl HashingLimits {
    /// Threads one tenant may hold: at least one, at most all.
    pub fn share(&self) -> usize {
        let threads = self.threads.max(1);
        match self.tenant_share {
            0 => threads.div_ceil(2),
            n => n.min(threads),
        }
    }
}

/// Held while a hash runs: one of the tenant's permits and one of the pool's.
pub(crate) struct Admission {
    _tenant: OwnedSemaphorePermit,
    _pool: OwnedSemaphorePermit,
}

pub(crate) struct HashPool {
    pool: Arc<Semaphore>,
    tenants: Mutex<HashMap<String, Arc<Semaphore>>>,
    share: usize,
    queue_timeout: Duration,
}

impl HashPool {
    pub(crate) fn new(limits: &HashingLimits) -> Self {
        HashPool {
            pool: Arc::new(Semaphore::new(limits.threads.max(1))),
            tenants: Mutex::new(HashMap::new()),
            share: limits.share(),
            queue_timeout: limits.queue_timeout,
        }
    }

    /// Waits for a thread for `tenant` (`SERVER` for the server's own work). The tenant's permit
    /// comes first, so the pool's FIFO queue never holds more than `share` jobs of one tenant and
    /// another tenant's job is at most `share` jobs behind. Past the deadline: `Unavailable` (503);
    /// the server's own background work has no client waiting, so it has no deadline.
    pub(crate) async fn admit(&self, tenant: &str) -> CoreResult<Admission> {
        let own = self.tenant_queue(tenant);
        let pool = self.pool.clone();
        let wait = async move {
            let tenant = own.acquire_owned().await?;
            let pool = pool.acquire_owned().await?;
            Ok::<_, tokio::sync::AcquireError>(Admission {
                _tenant: tenant,
                _pool: pool,
            })
        };
        let waited = if tenant == SERVER {
            Ok(wait.await)
        } else {
            tokio::time::timeout(self.queue_timeout, wait).await
        };
        match waited {
            Ok(Ok(admission)) => Ok(admission),
            Ok(Err(_)) => Err(CoreError::Unavailable("hashing pool closed".into())),
            Err(_) => Err(CoreError::Unavailable(format!(
                "no hashing thread within {} ms",
                self.queue_timeout.as_millis()
            ))),
        }
    }

    fn tenant_queue(&self, tenant: &str) -> Arc<Semaphore> {
        let mut map = self.tenants.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(tenant.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(self.share)))
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(threads: usize, tenant_share: usize, timeout_ms: u64) -> HashingLimits {
        HashingLimits {
            threads,
            tenant_share,
            queue_timeout: Duration::from_millis(timeout_ms),
            max_cost: 14,
            ..HashingLimits::default()
        }
    }

    #[test]
    fn a_tenant_shares_half_the_threads_unless_told_otherwise() {
        assert_eq!(limits(1, 0, 1).share(), 1);
        assert_eq!(limits(2, 0, 1).share(), 1);
        assert_eq!(limits(3, 0, 1).share(), 2);
        assert_eq!(limits(8, 0, 1).share(), 4);
        assert_eq!(limits(8, 3, 1).share(), 3);
        assert_eq!(limits(2, 9, 1).share(), 2);
    }

    #[tokio::test]
    async fn a_tenant_holding_its_share_does_not_stop_another_tenant() {
        let pool = HashPool::new(&limits(2, 0, 50));
        let held = pool.admit("a").await.unwrap();
        // Tenant a has its one permit: its next job waits and meets the deadline...
        assert!(matches!(
            pool.admit("a").await,
            Err(CoreError::Unavailable(_))
        ));
        // ...while tenant b is admitted at once.
        let b = pool.admit("b").await.unwrap();
        drop((held, b));
        assert!(pool.admit("a").await.is_ok());
    }
}
