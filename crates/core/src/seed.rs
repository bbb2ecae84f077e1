//! Seeding: many users with one password, for load tests and demos. The password is hashed once,
//! at a fixed cost, and the rows go in through one bulk path (multi-row INSERTs, batched in
//! transactions), so a million users take minutes instead of a million bcrypt runs.

use crate::error::{CoreError, CoreResult};
use crate::ids::object_id;
use crate::service::Core;
use crate::storage::db::write_transaction;
use crate::storage::models::UserRow;
use crate::storage::schema::users;
use crate::storage::AnyConnection;
use crate::tenants::Tenant;
use crate::validated::{Email, Password, Scope, Username};
use diesel::prelude::*;

/// Rows per INSERT statement: 19 columns x 1,000 rows stays under SQLite's 32,766 bound
/// parameters (and PostgreSQL's 65,535).
const ROWS_PER_INSERT: usize = 1_000;
/// Rows per transaction: enough to amortise a commit, few enough that a server running beside
/// the seeding waits only a moment for SQLite's one write lock.
const ROWS_PER_TRANSACTION: u64 = 20_000;

/// What to seed: users `{prefix}{n}@{domain}` (username `{prefix}{n}`) for n in
/// `first..first + count`, all with `password` hashed at `cost`.
#[derive(Debug, Clone)]
pub struct SeedSpec {
    pub count: u64,
    pub first: u64,
    pub prefix: String,
    pub domain: String,
    pub password: Password,
    pub cost: u32,
}

impl SeedSpec {
    /// The email of the n-th seeded user.
    pub fn email(&self, n: u64) -> CoreResult<Email> {
        Email::parse(&format!("{}{n}@{}", self.prefix, self.domain))
    }

    pub fn username(&self, n: u64) -> CoreResult<Username> {
        Username::parse(&format!("{}{n}", self.prefix))
    }
}

impl Core {
    /// Inserts `spec.count` active users in batches, each batch one transaction, and calls
    /// `progress` with the running total after each. A user that already exists stops the run
    /// with `Conflict`; the batches before it stay (the total so far went to `progress`).
    pub async fn seed_users(
        &self,
        tenant: &Tenant,
        spec: SeedSpec,
        mut progress: impl FnMut(u64),
    ) -> CoreResult<u64> {
        if !(4..=31).contains(&spec.cost) {
            return Err(CoreError::invalid("cost", "must be between 4 and 31"));
        }
        // Every email and username is parsed as it is made; checking the shape once here turns a
        // bad prefix or domain into one clear error before any hashing.
        spec.email(spec.first)?;
        spec.username(spec.first)?;
        let hash = self
            .hasher
            .hash(
                &tenant.id,
                &spec.password,
                crate::password::HashPolicy::bcrypt(spec.cost),
            )
            .await?;
        let now = self.now_ms();
        let mut done = 0;
        while done < spec.count {
            let batch = ROWS_PER_TRANSACTION.min(spec.count - done);
            let (spec, tid, hash) = (spec.clone(), tenant.id.clone(), hash.clone());
            let from = spec.first + done;
            self.db
                .run_tenant(&tenant.id, move |c| {
                    let rows = (from..from + batch)
                        .map(|n| seed_row(&spec, n, &tid, &hash, now))
                        .collect::<CoreResult<Vec<_>>>()?;
                    insert_users(c, &rows)
                })
                .await
                .map_err(|e| match e {
                    CoreError::Conflict(_) => {
                        CoreError::Conflict("a user with one of these emails or usernames exists")
                    }
                    other => other,
                })?;
            done += batch;
            progress(done);
        }
        Ok(done)
    }
}

fn seed_row(spec: &SeedSpec, n: u64, tid: &str, hash: &str, now: i64) -> CoreResult<UserRow> {
    let username = spec.username(n)?;
    Ok(UserRow {
        tenant_id: tid.to_owned(),
        id: object_id(now / 1000),
        email: Some(spec.email(n)?.as_str().to_owned()),
        username_key: Some(username.key()),
        username: Some(username.as_str().to_owned()),
        password_hash: Some(hash.to_owned()),
        firstname: String::new(),
        lastname: String::new(),
        email_verified: false,
        scopes: Scope::user().as_str().to_owned(),
        plan: "free".into(),
        metadata: "{}".into(),
        is_active: true,
        disabled: false,
        failed_signins: 0,
        locked_until: None,
        created_at: now,
        updated_at: now,
        profile: "{}".into(),
        vendor: None,
        tokens_valid_after: 0,
    })
}

/// The bulk path for users: multi-row INSERTs in one transaction. All or none of `rows` go in;
/// a duplicate email or username is `Conflict` (the unique keys decide, as for one user).
pub(crate) fn insert_users(conn: &mut AnyConnection, rows: &[UserRow]) -> CoreResult<()> {
    write_transaction(conn, |c| {
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            // MultiConnection has no multi-row INSERT (its SQL dialect cannot say DEFAULT), so
            // this one statement names its backend; the SQL is the same on both.
            let insert = diesel::insert_into(users::table).values(chunk);
            match c {
                AnyConnection::Postgresql(pg) => insert.execute(pg)?,
                AnyConnection::Sqlite(lite) => insert.execute(lite)?,
            };
        }
        Ok(())
    })
}
