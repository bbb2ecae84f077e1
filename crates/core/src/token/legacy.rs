//! Keys of the system Gatehouse replaces: tiledesk-server signs with one installation-wide key
//! (`GLOBAL_SECRET` for HS256, `GLOBAL_SECRET_OR_PRIVATE_KEY` for RS256), its tokens carry no `kid`
//! and no `exp`. Such a key never signs here; it verifies only tokens without a `kid`, under its
//! own algorithm, until the tenant's cut-off (`LEGACY_TOKENS_UNTIL`, checked by the caller).

use super::{invalid, verify_with, Claims, KeyAlg, PublicJwk};
use crate::error::{CoreError, CoreResult};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use jsonwebtoken::{decode_header, DecodingKey};
use std::fmt;

/// One imported key, ready to verify.
#[derive(Clone)]
pub struct LegacyKey {
    pub kid: String,
    pub alg: KeyAlg,
    pub created_at: i64,
    decoding: DecodingKey,
}

impl fmt::Debug for LegacyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LegacyKey({}, {}, ***)", self.kid, self.alg.as_str())
    }
}

/// What an operator hands over: the HS256 secret, or the RS256 private key's PEM (PKCS#1 or
/// PKCS#8), of which only the public half is kept.
pub enum LegacyKeyMaterial {
    Hs256(Vec<u8>),
    Rs256PrivatePem(String),
}

impl LegacyKey {
    /// The key from its stored form (`stored`: the hex of the HS256 secret, or the RS256 public key
    /// as a JWK).
    pub fn from_stored(
        kid: String,
        alg: KeyAlg,
        stored: &str,
        created_at: i64,
    ) -> CoreResult<Self> {
        let corrupt = || CoreError::Internal(format!("legacy key {kid} does not parse"));
        let decoding = match alg {
            KeyAlg::Hs256 => DecodingKey::from_secret(&hex::decode(stored).map_err(|_| corrupt())?),
            KeyAlg::Rs256 => match serde_json::from_str::<PublicJwk>(stored) {
                Ok(PublicJwk::Rsa { n, e }) => {
                    DecodingKey::from_rsa_components(&n, &e).map_err(|_| corrupt())?
                }
                _ => return Err(corrupt()),
            },
            KeyAlg::EdDsa => return Err(corrupt()),
        };
        Ok(LegacyKey {
            kid,
            alg,
            created_at,
            decoding,
        })
    }
}

impl LegacyKeyMaterial {
    /// The algorithm and the form in which the key is stored (see `LegacyKey::from_stored`).
    pub fn stored_form(&self) -> CoreResult<(KeyAlg, String)> {
        match self {
            LegacyKeyMaterial::Hs256(secret) if secret.is_empty() => {
                Err(CoreError::invalid("secret", "the secret file is empty"))
            }
            LegacyKeyMaterial::Hs256(secret) => Ok((KeyAlg::Hs256, hex::encode(secret))),
            LegacyKeyMaterial::Rs256PrivatePem(pem) => {
                use rsa::pkcs1::DecodeRsaPrivateKey;
                use rsa::pkcs8::DecodePrivateKey;
                use rsa::traits::PublicKeyParts;
                // tiledesk-server reads the PEM from an environment variable with `\n` written out.
                let pem = pem.replace("\\n", "\n");
                let key = rsa::RsaPrivateKey::from_pkcs1_pem(pem.trim())
                    .or_else(|_| rsa::RsaPrivateKey::from_pkcs8_pem(pem.trim()))
                    .map_err(|_| {
                        CoreError::invalid(
                            "private key",
                            "not an RSA private key in PEM (PKCS#1 or PKCS#8)",
                        )
                    })?;
                let jwk = PublicJwk::Rsa {
                    n: B64.encode(key.n().to_bytes_be()),
                    e: B64.encode(key.e().to_bytes_be()),
                };
                let text = serde_json::to_string(&jwk)
                    .map_err(|e| CoreError::Internal(format!("encoding a public key: {e}")))?;
                Ok((KeyAlg::Rs256, text))
            }
        }
    }
}

/// Whether the token's header names no key: only such a token may be a legacy one.
pub fn names_no_key(token: &str) -> bool {
    decode_header(token).is_ok_and(|h| h.kid.is_none())
}

/// Verifies a token without a `kid` against the imported keys of its header's algorithm: the
/// signature, `aud` when one is expected, `nbf` and `exp` when present (tiledesk-server sets
/// neither). A token naming a tenant (`tid`) is Gatehouse's own and never legacy.
pub fn verify_legacy(
    keys: &[LegacyKey],
    token: &str,
    audience: Option<&str>,
    now_secs: i64,
) -> CoreResult<Claims> {
    let header = decode_header(token).map_err(|_| invalid())?;
    if header.kid.is_some() {
        return Err(invalid());
    }
    let mut last = invalid();
    for key in keys.iter().filter(|k| k.alg.algorithm() == header.alg) {
        match verify_with(&key.decoding, header.alg, token, audience, false, now_secs) {
            Ok(claims) if claims.contains_key("tid") => return Err(invalid()),
            Ok(claims) => return Ok(claims),
            Err(e) => last = e,
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{encode, EncodingKey, Header};
    use serde_json::json;

    const NOW: i64 = 1_800_000_000;
    const AUD: &str = "https://tiledesk.com";

    fn hs(secret: &str) -> LegacyKey {
        let (alg, stored) = LegacyKeyMaterial::Hs256(secret.as_bytes().to_vec())
            .stored_form()
            .unwrap();
        LegacyKey::from_stored("k1".into(), alg, &stored, 0).unwrap()
    }

    /// As routes/auth.js signs: `jwt.sign(userJson, configSecret, {issuer, subject: 'user',
    /// audience, jwtid})`, HS256 by default, no `expiresIn` and so no `exp`.
    fn tiledesk_token(secret: &str, extra: serde_json::Value) -> String {
        let mut claims = json!({"_id": "5f1b2c3d4e5f6a7b8c9d0e1f", "email": "a@b.io",
            "firstname": "A", "lastname": "B", "emailverified": true, "iat": NOW - 100,
            "aud": AUD, "iss": "https://tiledesk.com", "sub": "user",
            "jti": "0d7b2f3a-7a5e-4b5e-9d4e-1f2a3b4c5d6e"});
        for (k, v) in extra.as_object().unwrap() {
            claims[k] = v.clone();
        }
        let header = Header::new(jsonwebtoken::Algorithm::HS256);
        encode(
            &header,
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    }

    #[test]
    fn a_tiledesk_token_verifies_with_its_global_secret_only() {
        let token = tiledesk_token("global-secret", json!({}));
        let claims = verify_legacy(&[hs("global-secret")], &token, Some(AUD), NOW).unwrap();
        assert_eq!(claims["_id"], "5f1b2c3d4e5f6a7b8c9d0e1f");
        assert!(verify_legacy(&[hs("other")], &token, Some(AUD), NOW).is_err());
        assert!(verify_legacy(&[], &token, Some(AUD), NOW).is_err());
        assert!(verify_legacy(&[hs("global-secret")], &token, Some("x"), NOW).is_err());
        // A token naming a tenant, or carrying an `exp` that has passed, is not accepted.
        let tid = tiledesk_token("global-secret", json!({"tid": "t"}));
        assert!(verify_legacy(&[hs("global-secret")], &tid, Some(AUD), NOW).is_err());
        let old = tiledesk_token("global-secret", json!({"exp": NOW - 1}));
        assert!(verify_legacy(&[hs("global-secret")], &old, Some(AUD), NOW).is_err());
        assert!(names_no_key(&token));
    }

    #[test]
    fn rs256_keys_keep_only_the_public_half_and_verify() {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        let private = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).unwrap();
        let pem = private
            .to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
            .unwrap()
            .to_string();
        let (alg, stored) = LegacyKeyMaterial::Rs256PrivatePem(pem.clone())
            .stored_form()
            .unwrap();
        assert!(!stored.contains("PRIVATE"));
        let key = LegacyKey::from_stored("k".into(), alg, &stored, 0).unwrap();
        let claims = json!({"_id": "x", "aud": AUD, "sub": "user"});
        let header = Header::new(jsonwebtoken::Algorithm::RS256);
        let token = encode(
            &header,
            &claims,
            &EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
        )
        .unwrap();
        assert!(verify_legacy(std::slice::from_ref(&key), &token, Some(AUD), NOW).is_ok());
        // An HS256 token keyed with the public JWK text is refused: the key decides the algorithm.
        let forged = tiledesk_token(&stored, json!({}));
        assert!(verify_legacy(&[key], &forged, Some(AUD), NOW).is_err());
        assert!(LegacyKeyMaterial::Rs256PrivatePem("nope".into())
            .stored_form()
            .is_err());
    }
}
