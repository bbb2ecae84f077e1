//! tiledesk-server's collections as `mongoexport` writes them, read by the field names of its
//! Mongoose models: models/user.js (`email`, `password` (bcrypt-nodejs, `$2a$10$`), `firstname`,
//! `lastname`, `emailverified`, `status` (100: active; sign-in asks `status: 100`), `attributes`,
//! `description`, `public_email`, `public_website`, `phone`, and `timestamps`), models/project.js
//! (`name`, `jwtSecret`, `createdBy`) and models/project_user.js (`id_project`, `id_user` for an
//! agent or `uuid_user` for a visitor, `role`, `status` 'active' | 'disabled', `trashed`).

use super::extjson::{date_ms, field, oid, string};
use super::Record;
use crate::projects::Role;
use crate::storage::models::{MemberRow, ProjectRow, UserRow};
use crate::validated::{Email, Scope};
use serde_json::{Map, Value};

type Doc = Map<String, Value>;

fn id_of(doc: &Doc, key: &str) -> Result<String, String> {
    field(doc, key)
        .and_then(oid)
        .ok_or_else(|| format!("no {key}"))
}

/// `createdAt` / `updatedAt` (Mongoose `timestamps`), 0 when absent.
fn times(doc: &Doc) -> Result<(i64, i64), String> {
    let at = |key: &str| match field(doc, key) {
        None => Ok(None),
        Some(v) => date_ms(v)
            .map(Some)
            .ok_or_else(|| format!("{key} is not a date")),
    };
    let created = at("createdAt")?.unwrap_or(0);
    Ok((created, at("updatedAt")?.unwrap_or(created)))
}

fn text(doc: &Doc, key: &str) -> Result<String, String> {
    match field(doc, key) {
        None => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(format!("{key} is not a string")),
    }
}

/// A user of the `users` collection.
pub fn user(doc: &Doc) -> Result<Record, String> {
    let id = id_of(doc, "_id")?;
    let raw_email = string(doc, "email").ok_or("no email")?;
    let email = Email::parse(raw_email)
        .map_err(|_| format!("email '{}' is not a valid address", super::clip(raw_email)))?;
    let hash = string(doc, "password").ok_or("no password hash")?;
    let status = field(doc, "status").and_then(super::extjson::number);
    let (created_at, updated_at) = times(doc)?;
    let mut profile = Map::new();
    for key in ["description", "public_email", "public_website", "phone"] {
        if let Some(v) = string(doc, key) {
            profile.insert(key.into(), v.into());
        }
    }
    if let Some(attributes) = field(doc, "attributes").filter(|v| v.is_object()) {
        profile.insert("attributes".into(), attributes.clone());
    }
    let email_verified = match field(doc, "emailverified") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err("emailverified is not a boolean".into()),
    };
    Ok(Record::User(Box::new(UserRow {
        tenant_id: String::new(),
        id,
        email: Some(email.as_str().to_owned()),
        username: None,
        username_key: None,
        password_hash: Some(hash.to_owned()),
        firstname: text(doc, "firstname")?,
        lastname: text(doc, "lastname")?,
        email_verified,
        scopes: Scope::user().as_str().to_owned(),
        plan: "free".into(),
        metadata: "{}".into(),
        is_active: true,
        // Anything but status 100 cannot sign in to tiledesk-server.
        disabled: status.is_some_and(|s| s != 100.0),
        failed_signins: 0,
        locked_until: None,
        created_at,
        updated_at,
        tokens_valid_after: 0,
        profile: Value::Object(profile).to_string(),
        vendor: None,
    })))
}

/// A project of the `projects` collection. One without a `jwtSecret` (tiledesk-server makes it on
/// first use) gets a fresh one.
pub fn project(doc: &Doc) -> Result<Record, String> {
    let (created_at, updated_at) = times(doc)?;
    Ok(Record::Project(ProjectRow {
        tenant_id: String::new(),
        id: id_of(doc, "_id")?,
        name: string(doc, "name").ok_or("no name")?.to_owned(),
        jwt_secret: string(doc, "jwtSecret")
            .map(str::to_owned)
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        created_by: field(doc, "createdBy").and_then(oid).unwrap_or_default(),
        created_at,
        updated_at,
    }))
}

/// A membership of the `project_users` collection: an agent (`id_user`) or a visitor
/// (`uuid_user`: a guest, or a customer's external user).
pub fn member(doc: &Doc) -> Result<Record, String> {
    let raw_role = string(doc, "role").ok_or("no role")?;
    let role =
        Role::parse(raw_role).ok_or_else(|| format!("unknown role '{}'", super::clip(raw_role)))?;
    let (member_key, user_id) = match (
        field(doc, "id_user").and_then(oid),
        string(doc, "uuid_user"),
    ) {
        (Some(user), _) => (format!("user:{user}"), Some(user)),
        (None, _) if role.is_agent() => return Err(format!("a {raw_role} needs id_user")),
        (None, Some(uuid)) if role == Role::Guest => (format!("guest:{uuid}"), None),
        (None, Some(uuid)) => (format!("ext:{uuid}"), None),
        (None, None) => return Err("neither id_user nor uuid_user".into()),
    };
    let trashed = matches!(field(doc, "trashed"), Some(Value::Bool(true)));
    let active = !matches!(string(doc, "status"), Some(s) if s != "active") && !trashed;
    let (created_at, updated_at) = times(doc)?;
    Ok(Record::Member(MemberRow {
        tenant_id: String::new(),
        id: id_of(doc, "_id")?,
        project_id: id_of(doc, "id_project")?,
        member_key,
        user_id,
        role: role.as_str().to_owned(),
        active,
        profile: field(doc, "attributes")
            .filter(|v| v.is_object())
            .map_or_else(|| "null".to_owned(), Value::to_string),
        created_at,
        updated_at,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(v: Value) -> Doc {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn a_mongoexport_user_keeps_its_id_hash_names_and_state() {
        let hash = "$2a$10$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234";
        let r = user(&doc(json!({"_id": {"$oid": "5f1b2c3d4e5f6a7b8c9d0e1f"},
            "email": "Ann@Example.COM", "password": hash, "firstname": "Ann",
            "lastname": "Lee", "emailverified": true, "status": {"$numberInt": "0"},
            "phone": "+391234", "createdAt": {"$date": "2020-01-01T00:00:00Z"}})))
        .unwrap();
        let Record::User(u) = r else { panic!() };
        assert_eq!(u.id, "5f1b2c3d4e5f6a7b8c9d0e1f");
        assert_eq!(u.email.as_deref(), Some("ann@example.com"));
        assert_eq!(u.password_hash.as_deref(), Some(hash));
        assert!(u.email_verified && u.disabled);
        assert_eq!(u.created_at, 1_577_836_800_000);
        assert_eq!(u.updated_at, u.created_at);
        assert!(u.profile.contains("+391234"));
        for bad in [
            json!({"_id": "x", "password": hash}),
            json!({"_id": "x", "email": "no-at", "password": hash}),
            json!({"_id": "x", "email": "a@b.io"}),
            json!({"email": "a@b.io", "password": hash}),
            json!({"_id": "x", "email": "a@b.io", "password": hash, "emailverified": "yes"}),
        ] {
            assert!(user(&doc(bad.clone())).is_err(), "{bad}");
        }
    }

    #[test]
    fn members_are_agents_by_user_or_visitors_by_uuid() {
        let base = json!({"_id": "6f1b2c3d4e5f6a7b8c9d0e1f", "id_project": {"$oid": "7f1b2c3d4e5f6a7b8c9d0e1f"}});
        let with = |extra: Value| {
            let mut d = doc(base.clone());
            d.extend(doc(extra));
            member(&d)
        };
        let Ok(Record::Member(m)) =
            with(json!({"id_user": "5f1b2c3d4e5f6a7b8c9d0e1f", "role": "owner"}))
        else {
            panic!()
        };
        assert_eq!(
            (m.member_key.as_str(), m.role.as_str(), m.active),
            ("user:5f1b2c3d4e5f6a7b8c9d0e1f", "owner", true)
        );
        let Ok(Record::Member(g)) =
            with(json!({"uuid_user": "u-1", "role": "guest", "status": "disabled"}))
        else {
            panic!()
        };
        assert_eq!((g.member_key.as_str(), g.active), ("guest:u-1", false));
        let Ok(Record::Member(e)) =
            with(json!({"uuid_user": "ext-9", "role": "user", "trashed": true}))
        else {
            panic!()
        };
        assert_eq!((e.member_key.as_str(), e.active), ("ext:ext-9", false));
        assert!(with(json!({"uuid_user": "u", "role": "agent"})).is_err());
        assert!(with(json!({"id_user": "5f1b2c3d4e5f6a7b8c9d0e1f", "role": "boss"})).is_err());
    }
}
