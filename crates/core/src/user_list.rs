//! Listing a tenant's users for an admin: a page of them, narrowed by a pattern and by exact
//! filters (scope, vendor, plan, state, email, username) and put in the order asked for.

use crate::error::CoreResult;
use crate::service::Core;
use crate::storage::models::UserRow;
use crate::storage::schema::users;
use crate::tenants::Tenant;
use crate::users::{scoped, User};
use crate::validated::storable;
use diesel::prelude::*;

/// One exact condition a listed user must meet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserFilter {
    /// Holds this scope among its scopes.
    Scope(String),
    /// Has this vendor (its vendor, or one of its vendors).
    Vendor(String),
    Plan(String),
    IsActive(bool),
    /// Compared lower-cased, as both are stored.
    Email(String),
    Username(String),
}

/// What a list can be ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Created,
    Email,
    Username,
}

/// A page of users: `pattern` matches email or username, case-insensitively; every filter must
/// hold; `sort` orders it (then by creation and id, so pages never overlap). Default: oldest first.
#[derive(Debug, Clone)]
pub struct UserQuery {
    pub limit: i64,
    pub offset: i64,
    pub pattern: Option<String>,
    pub filters: Vec<UserFilter>,
    /// The key, and `true` for descending.
    pub sort: Option<(SortKey, bool)>,
}

impl UserQuery {
    /// Refuses a pattern or filter that holds NUL, which PostgreSQL cannot compare (see
    /// `validated::storable`), so both backends answer alike.
    fn storable(&self) -> CoreResult<()> {
        if let Some(p) = &self.pattern {
            storable("pattern", p)?;
        }
        for f in &self.filters {
            match f {
                UserFilter::Scope(x)
                | UserFilter::Vendor(x)
                | UserFilter::Plan(x)
                | UserFilter::Email(x)
                | UserFilter::Username(x) => {
                    storable("filter", x)?;
                }
                UserFilter::IsActive(_) => {}
            }
        }
        Ok(())
    }

    pub fn page(limit: i64, offset: i64) -> UserQuery {
        UserQuery {
            limit,
            offset,
            pattern: None,
            filters: Vec::new(),
            sort: None,
        }
    }
}

type Query = users::BoxedQuery<'static, crate::storage::db::MultiBackend>;

/// `%x%` with the LIKE wildcards of `x` made literal (escaped with `\`).
fn contains(x: &str) -> String {
    format!("%{}%", escape_like(x))
}

fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

fn filtered(q: Query, filter: UserFilter) -> Query {
    match filter {
        // Scopes are stored comma-joined and a scope holds no comma: match a whole item.
        UserFilter::Scope(s) => {
            let e = escape_like(&s);
            q.filter(
                users::scopes
                    .eq(s)
                    .or(users::scopes.like(format!("{e},%")).escape('\\'))
                    .or(users::scopes.like(format!("%,{e}")).escape('\\'))
                    .or(users::scopes.like(format!("%,{e},%")).escape('\\')),
            )
        }
        // Stored as JSON text; a vendor name holds no quote, so `"name"` matches one item exactly.
        UserFilter::Vendor(v) => q.filter(
            users::vendor
                .like(contains(&format!("\"{v}\"")))
                .escape('\\'),
        ),
        UserFilter::Plan(p) => q.filter(users::plan.eq(p)),
        UserFilter::IsActive(a) => q.filter(users::is_active.eq(a)),
        UserFilter::Email(e) => q.filter(users::email.eq(e.to_lowercase())),
        UserFilter::Username(u) => q.filter(users::username_key.eq(u.to_lowercase())),
    }
}

fn ordered(q: Query, sort: Option<(SortKey, bool)>) -> Query {
    use SortKey as K;
    match sort {
        None | Some((K::Created, false)) => q.order((users::created_at.asc(), users::id.asc())),
        Some((K::Created, true)) => q.order((users::created_at.desc(), users::id.desc())),
        // SQLite and PostgreSQL place NULLs at opposite ends: say where, so both agree (last
        // when ascending).
        Some((K::Email, false)) => q.order((
            users::email.is_null().asc(),
            users::email.asc(),
            users::id.asc(),
        )),
        Some((K::Email, true)) => q.order((
            users::email.is_null().desc(),
            users::email.desc(),
            users::id.desc(),
        )),
        Some((K::Username, false)) => q.order((
            users::username_key.is_null().asc(),
            users::username_key.asc(),
            users::id.asc(),
        )),
        Some((K::Username, true)) => q.order((
            users::username_key.is_null().desc(),
            users::username_key.desc(),
            users::id.desc(),
        )),
    }
}

impl Core {
    pub async fn list_users(&self, tenant: &Tenant, query: UserQuery) -> CoreResult<Vec<User>> {
        query.storable()?;
        let tid = tenant.id.clone();
        self.db
            .run_tenant(&tenant.id, move |c| {
                let mut q = scoped(&tid);
                if let Some(p) = query.pattern.filter(|p| !p.is_empty()) {
                    let like = contains(&p.to_lowercase());
                    q = q.filter(
                        users::email
                            .like(like.clone())
                            .escape('\\')
                            .or(users::username_key.like(like).escape('\\')),
                    );
                }
                for f in query.filters {
                    q = filtered(q, f);
                }
                let rows: Vec<UserRow> = ordered(q, query.sort)
                    .select(UserRow::as_select())
                    .limit(query.limit)
                    .offset(query.offset)
                    .load(c)?;
                Ok(rows.into_iter().map(User::from_row).collect())
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_wildcards_are_literal() {
        assert_eq!(contains("a%b_c\\"), "%a\\%b\\_c\\\\%");
    }
}
