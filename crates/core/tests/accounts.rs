//! Core against a real (temporary SQLite) database with an injected clock: lock-outs and sign-in
//! limits expire without sleeping, tokens expire by the clock, rotation and retirement of keys, and
//! tenant isolation.

use gatehouse_core::tenants::TenantSpec;
use gatehouse_core::users::{Login, NewUser};
use gatehouse_core::{
    AuthFailure, Core, CoreError, CoreOptions, Email, ManualClock, Password, TenantSlug,
};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

struct Fixture {
    core: Core,
    clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("core.db").display());
    let db = tokio::task::spawn_blocking(move || {
        gatehouse_core::storage::Db::connect(&url, 4, Duration::from_secs(5))
    })
    .await
    .unwrap()
    .unwrap();
    db.migrate().await.unwrap();
    let clock = Arc::new(ManualClock::new(1_800_000_000_000));
    let core = Core::new(
        db,
        CoreOptions {
            clock: clock.clone(),
            hashing: gatehouse_core::HashingLimits {
                threads: 2,
                ..Default::default()
            },
            ..CoreOptions::default()
        },
    )
    .unwrap();
    for slug in ["a", "b"] {
        let mut spec = TenantSpec::new(TenantSlug::parse(slug).unwrap());
        spec.settings.insert("BCRYPT_COST".into(), "4".into());
        spec.settings
            .insert("PASSWORD_HASH".into(), "bcrypt".into());
        spec.settings
            .insert("SIGNIN_MAX_FAILURES".into(), "3".into());
        spec.settings
            .insert("SIGNIN_LOCK_SECONDS".into(), "60".into());
        // The tarpit's own test raises this; elsewhere its sleeps stay short.
        spec.settings
            .insert("SIGNIN_TARPIT_MAX_MS".into(), "20".into());
        core.create_tenant(spec).await.unwrap();
    }
    Fixture {
        core,
        clock,
        _dir: dir,
    }
}

fn email(s: &str) -> Email {
    Email::parse(s).unwrap()
}

const LOCALHOST: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

fn named(
    address: &str,
    role: gatehouse_core::projects::Role,
    first: &str,
    last: &str,
) -> gatehouse_core::projects::NamedAgent {
    gatehouse_core::projects::NamedAgent {
        email: email(address),
        role,
        firstname: first.into(),
        lastname: last.into(),
    }
}

/// A client address: `ip(1)` is 10.0.0.1.
fn ip(n: u8) -> IpAddr {
    IpAddr::from([10, 0, 0, n])
}

#[tokio::test]
async fn a_login_locks_for_one_address_after_max_failures_until_the_lock_expires() {
    let f = fixture().await;
    let t = f.core.tenant_by_slug("a").unwrap();
    let pw = Password::new("right-password", 8).unwrap();
    f.core
        .create_user(&t, NewUser::new(email("x@example.com"), Some(pw.clone())))
        .await
        .unwrap();
    let login = || Login::Email(email("x@example.com"));
    let wrong = Password::candidate("wrong-password");
    for _ in 0..3 {
        let e = f.core.signin(&t, ip(1), login(), &wrong).await.unwrap_err();
        assert!(matches!(
            e,
            CoreError::Unauthorized(AuthFailure::WrongPassword)
        ));
    }
    // Locked now for that address, even with the right password...
    assert!(matches!(
        f.core.signin(&t, ip(1), login(), &pw).await,
        Err(CoreError::Locked)
    ));
    // ...but not for the owner elsewhere (issue 8.9: no lock-out of the owner by a stranger).
    assert!(f.core.signin(&t, ip(2), login(), &pw).await.is_ok());
    f.clock.advance_secs(59);
    assert!(matches!(
        f.core.signin(&t, ip(1), login(), &pw).await,
        Err(CoreError::Locked)
    ));
    f.clock.advance_secs(2);
    assert!(f.core.signin(&t, ip(1), login(), &pw).await.is_ok());
    // A success resets the pair's count: two more failures do not lock.
    for _ in 0..2 {
        let _ = f.core.signin(&t, ip(1), login(), &wrong).await;
    }
    assert!(f.core.signin(&t, ip(1), login(), &pw).await.is_ok());
}

#[tokio::test]
async fn a_password_set_by_an_admin_ends_the_locks_on_the_account() {
    let f = fixture().await;
    let t = f.core.tenant_by_slug("a").unwrap();
    let pw = Password::new("right-password", 8).unwrap();
    let user = f
        .core
        .create_user(&t, NewUser::new(email("y@example.com"), Some(pw)))
        .await
        .unwrap();
    let login = || Login::Email(email("y@example.com"));
    let wrong = Password::candidate("wrong-password");
    for _ in 0..3 {
        let _ = f.core.signin(&t, ip(1), login(), &wrong).await;
    }
    let new = Password::new("a-new-password", 8).unwrap();
    assert!(matches!(
        f.core.signin(&t, ip(1), login(), &new).await,
        Err(CoreError::Locked)
    ));
    f.core.set_password(&t, &user.id, &new).await.unwrap();
    // No clock moved: the lock is gone because the password was set.
    assert!(f.core.signin(&t, ip(1), login(), &new).await.is_ok());
}

#[tokio::test]
async fn unknown_logins_are_counted_locked_and_slowed_as_known_ones_are() {
    let f = fixture().await;
    let t = f.core.tenant_by_slug("a").unwrap();
    let pw = Password::new("right-password", 8).unwrap();
    f.core
        .create_user(&t, NewUser::new(email("known@example.com"), Some(pw)))
        .await
        .unwrap();
    let wrong = Password::candidate("wrong-password");
    for who in ["known@example.com", "ghost@example.com"] {
        let login = || Login::Email(email(who));
        for _ in 0..3 {
            assert!(matches!(
                f.core.signin(&t, ip(1), login(), &wrong).await,
                Err(CoreError::Unauthorized(_))
            ));
        }
        assert!(
            matches!(
                f.core.signin(&t, ip(1), login(), &wrong).await,
                Err(CoreError::Locked)
            ),
            "{who}"
        );
        assert!(!f.core.signin_delay(&t, &login()).is_zero(), "{who}");
    }
}

#[tokio::test]
async fn failed_signins_are_limited_per_address_and_successes_are_not_counted() {
    let f = fixture().await;
    let t = f.core.tenant_by_slug("b").unwrap();
    f.core
        .set_setting(&t, "SIGNIN_FAILURES_PER_IP_PER_MINUTE", "3")
        .await
        .unwrap();
    let t = f.core.tenant(&t.id).unwrap();
    let pw = Password::new("right-password", 8).unwrap();
    f.core
        .create_user(
            &t,
            NewUser::new(email("office@example.com"), Some(pw.clone())),
        )
        .await
        .unwrap();
    let office = || Login::Email(email("office@example.com"));
    for _ in 0..5 {
        assert!(f.core.signin(&t, ip(1), office(), &pw).await.is_ok());
    }
    let wrong = Password::candidate("wrong-password");
    for n in 0..3 {
        let sprayed = Login::Email(email(&format!("user{n}@example.com")));
        assert!(matches!(
            f.core.signin(&t, ip(1), sprayed, &wrong).await,
            Err(CoreError::Unauthorized(AuthFailure::UnknownAccount))
        ));
    }
    // The address has spent its failures for this minute: refused before any hashing.
    assert!(matches!(
        f.core.signin(&t, ip(1), office(), &wrong).await,
        Err(CoreError::RateLimited)
    ));
    assert!(f.core.signin(&t, ip(2), office(), &pw).await.is_ok());
    let a = f.core.tenant_by_slug("a").unwrap();
    let elsewhere = Login::Email(email("office@example.com"));
    assert!(matches!(
        f.core.signin(&a, ip(1), elsewhere, &pw).await,
        Err(CoreError::Unauthorized(AuthFailure::UnknownAccount))
    ));
    f.clock.advance_secs(60);
    assert!(f.core.signin(&t, ip(1), office(), &pw).await.is_ok());
}

#[tokio::test]
async fn an_account_failing_from_many_addresses_is_slowed_not_locked() {
    let f = fixture().await;
    let t = f.core.tenant_by_slug("a").unwrap();
    f.core
        .set_setting(&t, "SIGNIN_TARPIT_MAX_MS", "5000")
        .await
        .unwrap();
    let t = f.core.tenant(&t.id).unwrap();
    let pw = Password::new("right-password", 8).unwrap();
    f.core
        .create_user(&t, NewUser::new(email("ceo@example.com"), Some(pw.clone())))
        .await
        .unwrap();
    let login = || Login::Email(email("ceo@example.com"));
    let wrong = Password::candidate("wrong-password");
    let mut delays = Vec::new();
    for n in 1..=4 {
        delays.push(f.core.signin_delay(&t, &login()));
        let _ = f.core.signin(&t, ip(n), login(), &wrong).await;
    }
    delays.push(f.core.signin_delay(&t, &login()));
    let ms: Vec<u128> = delays.iter().map(Duration::as_millis).collect();
    // No delay below SIGNIN_MAX_FAILURES (3), then a growing one.
    assert_eq!(ms, vec![0, 0, 0, 250, 500]);
    // No address reached the limit, so none is locked, and the owner still gets in.
    assert!(f.core.signin(&t, ip(9), login(), &pw).await.is_ok());
    // The count lives for one lock window (SIGNIN_LOCK_SECONDS, 60 here).
    f.clock.advance_secs(60);
    assert!(f.core.signin_delay(&t, &login()).is_zero());
}

#[tokio::test]
async fn unknown_accounts_and_other_tenants_accounts_are_unknown() {
    let f = fixture().await;
    let a = f.core.tenant_by_slug("a").unwrap();
    let b = f.core.tenant_by_slug("b").unwrap();
    let pw = Password::new("right-password", 8).unwrap();
    f.core
        .create_user(
            &a,
            NewUser::new(email("only-a@example.com"), Some(pw.clone())),
        )
        .await
        .unwrap();
    let e = f
        .core
        .signin(&b, ip(1), Login::Email(email("only-a@example.com")), &pw)
        .await
        .unwrap_err();
    assert!(matches!(
        e,
        CoreError::Unauthorized(AuthFailure::UnknownAccount)
    ));
}

#[tokio::test]
async fn tokens_expire_by_the_injected_clock_and_rotation_keeps_old_ones() {
    let f = fixture().await;
    let t = f.core.tenant_by_slug("a").unwrap();
    f.core
        .set_setting(&t, "TOKEN_TTL_SECONDS", "60")
        .await
        .unwrap();
    let t = f.core.tenant(&t.id).unwrap();
    let claims = serde_json::json!({"id": "u"}).as_object().unwrap().clone();
    let old = f.core.issue_token(&t, claims.clone()).unwrap();
    let old_kid = t.keys.signing_key().unwrap().kid.clone();

    let new_kid = f
        .core
        .rotate_key(&t, gatehouse_core::token::KeyAlg::Hs256, 0)
        .await
        .unwrap();
    let t = f.core.tenant(&t.id).unwrap();
    assert_eq!(t.keys.signing_key().unwrap().kid, new_kid);
    assert!(
        f.core.verify_token(&t, &old, None).is_ok(),
        "old keys verify until retired"
    );
    let new = f.core.issue_token(&t, claims).unwrap();

    f.clock.advance_secs(59);
    assert!(f.core.verify_token(&t, &new, None).is_ok());
    f.core.retire_key(&t, &old_kid).await.unwrap();
    let t = f.core.tenant(&t.id).unwrap();
    assert!(
        f.core.verify_token(&t, &old, None).is_err(),
        "retired keys stop verifying"
    );
    assert!(f.core.verify_token(&t, &new, None).is_ok());
    f.clock.advance_secs(1);
    assert!(matches!(
        f.core.verify_token(&t, &new, None),
        Err(CoreError::Unauthorized(AuthFailure::ExpiredToken))
    ));
    // The last active key cannot be retired.
    assert!(matches!(
        f.core.retire_key(&t, &new_kid).await,
        Err(CoreError::Conflict(_))
    ));
}

#[tokio::test]
async fn a_changed_bcrypt_cost_rehashes_at_the_next_good_signin() {
    let f = fixture().await;
    let t = f.core.tenant_by_slug("a").unwrap();
    let pw = Password::new("right-password", 8).unwrap();
    let u = f
        .core
        .create_user(&t, NewUser::new(email("c@example.com"), Some(pw.clone())))
        .await
        .unwrap();
    f.core.set_setting(&t, "BCRYPT_COST", "5").await.unwrap();
    let t = f.core.tenant(&t.id).unwrap();
    f.core
        .signin(&t, ip(1), Login::Email(email("c@example.com")), &pw)
        .await
        .unwrap();
    let cost = f
        .core
        .db()
        .run(move |c| {
            use diesel::prelude::*;
            use gatehouse_core::storage::schema::users::dsl::*;
            Ok(users
                .filter(id.eq(&u.id))
                .select(password_hash)
                .first::<Option<String>>(c)?)
        })
        .await
        .unwrap()
        .and_then(|h| gatehouse_core::password::hash_cost(&h));
    assert_eq!(cost, Some(5));
}

#[tokio::test]
async fn disabled_users_cannot_sign_in_nor_use_tokens_and_enabling_does_not_revive_old_tokens() {
    let f = fixture().await;
    let t = f.core.tenant_by_slug("a").unwrap();
    let pw = Password::new("right-password", 8).unwrap();
    let u = f
        .core
        .create_user(&t, NewUser::new(email("d@example.com"), Some(pw.clone())))
        .await
        .unwrap();
    let claims_now = || {
        let jwt = f.core.issue_token(&t, Default::default()).unwrap();
        f.core.verify_token(&t, &jwt, None).unwrap()
    };
    let before = claims_now();
    assert!(f.core.token_user(&t, &before, &u.id).await.is_ok());
    f.core
        .set_disabled(&t, &email("d@example.com"), true)
        .await
        .unwrap();
    let e = f
        .core
        .signin(&t, ip(1), Login::Email(email("d@example.com")), &pw)
        .await
        .unwrap_err();
    assert!(matches!(e, CoreError::Unauthorized(AuthFailure::Disabled)));
    assert!(matches!(
        f.core.token_user(&t, &before, &u.id).await,
        Err(CoreError::Unauthorized(AuthFailure::Disabled))
    ));
    f.core
        .set_disabled(&t, &email("d@example.com"), false)
        .await
        .unwrap();
    assert!(matches!(
        f.core.token_user(&t, &before, &u.id).await,
        Err(CoreError::Unauthorized(AuthFailure::InvalidToken))
    ));
    f.clock.advance_secs(1);
    assert!(f.core.token_user(&t, &claims_now(), &u.id).await.is_ok());
}

/// Tenant `a` with a password-less owner and their project "Support".
async fn with_a_project() -> (
    Fixture,
    std::sync::Arc<gatehouse_core::Tenant>,
    gatehouse_core::users::User,
    gatehouse_core::projects::Project,
) {
    let f = fixture().await;
    let t = f.core.tenant_by_slug("a").unwrap();
    let owner = f
        .core
        .create_user(&t, NewUser::new(email("owner@example.com"), None))
        .await
        .unwrap();
    let project = f.core.create_project(&t, "Support", &owner).await.unwrap();
    (f, t, owner, project)
}

#[tokio::test]
async fn deleting_a_user_removes_their_memberships() {
    use gatehouse_core::projects::MemberOf;
    let (f, t, owner, project) = with_a_project().await;
    let who = || MemberOf::User(owner.id.clone());
    assert!(f
        .core
        .membership(&t, &project.id, who())
        .await
        .unwrap()
        .is_some());
    f.core.delete_user(&t, &owner.id).await.unwrap();
    assert!(f
        .core
        .membership(&t, &project.id, who())
        .await
        .unwrap()
        .is_none());
    assert!(matches!(
        f.core.delete_user(&t, &owner.id).await,
        Err(CoreError::NotFound(_))
    ));
}

#[tokio::test]
async fn a_username_cannot_shadow_another_accounts_email() {
    use gatehouse_core::Username;
    let f = fixture().await;
    let t = f.core.tenant_by_slug("a").unwrap();
    let pw = Password::new("right-password", 8).unwrap();
    let mut squatter = NewUser::new(email("squatter@example.com"), Some(pw.clone()));
    squatter.username = Some(Username::parse("victim@example.com").unwrap());
    assert!(matches!(
        f.core.create_user(&t, squatter).await,
        Err(CoreError::InvalidInput {
            field: "username",
            ..
        })
    ));
    // A username equal to the account's own email is fine (Appmixer's own examples do it).
    let mut own = NewUser::new(email("abc@example.com"), Some(pw.clone()));
    own.username = Some(Username::parse("ABC@example.com").unwrap());
    f.core.create_user(&t, own).await.unwrap();
    let login = Login::UsernameOrEmail("abc@EXAMPLE.com".into());
    assert!(f.core.signin(&t, ip(1), login, &pw).await.is_ok());
}

#[tokio::test]
async fn linking_an_agent_keeps_an_existing_role_and_leaves_disabled_memberships_alone() {
    use gatehouse_core::projects::{MemberOf, Role};
    let (f, t, _owner, project) = with_a_project().await;
    // A custom token naming the owner as a mere agent does not demote them.
    let (_, m) = f
        .core
        .custom_token_agent(
            &t,
            &project.id,
            &named("owner@example.com", Role::Agent, "O", "W"),
            LOCALHOST,
        )
        .await
        .unwrap();
    assert_eq!(m.role, Role::Owner);
    // A new agent gets the token's role; once disabled, linking leaves the membership as it is.
    let (agent, m) = f
        .core
        .custom_token_agent(
            &t,
            &project.id,
            &named("agent@example.com", Role::Agent, "A", "G"),
            LOCALHOST,
        )
        .await
        .unwrap();
    assert_eq!(m.role, Role::Agent);
    // An existing agent is not raised to admin by a token that says so.
    let raised = f
        .core
        .custom_token_agent(
            &t,
            &project.id,
            &named("agent@example.com", Role::Admin, "A", "G"),
            LOCALHOST,
        )
        .await;
    assert!(matches!(raised, Err(CoreError::Forbidden(_))));
    let who = || MemberOf::User(agent.id.clone());
    f.core
        .set_member_active(&t, &project.id, who(), false)
        .await
        .unwrap();
    let (_, m) = f
        .core
        .custom_token_agent(
            &t,
            &project.id,
            &named("agent@example.com", Role::Admin, "A", "G"),
            LOCALHOST,
        )
        .await
        .unwrap();
    assert!(!m.active);
    assert_eq!(m.role, Role::Agent);
}

#[tokio::test]
async fn racing_signups_claim_a_password_less_account_once() {
    use gatehouse_core::projects::Role;
    let (f, t, _owner, project) = with_a_project().await;
    let (made, _) = f
        .core
        .custom_token_agent(
            &t,
            &project.id,
            &named("new@example.com", Role::Agent, "", ""),
            LOCALHOST,
        )
        .await
        .unwrap();
    assert!(!made.has_password);
    let signup = |pw: &str| {
        let new = NewUser::new(
            email("new@example.com"),
            Some(Password::new(pw, 8).unwrap()),
        );
        f.core.create_user(&t, new)
    };
    let (a, b) = tokio::join!(signup("first-password"), signup("second-password"));
    let claimed: Vec<_> = [a, b].into_iter().filter_map(Result::ok).collect();
    assert_eq!(claimed.len(), 1, "exactly one signup claims it");
    assert_eq!(claimed[0].id, made.id);
    assert!(claimed[0].has_password);
    assert!(matches!(
        signup("third-password").await,
        Err(CoreError::Conflict(_))
    ));
}
