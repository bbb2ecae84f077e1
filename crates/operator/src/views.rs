//! How tenants, keys and users look in the operator API's JSON (and the console's templates):
//! never a secret, a hash or a private key; times as RFC 3339.

use gatehouse_core::operator::OperatorKey;
use gatehouse_core::token::SigningKey;
use gatehouse_core::users::User;
use gatehouse_core::Tenant;
use serde_json::{json, Value};

pub fn time(ms: i64) -> Value {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| json!(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)))
        .unwrap_or(Value::Null)
}

pub fn tenant_summary(t: &Tenant) -> Value {
    json!({
        "id": t.id,
        "slug": t.slug.as_str(),
        "name": t.name,
        "hosts": t.hosts,
        "apis": t.apis.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
    })
}

pub fn tenant(t: &Tenant, now_ms: i64) -> Value {
    let mut v = tenant_summary(t);
    v["issuer"] = json!(t.issuer());
    v["settings"] = json!(t.stored_settings);
    v["signup"] = json!(if t.settings.api_user_create_scope.is_some() {
        "closed"
    } else {
        "open"
    });
    v["keys"] = keys(t, now_ms);
    v
}

pub fn keys(t: &Tenant, now_ms: i64) -> Value {
    let signing = t.keys.signing_key_at(now_ms).map(|k| k.kid.clone());
    Value::Array(
        t.keys
            .all()
            .iter()
            .map(|k| key(k, signing.as_deref() == Some(k.kid.as_str())))
            .collect(),
    )
}

/// A key's public parts: its id, kind, times and (for EdDSA and RS256) its public JWK.
pub fn key(k: &SigningKey, signing: bool) -> Value {
    json!({
        "kid": k.kid,
        "alg": k.alg.as_str(),
        "created_at": time(k.created_at),
        "not_before": time(k.not_before),
        "retired_at": k.retired_at.map(time),
        "signing": signing,
        "public_jwk": k.public,
    })
}

pub fn user(u: &User) -> Value {
    json!({
        "id": u.id,
        "email": u.email,
        "username": u.username,
        "firstname": u.firstname,
        "lastname": u.lastname,
        "scopes": u.scopes,
        "email_verified": u.email_verified,
        "is_active": u.is_active,
        "disabled": u.disabled,
        "created_at": time(u.created_at),
        "updated_at": time(u.updated_at),
    })
}

pub fn operator_key(k: &OperatorKey) -> Value {
    json!({
        "name": k.name,
        "key_id": k.key_id,
        "created_at": time(k.created_at),
        "revoked_at": k.revoked_at.map(time),
    })
}
