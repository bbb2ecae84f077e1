//! The one write path of every importer: a batch of records of one kind, checked against what the
//! tenant already holds and written in one transaction (new rows in multi-row INSERTs). A record
//! whose id exists is skipped, or overwritten with `--update`; one whose email, username or
//! membership belongs to another record is refused. In a dry run the same checks run and nothing
//! is written. Should the database refuse a batch anyway (a concurrent write took an email), the
//! whole batch is rolled back and each of its records reported: nothing is half-written.

use super::{Importer, Kind, Record};
use crate::error::{CoreError, CoreResult};
use crate::revocation::user_changed;
use crate::sealed::{project_secret_aad, signing_key_aad, Sealer};
use crate::storage::db::write_transaction;
use crate::storage::models::{KeyRow, MemberRow, ProjectRow, UserRow};
use crate::storage::schema::{project_members, projects, signing_keys, users};
use crate::storage::AnyConnection;
use crate::view::change::Change;
use diesel::prelude::*;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// What one batch came to.
#[derive(Default)]
struct Outcome {
    imported: u64,
    updated: u64,
    skipped: u64,
    refused: Vec<(u64, String)>,
    /// Ids of the users refused (so their members are dropped, not refused).
    refused_ids: Vec<(u64, String)>,
    /// Members left out because their user was refused.
    dropped: Vec<(u64, String)>,
    /// Ids that exist after the batch (or would, in a dry run).
    present: Vec<String>,
    changes: Vec<Change>,
}

impl Outcome {
    fn skip(&mut self, id: String) {
        self.skipped += 1;
        self.present.push(id);
    }
}

pub(super) async fn write(imp: &mut Importer<'_>, batch: Vec<(u64, Record)>) -> CoreResult<()> {
    let Some(kind) = batch.first().map(|(_, r)| r.kind()) else {
        return Ok(());
    };
    if kind == Kind::Setting {
        return settings(imp, batch).await;
    }
    if kind == Kind::Key {
        return keys(imp, batch).await;
    }
    let lines: Vec<u64> = batch.iter().map(|(l, _)| *l).collect();
    let (tid, opts, now) = (imp.tenant.id.clone(), imp.opts, imp.core.now_ms());
    let sealer: Arc<Sealer> = imp.core.sealer.clone();
    // Members are checked against the users and projects a dry run would have written.
    let assumed: HashSet<String> = batch
        .iter()
        .filter_map(|(_, r)| match r {
            Record::Member(m) => Some(m),
            _ => None,
        })
        .flat_map(|m| {
            let project = imp
                .would_exist("project", &m.project_id)
                .then(|| m.project_id.clone());
            let user = m.user_id.clone().filter(|u| imp.would_exist("user", u));
            project.into_iter().chain(user)
        })
        .collect();
    // Members whose user was refused earlier in this run, with the line it was refused on.
    let refused_users: HashMap<String, u64> = batch
        .iter()
        .filter_map(|(_, r)| match r {
            Record::Member(m) => m.user_id.as_deref(),
            _ => None,
        })
        .filter_map(|u| imp.user_refused_on(u).map(|line| (u.to_owned(), line)))
        .collect();
    let result = imp
        .core
        .db
        .run_tenant(&tid.clone(), move |c| {
            write_transaction(c, |c| {
                let mut out = Outcome::default();
                let mut batch = batch;
                for (_, r) in &mut batch {
                    set_tenant(r, &tid);
                }
                match kind {
                    Kind::User => write_users(c, &tid, batch, opts, now, &mut out)?,
                    Kind::Project => write_projects(c, &tid, batch, opts, &sealer, &mut out)?,
                    _ => write_members(c, &tid, batch, opts, &assumed, &refused_users, &mut out)?,
                }
                Ok(out)
            })
        })
        .await;
    let out = match result {
        Ok(out) => out,
        Err(e @ CoreError::Unavailable(_)) => return Err(e),
        Err(e) => {
            for line in lines {
                imp.refuse(kind, line, format!("the database refused its batch: {e}"));
            }
            return Ok(());
        }
    };
    let label = if kind == Kind::User {
        "user"
    } else {
        "project"
    };
    for id in &out.present {
        if kind != Kind::Member {
            imp.remember(label, id);
        }
    }
    for (line, id) in out.refused_ids {
        imp.refused_user(&id, line);
    }
    for (line, reason) in out.refused {
        imp.refuse(kind, line, reason);
    }
    for (line, reason) in out.dropped {
        imp.drop_member(line, reason);
    }
    let counts = imp.report.counts(kind);
    counts.imported += out.imported;
    counts.updated += out.updated;
    counts.skipped += out.skipped;
    imp.core.publish(&out.changes).await
}

fn set_tenant(record: &mut Record, tid: &str) {
    let slot = match record {
        Record::User(u) => &mut u.tenant_id,
        Record::Project(p) => &mut p.tenant_id,
        Record::Member(m) => &mut m.tenant_id,
        Record::Setting { .. }
        | Record::Header
        | Record::KeySeal(_)
        | Record::Key(_)
        | Record::OpenedKey(_) => return,
    };
    tid.clone_into(slot);
}

fn write_users(
    c: &mut AnyConnection,
    tid: &str,
    batch: Vec<(u64, Record)>,
    opts: super::ImportOptions,
    now: i64,
    out: &mut Outcome,
) -> CoreResult<()> {
    let rows: Vec<(u64, UserRow)> = batch
        .into_iter()
        .filter_map(|(l, r)| match r {
            Record::User(u) => Some((l, *u)),
            _ => None,
        })
        .collect();
    let ids: Vec<&str> = rows.iter().map(|(_, r)| r.id.as_str()).collect();
    let emails: Vec<&str> = rows
        .iter()
        .filter_map(|(_, r)| r.email.as_deref())
        .collect();
    let names: Vec<&str> = rows
        .iter()
        .filter_map(|(_, r)| r.username_key.as_deref())
        .collect();
    let mine = || users::table.filter(users::tenant_id.eq(tid));
    let existing: HashSet<String> = mine()
        .filter(users::id.eq_any(ids.clone()))
        .select(users::id)
        .load::<String>(c)?
        .into_iter()
        .collect();
    let owners = |pairs: Vec<(Option<String>, String)>| -> HashMap<String, String> {
        pairs
            .into_iter()
            .filter_map(|(k, id)| Some((k?, id)))
            .collect()
    };
    let email_owner = owners(
        mine()
            .filter(users::email.eq_any(emails.clone()))
            .select((users::email, users::id))
            .load(c)?,
    );
    let name_owner = owners(
        mine()
            .filter(users::username_key.eq_any(names.clone()))
            .select((users::username_key, users::id))
            .load(c)?,
    );
    let (mut inserts, mut updates) = (Vec::new(), Vec::new());
    for (line, row) in rows {
        let exists = existing.contains(&row.id);
        if exists && !opts.update {
            out.skip(row.id);
            continue;
        }
        let taken = |key: &Option<String>, owners: &HashMap<String, String>| {
            key.as_ref()
                .and_then(|k| owners.get(k).map(|o| (k.clone(), o.clone())))
                .filter(|(_, owner)| *owner != row.id)
        };
        if let Some((email, owner)) = taken(&row.email, &email_owner) {
            out.refused_ids.push((line, row.id.clone()));
            out.refused.push((
                line,
                format!("email {email} belongs to another account ({owner})"),
            ));
            continue;
        }
        if let Some((name, owner)) = taken(&row.username_key, &name_owner) {
            out.refused_ids.push((line, row.id.clone()));
            out.refused.push((
                line,
                format!("username {name} belongs to another account ({owner})"),
            ));
            continue;
        }
        out.present.push(row.id.clone());
        if exists {
            updates.push(row);
        } else {
            inserts.push(row);
        }
    }
    out.imported = inserts.len() as u64;
    out.updated = updates.len() as u64;
    if opts.dry_run {
        return Ok(());
    }
    crate::seed::insert_users(c, &inserts)?;
    for row in &updates {
        diesel::update(
            users::table
                .filter(users::tenant_id.eq(tid))
                .filter(users::id.eq(&row.id)),
        )
        .set((
            users::email.eq(&row.email),
            users::username.eq(&row.username),
            users::username_key.eq(&row.username_key),
            users::password_hash.eq(&row.password_hash),
            users::firstname.eq(&row.firstname),
            users::lastname.eq(&row.lastname),
            users::email_verified.eq(row.email_verified),
            users::scopes.eq(&row.scopes),
            users::plan.eq(&row.plan),
            users::metadata.eq(&row.metadata),
            users::is_active.eq(row.is_active),
            users::disabled.eq(row.disabled),
            users::created_at.eq(row.created_at),
            users::updated_at.eq(row.updated_at),
            users::profile.eq(&row.profile),
            users::vendor.eq(&row.vendor),
        ))
        .execute(c)?;
        out.changes.push(user_changed(c, tid, &row.id, now)?);
    }
    Ok(())
}

fn write_projects(
    c: &mut AnyConnection,
    tid: &str,
    batch: Vec<(u64, Record)>,
    opts: super::ImportOptions,
    sealer: &Sealer,
    out: &mut Outcome,
) -> CoreResult<()> {
    let rows: Vec<ProjectRow> = batch
        .into_iter()
        .filter_map(|(_, r)| match r {
            Record::Project(p) => Some(p),
            _ => None,
        })
        .collect();
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let existing: HashSet<String> = projects::table
        .filter(projects::tenant_id.eq(tid))
        .filter(projects::id.eq_any(ids.clone()))
        .select(projects::id)
        .load::<String>(c)?
        .into_iter()
        .collect();
    for mut row in rows {
        let exists = existing.contains(&row.id);
        if exists && !opts.update {
            out.skip(row.id);
            continue;
        }
        out.present.push(row.id.clone());
        if exists {
            out.updated += 1;
        } else {
            out.imported += 1;
        }
        if opts.dry_run {
            continue;
        }
        row.jwt_secret = sealer.seal(&row.jwt_secret, &project_secret_aad(tid, &row.id));
        if exists {
            diesel::update(
                projects::table
                    .filter(projects::tenant_id.eq(tid))
                    .filter(projects::id.eq(&row.id)),
            )
            .set((
                projects::name.eq(&row.name),
                projects::jwt_secret.eq(&row.jwt_secret),
                projects::created_by.eq(&row.created_by),
                projects::created_at.eq(row.created_at),
                projects::updated_at.eq(row.updated_at),
            ))
            .execute(c)?;
        } else {
            diesel::insert_into(projects::table)
                .values(&row)
                .execute(c)?;
        }
    }
    Ok(())
}

fn write_members(
    c: &mut AnyConnection,
    tid: &str,
    batch: Vec<(u64, Record)>,
    opts: super::ImportOptions,
    assumed: &HashSet<String>,
    refused_users: &HashMap<String, u64>,
    out: &mut Outcome,
) -> CoreResult<()> {
    let rows: Vec<(u64, MemberRow)> = batch
        .into_iter()
        .filter_map(|(l, r)| match r {
            Record::Member(m) => Some((l, m)),
            _ => None,
        })
        .collect();
    let pids: Vec<&str> = rows.iter().map(|(_, r)| r.project_id.as_str()).collect();
    let uids: Vec<&str> = rows
        .iter()
        .filter_map(|(_, r)| r.user_id.as_deref())
        .collect();
    let ids: Vec<&str> = rows.iter().map(|(_, r)| r.id.as_str()).collect();
    let set = |v: Vec<String>| v.into_iter().collect::<HashSet<String>>();
    let known_projects = set(projects::table
        .filter(projects::tenant_id.eq(tid))
        .filter(projects::id.eq_any(pids.clone()))
        .select(projects::id)
        .load(c)?);
    let known_users = set(users::table
        .filter(users::tenant_id.eq(tid))
        .filter(users::id.eq_any(uids.clone()))
        .select(users::id)
        .load(c)?);
    let mine = || project_members::table.filter(project_members::tenant_id.eq(tid));
    let existing = set(mine()
        .filter(project_members::id.eq_any(ids.clone()))
        .select(project_members::id)
        .load(c)?);
    let holders: HashMap<(String, String), String> = mine()
        .filter(project_members::project_id.eq_any(pids.clone()))
        .select((
            project_members::project_id,
            project_members::member_key,
            project_members::id,
        ))
        .load::<(String, String, String)>(c)?
        .into_iter()
        .map(|(p, k, id)| ((p, k), id))
        .collect();
    for (line, row) in rows {
        let known = |id: &str, set: &HashSet<String>| set.contains(id) || assumed.contains(id);
        if !known(&row.project_id, &known_projects) {
            out.refused.push((
                line,
                format!("project {} is not in this tenant", row.project_id),
            ));
            continue;
        }
        if let Some(uid) = row.user_id.as_deref().filter(|u| !known(u, &known_users)) {
            match refused_users.get(uid) {
                Some(on) => out.dropped.push((
                    line,
                    format!("membership dropped: its user {uid} was refused (line {on})"),
                )),
                None => out
                    .refused
                    .push((line, format!("user {uid} is not in this tenant"))),
            }
            continue;
        }
        let exists = existing.contains(&row.id);
        if exists && !opts.update {
            out.skip(row.id);
            continue;
        }
        let holder = holders.get(&(row.project_id.clone(), row.member_key.clone()));
        if let Some(other) = holder.filter(|h| **h != row.id) {
            out.refused.push((
                line,
                format!(
                    "{} is already a member of project {} ({other})",
                    row.member_key, row.project_id
                ),
            ));
            continue;
        }
        if exists {
            out.updated += 1;
        } else {
            out.imported += 1;
        }
        if opts.dry_run {
            continue;
        }
        if exists {
            diesel::update(mine().filter(project_members::id.eq(&row.id)))
                .set((
                    project_members::project_id.eq(&row.project_id),
                    project_members::member_key.eq(&row.member_key),
                    project_members::user_id.eq(&row.user_id),
                    project_members::role.eq(&row.role),
                    project_members::active.eq(row.active),
                    project_members::profile.eq(&row.profile),
                    project_members::created_at.eq(row.created_at),
                    project_members::updated_at.eq(row.updated_at),
                ))
                .execute(c)?;
        } else {
            diesel::insert_into(project_members::table)
                .values(&row)
                .execute(c)?;
        }
    }
    Ok(())
}

/// Signing keys moved in from another tenant: sealed under this deployment's master key, marked
/// with the tenant id their tokens name, and dated before every key of this tenant, so they verify
/// (and, asymmetric, stay published for a token lifetime) but never sign here. A kid the tenant
/// has already is skipped. Written with "tenant changed" in the feed, so every node loads them.
async fn keys(imp: &mut Importer<'_>, batch: Vec<(u64, Record)>) -> CoreResult<()> {
    let have: HashSet<String> = imp
        .tenant
        .keys
        .all()
        .iter()
        .map(|k| k.kid.clone())
        .collect();
    let mut fresh = Vec::new();
    for (_, record) in batch {
        let Record::OpenedKey(key) = record else {
            continue;
        };
        if have.contains(&key.kid) {
            imp.report.keys.skipped += 1;
        } else {
            fresh.push(*key);
        }
    }
    let n = fresh.len() as u64;
    if imp.opts.dry_run || fresh.is_empty() {
        imp.report.keys.imported += n;
        return Ok(());
    }
    let (tid, sealer) = (imp.tenant.id.clone(), imp.core.sealer.clone());
    let oldest = imp.tenant.keys.all().iter().map(|k| k.created_at).min();
    let write = move |c: &mut AnyConnection| -> CoreResult<()> {
        let oldest: Option<i64> = signing_keys::table
            .filter(signing_keys::tenant_id.eq(&tid))
            .select(diesel::dsl::min(signing_keys::created_at))
            .first::<Option<i64>>(c)?
            .or(oldest);
        for (i, key) in fresh.into_iter().enumerate() {
            let before = oldest.map_or(key.created_at, |o| key.created_at.min(o - 1 - i as i64));
            let public_key = key
                .public
                .as_ref()
                .map(serde_json::to_string)
                .transpose()
                .map_err(|e| CoreError::Internal(format!("encoding a public key: {e}")))?;
            diesel::insert_into(signing_keys::table)
                .values(KeyRow {
                    tenant_id: tid.clone(),
                    kid: key.kid.clone(),
                    secret: sealer.seal(
                        &hex::encode(key.secret.expose()),
                        &signing_key_aad(&tid, &key.kid),
                    ),
                    created_at: before,
                    retired_at: key.retired_at,
                    alg: key.alg.as_str().to_owned(),
                    public_key,
                    not_before: key.not_before.min(before),
                    issued_for: key.issued_for.clone(),
                })
                .execute(c)?;
        }
        Ok(())
    };
    imp.core.tenant_write(&imp.tenant.id, write).await?;
    imp.report.keys.imported += n;
    Ok(())
}

/// Settings go through core's own setting path (validated, capped, announced to other nodes).
/// A setting the tenant already has is skipped unless `--update`.
async fn settings(imp: &mut Importer<'_>, batch: Vec<(u64, Record)>) -> CoreResult<()> {
    for (line, record) in batch {
        let Record::Setting { name, value } = record else {
            continue;
        };
        if imp.tenant.stored_settings.contains_key(&name) && !imp.opts.update {
            imp.report.settings.skipped += 1;
            continue;
        }
        let result = if imp.opts.dry_run {
            crate::settings::Settings::validate_config(&name, &value).map(drop)
        } else {
            imp.core.set_config(imp.tenant, &name, &value).await
        };
        match result {
            Ok(()) if imp.tenant.stored_settings.contains_key(&name) => {
                imp.report.settings.updated += 1
            }
            Ok(()) => imp.report.settings.imported += 1,
            Err(CoreError::InvalidInput { message, .. }) => {
                imp.refuse(Kind::Setting, line, message)
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
