//! Core's importers, export and legacy keys against a real (temporary SQLite) database with an
//! injected clock: the legacy cut-off passes without sleeping, re-runs skip, dry runs write
//! nothing, and an export reads back into another tenant.

use gatehouse_core::migrate::{Format, ImportOptions, ImportReport};
use gatehouse_core::tenants::TenantSpec;
use gatehouse_core::token::LegacyKeyMaterial;
use gatehouse_core::{AuthFailure, Core, CoreError, CoreOptions, ManualClock, TenantSlug};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

const NOW_MS: i64 = 1_800_000_000_000;

async fn core() -> (Core, Arc<ManualClock>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("core.db").display());
    let db = tokio::task::spawn_blocking(move || {
        gatehouse_core::storage::Db::connect(&url, 4, Duration::from_secs(5))
    })
    .await
    .unwrap()
    .unwrap();
    db.migrate().await.unwrap();
    let clock = Arc::new(ManualClock::new(NOW_MS));
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
        spec.settings.insert("BCRYPT_COST".into(), "4".into());
        core.create_tenant(spec).await.unwrap();
    }
    (core, clock, dir)
}

async fn tenant(core: &Core, slug: &str) -> Arc<gatehouse_core::Tenant> {
    core.require_tenant(&TenantSlug::parse(slug).unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn legacy_tokens_verify_until_the_cut_off_and_on_their_tenant_only() {
    let (core, clock, _dir) = core().await;
    let a = tenant(&core, "a").await;
    let claims = json!({"_id": "5f1b2c3d4e5f6a7b8c9d0e1f", "sub": "user",
        "aud": "https://tiledesk.com", "iss": "https://tiledesk.com", "iat": NOW_MS / 1000 - 10});
    let token = encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(b"global"),
    )
    .unwrap();
    let aud = Some("https://tiledesk.com");
    assert!(core.verify_token(&a, &token, aud).is_err());
    let kid = core
        .import_legacy_key(&a, LegacyKeyMaterial::Hs256(b"global".to_vec()))
        .await
        .unwrap();
    assert!(kid.starts_with("legacy-"));
    assert!(matches!(
        core.import_legacy_key(&a, LegacyKeyMaterial::Hs256(b"global".to_vec()))
            .await,
        Err(CoreError::Conflict(_))
    ));
    let a = tenant(&core, "a").await;
    assert_eq!(
        core.verify_token(&a, &token, aud).unwrap()["_id"],
        claims["_id"]
    );
    // Never published, never signing: the tenant's own tokens still carry its own kid.
    assert!(core.published_keys(&a).is_empty());
    let b = tenant(&core, "b").await;
    assert!(core.verify_token(&b, &token, aud).is_err());

    core.set_setting(&a, "LEGACY_TOKENS_UNTIL", "2027-13-01T00:00:00Z")
        .await
        .unwrap_err();
    let until = gatehouse_core::clock::iso8601(NOW_MS + 60_000);
    core.set_setting(&a, "LEGACY_TOKENS_UNTIL", &until)
        .await
        .unwrap();
    let a = tenant(&core, "a").await;
    assert!(core.verify_token(&a, &token, aud).is_ok());
    clock.advance_secs(60);
    assert!(matches!(
        core.verify_token(&a, &token, aud),
        Err(CoreError::Unauthorized(AuthFailure::ExpiredToken))
    ));
}

async fn import(
    core: &Core,
    slug: &str,
    format: Format,
    text: &str,
    opts: ImportOptions,
) -> ImportReport {
    let t = tenant(core, slug).await;
    let mut imp = core.importer(&t, opts);
    imp.read("f", format, text.as_bytes(), |_| {})
        .await
        .unwrap();
    imp.finish().await.unwrap()
}

fn appmixer_users() -> String {
    let hash = bcrypt::hash("pw-pw-pw", 4).unwrap();
    (1..=3)
        .map(|n| {
            json!({"_id": format!("5e0a1b2c3d4e5f6a7b8c9d0{n}"), "username": format!("u{n}"),
                   "email": format!("u{n}@example.com"), "password": hash, "scope": ["user"],
                   "plan": "free", "created": {"$date": "2020-01-01T00:00:00Z"}})
            .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn dry_runs_write_nothing_re_runs_skip_and_update_overwrites() {
    let (core, _clock, _dir) = core().await;
    let text = appmixer_users();
    let a = tenant(&core, "a").await;
    let dry = ImportOptions {
        dry_run: true,
        update: false,
    };
    let r = import(&core, "a", Format::AppmixerUsers, &text, dry).await;
    assert_eq!((r.users.imported, r.refused()), (3, 0));
    assert_eq!(core.count_users(&a).await.unwrap(), 0);
    let r = import(
        &core,
        "a",
        Format::AppmixerUsers,
        &text,
        ImportOptions::default(),
    )
    .await;
    assert_eq!(r.users.imported, 3);
    let r = import(
        &core,
        "a",
        Format::AppmixerUsers,
        &text,
        ImportOptions::default(),
    )
    .await;
    assert_eq!((r.users.imported, r.users.skipped), (0, 3));
    let update = ImportOptions {
        dry_run: false,
        update: true,
    };
    let r = import(&core, "a", Format::AppmixerUsers, &text, update).await;
    assert_eq!(r.users.updated, 3);
    assert_eq!(core.count_users(&a).await.unwrap(), 3);
    // Another id with a taken email is refused, by line; the rest of its batch goes in.
    let clash = format!(
        "{}\n{}",
        text.lines()
            .next()
            .unwrap()
            .replace("5e0a1b2c3d4e5f6a7b8c9d01", "5e0a1b2c3d4e5f6a7b8c9d09"),
        text.lines()
            .next()
            .unwrap()
            .replace("5e0a1b2c3d4e5f6a7b8c9d01", "5e0a1b2c3d4e5f6a7b8c9d08")
            .replace("u1", "u8")
    );
    let r = import(
        &core,
        "a",
        Format::AppmixerUsers,
        &clash,
        ImportOptions::default(),
    )
    .await;
    assert_eq!((r.users.imported, r.users.refused), (1, 1));
    assert_eq!(r.refusals[0].line, 1);
    assert!(
        r.refusals[0].reason.contains("belongs to another account"),
        "{:?}",
        r.refusals
    );
}

#[tokio::test]
async fn an_export_reads_back_into_another_tenant() {
    let (core, _clock, _dir) = core().await;
    import(
        &core,
        "a",
        Format::AppmixerUsers,
        &appmixer_users(),
        ImportOptions::default(),
    )
    .await;
    let a = tenant(&core, "a").await;
    let mut out = Vec::new();
    let done = core.export(&a, &mut out, |_| {}).await.unwrap();
    assert_eq!(done.users, 3);
    let text = String::from_utf8(out).unwrap();
    assert!(text.lines().next().unwrap().contains("gatehouse-export"));
    let r = import(
        &core,
        "b",
        Format::Gatehouse,
        &text,
        ImportOptions::default(),
    )
    .await;
    assert_eq!((r.users.imported, r.refused()), (3, 0), "{:?}", r.refusals);
    let b = tenant(&core, "b").await;
    let user = core.user(&b, "5e0a1b2c3d4e5f6a7b8c9d02").await.unwrap();
    assert_eq!(user.email.as_deref(), Some("u2@example.com"));
    assert_eq!(user.created_at, 1_577_836_800_000);
}
