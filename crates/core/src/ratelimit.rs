//! Counting events per (tenant, subject) in fixed windows, kept in memory on each node: the per-IP
//! limits on signups and on failed sign-ins, and the per-account failure count that the sign-in
//! tarpit reads. One limiter serves them all; each subject kind has its own counters.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// The window of the per-minute limits.
pub const MINUTE_MS: i64 = 60_000;
/// An hour (the mail limits count over the last one, in the database: see `mail::limits`).
pub const HOUR_MS: i64 = 3_600_000;
/// Past this many tracked subjects, finished windows are swept, at most once every `SWEEP_EVERY_MS`:
/// when most subjects are live (many logins tried within their lock window, many addresses asking
/// for mail within the hour), a sweep on every count would walk them all under the lock on every
/// sign-in.
const SWEEP_ABOVE: usize = 10_000;
const SWEEP_EVERY_MS: i64 = 1_000;

/// What is counted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    /// Signups, user creations and anonymous sign-ins from one address.
    Signup(IpAddr),
    /// Failed sign-ins from one address, whatever account they named.
    SigninFailure(IpAddr),
    /// Failed sign-ins naming one login (email or username), from any address.
    LoginFailure(String),
    /// Failed introspection client authentications (unknown client or wrong secret) from one
    /// address.
    IntrospectionClientFailure(IpAddr),
    /// The server's own chores (e.g. pruning expired sign-in locks), at most so often.
    Chore(&'static str),
}

#[derive(Default)]
pub struct RateLimiter {
    windows: Mutex<Windows>,
}

#[derive(Default)]
struct Windows {
    /// (tenant, subject) -> (end of the current window, events in it).
    counts: HashMap<(String, Subject), (i64, u32)>,
    /// No sweep before this time (ms).
    next_sweep: i64,
}

fn window_end(now_ms: i64, window_ms: i64) -> i64 {
    let w = window_ms.max(1);
    (now_ms.div_euclid(w) + 1) * w
}

impl RateLimiter {
    /// Counts one signup-like request and says whether it is within `per_minute` (0: no limit).
    pub fn allow(&self, tenant_id: &str, ip: IpAddr, per_minute: u32, now_ms: i64) -> bool {
        self.allow_subject(
            tenant_id,
            Subject::Signup(ip),
            per_minute,
            MINUTE_MS,
            now_ms,
        )
    }

    /// Counts one event of `subject` if fewer than `limit` were counted in this window, and says
    /// whether it did (0: no limit: nothing is counted and the event is allowed).
    pub fn allow_subject(
        &self,
        tenant_id: &str,
        subject: Subject,
        limit: u32,
        window_ms: i64,
        now_ms: i64,
    ) -> bool {
        if limit == 0 {
            return true;
        }
        self.update(tenant_id, subject, window_ms, now_ms, |n| {
            if *n >= limit {
                return false;
            }
            *n += 1;
            true
        })
    }

    /// Counts one event of `subject` and returns how many this window now holds.
    pub fn record(&self, tenant_id: &str, subject: Subject, window_ms: i64, now_ms: i64) -> u32 {
        self.update(tenant_id, subject, window_ms, now_ms, |n| {
            *n = n.saturating_add(1);
            *n
        })
    }

    /// Events of `subject` in the current window, without counting one. Reading tracks nothing
    /// new: every sign-in reads its login's failures, and most logins have none.
    pub fn count(&self, tenant_id: &str, subject: Subject, window_ms: i64, now_ms: i64) -> u32 {
        let end = window_end(now_ms, window_ms);
        let windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        match windows.counts.get(&(tenant_id.to_owned(), subject)) {
            Some(&(e, n)) if e == end => n,
            _ => 0,
        }
    }

    /// Subjects tracked now.
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.windows
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .counts
            .len()
    }

    fn update<T>(
        &self,
        tenant_id: &str,
        subject: Subject,
        window_ms: i64,
        now_ms: i64,
        f: impl FnOnce(&mut u32) -> T,
    ) -> T {
        let end = window_end(now_ms, window_ms);
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if windows.counts.len() > SWEEP_ABOVE && now_ms >= windows.next_sweep {
            windows.counts.retain(|_, (e, _)| *e > now_ms);
            windows.next_sweep = now_ms + SWEEP_EVERY_MS;
        }
        let entry = windows
            .counts
            .entry((tenant_id.to_owned(), subject))
            .or_insert((end, 0));
        if entry.0 != end {
            *entry = (end, 0);
        }
        f(&mut entry.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_tenant_and_ip_and_resets_each_minute() {
        let rl = RateLimiter::default();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        assert!(rl.allow("a", ip, 2, 0));
        assert!(rl.allow("a", ip, 2, 1));
        assert!(!rl.allow("a", ip, 2, 2));
        assert!(rl.allow("a", other, 2, 2));
        assert!(rl.allow("b", ip, 2, 2));
        assert!(rl.allow("a", ip, 2, 60_000));
        assert!(rl.allow("a", ip, 0, 60_001));
    }

    #[test]
    fn subjects_count_apart_and_in_their_own_windows() {
        let rl = RateLimiter::default();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        assert!(rl.allow("a", ip, 1, 0));
        // Failed sign-ins from the same address are another counter than its signups.
        assert_eq!(rl.count("a", Subject::SigninFailure(ip), MINUTE_MS, 0), 0);
        assert_eq!(rl.record("a", Subject::SigninFailure(ip), MINUTE_MS, 0), 1);
        assert_eq!(rl.record("a", Subject::SigninFailure(ip), MINUTE_MS, 5), 2);
        assert_eq!(
            rl.count("a", Subject::SigninFailure(ip), MINUTE_MS, 59_999),
            2
        );
        assert_eq!(
            rl.count("a", Subject::SigninFailure(ip), MINUTE_MS, 60_000),
            0
        );
        // A five-minute window keeps its count across minutes.
        let login = || Subject::LoginFailure("x@example.com".into());
        rl.record("a", login(), 300_000, 1_000);
        assert_eq!(rl.count("a", login(), 300_000, 299_999), 1);
        assert_eq!(rl.count("a", login(), 300_000, 300_000), 0);
        // A chore allowed once a window.
        assert!(rl.allow_subject("a", Subject::Chore("prune"), 1, MINUTE_MS, 0));
        assert!(!rl.allow_subject("a", Subject::Chore("prune"), 1, MINUTE_MS, 1));
    }

    #[test]
    fn reading_tracks_nothing_and_finished_windows_are_swept() {
        let rl = RateLimiter::default();
        // Every sign-in reads its login's failures: a read of an unknown login keeps nothing.
        for i in 0..100 {
            let login = Subject::LoginFailure(format!("user{i}@example.com"));
            assert_eq!(rl.count("a", login, 300_000, 0), 0);
        }
        assert_eq!(rl.tracked(), 0);
        // Past the sweep threshold, windows that ended are dropped.
        for i in 0..=SWEEP_ABOVE {
            rl.record("a", Subject::LoginFailure(format!("u{i}")), MINUTE_MS, 0);
        }
        assert_eq!(rl.tracked(), SWEEP_ABOVE + 1);
        rl.record(
            "a",
            Subject::LoginFailure("late".into()),
            HOUR_MS,
            MINUTE_MS,
        );
        assert_eq!(rl.tracked(), 1, "only the live window is left");
        // Then no sweep for SWEEP_EVERY_MS, even with ended windows past the threshold: a sweep
        // walks every subject under the lock, and every sign-in counts.
        let t = MINUTE_MS;
        for i in 0..=SWEEP_ABOVE {
            rl.record("a", Subject::LoginFailure(format!("v{i}")), 1, t);
        }
        rl.record(
            "a",
            Subject::LoginFailure("w".into()),
            HOUR_MS,
            t + SWEEP_EVERY_MS - 1,
        );
        assert_eq!(rl.tracked(), SWEEP_ABOVE + 3);
        rl.record(
            "a",
            Subject::LoginFailure("x".into()),
            HOUR_MS,
            t + SWEEP_EVERY_MS,
        );
        assert_eq!(rl.tracked(), 3, "late, w and x are live");
    }
}
