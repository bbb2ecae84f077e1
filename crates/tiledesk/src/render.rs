//! How Tiledesk shows users: the public fields its tokens and responses carry, its timestamps
//! (ISO 8601 with milliseconds and `Z`) and its `fullName`. Never a password hash.

use chrono::{DateTime, SecondsFormat};
use gatehouse_core::users::User;
use serde_json::{json, Map, Value};

pub fn iso(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `_id`, `email`, `firstname`, `lastname`, `emailverified`: what sign-in returns and agent tokens carry.
pub fn public_user(u: &User) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("_id".into(), u.id.clone().into());
    m.insert("email".into(), u.email.clone().into());
    m.insert("firstname".into(), u.firstname.clone().into());
    m.insert("lastname".into(), u.lastname.clone().into());
    m.insert("emailverified".into(), u.email_verified.into());
    m
}

/// The user document signup returns (Mongoose's, without the password).
pub fn signup_user(u: &User) -> Value {
    let mut m = public_user(u);
    m.insert("status".into(), 100.into());
    m.insert("createdAt".into(), iso(u.created_at).into());
    m.insert("updatedAt".into(), iso(u.updated_at).into());
    m.insert("__v".into(), 0.into());
    Value::Object(m)
}

/// The user document users.js answers with (`updatedUser`): signup's, with the profile fields.
pub fn user_doc(u: &User) -> Value {
    let mut doc = signup_user(u);
    if let Value::Object(m) = &mut doc {
        for (k, v) in &u.profile {
            m.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    doc
}

/// The document of a deleted account as users.js's `DELETE /` leaves it: `status: 0`, a random
/// `@tiledesk.com` email, names `anonymized`.
pub fn anonymized_doc(u: &User, now_ms: i64) -> Value {
    let mut doc = signup_user(u);
    doc["status"] = 0.into();
    doc["email"] = format!("{}@tiledesk.com", uuid::Uuid::new_v4()).into();
    doc["firstname"] = "anonymized".into();
    doc["lastname"] = "anonymized".into();
    doc["updatedAt"] = iso(now_ms).into();
    doc
}

/// Tiledesk's `fullName`: first name, a space, then the last name or nothing.
pub fn full_name(first: Option<&str>, last: Option<&str>) -> String {
    format!("{} {}", first.unwrap_or_default(), last.unwrap_or_default())
}

/// Adds the `id` and `fullName` that Tiledesk's `decorateUser` adds.
pub fn decorate(mut user: Map<String, Value>, id: &str) -> Value {
    let name = |k: &str| user.get(k).and_then(Value::as_str).map(str::to_owned);
    let full = full_name(name("firstname").as_deref(), name("lastname").as_deref());
    user.insert("id".into(), id.into());
    user.insert("fullName".into(), full.into());
    Value::Object(user)
}

pub fn success_with_token(token: String, user: Value) -> Value {
    json!({"success": true, "token": token, "user": user})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_milliseconds_and_z() {
        assert_eq!(iso(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
    }

    #[test]
    fn full_names_keep_tiledesk_spacing() {
        assert_eq!(full_name(Some("Ann"), Some("Lee")), "Ann Lee");
        assert_eq!(full_name(Some("guest#ab12"), None), "guest#ab12 ");
    }
}
