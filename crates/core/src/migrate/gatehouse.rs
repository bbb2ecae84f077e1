//! Gatehouse's own export: every user (with its hash), project (with its `jwtSecret` in clear, so
//! custom tokens keep verifying), membership and setting of a tenant, one JSON object a line,
//! each tagged by `type`. `gatehouse import gatehouse` reads it back into any tenant of any
//! deployment, SQLite or PostgreSQL. The file is as secret as the database: it is written 0600.
//! With a passphrase (`--with-keys`) it also carries the tenant's signing keys, sealed under it
//! (`moved_keys`), so tokens issued before a move keep verifying after it.

use super::moved_keys::{passphrase_of, KdfParams, KeySeal};
use super::Record;
use crate::error::{CoreError, CoreResult};
use crate::secret::Secret;
use crate::service::Core;
use crate::storage::models::{MemberRow, ProjectRow, UserRow};
use crate::storage::schema::{project_members, projects, users};
use crate::tenants::Tenant;
use crate::token::{KeyAlg, PublicJwk};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::io::Write;

/// The format's version, in the first line.
pub const VERSION: u32 = 1;
/// Rows read per query while exporting.
const PAGE: i64 = 5_000;

#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum Line {
    Header {
        format: String,
        version: u32,
        tenant: String,
        exported_at: i64,
    },
    Setting {
        name: String,
        value: String,
    },
    /// How the signing keys that follow are sealed (argon2id of the passphrase).
    KeySeal {
        kdf: String,
        params: KdfParams,
        salt: String,
    },
    SigningKey(KeyLine),
    User(Box<UserLine>),
    Project(ProjectLine),
    Member(MemberLine),
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserLine {
    id: String,
    email: Option<String>,
    username: Option<String>,
    password_hash: Option<String>,
    firstname: String,
    lastname: String,
    email_verified: bool,
    scopes: Vec<String>,
    plan: String,
    metadata: Value,
    is_active: bool,
    disabled: bool,
    profile: Map<String, Value>,
    vendor: Option<Value>,
    created_at: i64,
    updated_at: i64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyLine {
    kid: String,
    alg: String,
    /// The public half (EdDSA, RS256) as a JWK.
    public: Option<PublicJwk>,
    created_at: i64,
    not_before: i64,
    retired_at: Option<i64>,
    /// The tenant id the tokens this key signed name (`tid`).
    issued_for: String,
    /// The secret (HS256 bytes or the private key's PEM), sealed under the passphrase.
    sealed: String,
}

/// A signing key as the file carries it, still sealed under the passphrase.
#[derive(Debug, Clone)]
pub struct MovedKey {
    pub kid: String,
    pub alg: KeyAlg,
    pub public: Option<PublicJwk>,
    pub created_at: i64,
    pub not_before: i64,
    pub retired_at: Option<i64>,
    pub issued_for: String,
    pub sealed: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProjectLine {
    id: String,
    name: String,
    jwt_secret: String,
    created_by: String,
    created_at: i64,
    updated_at: i64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct MemberLine {
    id: String,
    project_id: String,
    member_key: String,
    user_id: Option<String>,
    role: String,
    active: bool,
    profile: Value,
    created_at: i64,
    updated_at: i64,
}

/// One line of an export, as a record to import.
pub fn record(doc: Map<String, Value>) -> Result<Record, String> {
    let line: Line = serde_json::from_value(Value::Object(doc)).map_err(|e| e.to_string())?;
    Ok(match line {
        Line::Header {
            format, version, ..
        } => {
            if format != "gatehouse-export" || version != VERSION {
                return Err(format!(
                    "not a gatehouse export of version {VERSION} (format {format}, version {version})"
                ));
            }
            Record::Header
        }
        Line::Setting { name, value } => Record::Setting { name, value },
        Line::KeySeal { kdf, params, salt } => {
            if kdf != "argon2id" {
                return Err(format!("unknown key derivation '{}'", super::clip(&kdf)));
            }
            Record::KeySeal(KeySeal::parse(params, &salt)?)
        }
        Line::SigningKey(k) => {
            crate::validated::storable("kid", &k.kid).map_err(|e| e.to_string())?;
            if k.kid.is_empty() || k.kid.len() > 64 {
                return Err("a kid must be 1 to 64 characters".into());
            }
            Record::Key(Box::new(MovedKey {
                alg: KeyAlg::parse(&k.alg).map_err(|e| e.to_string())?,
                kid: k.kid,
                public: k.public,
                created_at: k.created_at,
                not_before: k.not_before,
                retired_at: k.retired_at,
                issued_for: k.issued_for,
                sealed: k.sealed,
            }))
        }
        Line::User(u) => Record::User(Box::new(user_row(*u)?)),
        Line::Project(p) => Record::Project(ProjectRow {
            tenant_id: String::new(),
            id: p.id,
            name: p.name,
            jwt_secret: p.jwt_secret,
            created_by: p.created_by,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }),
        Line::Member(m) => {
            if crate::projects::Role::parse(&m.role).is_none() {
                return Err(format!("unknown role '{}'", super::clip(&m.role)));
            }
            Record::Member(MemberRow {
                tenant_id: String::new(),
                id: m.id,
                project_id: m.project_id,
                member_key: m.member_key,
                user_id: m.user_id,
                role: m.role,
                active: m.active,
                profile: m.profile.to_string(),
                created_at: m.created_at,
                updated_at: m.updated_at,
            })
        }
    })
}

fn user_row(u: UserLine) -> Result<UserRow, String> {
    let email = u
        .email
        .as_deref()
        .map(crate::validated::Email::parse)
        .transpose()
        .map_err(|e| e.to_string())?;
    let username = u
        .username
        .as_deref()
        .map(crate::validated::Username::parse)
        .transpose()
        .map_err(|e| e.to_string())?;
    for s in &u.scopes {
        crate::validated::Scope::parse(s).map_err(|e| e.to_string())?;
    }
    Ok(UserRow {
        tenant_id: String::new(),
        id: u.id,
        email: email.map(|e| e.as_str().to_owned()),
        username_key: username.as_ref().map(|n| n.key()),
        username: username.map(|n| n.as_str().to_owned()),
        password_hash: u.password_hash,
        firstname: u.firstname,
        lastname: u.lastname,
        email_verified: u.email_verified,
        scopes: u.scopes.join(","),
        plan: u.plan,
        metadata: u.metadata.to_string(),
        is_active: u.is_active,
        disabled: u.disabled,
        failed_signins: 0,
        locked_until: None,
        created_at: u.created_at,
        updated_at: u.updated_at,
        tokens_valid_after: 0,
        profile: Value::Object(u.profile).to_string(),
        vendor: u.vendor.map(|v| v.to_string()),
    })
}

fn user_line(r: UserRow) -> Line {
    let json = |text: &str, empty: Value| serde_json::from_str(text).unwrap_or(empty);
    let profile = match json(&r.profile, Value::Null) {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    Line::User(Box::new(UserLine {
        metadata: json(&r.metadata, Value::Object(Map::new())),
        vendor: r.vendor.as_deref().map(|v| json(v, Value::Null)),
        scopes: r
            .scopes
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        profile,
        id: r.id,
        email: r.email,
        username: r.username,
        password_hash: r.password_hash,
        firstname: r.firstname,
        lastname: r.lastname,
        email_verified: r.email_verified,
        plan: r.plan,
        is_active: r.is_active,
        disabled: r.disabled,
        created_at: r.created_at,
        updated_at: r.updated_at,
    }))
}

/// How many of each were written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Exported {
    pub settings: u64,
    /// Signing keys (sealed under the passphrase), when asked for.
    pub keys: u64,
    pub users: u64,
    pub projects: u64,
    pub members: u64,
}

fn write_line(out: &mut impl Write, line: &Line) -> CoreResult<()> {
    let io = |e: std::io::Error| CoreError::Unavailable(format!("writing the export: {e}"));
    serde_json::to_writer(&mut *out, line)
        .map_err(|e| CoreError::Internal(format!("encoding the export: {e}")))?;
    out.write_all(b"\n").map_err(io)
}

/// A passphrase file's bytes as a passphrase (one trailing newline dropped), or why not.
pub fn passphrase(bytes: Vec<u8>) -> CoreResult<Secret<Vec<u8>>> {
    passphrase_of(bytes).map_err(|e| CoreError::invalid("passphrase", e))
}

impl Core {
    /// Writes the tenant's settings, users, projects and members to `out` as JSON lines, users a
    /// page at a time (by id), calling `progress` with the users written so far.
    pub async fn export(
        &self,
        tenant: &Tenant,
        out: &mut impl Write,
        progress: impl FnMut(u64),
    ) -> CoreResult<Exported> {
        self.export_with(tenant, out, None, progress).await
    }

    /// `export`; given a passphrase, the tenant's signing keys too, sealed under a key derived
    /// from it (never in clear).
    pub async fn export_with(
        &self,
        tenant: &Tenant,
        out: &mut impl Write,
        passphrase: Option<&Secret<Vec<u8>>>,
        mut progress: impl FnMut(u64),
    ) -> CoreResult<Exported> {
        let mut done = Exported::default();
        write_line(
            out,
            &Line::Header {
                format: "gatehouse-export".into(),
                version: VERSION,
                tenant: tenant.slug.as_str().to_owned(),
                exported_at: self.now_ms(),
            },
        )?;
        for (name, value) in &tenant.stored_settings {
            let (name, value) = (name.clone(), value.clone());
            write_line(out, &Line::Setting { name, value })?;
            done.settings += 1;
        }
        if let Some(passphrase) = passphrase {
            let seal = KeySeal::fresh();
            let (s, p) = (seal.clone(), passphrase.clone());
            let key = tokio::task::spawn_blocking(move || s.derive(&p))
                .await
                .map_err(|e| CoreError::Internal(format!("deriving the export key: {e}")))?
                .map_err(|e| CoreError::invalid("passphrase", e))?;
            write_line(
                out,
                &Line::KeySeal {
                    kdf: "argon2id".into(),
                    params: seal.params,
                    salt: seal.salt_b64(),
                },
            )?;
            for k in tenant.keys.all() {
                let line = KeyLine {
                    kid: k.kid.clone(),
                    alg: k.alg.as_str().to_owned(),
                    public: k.public.clone(),
                    created_at: k.created_at,
                    not_before: k.not_before,
                    retired_at: k.retired_at,
                    issued_for: k.issued_for.clone().unwrap_or_else(|| tenant.id.clone()),
                    sealed: key.seal(&k.kid, k.secret.expose()),
                };
                write_line(out, &Line::SigningKey(line))?;
                done.keys += 1;
            }
        }
        let mut after = String::new();
        loop {
            let (tid, from) = (tenant.id.clone(), after.clone());
            let page: Vec<UserRow> = self
                .db
                .run_tenant(&tenant.id, move |c| {
                    Ok(users::table
                        .filter(users::tenant_id.eq(&tid))
                        .filter(users::id.gt(&from))
                        .order(users::id)
                        .limit(PAGE)
                        .select(UserRow::as_select())
                        .load(c)?)
                })
                .await?;
            let Some(last) = page.last() else { break };
            after.clone_from(&last.id);
            for row in page {
                write_line(out, &user_line(row))?;
                done.users += 1;
            }
            progress(done.users);
        }
        let (tid, sealer) = (tenant.id.clone(), self.sealer.clone());
        let (projects, members) = self
            .db
            .run_tenant(&tenant.id, move |c| {
                let ps: Vec<ProjectRow> = projects::table
                    .filter(projects::tenant_id.eq(&tid))
                    .order(projects::id)
                    .select(ProjectRow::as_select())
                    .load(c)?;
                let ms: Vec<MemberRow> = project_members::table
                    .filter(project_members::tenant_id.eq(&tid))
                    .order(project_members::id)
                    .select(MemberRow::as_select())
                    .load(c)?;
                let ps = ps
                    .into_iter()
                    .map(|p| {
                        let aad = crate::sealed::project_secret_aad(&p.tenant_id, &p.id);
                        let opened = sealer.open(&p.jwt_secret, &aad).map_err(|e| {
                            CoreError::Internal(format!("the secret of project {}: {e}", p.id))
                        })?;
                        Ok(ProjectLine {
                            jwt_secret: opened.plain.expose().clone(),
                            id: p.id,
                            name: p.name,
                            created_by: p.created_by,
                            created_at: p.created_at,
                            updated_at: p.updated_at,
                        })
                    })
                    .collect::<CoreResult<Vec<_>>>()?;
                Ok((ps, ms))
            })
            .await?;
        for p in projects {
            write_line(out, &Line::Project(p))?;
            done.projects += 1;
        }
        for m in members {
            write_line(
                out,
                &Line::Member(MemberLine {
                    profile: serde_json::from_str(&m.profile).unwrap_or(Value::Null),
                    id: m.id,
                    project_id: m.project_id,
                    member_key: m.member_key,
                    user_id: m.user_id,
                    role: m.role,
                    active: m.active,
                    created_at: m.created_at,
                    updated_at: m.updated_at,
                }),
            )?;
            done.members += 1;
        }
        out.flush()
            .map_err(|e| CoreError::Unavailable(format!("writing the export: {e}")))?;
        Ok(done)
    }
}
