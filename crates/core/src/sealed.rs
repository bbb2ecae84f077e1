//! Secrets at rest: the signing-key secrets and project `jwtSecret`s are stored sealed with
//! ChaCha20-Poly1305 under a master key, as `v1:<key id>:<base64(nonce | ciphertext)>`. The key id
//! says which master key sealed a value, so a rotation can open old values with the previous key
//! while new ones are sealed with the current key. Each value is bound to its row (the AAD), so a
//! sealed value copied into another row does not open.

use crate::secret::Secret;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::fmt;

const PREFIX: &str = "v1:";
const NONCE_LEN: usize = 12;
pub const MASTER_KEY_LEN: usize = 32;

/// One master key and its id (the first 8 bytes of a SHA-256 of the key, in hex: naming a key
/// without revealing it).
#[derive(Clone)]
pub struct MasterKey {
    id: String,
    cipher: ChaCha20Poly1305,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey({})", self.id)
    }
}

impl MasterKey {
    pub fn from_bytes(bytes: &[u8]) -> Result<MasterKey, String> {
        if bytes.len() != MASTER_KEY_LEN {
            return Err(format!(
                "a master key is {MASTER_KEY_LEN} bytes (base64 of 32 random bytes), this one is {}",
                bytes.len()
            ));
        }
        let digest = Sha256::new()
            .chain_update(b"gatehouse master key id\0")
            .chain_update(bytes)
            .finalize();
        Ok(MasterKey {
            id: hex::encode(&digest[..8]),
            cipher: ChaCha20Poly1305::new(Key::from_slice(bytes)),
        })
    }

    /// A key written as base64 (surrounding whitespace ignored, as in a file with a newline).
    pub fn from_base64(text: &str) -> Result<MasterKey, String> {
        let bytes = B64
            .decode(text.trim())
            .map_err(|_| "the master key is not valid base64".to_owned())?;
        MasterKey::from_bytes(&bytes)
    }

    /// 32 fresh random bytes from the operating system, as base64 (what a key file holds).
    pub fn generate_base64() -> String {
        let mut bytes = [0u8; MASTER_KEY_LEN];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        B64.encode(bytes)
    }

    pub fn id(&self) -> &str {
        &self.id
    }
}

/// Why a stored value did not open. Every case is an operator's problem (wrong key, damaged row),
/// named without showing the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SealError {
    /// Sealed under a key that is neither the current nor a previous one.
    UnknownKey {
        sealed_with: String,
        current: String,
    },
    /// The right key id, but the value does not authenticate: damaged or moved from another row.
    Corrupt,
}

impl fmt::Display for SealError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SealError::UnknownKey {
                sealed_with,
                current,
            } => write!(
                f,
                "sealed with master key {sealed_with}, but the master key given is {current} \
                 (wrong GATEHOUSE_MASTER_KEY? during a rotation pass the old one as \
                 GATEHOUSE_MASTER_KEY_PREVIOUS)"
            ),
            SealError::Corrupt => {
                f.write_str("damaged: it does not authenticate under its master key")
            }
        }
    }
}

/// A value read back: the plaintext, and whether it should be written again under the current
/// key (it was stored in clear, or sealed with a previous key).
#[derive(Debug)]
pub struct Opened {
    pub plain: Secret<String>,
    pub stale: bool,
}

/// The current master key (seals and opens) and previous ones (open only).
#[derive(Debug, Clone)]
pub struct Sealer {
    current: MasterKey,
    previous: Vec<MasterKey>,
}

impl Sealer {
    pub fn new(current: MasterKey, previous: Vec<MasterKey>) -> Sealer {
        let previous = previous
            .into_iter()
            .filter(|k| k.id != current.id)
            .collect();
        Sealer { current, previous }
    }

    /// A random key held in memory only: for tests and tools that keep nothing.
    pub fn ephemeral() -> Sealer {
        let key = MasterKey::from_base64(&MasterKey::generate_base64())
            .unwrap_or_else(|_| unreachable!("32 random bytes make a key"));
        Sealer::new(key, Vec::new())
    }

    pub fn current_id(&self) -> &str {
        &self.current.id
    }

    /// Seals `plain` for the row named by `aad`.
    pub fn seal(&self, plain: &str, aad: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let payload = Payload {
            msg: plain.as_bytes(),
            aad: aad.as_bytes(),
        };
        // Encryption fails only for messages beyond 256 GiB.
        let sealed = self
            .current
            .cipher
            .encrypt(Nonce::from_slice(&nonce), payload)
            .unwrap_or_default();
        let mut raw = nonce.to_vec();
        raw.extend_from_slice(&sealed);
        format!("{PREFIX}{}:{}", self.current.id, B64.encode(raw))
    }

    /// Opens a stored value. A value without the `v1:` mark is a plaintext row from before
    /// sealing, returned as it is and marked stale.
    pub fn open(&self, stored: &str, aad: &str) -> Result<Opened, SealError> {
        let Some(rest) = stored.strip_prefix(PREFIX) else {
            return Ok(Opened {
                plain: Secret::new(stored.to_owned()),
                stale: true,
            });
        };
        let (id, body) = rest.split_once(':').ok_or(SealError::Corrupt)?;
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id == id)
            .ok_or_else(|| SealError::UnknownKey {
                sealed_with: id.to_owned(),
                current: self.current.id.clone(),
            })?;
        let raw = B64.decode(body).map_err(|_| SealError::Corrupt)?;
        if raw.len() < NONCE_LEN {
            return Err(SealError::Corrupt);
        }
        let (nonce, ciphertext) = raw.split_at(NONCE_LEN);
        let payload = Payload {
            msg: ciphertext,
            aad: aad.as_bytes(),
        };
        let plain = key
            .cipher
            .decrypt(Nonce::from_slice(nonce), payload)
            .map_err(|_| SealError::Corrupt)?;
        let plain = String::from_utf8(plain).map_err(|_| SealError::Corrupt)?;
        Ok(Opened {
            plain: Secret::new(plain),
            stale: key.id != self.current.id,
        })
    }
}

/// The AAD of a signing key's secret.
pub fn signing_key_aad(tenant_id: &str, kid: &str) -> String {
    format!("signing_keys:{tenant_id}:{kid}")
}

/// The AAD of an imported legacy key (`legacy_keys`).
pub fn legacy_key_aad(tenant_id: &str, kid: &str) -> String {
    format!("legacy_keys:{tenant_id}:{kid}")
}

/// The AAD of a project's `jwtSecret`.
pub fn project_secret_aad(tenant_id: &str, project_id: &str) -> String {
    format!("projects.jwt_secret:{tenant_id}:{project_id}")
}

/// Settings that hold a secret and are stored sealed (`SMTP_URL` carries SMTP credentials).
pub const SEALED_SETTINGS: &[&str] = &["SMTP_URL"];

pub fn is_sealed_setting(key: &str) -> bool {
    SEALED_SETTINGS.contains(&key)
}

/// The AAD of a sealed setting's value.
pub fn setting_aad(tenant_id: &str, key: &str) -> String {
    format!("tenant_settings:{tenant_id}:{key}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> MasterKey {
        MasterKey::from_base64(&MasterKey::generate_base64()).unwrap()
    }

    #[test]
    fn sealed_values_open_only_for_their_row_and_hide_the_plaintext() {
        let s = Sealer::new(key(), vec![]);
        let sealed = s.seal("the-secret", "row-1");
        assert!(sealed.starts_with(&format!("v1:{}:", s.current_id())));
        assert!(!sealed.contains("the-secret"));
        let opened = s.open(&sealed, "row-1").unwrap();
        assert_eq!(opened.plain.expose(), "the-secret");
        assert!(!opened.stale);
        assert_eq!(s.open(&sealed, "row-2").unwrap_err(), SealError::Corrupt);
        // Two seals of one value differ (fresh nonce).
        assert_ne!(sealed, s.seal("the-secret", "row-1"));
    }

    #[test]
    fn plaintext_rows_and_previous_keys_open_as_stale_and_a_wrong_key_is_named() {
        let (old, new) = (key(), key());
        let sealed_old = Sealer::new(old.clone(), vec![]).seal("x", "r");
        let rotating = Sealer::new(new.clone(), vec![old.clone()]);
        assert!(rotating.open(&sealed_old, "r").unwrap().stale);
        assert!(rotating.open("plain-hex", "r").unwrap().stale);
        let wrong = Sealer::new(new.clone(), vec![]);
        match wrong.open(&sealed_old, "r").unwrap_err() {
            SealError::UnknownKey {
                sealed_with,
                current,
            } => assert_eq!(
                (sealed_with.as_str(), current.as_str()),
                (old.id(), new.id())
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn keys_must_be_32_bytes_of_base64() {
        assert!(MasterKey::from_base64("not base64!").is_err());
        assert!(MasterKey::from_base64(&B64.encode([1u8; 16])).is_err());
        let k = MasterKey::from_base64(&format!("{}\n", B64.encode([1u8; 32]))).unwrap();
        assert_eq!(k.id().len(), 16);
        assert!(!format!("{k:?}").contains(&B64.encode([1u8; 32])));
    }
}
