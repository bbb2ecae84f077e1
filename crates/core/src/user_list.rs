//! Listing a tenant's users for an admin: a page of them, narrowed by a pattern (or a prefix) and
//! by exact filters (scope, vendor, plan, state, email, username) and put in the order asked for.

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

/// A page of users: `pattern` is found anywhere in the email or username, `prefix` begins one of
/// them (both case-insensitively, wildcards literal); every filter must hold; `sort` orders it
/// (then by creation and id, so pages never overlap). Default: oldest first.
///
/// `pattern` reads every row of the tenant (no B-tree index narrows `LIKE '%x%'`); `prefix` reads
/// only the rows it matches, through the `(tenant_id, email)` and `(tenant_id, username_key)`
/// indexes, so it is the one to use on large tenants (the operator API's and console's search).
#[derive(Debug, Clone)]
pub struct UserQuery {
    pub limit: i64,
    pub offset: i64,
    pub pattern: Option<String>,
    pub prefix: Option<String>,
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
        if let Some(p) = &self.prefix {
            storable("q", p)?;
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
            prefix: None,
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

/// The strings that begin with `p` are exactly those from `p` up to (not including) the returned
/// bound, in code-point order, which is byte order of UTF-8: SQLite's BINARY collation and the
/// `C` collation the email and username_key columns have on PostgreSQL (migration 000031). `None`:
/// no bound (`p` is empty or only U+10FFFF). A range, not `LIKE 'p%'`, because SQLite's LIKE is
/// case-insensitive for ASCII alone and neither backend narrows a bound LIKE pattern by an index.
fn prefix_bound(p: &str) -> Option<String> {
    let mut chars: Vec<char> = p.chars().collect();
    while let Some(last) = chars.pop() {
        let next = match last {
            '\u{D7FF}' => Some('\u{E000}'),
            c => char::from_u32(c as u32 + 1),
        };
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// Email or username (both stored lower-cased) begins with `p` (lower-cased here).
fn prefixed(q: Query, p: &str) -> Query {
    let lo = p.to_lowercase();
    match prefix_bound(&lo) {
        Some(hi) => q.filter(
            users::email
                .ge(lo.clone())
                .and(users::email.lt(hi.clone()))
                .or(users::username_key.ge(lo).and(users::username_key.lt(hi))),
        ),
        None => q.filter(users::email.ge(lo.clone()).or(users::username_key.ge(lo))),
    }
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

/// `by_match`: the rows are found through a prefix's indexes, so the default order must not be
/// taken from the `users_by_created` index (`created_at + 0` is no indexed column): else SQLite,
/// which has no statistics to weigh the two, walks every user of the tenant in creation order
/// testing each against the prefix. Sorting the matches is the cheaper side unless nearly every
/// user matches (see bench/README.md, "The operator console at scale").
fn ordered(q: Query, sort: Option<(SortKey, bool)>, by_match: bool) -> Query {
    use SortKey as K;
    match sort {
        None | Some((K::Created, false)) if by_match => {
            q.order(((users::created_at + 0_i64).asc(), users::id.asc()))
        }
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
                let prefix = query.prefix.as_deref().map(str::trim).unwrap_or("");
                if !prefix.is_empty() {
                    q = prefixed(q, prefix);
                }
                for f in query.filters {
                    q = filtered(q, f);
                }
                let rows: Vec<UserRow> = ordered(q, query.sort, !prefix.is_empty())
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

    #[test]
    fn a_prefix_bound_is_the_next_string_in_code_point_order() {
        assert_eq!(prefix_bound("user9").as_deref(), Some("user:"));
        assert_eq!(prefix_bound("a%").as_deref(), Some("a&"));
        assert_eq!(prefix_bound("\u{D7FF}").as_deref(), Some("\u{E000}"));
        assert_eq!(prefix_bound("é").as_deref(), Some("ê"));
        assert_eq!(prefix_bound("b\u{10FFFF}").as_deref(), Some("c"));
        assert_eq!(prefix_bound("\u{10FFFF}"), None);
        assert_eq!(prefix_bound(""), None);
    }

    #[test]
    fn a_prefix_bound_holds_exactly_the_strings_that_begin_with_it() {
        let p = "us\u{10FFFF}";
        let hi = prefix_bound(p).unwrap();
        for s in ["us\u{10FFFF}", "us\u{10FFFF}x", "us\u{10FFFF}\u{10FFFF}"] {
            assert!(s >= p && s < hi.as_str(), "{s:?}");
        }
        for s in ["us", "usz", "ut", "us\u{10FFFE}"] {
            assert!(!(s >= p && s < hi.as_str()), "{s:?}");
        }
    }
}
