//! Row-level security on PostgreSQL (migration 000030): as `serve` works (the pool switched to
//! the app role), a query without a tenant filter sees only the tenant its transaction named, and
//! nothing when none is named; a write into another tenant is refused. Skipped without a
//! PostgreSQL server (`GATEHOUSE_TEST_POSTGRES`, default postgres://postgres@127.0.0.1:5432/test;
//! `off` skips). SQLite has no row-level security: its only filter is the queries' own.

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use gatehouse_core::storage::schema::{
    introspection_clients, revoked_tokens, signing_keys, tenant_settings, users,
};
use gatehouse_core::storage::{Db, APP_ROLE};
use gatehouse_core::tenants::TenantSpec;
use gatehouse_core::users::NewUser;
use gatehouse_core::{Core, CoreOptions, Email, Password, Tenant, TenantSlug};
use std::sync::Arc;
use std::time::Duration;

/// A fresh database on the test server, dropped when the test ends.
struct Scratch {
    base: String,
    name: String,
    url: String,
}

impl Scratch {
    fn create() -> Option<Scratch> {
        let base = match std::env::var("GATEHOUSE_TEST_POSTGRES") {
            Ok(v) if v.trim().is_empty() || v.trim() == "off" => return None,
            Ok(v) => v.trim().to_owned(),
            Err(_) => "postgres://postgres@127.0.0.1:5432/test".to_owned(),
        };
        let Ok(mut admin) = PgConnection::establish(&base) else {
            eprintln!("row_security: SKIPPED, no PostgreSQL server at {base}");
            return None;
        };
        let name = format!("gatehouse_test_{}", uuid::Uuid::new_v4().simple());
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        let (prefix, _) = base.rsplit_once('/').unwrap();
        let url = format!("{prefix}/{name}");
        Some(Scratch { base, name, url })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Ok(mut admin) = PgConnection::establish(&self.base) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

async fn connect(url: &str) -> Db {
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || Db::connect(&url, 4, Duration::from_secs(5)))
        .await
        .unwrap()
        .unwrap()
}

/// A migrated database, and a core over it working as the app role, as `serve` does, with
/// tenants `a` and `b`, each with one user.
async fn serving(scratch: &Scratch) -> (Core, Arc<Tenant>, Arc<Tenant>) {
    let owner = connect(&scratch.url).await;
    owner.migrate().await.unwrap();
    let db = tokio::task::spawn_blocking(move || owner.working_as(APP_ROLE))
        .await
        .unwrap()
        .unwrap();
    let core = Core::new(db, CoreOptions::default()).unwrap();
    let mut tenants = Vec::new();
    for slug in ["a", "b"] {
        let mut spec = TenantSpec::new(TenantSlug::parse(slug).unwrap());
        spec.hosts = vec![format!("{slug}.test")];
        spec.settings.insert("BCRYPT_COST".into(), "4".into());
        let t = core.create_tenant(spec).await.unwrap();
        let pw = Password::new("right-password", 8).unwrap();
        let email = Email::parse(&format!("someone@{slug}.test")).unwrap();
        core.create_user(&t, NewUser::new(email, Some(pw)))
            .await
            .unwrap();
        core.create_introspection_client(&t, "resource-server")
            .await
            .unwrap();
        tenants.push(t);
    }
    let b = tenants.pop().unwrap();
    let a = tenants.pop().unwrap();
    (core, a, b)
}

/// The tenant ids of every row the query reads, unfiltered.
fn tenant_ids(c: &mut gatehouse_core::storage::AnyConnection) -> Vec<String> {
    let mut seen: Vec<String> = users::table.select(users::tenant_id).load(c).unwrap();
    seen.extend(
        signing_keys::table
            .select(signing_keys::tenant_id)
            .load::<String>(c)
            .unwrap(),
    );
    seen.extend(
        tenant_settings::table
            .select(tenant_settings::tenant_id)
            .load::<String>(c)
            .unwrap(),
    );
    seen.extend(
        introspection_clients::table
            .select(introspection_clients::tenant_id)
            .load::<String>(c)
            .unwrap(),
    );
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unfiltered_query_sees_only_the_tenant_its_transaction_names() {
    let Some(scratch) = Scratch::create() else {
        return;
    };
    let (core, a, b) = serving(&scratch).await;

    // Deliberately no tenant filter: as tenant a, only a's rows (and some of them).
    let seen = core
        .db()
        .run_tenant(&a.id, |c| Ok(tenant_ids(c)))
        .await
        .unwrap();
    assert!(seen.len() >= 3, "a's own rows are visible: {seen:?}");
    assert!(seen.iter().all(|t| *t == a.id), "b's rows leaked: {seen:?}");
    let users_of_b = core
        .db()
        .run_tenant(&a.id, move |c| {
            Ok(users::table
                .filter(users::tenant_id.eq(&b.id))
                .count()
                .get_result::<i64>(c)?)
        })
        .await
        .unwrap();
    assert_eq!(
        users_of_b, 0,
        "even asked for by name, b's users are not there"
    );

    // The node's own cross-tenant work (the directory, the feed) still sees both.
    let all = core.db().run_system(|c| Ok(tenant_ids(c))).await.unwrap();
    assert!(all.contains(&a.id) && all.iter().any(|t| *t != a.id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_tenant_named_the_app_role_sees_nothing() {
    let Some(scratch) = Scratch::create() else {
        return;
    };
    let (_core, a, _b) = serving(&scratch).await;
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let mut raw = PgConnection::establish(&scratch.url).unwrap();
    raw.batch_execute(&format!("SET ROLE {APP_ROLE}")).unwrap();
    for table in [
        "users",
        "signing_keys",
        "tenant_settings",
        "tenant_hosts",
        "changes",
        "introspection_clients",
    ] {
        let n: Count = diesel::sql_query(format!("SELECT count(*) AS n FROM {table}"))
            .get_result(&mut raw)
            .unwrap();
        assert_eq!(n.n, 0, "{table}: rows seen with no tenant named");
    }
    // A tenant named for one transaction is gone after it (set_config(..., true)).
    raw.transaction::<_, diesel::result::Error, _>(|c| {
        diesel::sql_query("SELECT set_config('gatehouse.tenant_id', $1, true)")
            .bind::<Text, _>(&a.id)
            .execute(c)?;
        let n: Count = diesel::sql_query("SELECT count(*) AS n FROM users").get_result(c)?;
        assert_eq!(n.n, 1);
        Ok(())
    })
    .unwrap();
    let n: Count = diesel::sql_query("SELECT count(*) AS n FROM users")
        .get_result(&mut raw)
        .unwrap();
    assert_eq!(n.n, 0, "the tenant outlived its transaction");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_into_another_tenant_is_refused() {
    let Some(scratch) = Scratch::create() else {
        return;
    };
    let (core, a, b) = serving(&scratch).await;
    let bid = b.id.clone();
    let written = core
        .db()
        .run_tenant(&a.id, move |c| {
            Ok(diesel::insert_into(revoked_tokens::table)
                .values((
                    revoked_tokens::tenant_id.eq(&bid),
                    revoked_tokens::jti.eq("x"),
                    revoked_tokens::expires_at.eq(i64::MAX),
                ))
                .execute(c)?)
        })
        .await;
    assert!(written.is_err(), "a row of b was written as a");
    let changed = core
        .db()
        .run_tenant(&a.id, move |c| {
            Ok(
                diesel::update(users::table.filter(users::tenant_id.eq(&b.id)))
                    .set(users::disabled.eq(true))
                    .execute(c)?,
            )
        })
        .await
        .unwrap();
    assert_eq!(changed, 0, "b's users were changed as a");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_table_with_a_tenant_id_has_the_policy_and_superusers_are_refused() {
    let Some(scratch) = Scratch::create() else {
        return;
    };
    let owner = connect(&scratch.url).await;
    owner.migrate().await.unwrap();
    #[derive(QueryableByName)]
    struct Unguarded {
        #[diesel(sql_type = Text)]
        relname: String,
    }
    let mut raw = PgConnection::establish(&scratch.url).unwrap();
    // Tables other migrations add are covered by the same generic rule.
    let unguarded: Vec<Unguarded> = diesel::sql_query(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' \
         WHERE n.nspname = current_schema() AND c.relkind = 'r' AND (NOT c.relrowsecurity \
           OR NOT EXISTS (SELECT 1 FROM pg_policies p WHERE p.tablename = c.relname \
                          AND p.policyname = 'gatehouse_tenant'))",
    )
    .load(&mut raw)
    .unwrap();
    let names: Vec<_> = unguarded.iter().map(|u| u.relname.as_str()).collect();
    assert!(
        names.is_empty(),
        "tables without row-level security: {names:?}"
    );
    // The login role here is a superuser: row-level security would not bind it as an app role.
    let refused = tokio::task::spawn_blocking(move || owner.working_as("postgres"))
        .await
        .unwrap();
    assert!(refused.is_err());
}
