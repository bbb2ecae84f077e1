//! Users: one record per person per tenant, shared by both dialects. Sign-in (with the dummy-hash
//! rule, the lock-out policy of `lockout` and re-hashing to the tenant's hash policy), creation, lookup,
//! listing, updates and password changes.

use crate::audit::{kind, Outcome, Record};
use crate::error::{found_one, AuthFailure, CoreError, CoreResult};
use crate::ids::{is_object_id, object_id};
use crate::lockout;
use crate::password::Verified;
use crate::revocation::{end_user_tokens, user_changed};
use crate::service::Core;
use crate::storage::db::write_transaction;
use crate::storage::models::UserRow;
use crate::storage::schema::users;
use crate::storage::AnyConnection;
use crate::tenants::Tenant;
use crate::validated::{storable, storable_json, Email, Password, Scope, Username, Vendor};
use crate::view::change::Change;
use crate::view::UserState;
use diesel::prelude::*;
use serde_json::Value;
use std::net::IpAddr;

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: String,
    /// `None` for an account made with a username only (Appmixer's `POST /user`).
    pub email: Option<String>,
    pub username: Option<String>,
    pub firstname: String,
    pub lastname: String,
    pub email_verified: bool,
    pub scopes: Vec<String>,
    pub plan: String,
    pub metadata: Value,
    pub is_active: bool,
    pub disabled: bool,
    pub has_password: bool,
    /// Tiledesk's profile fields beyond the names (`attributes`, `description`, `phone`...).
    pub profile: serde_json::Map<String, Value>,
    pub created_at: i64,
    pub updated_at: i64,
    /// An account's vendors as an admin set them (a string or an array), if ever set.
    pub vendor: Option<Value>,
}

impl User {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    pub(crate) fn from_row(row: UserRow) -> User {
        User {
            vendor: row
                .vendor
                .as_deref()
                .and_then(|v| serde_json::from_str(v).ok()),
            scopes: split_scopes(&row.scopes),
            metadata: serde_json::from_str(&row.metadata)
                .unwrap_or(Value::Object(Default::default())),
            has_password: row.password_hash.is_some(),
            profile: match serde_json::from_str(&row.profile) {
                Ok(Value::Object(m)) => m,
                _ => Default::default(),
            },
            id: row.id,
            email: row.email,
            username: row.username,
            firstname: row.firstname,
            lastname: row.lastname,
            email_verified: row.email_verified,
            plan: row.plan,
            is_active: row.is_active,
            disabled: row.disabled,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

fn split_scopes(raw: &str) -> Vec<String> {
    raw.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn join_scopes(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(Scope::as_str)
        .collect::<Vec<_>>()
        .join(",")
}

/// A user to create. `password: None` makes a password-less account (linked agents); `email: None`
/// an account that signs in by its username (then the username is required).
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: Option<Email>,
    pub username: Option<Username>,
    pub password: Option<Password>,
    pub firstname: String,
    pub lastname: String,
    pub scopes: Vec<Scope>,
    pub plan: String,
    pub metadata: Value,
    pub is_active: bool,
}

impl NewUser {
    pub fn new(email: Email, password: Option<Password>) -> NewUser {
        NewUser::named(Some(email), None, password)
    }

    /// An account named by an email, a username or both; `create_user` refuses neither.
    pub fn named(
        email: Option<Email>,
        username: Option<Username>,
        password: Option<Password>,
    ) -> NewUser {
        NewUser {
            email,
            username,
            password,
            firstname: String::new(),
            lastname: String::new(),
            scopes: vec![Scope::user()],
            plan: "free".into(),
            metadata: Value::Object(Default::default()),
            is_active: false,
        }
    }
}

/// How a person names their account at sign-in.
#[derive(Debug, Clone)]
pub enum Login {
    /// Tiledesk: the email only.
    Email(Email),
    /// Appmixer: a username, or an email given as username; matched case-insensitively.
    UsernameOrEmail(String),
}

/// Changes a user makes to their own Tiledesk profile; `None` leaves a field alone, and `extra`
/// fields replace their namesakes in the profile document.
#[derive(Debug, Clone, Default)]
pub struct ProfilePatch {
    pub firstname: Option<String>,
    pub lastname: Option<String>,
    pub extra: serde_json::Map<String, Value>,
}

/// Changes an admin may make to a user; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub email: Option<Email>,
    pub scopes: Option<Vec<Scope>>,
    pub metadata: Option<Value>,
    pub is_active: Option<bool>,
    pub plan: Option<String>,
    pub vendor: Option<Vendor>,
}

pub(crate) fn scoped(
    tenant_id: &str,
) -> users::BoxedQuery<'static, crate::storage::db::MultiBackend> {
    users::table
        .filter(users::tenant_id.eq(tenant_id.to_owned()))
        .into_boxed()
}

/// One user of one tenant, as an update or delete target.
type UserById<'a> = diesel::dsl::Filter<
    diesel::dsl::Filter<users::table, diesel::dsl::Eq<users::tenant_id, &'a str>>,
    diesel::dsl::Eq<users::id, &'a str>,
>;

fn user_by_id<'a>(tid: &'a str, id: &'a str) -> UserById<'a> {
    users::table
        .filter(users::tenant_id.eq(tid))
        .filter(users::id.eq(id))
}

fn find_by_login(
    conn: &mut AnyConnection,
    tenant_id: &str,
    login: &Login,
) -> CoreResult<Option<UserRow>> {
    let query = scoped(tenant_id).select(UserRow::as_select());
    match login {
        Login::Email(email) => Ok(query
            .filter(users::email.eq(email.as_str().to_owned()))
            .first(conn)
            .optional()?),
        Login::UsernameOrEmail(name) => {
            // At most two accounts match (one by email, one by username, both unique); an email
            // names its account first, so no one's username may shadow another's email.
            let key = name.trim().to_lowercase();
            let mut rows: Vec<UserRow> = query
                .filter(
                    users::email
                        .eq(key.clone())
                        .or(users::username_key.eq(key.clone())),
                )
                .limit(2)
                .load(conn)?;
            let by_email = rows
                .iter()
                .position(|r| r.email.as_deref() == Some(key.as_str()))
                .unwrap_or(0);
            Ok((!rows.is_empty()).then(|| rows.swap_remove(by_email)))
        }
    }
}

fn find_by_id(conn: &mut AnyConnection, tenant_id: &str, id: &str) -> CoreResult<UserRow> {
    if !is_object_id(id) {
        return Err(CoreError::NotFound("user"));
    }
    scoped(tenant_id)
        .filter(users::id.eq(id.to_owned()))
        .select(UserRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(CoreError::NotFound("user"))
}

/// What the token check's view holds of a user; `None` when there is no such user.
pub(crate) fn load_state(
    conn: &mut AnyConnection,
    tenant_id: &str,
    id: &str,
) -> CoreResult<Option<UserState>> {
    match find_by_id(conn, tenant_id, id) {
        Ok(row) => Ok(Some(UserState {
            tokens_valid_after: row.tokens_valid_after,
            user: User::from_row(row),
        })),
        Err(CoreError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Email and username are unique per tenant by constraint, so a duplicate (or a concurrent
/// request that got there first) shows up as a unique violation: the duplicate answer, not a 500.
fn conflict_on_unique(e: CoreError) -> CoreError {
    match e {
        CoreError::Conflict(_) => CoreError::Conflict("user already exists"),
        other => other,
    }
}

impl Core {
    /// Creates a user. The email (and username, if any) must be free in this tenant; two requests
    /// racing for one email create one user and the other gets `Conflict`. A user with a password
    /// whose email belongs to a password-less account claims that account instead (see
    /// `claim_passwordless`).
    pub async fn create_user(&self, tenant: &Tenant, mut new: NewUser) -> CoreResult<User> {
        // Appmixer's usernames are email addresses ("Username, has to have an email format"):
        // an account given only such a username owns that address, so nobody else can claim it
        // as an email and make a sign-in by that name ambiguous.
        if new.email.is_none() {
            new.email = new
                .username
                .as_ref()
                .filter(|u| u.as_str().contains('@'))
                .and_then(|u| Email::parse(u.as_str()).ok());
        }
        if new.email.is_none() && new.username.is_none() {
            return Err(CoreError::invalid(
                "value",
                "must contain at least one of [username, email]",
            ));
        }
        // Appmixer signs in "by username or email": a username that is someone else's address
        // would make the sign-in ambiguous.
        if let Some(u) = &new.username {
            let own = new.email.as_ref().map(Email::as_str);
            if u.as_str().contains('@') && Some(u.key().as_str()) != own {
                return Err(CoreError::invalid(
                    "username",
                    "must not be an email address other than the account's own",
                ));
            }
        }
        storable("firstname", &new.firstname)?;
        storable("lastname", &new.lastname)?;
        storable("plan", &new.plan)?;
        storable_json("metadata", &new.metadata)?;
        let hash = match &new.password {
            Some(pw) => Some(
                self.hasher
                    .hash(&tenant.id, pw, tenant.settings.hash_policy())
                    .await?,
            ),
            None => None,
        };
        let row = new_row(&tenant.id, new, hash, self.now_ms());
        let (user, claimed) = self
            .db
            .run_tenant(&tenant.id, move |c| {
                let inserted = diesel::insert_into(users::table)
                    .values(&row)
                    .execute(c)
                    .map_err(CoreError::from);
                match inserted {
                    Ok(_) => Ok((User::from_row(row), None)),
                    Err(CoreError::Conflict(_)) if row.password_hash.is_some() => {
                        claim_passwordless(c, &row).map(|(user, change)| (user, Some(change)))
                    }
                    Err(e) => Err(conflict_on_unique(e)),
                }
            })
            .await?;
        if let Some(change) = claimed {
            self.publish(&[change]).await?;
        }
        self.audit(tenant, Record::success(kind::SIGNUP).user(user.id.clone()));
        Ok(user)
    }

    /// Password sign-in from `client_ip`. Fails with `Unauthorized(UnknownAccount | WrongPassword |
    /// Disabled)`, `Locked` (this login from this address, see `lockout`) or `RateLimited` (this
    /// address's failed sign-ins this minute); an unknown account costs one bcrypt verification and
    /// is counted, locked and slowed exactly as a known one.
    pub async fn signin(
        &self,
        tenant: &Tenant,
        client_ip: IpAddr,
        login: Login,
        password: &Password,
    ) -> CoreResult<User> {
        if let Login::UsernameOrEmail(name) = &login {
            storable("username", name)?;
        }
        self.check_signin_failure_rate(tenant, client_ip, self.now_ms())
            .inspect_err(|_| {
                self.metrics.signin("rate_limited");
                let record = Record::new(kind::SIGNIN, Outcome::Failure).detail("rate limited");
                self.audit(tenant, record);
            })?;
        let key = lockout::login_key(&login);
        let (tid, pair_key) = (tenant.id.clone(), key.clone());
        let (row, pair) = self
            .db
            .run_tenant(&tenant.id, move |c| {
                let row = find_by_login(c, &tid, &login)?;
                let pair = lockout::pair_state(c, &tid, &pair_key, client_ip)?;
                Ok((row, pair))
            })
            .await?;
        if lockout::is_locked(pair.as_ref(), self.now_ms()) {
            self.metrics.signin("locked");
            self.audit(tenant, signin_record(Outcome::Locked, row.as_ref()));
            return Err(CoreError::Locked);
        }
        let delay = self.tarpit_for(tenant, &key);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let policy = tenant.settings.hash_policy();
        let stored = row.as_ref().and_then(|r| r.password_hash.as_deref());
        let verified = self
            .hasher
            .verify(&tenant.id, password, stored, policy)
            .await?;
        let row = match (row, &verified) {
            (Some(row), Verified::Match | Verified::MatchRehashed(_)) => row,
            (row, _) => {
                let locked = self.note_signin_failure(tenant, key, client_ip).await?;
                // One label for both, so the metrics never tell which accounts exist.
                self.metrics.signin("failure");
                let why = if row.is_some() {
                    "wrong password"
                } else {
                    "unknown account"
                };
                self.audit(
                    tenant,
                    signin_record(Outcome::Failure, row.as_ref()).detail(why),
                );
                if locked {
                    let lockout = Record {
                        kind: kind::LOCKOUT,
                        ..signin_record(Outcome::Locked, row.as_ref())
                    };
                    self.audit(tenant, lockout);
                }
                let hide = tenant.settings.signin_hide_unknown_account;
                return Err(CoreError::Unauthorized(match row {
                    None if !hide => AuthFailure::UnknownAccount,
                    _ => AuthFailure::WrongPassword,
                }));
            }
        };
        if row.disabled {
            self.metrics.signin("disabled");
            let record = signin_record(Outcome::Failure, Some(&row)).detail("disabled");
            self.audit(tenant, record);
            return Err(CoreError::Unauthorized(AuthFailure::Disabled));
        }
        self.metrics.signin("success");
        if pair.is_some() {
            self.clear_signin_failures(tenant, key, client_ip).await?;
        }
        let mut record = signin_record(Outcome::Success, Some(&row));
        if let Verified::MatchRehashed(hash) = verified {
            let (tid, uid) = (tenant.id.clone(), row.id.clone());
            self.db
                .run_tenant(&tenant.id, move |c| store_rehash(c, &tid, &uid, hash))
                .await?;
            record = record.detail("password rehashed to the tenant's policy");
        }
        self.audit(tenant, record);
        Ok(User::from_row(row))
    }

    pub async fn user(&self, tenant: &Tenant, id: &str) -> CoreResult<User> {
        let (tid, id) = (tenant.id.clone(), id.to_owned());
        self.db
            .run_tenant(&tenant.id, move |c| {
                find_by_id(c, &tid, &id).map(User::from_row)
            })
            .await
    }

    pub async fn user_by_email(&self, tenant: &Tenant, email: &Email) -> CoreResult<Option<User>> {
        let (tid, login) = (tenant.id.clone(), Login::Email(email.clone()));
        self.db
            .run_tenant(&tenant.id, move |c| {
                Ok(find_by_login(c, &tid, &login)?.map(User::from_row))
            })
            .await
    }

    pub async fn count_users(&self, tenant: &Tenant) -> CoreResult<i64> {
        let tid = tenant.id.clone();
        self.db
            .run_tenant(&tenant.id, move |c| {
                Ok(scoped(&tid).count().get_result(c)?)
            })
            .await
    }

    pub async fn update_user(
        &self,
        tenant: &Tenant,
        id: &str,
        patch: UserPatch,
    ) -> CoreResult<User> {
        if let Some(plan) = &patch.plan {
            storable("plan", plan)?;
        }
        if let Some(metadata) = &patch.metadata {
            storable_json("metadata", metadata)?;
        }
        let (tid, id, now) = (tenant.id.clone(), id.to_owned(), self.now_ms());
        let (user, change) = self
            .db
            .run_tenant(&tenant.id, move |c| {
                write_transaction(c, |c| {
                    let mut row = find_by_id(c, &tid, &id)?;
                    if let Some(email) = patch.email {
                        if Some(email.as_str()) != row.email.as_deref() {
                            row.email = Some(email.as_str().to_owned());
                            row.email_verified = false;
                        }
                    }
                    if let Some(vendor) = patch.vendor {
                        row.vendor = Some(vendor.to_json().to_string());
                    }
                    if let Some(scopes) = patch.scopes {
                        row.scopes = join_scopes(&scopes);
                    }
                    if let Some(metadata) = patch.metadata {
                        row.metadata = metadata.to_string();
                    }
                    if let Some(active) = patch.is_active {
                        row.is_active = active;
                    }
                    if let Some(plan) = patch.plan {
                        row.plan = plan;
                    }
                    row.updated_at = now;
                    diesel::update(user_by_id(&tid, &id))
                        .set((
                            users::email.eq(&row.email),
                            users::email_verified.eq(row.email_verified),
                            users::scopes.eq(&row.scopes),
                            users::metadata.eq(&row.metadata),
                            users::is_active.eq(row.is_active),
                            users::plan.eq(&row.plan),
                            users::vendor.eq(&row.vendor),
                            users::updated_at.eq(now),
                        ))
                        .execute(c)
                        .map_err(|e| conflict_on_unique(e.into()))?;
                    let change = user_changed(c, &tid, &id, now)?;
                    Ok((User::from_row(row), change))
                })
            })
            .await?;
        self.publish(&[change]).await?;
        Ok(user)
    }

    /// A user's own profile change (Tiledesk's `PUT /users`).
    pub async fn update_profile(
        &self,
        tenant: &Tenant,
        id: &str,
        patch: ProfilePatch,
    ) -> CoreResult<User> {
        let (tid, id, now) = (tenant.id.clone(), id.to_owned(), self.now_ms());
        let (user, change) = self
            .db
            .run_tenant(&tenant.id, move |c| {
                write_transaction(c, |c| {
                    let mut row = find_by_id(c, &tid, &id)?;
                    if let Some(first) = patch.firstname {
                        row.firstname = first;
                    }
                    if let Some(last) = patch.lastname {
                        row.lastname = last;
                    }
                    let mut profile = match serde_json::from_str(&row.profile) {
                        Ok(Value::Object(m)) => m,
                        _ => serde_json::Map::new(),
                    };
                    profile.extend(patch.extra);
                    row.profile = Value::Object(profile).to_string();
                    row.updated_at = now;
                    diesel::update(user_by_id(&tid, &id))
                        .set((
                            users::firstname.eq(&row.firstname),
                            users::lastname.eq(&row.lastname),
                            users::profile.eq(&row.profile),
                            users::updated_at.eq(now),
                        ))
                        .execute(c)?;
                    let change = user_changed(c, &tid, &id, now)?;
                    Ok((User::from_row(row), change))
                })
            })
            .await?;
        self.publish(&[change]).await?;
        Ok(user)
    }

    /// Deletes a user and their project memberships, together.
    pub async fn delete_user(&self, tenant: &Tenant, id: &str) -> CoreResult<()> {
        use crate::storage::schema::project_members;
        if !is_object_id(id) {
            return Err(CoreError::NotFound("user"));
        }
        let (tid, uid, now) = (tenant.id.clone(), id.to_owned(), self.now_ms());
        let change = self
            .db
            .run_tenant(&tenant.id, move |c| {
                write_transaction(c, |c| {
                    found_one(diesel::delete(user_by_id(&tid, &uid)).execute(c)?, "user")?;
                    diesel::delete(
                        project_members::table
                            .filter(project_members::tenant_id.eq(&tid))
                            .filter(project_members::user_id.eq(&uid)),
                    )
                    .execute(c)?;
                    user_changed(c, &tid, &uid, now)
                })
            })
            .await?;
        self.audit(tenant, Record::success(kind::USER_DELETED).user(id));
        self.publish(&[change]).await
    }

    /// Changes a user's own password. `Unauthorized(WrongPassword)` when `old` does not match;
    /// `Forbidden` when `new` is the same password.
    pub async fn change_password(
        &self,
        tenant: &Tenant,
        id: &str,
        old: &Password,
        new: &Password,
    ) -> CoreResult<()> {
        let (tid, uid) = (tenant.id.clone(), id.to_owned());
        let row = self
            .db
            .run_tenant(&tenant.id, move |c| find_by_id(c, &tid, &uid))
            .await?;
        let policy = tenant.settings.hash_policy();
        if self
            .hasher
            .verify(&tenant.id, old, row.password_hash.as_deref(), policy)
            .await?
            == Verified::NoMatch
            || row.password_hash.is_none()
        {
            let record = Record::new(kind::PASSWORD_CHANGE, Outcome::Failure)
                .user(id)
                .detail("wrong old password");
            self.audit(tenant, record);
            return Err(CoreError::Unauthorized(AuthFailure::WrongPassword));
        }
        if old.expose() == new.expose() {
            return Err(CoreError::Forbidden(
                "the new password must differ from the old one",
            ));
        }
        self.store_password(tenant, id, new).await?;
        self.audit(tenant, Record::success(kind::PASSWORD_CHANGE).user(id));
        Ok(())
    }

    /// Sets a password without asking for the old one (admin reset, CLI). Tokens issued before
    /// it are ended.
    pub async fn set_password(&self, tenant: &Tenant, id: &str, new: &Password) -> CoreResult<()> {
        self.store_password(tenant, id, new).await?;
        self.audit(tenant, Record::success(kind::PASSWORD_RESET).user(id));
        Ok(())
    }

    /// Hashes and stores a new password, ends the account's locks and its earlier tokens.
    async fn store_password(&self, tenant: &Tenant, id: &str, new: &Password) -> CoreResult<()> {
        let hash = self
            .hasher
            .hash(&tenant.id, new, tenant.settings.hash_policy())
            .await?;
        let (tid, id, now) = (tenant.id.clone(), id.to_owned(), self.now_ms());
        let change = self
            .db
            .run_tenant(&tenant.id, move |c| {
                write_transaction(c, |c| store_password(c, &tid, &id, hash, now))
            })
            .await?;
        self.publish(&[change]).await
    }

    /// Disables (or enables) the user with this email (the CLI's door; see `set_user_disabled`).
    pub async fn set_disabled(
        &self,
        tenant: &Tenant,
        email: &Email,
        disabled: bool,
    ) -> CoreResult<User> {
        let user = self
            .user_by_email(tenant, email)
            .await?
            .ok_or(CoreError::NotFound("user"))?;
        self.set_user_disabled(tenant, &user.id, disabled).await
    }

    /// Disables (or enables) a user: a disabled user cannot sign in and their tokens are refused.
    /// Disabling also ends the tokens issued before it and the user's pending codes, so enabling
    /// again revives neither.
    pub async fn set_user_disabled(
        &self,
        tenant: &Tenant,
        id: &str,
        disabled: bool,
    ) -> CoreResult<User> {
        if !is_object_id(id) {
            return Err(CoreError::NotFound("user"));
        }
        let (tid, id, now) = (tenant.id.clone(), id.to_owned(), self.now_ms());
        let (user, change) = self
            .db
            .run_tenant(&tenant.id, move |c| {
                write_transaction(c, |c| {
                    let n = diesel::update(user_by_id(&tid, &id))
                        .set((users::disabled.eq(disabled), users::updated_at.eq(now)))
                        .execute(c)?;
                    found_one(n, "user")?;
                    let change = if disabled {
                        // Pending reset and verification codes end too: enabling the account
                        // again must not revive a link mailed (or stolen) before (issue 21.7).
                        crate::mail::codes::end_every(c, &tid, &id)?;
                        end_user_tokens(c, &tid, &id, now)?
                    } else {
                        user_changed(c, &tid, &id, now)?
                    };
                    let user = User::from_row(find_by_id(c, &tid, &id)?);
                    Ok((user, change))
                })
            })
            .await?;
        self.publish(&[change]).await?;
        let done = if disabled {
            kind::USER_DISABLED
        } else {
            kind::USER_ENABLED
        };
        self.audit(tenant, Record::success(done).user(user.id.clone()));
        Ok(user)
    }
}

fn new_row(tenant_id: &str, new: NewUser, hash: Option<String>, now: i64) -> UserRow {
    UserRow {
        tenant_id: tenant_id.to_owned(),
        id: object_id(now / 1000),
        email: new.email.as_ref().map(|e| e.as_str().to_owned()),
        username_key: new.username.as_ref().map(Username::key),
        username: new.username.map(|u| u.as_str().to_owned()),
        password_hash: hash,
        firstname: new.firstname,
        lastname: new.lastname,
        email_verified: false,
        scopes: join_scopes(&new.scopes),
        plan: new.plan,
        metadata: new.metadata.to_string(),
        is_active: new.is_active,
        disabled: false,
        failed_signins: 0,
        locked_until: None,
        created_at: now,
        updated_at: now,
        profile: "{}".into(),
        vendor: None,
        tokens_valid_after: 0,
    }
}

/// Inserts a user inside the caller's transaction (a duplicate is `Conflict`), for core paths
/// that create an account together with something else.
pub(crate) fn insert_new(
    conn: &mut AnyConnection,
    tenant_id: &str,
    new: NewUser,
    hash: Option<String>,
    now: i64,
) -> CoreResult<User> {
    let row = new_row(tenant_id, new, hash, now);
    diesel::insert_into(users::table)
        .values(&row)
        .execute(conn)
        .map_err(|e| conflict_on_unique(e.into()))?;
    Ok(User::from_row(row))
}

/// Signup with the email of a password-less account (one a custom-token exchange made, which has
/// never had an owner who could sign in) claims it: the account takes the new password, names and
/// username and keeps its memberships. Anything else with that email stays a conflict.
/// The tokens minted for the account before it was claimed (custom-token agent tokens) end with the
/// claim: they were issued to whoever held the project's secret, not to the email's owner.
fn claim_passwordless(conn: &mut AnyConnection, new: &UserRow) -> CoreResult<(User, Change)> {
    write_transaction(conn, |c| {
        // Only an account named by an email can be password-less (custom-token agents).
        let Some(email) = new.email.as_deref() else {
            return Err(CoreError::Conflict("user already exists"));
        };
        let login = Login::Email(Email::parse(email)?);
        let Some(mut row) = find_by_login(c, &new.tenant_id, &login)? else {
            return Err(CoreError::Conflict("user already exists"));
        };
        if row.password_hash.is_some() || row.disabled {
            return Err(CoreError::Conflict("user already exists"));
        }
        row.password_hash.clone_from(&new.password_hash);
        if !new.firstname.is_empty() {
            row.firstname.clone_from(&new.firstname);
        }
        if !new.lastname.is_empty() {
            row.lastname.clone_from(&new.lastname);
        }
        if new.username.is_some() {
            row.username.clone_from(&new.username);
            row.username_key.clone_from(&new.username_key);
        }
        row.updated_at = new.updated_at;
        // `password_hash IS NULL` again in the update: two racing signups claim it once.
        let n = diesel::update(
            user_by_id(&new.tenant_id, &row.id).filter(users::password_hash.is_null()),
        )
        .set((
            users::password_hash.eq(&row.password_hash),
            users::firstname.eq(&row.firstname),
            users::lastname.eq(&row.lastname),
            users::username.eq(&row.username),
            users::username_key.eq(&row.username_key),
            users::updated_at.eq(row.updated_at),
        ))
        .execute(c)
        .map_err(|e| conflict_on_unique(e.into()))?;
        if n != 1 {
            return Err(CoreError::Conflict("user already exists"));
        }
        let change = end_user_tokens(c, &new.tenant_id, &row.id, new.updated_at)?;
        Ok((User::from_row(row), change))
    })
}

/// A sign-in's audit record: the account when there is one, never the login as typed (people
/// type passwords into the login field).
fn signin_record(outcome: Outcome, row: Option<&UserRow>) -> Record {
    let record = Record::new(kind::SIGNIN, outcome);
    match row {
        Some(row) => record.user(row.id.clone()),
        None => record,
    }
}

/// Stores a new password hash in the caller's transaction: the account's sign-in locks are
/// cleared and its earlier tokens ended (set by an admin, the CLI or a reset code).
pub(crate) fn store_password(
    c: &mut AnyConnection,
    tid: &str,
    id: &str,
    hash: String,
    now: i64,
) -> CoreResult<Change> {
    let row = find_by_id(c, tid, id)?;
    diesel::update(user_by_id(tid, id))
        .set((
            users::password_hash.eq(Some(hash)),
            users::updated_at.eq(now),
        ))
        .execute(c)?;
    let logins: Vec<String> = row.email.into_iter().chain(row.username_key).collect();
    crate::lockout::clear_account_locks(c, tid, &logins)?;
    end_user_tokens(c, tid, id, now)
}

/// Replaces a hash of another cost (or an older `$2a$`/`$2y$` one) after a good sign-in.
fn store_rehash(conn: &mut AnyConnection, tid: &str, uid: &str, hash: String) -> CoreResult<()> {
    diesel::update(user_by_id(tid, uid))
        .set(users::password_hash.eq(Some(hash)))
        .execute(conn)?;
    Ok(())
}
