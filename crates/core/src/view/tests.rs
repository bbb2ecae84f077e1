//! Unit tests of the view with a `ManualClock`: cache hits, invalidation racing a load, and
//! revocations that lapse when their tokens would have expired.

use super::*;
use crate::clock::{Clock, ManualClock};
use crate::error::CoreError;
use serde_json::Value;
use std::sync::atomic::AtomicUsize;

const T0: i64 = 1_800_000_000_000;

fn view() -> (View, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(T0));
    (
        View::new(clock.clone(), &prometheus::Registry::new()),
        clock,
    )
}

fn state(disabled: bool) -> UserState {
    UserState {
        user: User {
            id: "u1".into(),
            email: Some("u@example.com".into()),
            username: None,
            firstname: String::new(),
            lastname: String::new(),
            email_verified: false,
            scopes: vec!["user".into()],
            plan: "free".into(),
            metadata: Value::Null,
            is_active: true,
            disabled,
            has_password: true,
            profile: Default::default(),
            vendor: None,
            created_at: T0,
            updated_at: T0,
        },
        tokens_valid_after: 0,
    }
}

#[tokio::test]
async fn a_second_lookup_is_answered_from_the_cache() {
    let (view, _) = view();
    let loads = AtomicUsize::new(0);
    for _ in 0..3 {
        let got = view
            .user("t", "u1", || async {
                loads.fetch_add(1, Ordering::SeqCst);
                Ok(Some(state(false)))
            })
            .await
            .unwrap();
        assert!(!got.unwrap().user.disabled);
    }
    assert_eq!(loads.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_forgotten_user_is_read_again_and_deleted_users_are_cached_as_none() {
    let (view, _) = view();
    view.user("t", "u1", || async { Ok(Some(state(false))) })
        .await
        .unwrap();
    view.forget_user("t", "u1");
    let got = view
        .user("t", "u1", || async { Ok(Some(state(true))) })
        .await
        .unwrap();
    assert!(got.unwrap().user.disabled);
    view.forget_user("t", "u1");
    assert!(view
        .user("t", "u1", || async { Ok(None) })
        .await
        .unwrap()
        .is_none());
    let again = view
        .user("t", "u1", || async {
            Err(CoreError::Internal("not asked".into()))
        })
        .await
        .unwrap();
    assert!(again.is_none(), "the absence is cached too");
}

#[tokio::test]
async fn a_load_that_raced_an_invalidation_is_answered_but_not_kept() {
    let (view, _) = view();
    let stale = view
        .user("t", "u1", || async {
            // The change lands while the (old) row is being read.
            view.forget_user("t", "u1");
            Ok(Some(state(false)))
        })
        .await
        .unwrap();
    assert!(!stale.unwrap().user.disabled);
    let fresh = view
        .user("t", "u1", || async { Ok(Some(state(true))) })
        .await
        .unwrap();
    assert!(
        fresh.unwrap().user.disabled,
        "the raced read was not cached"
    );
}

#[test]
fn revocations_are_per_tenant_and_lapse_when_their_tokens_expire() {
    let (view, clock) = view();
    let now = clock.now_secs();
    view.add_revoked("t", "j1", now + 60);
    assert!(view.is_revoked("t", "j1"));
    assert!(!view.is_revoked("other", "j1"));
    assert!(!view.is_revoked("t", "j2"));
    clock.advance_secs(61);
    view.replace_revoked(vec![("t".into(), "j1".into(), now + 60)]);
    assert!(
        !view.is_revoked("t", "j1"),
        "an expired token's revocation is dropped (expiry refuses it now)"
    );
}

#[test]
fn the_feed_cursor_applies_each_change_once_and_skips_what_is_older_than_its_window() {
    let mut cursor = sync::FeedCursor::starting_at(T0);
    let c = Change::user("t", "u1", T0 + 5);
    assert!(cursor.admit(&c));
    assert!(!cursor.admit(&c), "seen");
    let late = Change::user("t", "u2", T0 - 1_000);
    assert!(
        cursor.admit(&late),
        "a late commit inside the overlap is applied"
    );
    let ancient = Change::user("t", "u3", T0 - 3_600_000);
    assert!(!cursor.admit(&ancient));
}

#[test]
fn changes_survive_the_notify_payload() {
    for c in [
        Change::user("t1", "u1", T0),
        Change::revoke("t1", "0193-abc", 1_800_000_060, T0),
        Change::tenant("t1", T0),
    ] {
        assert_eq!(Change::from_payload(&c.payload()), Some(c.clone()));
    }
    assert_eq!(
        Change::revoke("t", "j", 42, T0).revoked_token(),
        Some((42, "j"))
    );
    assert!(Change::from_payload("garbage").is_none());
}
