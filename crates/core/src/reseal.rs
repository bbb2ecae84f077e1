//! Bringing the stored secrets (signing-key secrets, project `jwtSecret`s) under the current master
//! key. At every start: each sealed value must open (a wrong master key stops the start with one
//! clear line, never garbage later), and plaintext rows from before sealing are sealed. On
//! `gatehouse secrets reencrypt`: values sealed with a previous key are sealed again with the
//! current one, after which the previous key is no longer needed.

use crate::error::{CoreError, CoreResult};
use crate::sealed::{legacy_key_aad, project_secret_aad, setting_aad, signing_key_aad, Sealer};
use crate::service::Core;
use crate::storage::db::write_transaction;
use crate::storage::schema::{legacy_keys, projects, signing_keys, tenant_settings};
use crate::storage::AnyConnection;
use diesel::prelude::*;

/// What a pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resealed {
    /// Values that opened under the master keys.
    pub checked: usize,
    /// Values written again under the current key.
    pub rewritten: usize,
}

/// Which stale values a pass rewrites.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reseal {
    /// Plaintext rows only (every start: nodes still on the previous key keep working).
    Plaintext,
    /// Plaintext rows and values sealed with a previous key (`secrets reencrypt`).
    Everything,
}

fn wrong_key(what: String, e: crate::sealed::SealError) -> CoreError {
    CoreError::invalid("master key", format!("{what}: {e}"))
}

fn pass(conn: &mut AnyConnection, sealer: &Sealer, mode: Reseal) -> CoreResult<Resealed> {
    let mut done = Resealed::default();
    let keys: Vec<(String, String, String)> = signing_keys::table
        .select((
            signing_keys::tenant_id,
            signing_keys::kid,
            signing_keys::secret,
        ))
        .load(conn)?;
    for (tid, kid, stored) in keys {
        let aad = signing_key_aad(&tid, &kid);
        let opened = sealer
            .open(&stored, &aad)
            .map_err(|e| wrong_key(format!("signing key {kid} of tenant {tid}"), e))?;
        done.checked += 1;
        if rewrite(&stored, opened.stale, mode) {
            // Compared with the value read, so a value another node sealed meanwhile is left alone.
            done.rewritten += diesel::update(
                signing_keys::table
                    .filter(signing_keys::tenant_id.eq(&tid))
                    .filter(signing_keys::kid.eq(&kid))
                    .filter(signing_keys::secret.eq(&stored)),
            )
            .set(signing_keys::secret.eq(sealer.seal(opened.plain.expose(), &aad)))
            .execute(conn)?;
        }
    }
    let rows: Vec<(String, String, String)> = projects::table
        .select((projects::tenant_id, projects::id, projects::jwt_secret))
        .load(conn)?;
    for (tid, pid, stored) in rows {
        let aad = project_secret_aad(&tid, &pid);
        let opened = sealer
            .open(&stored, &aad)
            .map_err(|e| wrong_key(format!("the secret of project {pid} of tenant {tid}"), e))?;
        done.checked += 1;
        if rewrite(&stored, opened.stale, mode) {
            done.rewritten += diesel::update(
                projects::table
                    .filter(projects::tenant_id.eq(&tid))
                    .filter(projects::id.eq(&pid))
                    .filter(projects::jwt_secret.eq(&stored)),
            )
            .set(projects::jwt_secret.eq(sealer.seal(opened.plain.expose(), &aad)))
            .execute(conn)?;
        }
    }
    let settings: Vec<(String, String, String)> = tenant_settings::table
        .filter(tenant_settings::name.eq_any(crate::sealed::SEALED_SETTINGS))
        .select((
            tenant_settings::tenant_id,
            tenant_settings::name,
            tenant_settings::value,
        ))
        .load(conn)?;
    for (tid, name, stored) in settings {
        let aad = setting_aad(&tid, &name);
        let opened = sealer
            .open(&stored, &aad)
            .map_err(|e| wrong_key(format!("setting {name} of tenant {tid}"), e))?;
        done.checked += 1;
        if rewrite(&stored, opened.stale, mode) {
            done.rewritten += diesel::update(
                tenant_settings::table
                    .filter(tenant_settings::tenant_id.eq(&tid))
                    .filter(tenant_settings::name.eq(&name))
                    .filter(tenant_settings::value.eq(&stored)),
            )
            .set(tenant_settings::value.eq(sealer.seal(opened.plain.expose(), &aad)))
            .execute(conn)?;
        }
    }
    let legacy: Vec<(String, String, String)> = legacy_keys::table
        .select((
            legacy_keys::tenant_id,
            legacy_keys::kid,
            legacy_keys::secret,
        ))
        .load(conn)?;
    for (tid, kid, stored) in legacy {
        let aad = legacy_key_aad(&tid, &kid);
        let opened = sealer
            .open(&stored, &aad)
            .map_err(|e| wrong_key(format!("legacy key {kid} of tenant {tid}"), e))?;
        done.checked += 1;
        if rewrite(&stored, opened.stale, mode) {
            done.rewritten += diesel::update(
                legacy_keys::table
                    .filter(legacy_keys::tenant_id.eq(&tid))
                    .filter(legacy_keys::kid.eq(&kid))
                    .filter(legacy_keys::secret.eq(&stored)),
            )
            .set(legacy_keys::secret.eq(sealer.seal(opened.plain.expose(), &aad)))
            .execute(conn)?;
        }
    }
    Ok(done)
}

fn rewrite(stored: &str, stale: bool, mode: Reseal) -> bool {
    stale && (mode == Reseal::Everything || !stored.starts_with("v1:"))
}

impl Core {
    /// Checks that every stored secret opens and rewrites the stale ones `mode` names.
    pub async fn reseal_secrets(&self, mode: Reseal) -> CoreResult<Resealed> {
        let sealer = self.sealer.clone();
        self.db
            .run_system(move |c| write_transaction(c, |c| pass(c, &sealer, mode)))
            .await
    }

    /// The id of the master key that seals new values (safe to show: it names, not reveals).
    pub fn master_key_id(&self) -> &str {
        self.sealer.current_id()
    }
}
