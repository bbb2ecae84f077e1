//! Rows as stored. Domain types (`User`, `Tenant`, `Project`...) are built from these in the
//! modules that own them; nothing outside core sees a row.

use super::schema::*;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = tenants)]
pub struct TenantRow {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub apis: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = tenant_hosts)]
pub struct HostRow {
    pub host: String,
    pub tenant_id: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = tenant_settings)]
pub struct SettingRow {
    pub tenant_id: String,
    pub name: String,
    pub value: String,
    pub updated_at: i64,
    /// `SetBy::as_str` of who set it last; `None` before that was recorded.
    pub set_by: Option<String>,
}

#[derive(Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = signing_keys, treat_none_as_default_value = false)]
pub struct KeyRow {
    pub tenant_id: String,
    pub kid: String,
    pub secret: String,
    pub created_at: i64,
    pub retired_at: Option<i64>,
    pub alg: String,
    /// The public half as a JWK (`token::PublicJwk`), NULL for HS256.
    pub public_key: Option<String>,
    pub not_before: i64,
    /// The tenant id the key's tokens name, when it was moved in from another tenant.
    pub issued_for: Option<String>,
}

#[derive(Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = users, treat_none_as_default_value = false)]
pub struct UserRow {
    pub tenant_id: String,
    pub id: String,
    /// `None` for an Appmixer account made with a username only.
    pub email: Option<String>,
    pub username: Option<String>,
    pub username_key: Option<String>,
    pub password_hash: Option<String>,
    pub firstname: String,
    pub lastname: String,
    pub email_verified: bool,
    pub scopes: String,
    pub plan: String,
    pub metadata: String,
    pub is_active: bool,
    pub disabled: bool,
    pub failed_signins: i32,
    pub locked_until: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Tokens issued at or before this millisecond are ended.
    pub tokens_valid_after: i64,
    /// Tiledesk's profile fields beyond the names, as a JSON object.
    pub profile: String,
    /// JSON text: a string or an array of strings, as an admin set it.
    pub vendor: Option<String>,
}

#[derive(Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = projects)]
pub struct ProjectRow {
    pub tenant_id: String,
    pub id: String,
    pub name: String,
    pub jwt_secret: String,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = project_members, treat_none_as_default_value = false)]
pub struct MemberRow {
    pub tenant_id: String,
    pub id: String,
    pub project_id: String,
    pub member_key: String,
    pub user_id: Option<String>,
    pub role: String,
    pub active: bool,
    pub profile: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = revoked_tokens)]
pub struct RevokedRow {
    pub tenant_id: String,
    pub jti: String,
    pub expires_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = changes)]
pub struct ChangeRow {
    pub id: String,
    pub tenant_id: String,
    pub kind: String,
    pub key: String,
    pub at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = signin_locks, treat_none_as_default_value = false)]
pub struct SigninLockRow {
    pub tenant_id: String,
    pub login_key: String,
    pub client_ip: String,
    pub failures: i32,
    pub locked_until: Option<i64>,
    pub updated_at: i64,
}

#[derive(Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = operator_keys, treat_none_as_default_value = false)]
pub struct OperatorKeyRow {
    pub key_id: String,
    pub name: String,
    /// Hex SHA-256 of the key's secret part.
    pub secret_hash: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_events, treat_none_as_default_value = false)]
pub struct AuditRow {
    pub tenant_id: String,
    pub id: String,
    pub at: i64,
    pub kind: String,
    pub outcome: String,
    pub user_id: Option<String>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub dialect: String,
    pub request_id: Option<String>,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = mail_codes)]
pub struct MailCodeRow {
    pub tenant_id: String,
    pub code_hash: String,
    pub purpose: String,
    pub user_id: String,
    pub email: String,
    pub expires_at: i64,
    pub created_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = mail_outbox, treat_none_as_default_value = false)]
pub struct OutboxRow {
    pub tenant_id: String,
    pub id: String,
    pub recipient: String,
    pub message: String,
    pub state: String,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = legacy_keys)]
pub struct LegacyKeyRow {
    pub tenant_id: String,
    pub kid: String,
    pub alg: String,
    /// Sealed (see `sealed`): the hex of the HS256 secret, or the RS256 public key as a JWK.
    pub secret: String,
    pub created_at: i64,
}

#[derive(Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = introspection_clients, treat_none_as_default_value = false)]
pub struct IntrospectionClientRow {
    pub tenant_id: String,
    pub id: String,
    pub name: String,
    /// Hex SHA-256 of the client's secret.
    pub secret_hash: String,
    pub created_at: i64,
}
