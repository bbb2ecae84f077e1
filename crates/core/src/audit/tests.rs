//! The audit log against a temporary SQLite database with a `ManualClock`: the context a scope
//! sets, batching and flush, the query's filters, and pruning by the tenant's retention.

use super::*;
use crate::clock::ManualClock;
use crate::storage::Db;
use crate::tenants::TenantSpec;
use crate::validated::TenantSlug;
use crate::CoreOptions;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

const T0: i64 = 1_800_000_000_000;
const DAY: i64 = 86_400_000;

async fn core() -> (Core, Arc<ManualClock>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("audit.db").display());
    let db = tokio::task::spawn_blocking(move || Db::connect(&url, 2, Duration::from_secs(5)))
        .await
        .unwrap()
        .unwrap();
    db.migrate().await.unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let core = Core::new(
        db,
        CoreOptions {
            clock: clock.clone(),
            ..CoreOptions::default()
        },
    )
    .unwrap();
    for slug in ["a", "b"] {
        let mut spec = TenantSpec::new(TenantSlug::parse(slug).unwrap());
        spec.settings
            .insert("AUDIT_RETENTION_DAYS".into(), "30".into());
        core.create_tenant(spec).await.unwrap();
    }
    (core, clock, dir)
}

#[tokio::test]
async fn an_event_carries_the_scoped_request_context_and_reads_back() {
    let (core, _clock, _dir) = core().await;
    let a = core.tenant_by_slug("a").unwrap();
    let ip = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7));
    let ctx = AuditContext::http(ip, Some("curl/8\u{7}.0"), Some("req-1"), "tiledesk");
    ctx.scope(async {
        core.audit(&a, Record::success(kind::SIGNIN).user("u1"));
    })
    .await;
    // Outside any scope: the internal context.
    core.audit(
        &a,
        Record::new(kind::SETTING_CHANGED, Outcome::Success).detail("BCRYPT_COST"),
    );
    core.flush_audit().await.unwrap();
    let events = core.audit_events(&a, AuditQuery::default()).await.unwrap();
    assert_eq!(events.len(), 2);
    let signin = events.iter().find(|e| e.kind == "signin").unwrap();
    assert_eq!(signin.at, T0);
    assert_eq!(signin.outcome, "success");
    assert_eq!(signin.user_id.as_deref(), Some("u1"));
    assert_eq!(signin.client_ip.as_deref(), Some("203.0.113.7"));
    assert_eq!(signin.user_agent.as_deref(), Some("curl/8.0"));
    assert_eq!(signin.dialect, "tiledesk");
    assert_eq!(signin.request_id.as_deref(), Some("req-1"));
    let setting = events.iter().find(|e| e.kind == "setting_changed").unwrap();
    assert_eq!(setting.dialect, "internal");
    assert_eq!(setting.detail.as_deref(), Some("BCRYPT_COST"));
    assert_eq!(core.auditor.count("written"), 2);
    // Another tenant sees none of them.
    let b = core.tenant_by_slug("b").unwrap();
    assert!(core
        .audit_events(&b, AuditQuery::default())
        .await
        .unwrap()
        .is_empty());
}

#[test]
fn a_client_request_id_is_kept_only_when_sane() {
    let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let kept = AuditContext::http(ip, None, Some("abc-123_x.y:z"), "appmixer");
    assert_eq!(kept.fields().request_id.as_deref(), Some("abc-123_x.y:z"));
    for bad in ["", "has space", "new\nline", &"x".repeat(65)] {
        let made = AuditContext::http(ip, Some(""), Some(bad), "appmixer");
        let id = made.fields().request_id.unwrap();
        assert_ne!(id, bad);
        assert_eq!(id.len(), 36, "a fresh uuid");
        assert_eq!(made.fields().user_agent, None);
        // Made once: every event of the request carries the same one.
        assert_eq!(made.fields().request_id.unwrap(), id);
        assert_eq!(
            made.clone().with_dialect("x").fields().request_id.unwrap(),
            id
        );
    }
    let long = AuditContext::http(ip, Some(&"a".repeat(1000)), None, "x");
    assert_eq!(long.fields().user_agent.unwrap().len(), 256);
    assert_eq!(AuditContext::internal().fields().request_id, None);
    assert_eq!(AuditContext::operator().fields().dialect, "cli");
}

#[tokio::test]
async fn queries_filter_by_time_user_and_kind_newest_first() {
    let (core, clock, _dir) = core().await;
    let a = core.tenant_by_slug("a").unwrap();
    for (kind, user) in [
        (kind::SIGNIN, "u1"),
        (kind::SIGNIN, "u2"),
        (kind::LOGOUT, "u1"),
        (kind::SIGNIN, "u1"),
    ] {
        core.audit(&a, Record::success(kind).user(user));
        clock.advance_secs(1);
    }
    core.flush_audit().await.unwrap();
    let q = |since_ms, user: Option<&str>, kind: Option<&str>, limit| AuditQuery {
        since_ms,
        user_id: user.map(str::to_owned),
        kind: kind.map(str::to_owned),
        limit,
    };
    let all = core
        .audit_events(&a, q(None, None, None, 100))
        .await
        .unwrap();
    let times: Vec<i64> = all.iter().map(|e| e.at - T0).collect();
    assert_eq!(times, vec![3000, 2000, 1000, 0]);
    let u1 = core
        .audit_events(&a, q(None, Some("u1"), Some("signin"), 100))
        .await
        .unwrap();
    assert_eq!(u1.len(), 2);
    let recent = core
        .audit_events(&a, q(Some(T0 + 1000), None, None, 100))
        .await
        .unwrap();
    assert_eq!(recent.len(), 3);
    let one = core.audit_events(&a, q(None, None, None, 1)).await.unwrap();
    assert_eq!(one[0].at, T0 + 3000);
}

#[tokio::test]
async fn events_past_the_tenants_retention_are_pruned() {
    let (core, clock, _dir) = core().await;
    let a = core.tenant_by_slug("a").unwrap();
    core.audit(&a, Record::success(kind::SIGNUP));
    clock.advance_secs(20 * DAY / 1000);
    core.audit(&a, Record::success(kind::SIGNIN));
    core.flush_audit().await.unwrap();
    clock.advance_secs(11 * DAY / 1000);
    assert_eq!(core.prune_audit().await.unwrap(), 1);
    let left = core.audit_events(&a, AuditQuery::default()).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].kind, "signin");
}

#[tokio::test]
async fn many_events_are_written_in_batches_without_loss() {
    let (core, _clock, _dir) = core().await;
    let a = core.tenant_by_slug("a").unwrap();
    for _ in 0..1200 {
        core.audit(&a, Record::success(kind::SIGNIN));
    }
    core.flush_audit().await.unwrap();
    let q = AuditQuery {
        limit: AUDIT_QUERY_MAX,
        ..AuditQuery::default()
    };
    assert_eq!(core.audit_events(&a, q).await.unwrap().len(), 1200);
    assert_eq!(core.auditor.count("dropped"), 0);
}

#[tokio::test]
async fn stopping_writes_what_is_queued_then_drops_later_events() {
    let (core, _clock, _dir) = core().await;
    let a = core.tenant_by_slug("a").unwrap();
    for _ in 0..3 {
        core.audit(&a, Record::success(kind::SIGNIN).user("u1"));
    }
    core.stop_audit().await.unwrap();
    assert_eq!(core.auditor.count("written"), 3);
    let events = core.audit_events(&a, AuditQuery::default()).await.unwrap();
    assert_eq!(events.len(), 3);
    // The writer's thread has ended: an event now is dropped and counted, never blocks.
    core.audit(&a, Record::success(kind::SIGNIN).user("u2"));
    assert_eq!(core.auditor.count("dropped"), 1);
    assert!(
        core.flush_audit().await.is_err(),
        "nothing is left to flush into"
    );
}
