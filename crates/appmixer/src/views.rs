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

/// The `user` of a sign-in answer. `metadata` as the docs' current example of `POST /user/auth`
/// shows it (`"metadata": {}` for an account that has none).
pub fn signed_in(u: &User) -> Value {
    let v = json!({
        "id": u.id,
        "username": username(u),
        "isActive": u.is_active,
        "email": u.email,
        "plan": u.plan,
        "metadata": u.metadata,
    });
    with_optional(v, u)
}

/// `GET /user`: the caller's own record. The hottest answer of the dialect (every page load of
/// an Appmixer front end asks it), so it is written straight from the user, without building a
/// `Value` first: the same fields, in the same (sorted) order `json!` gives the other views.
#[derive(serde::Serialize)]
pub struct Profile<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    id: &'a str,
    #[serde(rename = "isActive")]
    is_active: bool,
    metadata: &'a Value,
    plan: &'a str,
    scope: &'a [String],
    username: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    vendor: Option<&'a Value>,
}

pub fn profile(u: &User) -> Profile<'_> {
    Profile {
        email: u.email.as_deref(),
        id: &u.id,
        is_active: u.is_active,
        metadata: &u.metadata,
        plan: &u.plan,
        scope: &u.scopes,
        username: username(u),
        vendor: u.vendor.as_ref(),
    }
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
    let mut v = serde_json::to_value(profile(u)).unwrap_or_default();
    if let Some(obj) = v.as_object_mut() {
        obj.insert("created".into(), iso8601(u.created_at).into());
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(email: Option<&str>, vendor: Option<Value>) -> User {
        User {
            id: "5f1c0a0b0c0d0e0f10111213".into(),
            email: email.map(Into::into),
            username: Some("ana \u{e9}\"<".into()),
            firstname: "Ana".into(),
            lastname: "B".into(),
            email_verified: false,
            scopes: vec!["user".into(), "admin".into()],
            plan: "free".into(),
            metadata: json!({ "z": 1, "a": { "y": [1, "x"], "b": null } }),
            is_active: true,
            disabled: false,
            has_password: true,
            profile: Default::default(),
            created_at: 0,
            updated_at: 0,
            vendor,
        }
    }

    /// `profile` is written by a struct for speed: it must give what the `json!` form of the
    /// other views gives, byte for byte, with and without the optional fields.
    #[test]
    fn the_profile_struct_writes_what_the_value_form_wrote() {
        for u in [
            user(Some("ana@example.com"), None),
            user(None, Some(json!(["v1", "v2"]))),
            user(Some("a@b.c"), Some(json!("v"))),
        ] {
            let reference = with_optional(
                json!({
                    "id": u.id,
                    "username": username(&u),
                    "isActive": u.is_active,
                    "email": u.email,
                    "scope": u.scopes,
                    "plan": u.plan,
                    "metadata": u.metadata,
                }),
                &u,
            );
            assert_eq!(
                serde_json::to_string(&profile(&u)).unwrap(),
                serde_json::to_string(&reference).unwrap()
            );
        }
    }
}
