//! Tiledesk projects and their members: agents (users with a role), and the password-less guests
//! and external users that anonymous sign-in and custom tokens bring in. Each project has a shared
//! `jwtSecret` with which the customer's own system signs custom tokens.

use crate::error::{found_one, CoreError, CoreResult};
use crate::ids::{is_object_id, object_id};
use crate::sealed::{project_secret_aad, Sealer};
use crate::secret::Secret;
use crate::service::Core;
use crate::signup_policy::SignupPath;
use crate::storage::db::write_transaction;
use crate::storage::models::{MemberRow, ProjectRow};
use crate::storage::schema::{project_members, projects};
use crate::storage::AnyConnection;
use crate::tenants::Tenant;
use crate::users::{NewUser, User};
use crate::validated::{storable, storable_json, Email};
use diesel::prelude::*;
use serde_json::Value;
use std::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Owner,
    Admin,
    Agent,
    User,
    Guest,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Agent => "agent",
            Role::User => "user",
            Role::Guest => "guest",
        }
    }

    pub fn parse(raw: &str) -> Option<Role> {
        Some(match raw {
            "owner" => Role::Owner,
            "admin" => Role::Admin,
            "agent" => Role::Agent,
            "user" => Role::User,
            "guest" => Role::Guest,
            _ => return None,
        })
    }

    /// Roles held by agents (accounts with a user record) rather than end users.
    pub fn is_agent(self) -> bool {
        matches!(self, Role::Owner | Role::Admin | Role::Agent)
    }

    /// Whether this role grants everything `other` does: owner > admin > agent > user, guest.
    pub fn at_least(self, other: Role) -> bool {
        let rank = |r: Role| match r {
            Role::Owner => 3,
            Role::Admin => 2,
            Role::Agent => 1,
            Role::User | Role::Guest => 0,
        };
        rank(self) >= rank(other)
    }
}

#[derive(Debug, Clone)]
pub struct Project {
    pub id: String,
    pub name: String,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub jwt_secret: Secret<String>,
}

impl Project {
    /// The project of a stored row, its `jwtSecret` opened with the master key.
    fn open(r: ProjectRow, sealer: &Sealer) -> CoreResult<Project> {
        let opened = sealer
            .open(&r.jwt_secret, &project_secret_aad(&r.tenant_id, &r.id))
            .map_err(|e| CoreError::Internal(format!("the secret of project {}: {e}", r.id)))?;
        Ok(Project::with_secret(r, opened.plain))
    }

    fn with_secret(r: ProjectRow, jwt_secret: Secret<String>) -> Project {
        Project {
            id: r.id,
            name: r.name,
            created_by: r.created_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
            jwt_secret,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Member {
    pub id: String,
    pub project_id: String,
    pub user_id: Option<String>,
    pub role: Role,
    pub active: bool,
    pub profile: Value,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<MemberRow> for Member {
    fn from(r: MemberRow) -> Member {
        Member {
            created_at: r.created_at,
            updated_at: r.updated_at,
            role: Role::parse(&r.role).unwrap_or(Role::User),
            profile: serde_json::from_str(&r.profile).unwrap_or(Value::Null),
            id: r.id,
            project_id: r.project_id,
            user_id: r.user_id,
            active: r.active,
        }
    }
}

/// The agent a custom token names: by email, with the role it claims and the names it gives.
#[derive(Debug, Clone)]
pub struct NamedAgent {
    pub email: Email,
    pub role: Role,
    pub firstname: String,
    pub lastname: String,
}

/// Who a membership is for: an agent account, a guest, or a customer's external user.
#[derive(Debug, Clone)]
pub enum MemberOf {
    User(String),
    Guest(String),
    External(String),
}

impl MemberOf {
    fn key(&self) -> String {
        match self {
            MemberOf::User(id) => format!("user:{id}"),
            MemberOf::Guest(id) => format!("guest:{id}"),
            MemberOf::External(id) => format!("ext:{id}"),
        }
    }

    fn user_id(&self) -> Option<String> {
        match self {
            MemberOf::User(id) => Some(id.clone()),
            _ => None,
        }
    }
}

/// The `Forbidden` reason when a custom token names an account outside its project.
pub const NOT_A_MEMBER: &str = "the account is not a member of this project with that role";

fn new_secret() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn find_project(conn: &mut AnyConnection, tid: &str, id: &str) -> CoreResult<ProjectRow> {
    if !is_object_id(id) {
        return Err(CoreError::NotFound("project"));
    }
    projects::table
        .filter(projects::tenant_id.eq(tid))
        .filter(projects::id.eq(id))
        .select(ProjectRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(CoreError::NotFound("project"))
}

fn find_member(
    conn: &mut AnyConnection,
    tid: &str,
    project_id: &str,
    key: &str,
) -> CoreResult<Option<MemberRow>> {
    Ok(project_members::table
        .filter(project_members::tenant_id.eq(tid))
        .filter(project_members::project_id.eq(project_id))
        .filter(project_members::member_key.eq(key))
        .select(MemberRow::as_select())
        .first(conn)
        .optional()?)
}

/// Adds a membership with `role`, or for an existing one refreshes its profile only: a role, once
/// given, changes by an admin's act, not because a later sign-in names another. Returns the
/// membership as stored.
fn upsert_member(
    conn: &mut AnyConnection,
    tid: &str,
    project_id: &str,
    who: &MemberOf,
    role: Role,
    profile: &Value,
    now: i64,
) -> CoreResult<MemberRow> {
    let key = who.key();
    storable("member", &key)?;
    storable_json("profile", profile)?;
    if let Some(existing) = find_member(conn, tid, project_id, &key)? {
        diesel::update(
            project_members::table
                .filter(project_members::tenant_id.eq(tid))
                .filter(project_members::id.eq(&existing.id)),
        )
        .set((
            project_members::profile.eq(profile.to_string()),
            project_members::updated_at.eq(now),
        ))
        .execute(conn)?;
        return find_member(conn, tid, project_id, &key)?.ok_or(CoreError::NotFound("member"));
    }
    let row = MemberRow {
        tenant_id: tid.to_owned(),
        id: object_id(now / 1000),
        project_id: project_id.to_owned(),
        member_key: key,
        user_id: who.user_id(),
        role: role.as_str().to_owned(),
        active: true,
        profile: profile.to_string(),
        created_at: now,
        updated_at: now,
    };
    diesel::insert_into(project_members::table)
        .values(&row)
        .execute(conn)?;
    Ok(row)
}

impl Core {
    /// Creates a project owned by `owner`, with a fresh `jwtSecret`.
    pub async fn create_project(
        &self,
        tenant: &Tenant,
        name: &str,
        owner: &User,
    ) -> CoreResult<Project> {
        let name = storable("name", name.trim())?;
        if name.is_empty() || name.chars().count() > 256 {
            return Err(CoreError::invalid("name", "must be 1 to 256 characters"));
        }
        let now = self.now_ms();
        let id = object_id(now / 1000);
        let secret = Secret::new(new_secret());
        let row = ProjectRow {
            tenant_id: tenant.id.clone(),
            jwt_secret: self
                .sealer
                .seal(secret.expose(), &project_secret_aad(&tenant.id, &id)),
            id,
            name: name.to_owned(),
            created_by: owner.id.clone(),
            created_at: now,
            updated_at: now,
        };
        let owner = MemberOf::User(owner.id.clone());
        self.db
            .run_tenant(&tenant.id, move |c| {
                write_transaction(c, |c| {
                    diesel::insert_into(projects::table)
                        .values(&row)
                        .execute(c)?;
                    upsert_member(
                        c,
                        &row.tenant_id,
                        &row.id,
                        &owner,
                        Role::Owner,
                        &Value::Null,
                        now,
                    )?;
                    Ok(Project::with_secret(row, secret))
                })
            })
            .await
    }

    pub async fn project(&self, tenant: &Tenant, id: &str) -> CoreResult<Project> {
        let (tid, id, sealer) = (tenant.id.clone(), id.to_owned(), self.sealer.clone());
        self.db
            .run_tenant(&tenant.id, move |c| {
                Project::open(find_project(c, &tid, &id)?, &sealer)
            })
            .await
    }

    /// Replaces the project's `jwtSecret`; tokens signed with the old one stop verifying.
    pub async fn regenerate_project_secret(
        &self,
        tenant: &Tenant,
        project_id: &str,
    ) -> CoreResult<Secret<String>> {
        let (tid, pid, now) = (tenant.id.clone(), project_id.to_owned(), self.now_ms());
        let secret = new_secret();
        let stored = self
            .sealer
            .seal(&secret, &project_secret_aad(&tenant.id, project_id));
        self.db
            .run_tenant(&tenant.id, move |c| {
                let n = diesel::update(
                    projects::table
                        .filter(projects::tenant_id.eq(&tid))
                        .filter(projects::id.eq(&pid)),
                )
                .set((
                    projects::jwt_secret.eq(&stored),
                    projects::updated_at.eq(now),
                ))
                .execute(c)?;
                found_one(n, "project")
            })
            .await?;
        Ok(Secret::new(secret))
    }

    /// The membership of `who` in a project, if any.
    pub async fn membership(
        &self,
        tenant: &Tenant,
        project_id: &str,
        who: MemberOf,
    ) -> CoreResult<Option<Member>> {
        storable("member", &who.key())?;
        let (tid, pid) = (tenant.id.clone(), project_id.to_owned());
        self.db
            .run_tenant(&tenant.id, move |c| {
                Ok(find_member(c, &tid, &pid, &who.key())?.map(Member::from))
            })
            .await
    }

    /// Adds (or refreshes) a password-less member: a guest, or a customer's external user.
    pub async fn upsert_member(
        &self,
        tenant: &Tenant,
        project_id: &str,
        who: MemberOf,
        role: Role,
        profile: Value,
    ) -> CoreResult<Member> {
        let (tid, pid, now) = (tenant.id.clone(), project_id.to_owned(), self.now_ms());
        self.db
            .run_tenant(&tenant.id, move |c| {
                write_transaction(c, |c| {
                    find_project(c, &tid, &pid)?;
                    upsert_member(c, &tid, &pid, &who, role, &profile, now).map(Member::from)
                })
            })
            .await
    }

    /// The account a custom token's agent role (`owner`, `admin`, `agent`) names by email.
    ///
    /// An existing account is returned only when it is already a member of the project with at
    /// least `role` (a disabled membership is returned as it is, for the caller to refuse);
    /// otherwise `Forbidden`: a project's secret vouches for people in that project, not for
    /// any account of the tenant. A new email makes a password-less account and its membership
    /// together; that is account creation, so the tenant's signup policy decides first, and a
    /// later signup with the email claims the account (see `users::create_user`).
    pub async fn custom_token_agent(
        &self,
        tenant: &Tenant,
        project_id: &str,
        named: &NamedAgent,
        client_ip: IpAddr,
    ) -> CoreResult<(User, Member)> {
        storable("firstname", &named.firstname)?;
        storable("lastname", &named.lastname)?;
        let (email, role) = (&named.email, named.role);
        self.project(tenant, project_id).await?;
        if let Some(user) = self.user_by_email(tenant, email).await? {
            return self.existing_agent(tenant, project_id, user, role).await;
        }
        // A new account: a signup, by the tenant's policy and its per-address signup limit.
        self.check_self_signup(tenant, SignupPath::CustomToken)?;
        self.check_signup_rate(tenant, client_ip)?;
        let mut new = NewUser::new(email.clone(), None);
        new.firstname = named.firstname.clone();
        new.lastname = named.lastname.clone();
        let (tid, pid, now) = (tenant.id.clone(), project_id.to_owned(), self.now_ms());
        let created = self
            .db
            .run_tenant(&tenant.id, move |c| {
                write_transaction(c, |c| {
                    let user = crate::users::insert_new(c, &tid, new, None, now)?;
                    let who = MemberOf::User(user.id.clone());
                    let member = upsert_member(c, &tid, &pid, &who, role, &Value::Null, now)?;
                    Ok((user, Member::from(member)))
                })
            })
            .await;
        match created {
            // Created by a concurrent request: judged as an existing account.
            Err(CoreError::Conflict(_)) => {
                let user = self
                    .user_by_email(tenant, email)
                    .await?
                    .ok_or(CoreError::NotFound("user"))?;
                self.existing_agent(tenant, project_id, user, role).await
            }
            other => other,
        }
    }

    async fn existing_agent(
        &self,
        tenant: &Tenant,
        project_id: &str,
        user: User,
        role: Role,
    ) -> CoreResult<(User, Member)> {
        if user.disabled {
            return Err(CoreError::Unauthorized(crate::error::AuthFailure::Disabled));
        }
        let who = MemberOf::User(user.id.clone());
        match self.membership(tenant, project_id, who).await? {
            Some(m) if !m.active => Ok((user, m)),
            Some(m) if m.role.is_agent() && m.role.at_least(role) => Ok((user, m)),
            _ => Err(CoreError::Forbidden(NOT_A_MEMBER)),
        }
    }

    /// The projects in which `user_id` is an active agent (owner, admin or agent), with each
    /// membership; most recently updated project first.
    pub async fn agent_projects(
        &self,
        tenant: &Tenant,
        user_id: &str,
    ) -> CoreResult<Vec<(Member, Project)>> {
        let (tid, uid, sealer) = (tenant.id.clone(), user_id.to_owned(), self.sealer.clone());
        let agent_roles = [Role::Owner, Role::Admin, Role::Agent].map(Role::as_str);
        self.db
            .run_tenant(&tenant.id, move |c| {
                let members: Vec<MemberRow> = project_members::table
                    .filter(project_members::tenant_id.eq(&tid))
                    .filter(project_members::user_id.eq(&uid))
                    .filter(project_members::active.eq(true))
                    .filter(project_members::role.eq_any(agent_roles))
                    .select(MemberRow::as_select())
                    .load(c)?;
                let ids: Vec<String> = members.iter().map(|m| m.project_id.clone()).collect();
                let found: Vec<ProjectRow> = projects::table
                    .filter(projects::tenant_id.eq(&tid))
                    .filter(projects::id.eq_any(ids))
                    .select(ProjectRow::as_select())
                    .load(c)?;
                let mut pairs: Vec<(Member, Project)> = members
                    .into_iter()
                    .filter_map(|m| {
                        let p = found.iter().find(|p| p.id == m.project_id)?;
                        Some((m, p.clone()))
                    })
                    .map(|(m, p)| Ok((Member::from(m), Project::open(p, &sealer)?)))
                    .collect::<CoreResult<_>>()?;
                pairs.sort_by(|a, b| (b.1.updated_at, &b.1.id).cmp(&(a.1.updated_at, &a.1.id)));
                Ok(pairs)
            })
            .await
    }

    /// Enables or disables a membership (an admin's act; a disabled member cannot sign in to the project).
    pub async fn set_member_active(
        &self,
        tenant: &Tenant,
        project_id: &str,
        who: MemberOf,
        active: bool,
    ) -> CoreResult<()> {
        let (tid, pid, now) = (tenant.id.clone(), project_id.to_owned(), self.now_ms());
        self.db
            .run_tenant(&tenant.id, move |c| {
                let n = diesel::update(
                    project_members::table
                        .filter(project_members::tenant_id.eq(&tid))
                        .filter(project_members::project_id.eq(&pid))
                        .filter(project_members::member_key.eq(who.key())),
                )
                .set((
                    project_members::active.eq(active),
                    project_members::updated_at.eq(now),
                ))
                .execute(c)?;
                found_one(n, "member")
            })
            .await
    }
}
