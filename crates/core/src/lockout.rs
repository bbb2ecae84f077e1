//! The sign-in lock-out policy (issue 8.9). Failed sign-ins are counted per (login, client address)
//! in the database, and that pair is stopped for `SIGNIN_LOCK_SECONDS` after `SIGNIN_MAX_FAILURES`
//! of them, on every node. Across addresses a login is never locked (that would let anyone lock its
//! owner out): past `SIGNIN_MAX_FAILURES` failures in a lock window, each sign-in naming it waits a
//! growing delay first (a tarpit: an async sleep, counted per node in memory). An unknown account is
//! counted, locked and slowed exactly as a known one, so none of this tells which accounts exist.
//!
//! Code-taking routes (check a reset code, reset with one, verify an email) use the same table for
//! their misses (issue 21.9): each wrong code counts against the client address under a key no
//! login can have, and past `SIGNIN_MAX_FAILURES` misses that address gets `RateLimited` on every
//! code route for `SIGNIN_LOCK_SECONDS`. On PostgreSQL the count is the deployment's, not a node's.

use crate::error::{CoreError, CoreResult};
use crate::ratelimit::Subject;
use crate::service::Core;
use crate::storage::models::SigninLockRow;
use crate::storage::schema::signin_locks as locks;
use crate::storage::AnyConnection;
use crate::tenants::Tenant;
use crate::users::Login;
use diesel::prelude::*;
use std::net::IpAddr;
use std::time::Duration;

/// The first tarpit delay; each further failure doubles it, up to `SIGNIN_TARPIT_MAX_MS`.
const TARPIT_BASE_MS: u64 = 250;
/// Logins longer than any valid email or username are all unknown; their keys are cut to this.
const KEY_MAX_CHARS: usize = 256;
/// The "login" code misses are counted under: login keys are trimmed, so none starts with a space.
const CODE_GUESS_KEY: &str = " code guesses";

/// The login as the person typed it, normalised as the lookup does: it keys the lock and the
/// tarpit. Not the account id: an id exists only for known accounts, and keying by it would let
/// "username and email count together" tell a known account from an unknown one.
pub(crate) fn login_key(login: &Login) -> String {
    let key = match login {
        Login::Email(email) => email.as_str().to_owned(),
        Login::UsernameOrEmail(name) => name.trim().to_lowercase(),
    };
    key.chars().take(KEY_MAX_CHARS).collect()
}

/// How long a sign-in naming a login waits, given the failures for that login (from any address)
/// in the current lock window.
pub fn tarpit_delay(failures: u32, threshold: u32, max_ms: u64) -> Duration {
    if max_ms == 0 || failures < threshold {
        return Duration::ZERO;
    }
    let doublings = (failures - threshold).min(20);
    Duration::from_millis((TARPIT_BASE_MS << doublings).min(max_ms))
}

type Pair<'a> = diesel::dsl::Filter<
    diesel::dsl::Filter<
        diesel::dsl::Filter<locks::table, diesel::dsl::Eq<locks::tenant_id, &'a str>>,
        diesel::dsl::Eq<locks::login_key, &'a str>,
    >,
    diesel::dsl::Eq<locks::client_ip, &'a str>,
>;

fn pair<'a>(tid: &'a str, key: &'a str, ip: &'a str) -> Pair<'a> {
    locks::table
        .filter(locks::tenant_id.eq(tid))
        .filter(locks::login_key.eq(key))
        .filter(locks::client_ip.eq(ip))
}

/// Whether the pair's row holds a lock that has not run out.
pub(crate) fn is_locked(pair: Option<&SigninLockRow>, now: i64) -> bool {
    pair.is_some_and(|p| p.locked_until.is_some_and(|until| until > now))
}

/// The pair's row, if it has failures or a lock on record.
pub(crate) fn pair_state(
    conn: &mut AnyConnection,
    tid: &str,
    key: &str,
    ip: IpAddr,
) -> CoreResult<Option<SigninLockRow>> {
    let ip = ip.to_string();
    Ok(pair(tid, key, &ip)
        .select(SigninLockRow::as_select())
        .first(conn)
        .optional()?)
}

/// Counts one failure of the pair; at `max`, locks it until `now + lock_ms` and counts afresh.
/// A count older than the lock window is forgotten first. Statements, not one transaction: on
/// PostgreSQL a failed insert (two first failures racing) would abort the transaction, and each
/// statement is atomic on its own.
fn record_failure(
    conn: &mut AnyConnection,
    tid: &str,
    key: &str,
    ip: &str,
    max: i32,
    lock_ms: i64,
    now: i64,
) -> CoreResult<bool> {
    // Same rule as the tenant-wide prune below.
    diesel::delete(
        pair(tid, key, ip)
            .filter(locks::updated_at.lt(now - lock_ms))
            .filter(
                locks::locked_until
                    .is_null()
                    .or(locks::locked_until.le(now)),
            ),
    )
    .execute(conn)?;
    let mut failures = bump(conn, tid, key, ip, now)?;
    if failures.is_none() {
        let row = SigninLockRow {
            tenant_id: tid.to_owned(),
            login_key: key.to_owned(),
            client_ip: ip.to_owned(),
            failures: 1,
            locked_until: None,
            updated_at: now,
        };
        failures = match diesel::insert_into(locks::table).values(&row).execute(conn) {
            Ok(_) => Some(1),
            // Another request inserted the pair's row first: count on it.
            Err(e) => match CoreError::from(e) {
                CoreError::Conflict(_) => bump(conn, tid, key, ip, now)?,
                other => return Err(other),
            },
        };
    }
    let locks_now = failures.unwrap_or(0) >= max;
    if locks_now {
        diesel::update(pair(tid, key, ip))
            .set((
                locks::failures.eq(0),
                locks::locked_until.eq(Some(now + lock_ms)),
                locks::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(locks_now)
}

fn bump(
    conn: &mut AnyConnection,
    tid: &str,
    key: &str,
    ip: &str,
    now: i64,
) -> CoreResult<Option<i32>> {
    Ok(diesel::update(pair(tid, key, ip))
        .set((
            locks::failures.eq(locks::failures + 1),
            locks::updated_at.eq(now),
        ))
        .returning(locks::failures)
        .get_result(conn)
        .optional()?)
}

impl Core {
    /// `RateLimited` when `ip` has spent this minute's failed sign-ins on this tenant: checked
    /// before anything else (no database, no hashing).
    pub(crate) fn check_signin_failure_rate(
        &self,
        tenant: &Tenant,
        ip: IpAddr,
        now: i64,
    ) -> CoreResult<()> {
        let per_minute = tenant.settings.signin_failures_per_ip_per_minute;
        let spent = self.limiter.count(
            &tenant.id,
            Subject::SigninFailure(ip),
            crate::ratelimit::MINUTE_MS,
            now,
        );
        if per_minute > 0 && spent >= per_minute {
            return Err(CoreError::RateLimited);
        }
        Ok(())
    }

    /// The tarpit delay a sign-in naming `login` waits now (zero when it is not under attack).
    pub fn signin_delay(&self, tenant: &Tenant, login: &Login) -> Duration {
        self.tarpit_for(tenant, &login_key(login))
    }

    pub(crate) fn tarpit_for(&self, tenant: &Tenant, key: &str) -> Duration {
        let s = &tenant.settings;
        let failures = self.limiter.count(
            &tenant.id,
            Subject::LoginFailure(key.to_owned()),
            s.signin_lock_seconds * 1000,
            self.now_ms(),
        );
        tarpit_delay(failures, s.signin_max_failures, s.signin_tarpit_max_ms)
    }

    /// Counts a failed sign-in against the address, the login and the (login, address) pair;
    /// true when this failure locked the pair.
    pub(crate) async fn note_signin_failure(
        &self,
        tenant: &Tenant,
        key: String,
        ip: IpAddr,
    ) -> CoreResult<bool> {
        let now = self.now_ms();
        let lock_ms = tenant.settings.signin_lock_seconds * 1000;
        let minute = crate::ratelimit::MINUTE_MS;
        self.limiter
            .record(&tenant.id, Subject::SigninFailure(ip), minute, now);
        self.limiter
            .record(&tenant.id, Subject::LoginFailure(key.clone()), lock_ms, now);
        // Once a minute per tenant and node, expired rows of the tenant go.
        let prune = self.limiter.allow_subject(
            &tenant.id,
            Subject::Chore("prune-signin-locks"),
            1,
            minute,
            now,
        );
        let max = i32::try_from(tenant.settings.signin_max_failures).unwrap_or(i32::MAX);
        let tid = tenant.id.clone();
        self.db
            .run_tenant(&tenant.id, move |c| {
                if prune {
                    // Expired: the last failure is older than the lock window and any lock has ended.
                    diesel::delete(
                        locks::table
                            .filter(locks::tenant_id.eq(tid.as_str()))
                            .filter(locks::updated_at.lt(now - lock_ms))
                            .filter(
                                locks::locked_until
                                    .is_null()
                                    .or(locks::locked_until.le(now)),
                            ),
                    )
                    .execute(c)?;
                }
                record_failure(c, &tid, &key, &ip.to_string(), max, lock_ms, now)
            })
            .await
    }

    /// Runs `work` (a code lookup or use) for a client at `ip` unless that address has spent its
    /// misses: `RateLimited` then, without looking at the code. A miss (`NotFound`, or a code of
    /// another user) is counted; reaching the limit locks the address for the lock window.
    pub(crate) async fn guard_code_guesses<T>(
        &self,
        tenant: &Tenant,
        ip: IpAddr,
        work: impl std::future::Future<Output = CoreResult<T>>,
    ) -> CoreResult<T> {
        let (tid, now) = (tenant.id.clone(), self.now_ms());
        let pair = self
            .db
            .run_tenant(&tenant.id, move |c| pair_state(c, &tid, CODE_GUESS_KEY, ip))
            .await?;
        if is_locked(pair.as_ref(), now) {
            return Err(CoreError::RateLimited);
        }
        let outcome = work.await;
        let missed = matches!(
            &outcome,
            Err(CoreError::NotFound(_)) | Err(CoreError::Forbidden(crate::mail::VERIFY_OTHER_USER))
        );
        if missed {
            let lock_ms = tenant.settings.signin_lock_seconds * 1000;
            let max = i32::try_from(tenant.settings.signin_max_failures).unwrap_or(i32::MAX);
            let tid = tenant.id.clone();
            self.db
                .run_tenant(&tenant.id, move |c| {
                    record_failure(c, &tid, CODE_GUESS_KEY, &ip.to_string(), max, lock_ms, now)
                })
                .await?;
        }
        outcome
    }

    /// A good password from the pair ends its count (and a lock that has run out).
    pub(crate) async fn clear_signin_failures(
        &self,
        tenant: &Tenant,
        key: String,
        ip: IpAddr,
    ) -> CoreResult<()> {
        let tid = tenant.id.clone();
        self.db
            .run_tenant(&tenant.id, move |c| {
                diesel::delete(pair(&tid, &key, &ip.to_string())).execute(c)?;
                Ok(())
            })
            .await
    }
}

/// Ends the locks on an account's logins (its email and username) from every address: a password
/// the owner or an admin has just set makes the earlier failures moot. In the caller's transaction.
pub(crate) fn clear_account_locks(
    conn: &mut AnyConnection,
    tenant_id: &str,
    logins: &[String],
) -> CoreResult<()> {
    diesel::delete(
        locks::table
            .filter(locks::tenant_id.eq(tenant_id))
            .filter(locks::login_key.eq_any(logins)),
    )
    .execute(conn)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tarpit_starts_at_the_failure_limit_and_doubles_up_to_its_cap() {
        let ms = |f| tarpit_delay(f, 10, 5_000).as_millis();
        assert_eq!(ms(0), 0);
        assert_eq!(ms(9), 0);
        assert_eq!(ms(10), 250);
        assert_eq!(ms(11), 500);
        assert_eq!(ms(13), 2_000);
        assert_eq!(ms(15), 5_000);
        assert_eq!(ms(u32::MAX), 5_000);
        assert_eq!(tarpit_delay(50, 10, 0), Duration::ZERO);
    }

    #[test]
    fn login_keys_are_normalised_and_bounded() {
        assert_eq!(
            login_key(&Login::UsernameOrEmail("  Ann@Example.com ".into())),
            "ann@example.com"
        );
        let email = crate::Email::parse("ann@example.com").unwrap();
        assert_eq!(login_key(&Login::Email(email)), "ann@example.com");
        let long = "x".repeat(10_000);
        assert_eq!(
            login_key(&Login::UsernameOrEmail(long)).chars().count(),
            KEY_MAX_CHARS
        );
    }
}
