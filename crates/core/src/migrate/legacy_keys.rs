//! The signing keys of an installation Gatehouse replaces (`gatehouse tenant import-key`): stored
//! sealed in `legacy_keys`, loaded into the tenant's key ring, and consulted only for tokens that
//! name no key, until the tenant's `LEGACY_TOKENS_UNTIL`.

use crate::error::{AuthFailure, CoreError, CoreResult};
use crate::sealed::{legacy_key_aad, Sealer};
use crate::service::Core;
use crate::storage::models::LegacyKeyRow;
use crate::storage::schema::legacy_keys;
use crate::storage::AnyConnection;
use crate::tenants::Tenant;
use crate::token::{self, Claims, KeyAlg, LegacyKey, LegacyKeyMaterial};
use diesel::prelude::*;
use std::collections::HashMap;

/// Every tenant's legacy keys, opened; a key that does not parse is logged and left out.
pub(crate) fn load_all(
    conn: &mut AnyConnection,
    sealer: &Sealer,
) -> CoreResult<HashMap<String, Vec<LegacyKey>>> {
    let rows: Vec<LegacyKeyRow> = legacy_keys::table
        .select(LegacyKeyRow::as_select())
        .load(conn)?;
    let mut out: HashMap<String, Vec<LegacyKey>> = HashMap::new();
    for row in rows {
        let opened = sealer
            .open(&row.secret, &legacy_key_aad(&row.tenant_id, &row.kid))
            .map_err(|e| {
                CoreError::invalid(
                    "master key",
                    format!("legacy key {} of tenant {}: {e}", row.kid, row.tenant_id),
                )
            })?;
        let key = KeyAlg::parse(&row.alg).and_then(|alg| {
            LegacyKey::from_stored(row.kid.clone(), alg, opened.plain.expose(), row.created_at)
        });
        match key {
            Ok(key) => out.entry(row.tenant_id).or_default().push(key),
            Err(_) => log::error!(
                "legacy key {} of tenant {} is corrupt",
                row.kid,
                row.tenant_id
            ),
        }
    }
    Ok(out)
}

impl Core {
    /// Imports the signing key of the installation this tenant replaces; returns the name it is
    /// kept under. Importing the same key again is refused (`Conflict`).
    pub async fn import_legacy_key(
        &self,
        tenant: &Tenant,
        material: LegacyKeyMaterial,
    ) -> CoreResult<String> {
        let (alg, stored) = tokio::task::spawn_blocking(move || material.stored_form())
            .await
            .map_err(|e| CoreError::Internal(format!("reading the key failed: {e}")))??;
        // Named by a digest of what is stored, so the same key imported twice is one key.
        let kid = {
            use sha2::{Digest, Sha256};
            let digest = Sha256::new()
                .chain_update(b"gatehouse legacy key\0")
                .chain_update(stored.as_bytes())
                .finalize();
            format!("legacy-{}", hex::encode(&digest[..8]))
        };
        let row = LegacyKeyRow {
            tenant_id: tenant.id.clone(),
            secret: self.sealer.seal(&stored, &legacy_key_aad(&tenant.id, &kid)),
            kid: kid.clone(),
            alg: alg.as_str().to_owned(),
            created_at: self.now_ms(),
        };
        self.tenant_write(&tenant.id, move |c| {
            diesel::insert_into(legacy_keys::table)
                .values(&row)
                .execute(c)
                .map_err(|e| match CoreError::from(e) {
                    CoreError::Conflict(_) => CoreError::Conflict("this key is already imported"),
                    other => other,
                })
        })
        .await?;
        Ok(kid)
    }

    /// A token without a `kid`: accepted only when an imported legacy key verifies it and the
    /// tenant's `LEGACY_TOKENS_UNTIL` has not passed.
    pub(crate) fn verify_legacy_token(
        &self,
        tenant: &Tenant,
        jwt: &str,
        audience: Option<&str>,
    ) -> CoreResult<Claims> {
        let keys = tenant.keys.legacy();
        if keys.is_empty() {
            return Err(CoreError::Unauthorized(AuthFailure::InvalidToken));
        }
        let now = self.clock.now_secs();
        if tenant
            .settings
            .legacy_tokens_until
            .is_some_and(|until| now >= until)
        {
            return Err(CoreError::Unauthorized(AuthFailure::ExpiredToken));
        }
        token::verify_legacy(keys, jwt, audience, now)
    }
}
