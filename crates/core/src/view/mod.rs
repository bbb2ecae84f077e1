//! The bounded-staleness view: the only place that knows what is cached for token checks and how
//! stale it may be. It holds users' token-relevant state (and the user record `GET /user` needs)
//! in a `moka` cache keyed by (tenant, user), and each tenant's revoked `jti`s in memory, so that a
//! token check makes no database round trip in the common case.
//!
//! Freshness: every write in core tells the view of this node at once (`Core::publish`) and appends
//! a row to the change feed in the same transaction; other nodes apply the feed when PostgreSQL's
//! `NOTIFY gatehouse_changes` reaches them (well under a second) or, on SQLite and as the fallback
//! everywhere, when they poll it every `tenants.refresh_seconds`. A cache entry that no change
//! names is never older than `ENTRY_TTL` either.

pub mod change;
mod check;
pub mod listen;
mod metrics;
mod revoked;
mod sync;
pub use check::CheckedUser;
pub use sync::Source;

pub use change::{Change, ChangeKind};
pub use metrics::ViewMetrics;

use crate::clock::SharedClock;
use crate::error::CoreResult;
use crate::users::User;
use revoked::RevokedSet;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The longest an entry lives without being asked for again or named by a change: a safety net
/// under the change feed, not the staleness bound (the feed is).
const ENTRY_TTL: Duration = Duration::from_secs(600);
/// Users held at most (per node, all tenants together); the least used go first.
const MAX_USERS: u64 = 200_000;

/// What a token check needs to know about a user.
#[derive(Debug, Clone, PartialEq)]
pub struct UserState {
    pub user: User,
    /// Tokens issued at or before this millisecond are ended (0: none).
    pub tokens_valid_after: i64,
}

type UserKey = (String, String);

pub struct View {
    /// `None`: no such user (deleted, or never was), cached too so a deleted user's tokens cost nothing.
    users: moka::sync::Cache<UserKey, Option<Arc<UserState>>>,
    /// Bumped by every invalidation: a load that began before it must not put what it read back.
    generation: AtomicU64,
    revoked: RevokedSet,
    feed: Mutex<sync::FeedCursor>,
    clock: SharedClock,
    pub(crate) metrics: ViewMetrics,
}

impl View {
    pub fn new(clock: SharedClock, registry: &prometheus::Registry) -> View {
        let now = clock.now_ms();
        View {
            users: moka::sync::Cache::builder()
                .max_capacity(MAX_USERS)
                .time_to_live(ENTRY_TTL)
                .build(),
            generation: AtomicU64::new(0),
            revoked: RevokedSet::default(),
            feed: Mutex::new(sync::FeedCursor::starting_at(now)),
            clock,
            metrics: ViewMetrics::new(registry),
        }
    }

    /// The user's state from the cache, or from `load` (the database) on a miss.
    pub(crate) async fn user<F, Fut>(
        &self,
        tenant_id: &str,
        user_id: &str,
        load: F,
    ) -> CoreResult<Option<Arc<UserState>>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = CoreResult<Option<UserState>>>,
    {
        let key = (tenant_id.to_owned(), user_id.to_owned());
        if let Some(hit) = self.users.get(&key) {
            self.metrics.lookup_hits.inc();
            return Ok(hit);
        }
        self.metrics.lookup_misses.inc();
        let before = self.generation.load(Ordering::SeqCst);
        let loaded = load().await?.map(Arc::new);
        // A change applied while we read may be newer than what we read: answer it, do not keep it.
        if self.generation.load(Ordering::SeqCst) == before {
            self.users.insert(key, loaded.clone());
        }
        Ok(loaded)
    }

    /// Forgets one user: the next check reads them afresh.
    pub fn forget_user(&self, tenant_id: &str, user_id: &str) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.users
            .invalidate(&(tenant_id.to_owned(), user_id.to_owned()));
    }

    /// Forgets every user (after a gap in the feed, when changes may have been missed).
    pub fn forget_all_users(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.users.invalidate_all();
    }

    /// Whether the token `jti` of this tenant was revoked (and has not expired since).
    pub fn is_revoked(&self, tenant_id: &str, jti: &str) -> bool {
        self.revoked.contains(tenant_id, jti)
    }

    pub(crate) fn add_revoked(&self, tenant_id: &str, jti: &str, expires_at_secs: i64) {
        self.revoked.insert(tenant_id, jti, expires_at_secs);
    }

    pub(crate) fn replace_revoked(&self, all: Vec<(String, String, i64)>) {
        self.revoked.replace(all);
        self.revoked.prune(self.clock.now_secs());
    }

    /// How many users the cache holds now (approximately; for tests and metrics).
    pub fn cached_users(&self) -> u64 {
        self.users.run_pending_tasks();
        self.users.entry_count()
    }
}

#[cfg(test)]
mod tests;
