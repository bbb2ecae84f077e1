//! Keeping the view fresh: applying this node's own changes at once (`Core::publish`), and other
//! nodes' changes from the feed, whether pushed (PostgreSQL NOTIFY, see `listen`) or polled
//! (`Core::sync_changes`, every `tenants.refresh_seconds`). Applying a change twice is harmless;
//! the cursor remembers recent ids so that it is rarely done.

use super::change::{self, Change, ChangeKind};
use crate::error::CoreResult;
use crate::service::Core;
use std::collections::HashMap;

/// A poll reads back this far behind the newest change it saw, so that a change whose transaction
/// committed late (its `at` is when it was made, not when it committed) is still read.
const OVERLAP_MS: i64 = 30_000;
/// Feed rows older than this are pruned (every node has long since read them).
const KEEP_MS: i64 = 3_600_000;
/// How often a node prunes the feed and expired revocations.
const PRUNE_EVERY_MS: i64 = 60_000;

/// Where this node is in the feed.
pub(crate) struct FeedCursor {
    /// The newest `at` seen.
    watermark: i64,
    /// Ids applied within the overlap window, with their `at`.
    seen: HashMap<String, i64>,
    last_prune: i64,
}

impl FeedCursor {
    pub fn starting_at(now_ms: i64) -> FeedCursor {
        FeedCursor {
            watermark: now_ms,
            seen: HashMap::new(),
            last_prune: now_ms,
        }
    }

    fn poll_from(&self) -> i64 {
        self.watermark - OVERLAP_MS
    }

    /// Whether `change` is new to this node; marks it seen.
    pub(super) fn admit(&mut self, change: &Change) -> bool {
        if change.at < self.poll_from() {
            // Older than anything a poll reads: it was applied, or the view was reloaded since.
            return false;
        }
        if self.seen.insert(change.id.clone(), change.at).is_some() {
            return false;
        }
        self.watermark = self.watermark.max(change.at);
        let floor = self.poll_from();
        self.seen.retain(|_, at| *at >= floor);
        true
    }
}

/// Where a change reached this node from, for the lag metric.
#[derive(Debug, Clone, Copy)]
pub enum Source {
    Local,
    Notify,
    Poll,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::Local => "local",
            Source::Notify => "notify",
            Source::Poll => "poll",
        }
    }
}

impl Core {
    /// Tells this node's view of changes just committed (they went to the feed in their transaction).
    pub(crate) async fn publish(&self, changes: &[Change]) -> CoreResult<()> {
        self.apply_changes(changes.to_vec(), Source::Local).await
    }

    /// Applies the changes that are new to this node. A tenant change reloads the directory once.
    ///
    /// This node's own changes are applied even when the feed delivered them first: NOTIFY arrives
    /// at commit, so the listener may have admitted a change whose reload has not finished yet, and
    /// the write must not return before this node reads it back (read-your-writes).
    pub async fn apply_changes(&self, changes: Vec<Change>, source: Source) -> CoreResult<()> {
        let own = matches!(source, Source::Local);
        let fresh: Vec<Change> = {
            let mut cursor = self.view.feed.lock().unwrap_or_else(|p| p.into_inner());
            changes
                .into_iter()
                .filter(|c| cursor.admit(c) || own)
                .collect()
        };
        let now = self.now_ms();
        let mut tenants_changed = false;
        for c in &fresh {
            match c.kind {
                ChangeKind::User => self.view.forget_user(&c.tenant_id, &c.key),
                ChangeKind::Revoke => {
                    if let Some((expires_at, jti)) = c.revoked_token() {
                        self.view.add_revoked(&c.tenant_id, jti, expires_at);
                    }
                }
                ChangeKind::Tenant => tenants_changed = true,
            }
            let lag = (now - c.at).max(0) as f64 / 1000.0;
            self.view
                .metrics
                .change_lag
                .with_label_values(&[source.as_str()])
                .observe(lag);
        }
        if tenants_changed {
            self.refresh_tenants().await?;
            // A hash policy changed on another node: its dummy is made now, in the background,
            // not by this node's first unknown-account sign-in.
            self.prewarm_hashing();
        }
        Ok(())
    }

    /// Reads the feed for changes made elsewhere (the fallback to NOTIFY, and the only way on
    /// SQLite), and now and then prunes old feed rows and expired revocations.
    pub async fn sync_changes(&self) -> CoreResult<()> {
        let (from, prune) = {
            let mut cursor = self.view.feed.lock().unwrap_or_else(|p| p.into_inner());
            let now = self.now_ms();
            let prune = now - cursor.last_prune >= PRUNE_EVERY_MS;
            if prune {
                cursor.last_prune = now;
            }
            (cursor.poll_from(), prune)
        };
        let (now_ms, now_secs) = (self.now_ms(), self.clock.now_secs());
        let changes = self
            .db
            .run_system(move |c| {
                if prune {
                    change::prune(c, now_ms - KEEP_MS, now_secs)?;
                }
                change::since(c, from)
            })
            .await?;
        self.apply_changes(changes, Source::Poll).await?;
        if prune {
            self.view.revoked.prune(now_secs);
        }
        self.view
            .metrics
            .revoked_held
            .set(self.view.revoked.len() as i64);
        Ok(())
    }

    /// Loads the view from the database: at start, and after a gap in the feed (a listener that
    /// lost its connection) when changes may have been missed.
    pub async fn reload_view(&self) -> CoreResult<()> {
        let now_secs = self.clock.now_secs();
        let revoked = self
            .db
            .run_system(move |c| change::load_revoked(c, now_secs))
            .await?;
        self.view.replace_revoked(revoked);
        self.view.forget_all_users();
        self.view
            .metrics
            .revoked_held
            .set(self.view.revoked.len() as i64);
        self.refresh_tenants().await
    }
}
