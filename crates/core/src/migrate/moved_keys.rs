//! A tenant's signing keys as an export carries them (`gatehouse export --with-keys`): each
//! secret sealed with ChaCha20-Poly1305 under a key derived from the operator's passphrase by
//! argon2id, never in clear. The file's `key_seal` line holds the derivation's salt and parameters,
//! each `signing_key` line one sealed secret bound to its kid (the AAD), so a secret moved to
//! another line does not open. `import gatehouse --passphrase-file` opens them and seals them
//! again under the target's master key.

use crate::secret::Secret;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;
use serde::{Deserialize, Serialize};

const NONCE_LEN: usize = 12;
/// The shortest passphrase taken: the derivation slows guessing, it does not make a word strong.
pub const MIN_PASSPHRASE_LEN: usize = 12;
/// What an export writes: argon2id at 64 MiB and 3 passes (above OWASP's 19 MiB, t=2).
const EXPORT_PARAMS: KdfParams = KdfParams {
    m_cost: 65_536,
    t_cost: 3,
    p_cost: 1,
};
/// The most a file may ask of the importer (a crafted file must not take the machine's memory).
const MAX_M_COST: u32 = 1_048_576;
const MAX_T_COST: u32 = 16;
const MAX_P_COST: u32 = 8;

/// argon2id's parameters, as the `key_seal` line carries them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KdfParams {
    /// Memory, KiB.
    pub m_cost: u32,
    /// Passes.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

/// The derivation a file names: parameters and salt (base64).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySeal {
    pub params: KdfParams,
    pub salt: Vec<u8>,
}

/// The key derived from a passphrase, which seals and opens the secrets of one file.
pub struct PassphraseKey {
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for PassphraseKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PassphraseKey(***)")
    }
}

/// A passphrase as read from its file: one trailing newline dropped, and long enough.
pub fn passphrase_of(bytes: Vec<u8>) -> Result<Secret<Vec<u8>>, String> {
    let mut bytes = bytes;
    if bytes.ends_with(b"\n") {
        bytes.pop();
        if bytes.ends_with(b"\r") {
            bytes.pop();
        }
    }
    if bytes.len() < MIN_PASSPHRASE_LEN {
        return Err(format!(
            "the passphrase must be at least {MIN_PASSPHRASE_LEN} bytes"
        ));
    }
    Ok(Secret::new(bytes))
}

impl KeySeal {
    /// A fresh salt and the export's parameters.
    pub fn fresh() -> KeySeal {
        let mut salt = vec![0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        KeySeal {
            params: EXPORT_PARAMS,
            salt,
        }
    }

    pub fn salt_b64(&self) -> String {
        B64.encode(&self.salt)
    }

    /// The seal a file names, refused when its parameters are beyond what an import will spend.
    pub fn parse(params: KdfParams, salt_b64: &str) -> Result<KeySeal, String> {
        let salt = B64
            .decode(salt_b64)
            .map_err(|_| "the key seal's salt is not base64".to_owned())?;
        if !(8..=64).contains(&salt.len()) {
            return Err("the key seal's salt must be 8 to 64 bytes".into());
        }
        if params.m_cost > MAX_M_COST || params.t_cost > MAX_T_COST || params.p_cost > MAX_P_COST {
            return Err(format!(
                "the key seal asks for argon2id m={} KiB t={} p={}, beyond what an import spends \
                 (m <= {MAX_M_COST}, t <= {MAX_T_COST}, p <= {MAX_P_COST})",
                params.m_cost, params.t_cost, params.p_cost
            ));
        }
        Ok(KeySeal { params, salt })
    }

    /// Derives the file's key from the passphrase (slow on purpose: run it off async workers).
    pub fn derive(&self, passphrase: &Secret<Vec<u8>>) -> Result<PassphraseKey, String> {
        let p = self.params;
        let params = argon2::Params::new(p.m_cost, p.t_cost, p.p_cost, Some(32))
            .map_err(|e| format!("the key seal's parameters: {e}"))?;
        let a2 = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut key = [0u8; 32];
        a2.hash_password_into(passphrase.expose(), &self.salt, &mut key)
            .map_err(|e| format!("deriving the key from the passphrase: {e}"))?;
        let cipher = ChaCha20Poly1305::new(Key::from_slice(&key));
        key.fill(0);
        Ok(PassphraseKey { cipher })
    }
}

fn aad(kid: &str) -> String {
    format!("gatehouse-export signing key {kid}")
}

impl PassphraseKey {
    /// `secret` sealed for the key `kid`: base64 of nonce and ciphertext.
    pub fn seal(&self, kid: &str, secret: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let aad = aad(kid);
        let payload = Payload {
            msg: secret,
            aad: aad.as_bytes(),
        };
        // Encryption fails only for messages beyond 256 GiB.
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), payload)
            .unwrap_or_default();
        let mut raw = nonce.to_vec();
        raw.extend_from_slice(&sealed);
        B64.encode(raw)
    }

    /// The secret of key `kid`, or why it does not open (a wrong passphrase, mostly).
    pub fn open(&self, kid: &str, sealed: &str) -> Result<Secret<Vec<u8>>, String> {
        let refused = || {
            format!("signing key {kid} does not open: a wrong passphrase, or the line is damaged")
        };
        let raw = B64.decode(sealed).map_err(|_| refused())?;
        if raw.len() < NONCE_LEN {
            return Err(refused());
        }
        let (nonce, ciphertext) = raw.split_at(NONCE_LEN);
        let aad = aad(kid);
        let payload = Payload {
            msg: ciphertext,
            aad: aad.as_bytes(),
        };
        self.cipher
            .decrypt(Nonce::from_slice(nonce), payload)
            .map(Secret::new)
            .map_err(|_| refused())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quick() -> KeySeal {
        let fresh = KeySeal::fresh();
        KeySeal::parse(
            KdfParams {
                m_cost: 64,
                t_cost: 1,
                p_cost: 1,
            },
            &fresh.salt_b64(),
        )
        .unwrap()
    }

    #[test]
    fn a_secret_opens_with_its_passphrase_and_kid_only() {
        let seal = quick();
        let pass = passphrase_of(b"correct horse battery\n".to_vec()).unwrap();
        let key = seal.derive(&pass).unwrap();
        let sealed = key.seal("kid1", b"-----BEGIN PRIVATE KEY-----");
        assert!(!sealed.contains("PRIVATE"));
        assert_eq!(
            key.open("kid1", &sealed).unwrap().expose(),
            b"-----BEGIN PRIVATE KEY-----"
        );
        assert!(key.open("kid2", &sealed).is_err(), "bound to its kid");
        let wrong = seal
            .derive(&passphrase_of(b"wrong horse battery".to_vec()).unwrap())
            .unwrap();
        assert!(wrong
            .open("kid1", &sealed)
            .unwrap_err()
            .contains("passphrase"));
    }

    #[test]
    fn short_passphrases_and_greedy_parameters_are_refused() {
        assert!(passphrase_of(b"short\n".to_vec()).is_err());
        let salt = KeySeal::fresh().salt_b64();
        let greedy = KdfParams {
            m_cost: MAX_M_COST + 1,
            t_cost: 1,
            p_cost: 1,
        };
        assert!(KeySeal::parse(greedy, &salt).is_err());
        assert!(KeySeal::parse(EXPORT_PARAMS, "not base64!").is_err());
    }
}
