//! Appmixer's user records (its MongoDB `users` collection as `mongoexport` writes it): `_id`,
//! `username`, `email`, `password` (bcrypt), `scope` (an array), `plan`, `created`, and when present
//! `isActive`, `metadata` and `vendor`, the fields its `GET /users` shows.

use super::extjson::{date_ms, field, oid, string};
use super::Record;
use crate::storage::models::UserRow;
use crate::validated::{Email, Scope, Username, Vendor};
use serde_json::{Map, Value};

/// One user record.
pub fn user(doc: &Map<String, Value>) -> Result<Record, String> {
    let id = field(doc, "_id").and_then(oid).ok_or("no _id")?;
    let mut email = match string(doc, "email") {
        Some(raw) => Some(
            Email::parse(raw)
                .map_err(|_| format!("email '{}' is not a valid address", super::clip(raw)))?,
        ),
        None => None,
    };
    let username = string(doc, "username")
        .map(|raw| Username::parse(raw).map_err(|e| e.to_string()))
        .transpose()?;
    // As `POST /user` does: a username that is an address, given alone, is the account's email;
    // one that is another account's address would make a sign-in by that name ambiguous.
    if let Some(u) = &username {
        if u.as_str().contains('@') {
            match &email {
                None => email = Email::parse(u.as_str()).ok(),
                Some(e) if e.as_str() != u.key() => {
                    return Err(
                        "the username is an email address other than the account's own".into(),
                    )
                }
                Some(_) => {}
            }
        }
    }
    let hash = string(doc, "password").ok_or("no password hash")?;
    let scopes = match field(doc, "scope") {
        None => vec![Scope::user()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|s| {
                s.as_str()
                    .ok_or_else(|| "scope must be an array of strings".to_owned())
                    .and_then(|s| Scope::parse(s).map_err(|e| e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => return Err("scope must be an array of strings".into()),
    };
    let created = match field(doc, "created") {
        None => 0,
        Some(v) => date_ms(v).ok_or("created is not a date")?,
    };
    let is_active = match field(doc, "isActive") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err("isActive is not a boolean".into()),
    };
    let metadata = match field(doc, "metadata") {
        None => Value::Object(Map::new()),
        Some(m @ Value::Object(_)) => m.clone(),
        Some(_) => return Err("metadata is not an object".into()),
    };
    let vendor_name = |v: &Value| {
        v.as_str()
            .ok_or_else(|| "vendor must be a string or an array of strings".to_owned())
            .and_then(|s| Vendor::name(s).map_err(|e| e.to_string()))
    };
    let vendor = match field(doc, "vendor") {
        None => None,
        Some(Value::Array(items)) => Some(Vendor::Many(
            items.iter().map(vendor_name).collect::<Result<_, _>>()?,
        )),
        Some(v) => Some(Vendor::One(vendor_name(v)?)),
    };
    Ok(Record::User(Box::new(UserRow {
        tenant_id: String::new(),
        id,
        email: email.map(|e| e.as_str().to_owned()),
        username_key: username.as_ref().map(Username::key),
        username: username.map(|u| u.as_str().to_owned()),
        password_hash: Some(hash.to_owned()),
        firstname: String::new(),
        lastname: String::new(),
        email_verified: false,
        scopes: scopes
            .iter()
            .map(Scope::as_str)
            .collect::<Vec<_>>()
            .join(","),
        plan: string(doc, "plan").unwrap_or("free").to_owned(),
        metadata: metadata.to_string(),
        is_active,
        disabled: false,
        failed_signins: 0,
        locked_until: None,
        created_at: created,
        updated_at: created,
        tokens_valid_after: 0,
        profile: "{}".into(),
        vendor: vendor.map(|v| v.to_json().to_string()),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(v: Value) -> Result<Record, String> {
        user(v.as_object().unwrap())
    }

    #[test]
    fn an_appmixer_record_keeps_its_fields() {
        let hash = "$2b$10$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234";
        let Ok(Record::User(u)) = read(json!({"_id": {"$oid": "5f1b2c3d4e5f6a7b8c9d0e1f"},
            "username": "Abc@Example.com", "password": hash, "scope": ["user", "admin"],
            "plan": "pro", "isActive": true, "created": {"$date": {"$numberLong": "1577836800000"}}}))
        else {
            panic!()
        };
        assert_eq!(u.email.as_deref(), Some("abc@example.com"));
        assert_eq!(u.username.as_deref(), Some("Abc@Example.com"));
        assert_eq!(u.scopes, "user,admin");
        assert_eq!(
            (u.plan.as_str(), u.is_active, u.created_at),
            ("pro", true, 1_577_836_800_000)
        );
        for bad in [
            json!({"_id": "x", "username": "a", "password": hash, "scope": "admin"}),
            json!({"_id": "x", "username": "a@b.io", "email": "c@d.io", "password": hash}),
            json!({"_id": "x", "username": "a"}),
            json!({"_id": "x", "email": "bad", "password": hash}),
        ] {
            assert!(read(bad.clone()).is_err(), "{bad}");
        }
    }
}
