//! How a user looks on the wire in each of the dialect's answers. A password hash never appears:
//! these are the only places a `User` becomes JSON, and none of them reads it.

use gatehouse_core::clock::iso8601;
use gatehouse_core::users::User;
use serde_json::{json, Value};

/// Appmixer always has a username; an account made through Tiledesk has none, and signs in here
/// with its email given as username, so the email stands in. (Every account has one or the other.)
fn username(u: &User) -> &str {
    u.username.as_deref().or(u.email.as_deref()).unwrap_or("")
}

/// The fields an account may lack are left out, as Appmixer leaves out what a document lacks:
/// `email` (an account made with a username only) and `vendor` (never set).
fn with_optional(mut v: Value, u: &User) -> Value {
    if let Some(obj) = v.as_object_mut() {
        if u.email.is_none() {
            obj.remove("email");
        }
        if let Some(vendor) = &u.vendor {
            obj.insert("vendor".into(), vendor.clone());
        }
    }
    v
}

/// The `user` of a sign-in answer.
pub fn signed_in(u: &User) -> Value {
    let v = json!({
        "id": u.id,
        "username": username(u),
        "isActive": u.is_active,
        "email": u.email,
        "plan": u.plan,
    });
    with_optional(v, u)
}

/// `GET /user`: the caller's own record.
pub fn profile(u: &User) -> Value {
    let v = json!({
        "id": u.id,
        "username": username(u),
        "isActive": u.is_active,
        "email": u.email,
        "scope": u.scopes,
        "plan": u.plan,
        "metadata": u.metadata,
    });
    with_optional(v, u)
}

/// One row of `GET /users`.
pub fn listed(u: &User) -> Value {
    let v = json!({
        "id": u.id,
        "username": username(u),
        "email": u.email,
        "isActive": u.is_active,
        "scope": u.scopes,
        "plan": u.plan,
        "created": iso8601(u.created_at),
    });
    with_optional(v, u)
}

/// `GET`/`PUT /users/{id}`: the profile and when the account was made.
pub fn detail(u: &User) -> Value {
    let mut v = profile(u);
    if let Some(obj) = v.as_object_mut() {
        obj.insert("created".into(), iso8601(u.created_at).into());
    }
    v
}
