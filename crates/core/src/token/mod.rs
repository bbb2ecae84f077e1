//! Token issue and verification with per-tenant keys (HS256, EdDSA, RS256; see `keys`), and the
//! claims every token carries whatever its dialect (`iat`, `exp`, `jti`, `tid`, and `iss` unless the
//! dialect set its own). The header always names `kid` and `alg`, and a token verifies only under
//! the algorithm of the key its `kid` names. Expiry is checked against the injected clock with no
//! leeway, so it is tested without sleeping.

mod keys;
mod legacy;
mod verified;

pub use keys::{KeyAlg, KeyRing, PublicJwk, SigningKey};
pub use legacy::{names_no_key, verify_legacy, LegacyKey, LegacyKeyMaterial};
pub use verified::VerifiedTokens;

use crate::error::{AuthFailure, CoreError, CoreResult};
use jsonwebtoken::{decode, decode_header, encode, Algorithm, DecodingKey, Header, Validation};
use serde_json::{Map, Value};

pub type Claims = Map<String, Value>;

/// Signs `claims` for `tenant_id` with the key that signs now, adding `iat`, `exp`, `jti` and
/// `tid`. Returns the compact JWT.
pub fn issue(
    tenant_id: &str,
    keys: &KeyRing,
    claims: Claims,
    ttl_secs: i64,
    now_secs: i64,
) -> CoreResult<String> {
    issue_at_ms(tenant_id, keys, claims, ttl_secs, now_secs * 1000, None)
}

/// `issue` at a time in milliseconds, with `exp` no later than `not_after` (Unix seconds) when one
/// is given: a token minted in exchange for another outlives neither that token nor the tenant's
/// lifetime. The `jti` is a UUIDv7 whose timestamp is that time, so a token's issue time is known
/// to the millisecond (`iat` has only seconds): "tokens issued before this moment are ended" then
/// holds for a token issued in the same second, before or after.
pub fn issue_at_ms(
    tenant_id: &str,
    keys: &KeyRing,
    claims: Claims,
    ttl_secs: i64,
    now_ms: i64,
    not_after: Option<i64>,
) -> CoreResult<String> {
    let key = keys.signing_key_at(now_ms).ok_or_else(|| {
        CoreError::Internal(format!("tenant {tenant_id} has no active signing key"))
    })?;
    sign_with(key, tenant_id, claims, ttl_secs, now_ms, not_after)
}

/// Signs with one given key (the forward-auth door signs upstream tokens with the asymmetric one).
pub fn sign_with(
    key: &SigningKey,
    tenant_id: &str,
    mut claims: Claims,
    ttl_secs: i64,
    now_ms: i64,
    not_after: Option<i64>,
) -> CoreResult<String> {
    let now_secs = now_ms.div_euclid(1000);
    claims.insert("iat".into(), now_secs.into());
    let exp = not_after.map_or(now_secs + ttl_secs, |n| n.min(now_secs + ttl_secs));
    claims.insert("exp".into(), exp.into());
    claims.insert("jti".into(), jti_at(now_ms).into());
    claims.insert("tid".into(), tenant_id.into());
    let mut header = Header::new(key.alg.algorithm());
    header.kid = Some(key.kid.clone());
    encode(&header, &claims, key.encoding_key())
        .map_err(|e| CoreError::Internal(format!("signing a token: {e}")))
}

/// A fresh `jti`: a UUIDv7 carrying `now_ms`.
fn jti_at(now_ms: i64) -> String {
    let ms = now_ms.max(0) as u64;
    let ts = uuid::Timestamp::from_unix(uuid::NoContext, ms / 1000, (ms % 1000) as u32 * 1_000_000);
    uuid::Uuid::new_v7(ts).to_string()
}

/// When the token was issued, in ms: from its UUIDv7 `jti`, else (a token from before jtis carried
/// time) the start of its `iat` second, the earlier bound, so that an end mark in that second ends it.
pub fn issued_at_ms(claims: &Claims) -> Option<i64> {
    let from_jti = claims
        .get("jti")
        .and_then(Value::as_str)
        .and_then(|j| uuid::Uuid::parse_str(j).ok())
        .filter(|u| u.get_version_num() == 7)
        .and_then(|u| u.get_timestamp())
        .map(|ts| {
            let (secs, nanos) = ts.to_unix();
            secs as i64 * 1000 + (nanos / 1_000_000) as i64
        });
    from_jti.or_else(|| {
        claims
            .get("iat")
            .and_then(Value::as_f64)
            .map(|iat| iat as i64 * 1000)
    })
}

/// Verifies a token this tenant issued: its key (by `kid`), that key's algorithm only, `exp`
/// present and in the future, `tid` naming this tenant, and `aud` when one is expected.
pub fn verify(
    tenant_id: &str,
    keys: &KeyRing,
    token: &str,
    audience: Option<&str>,
    now_secs: i64,
) -> CoreResult<Claims> {
    let signed = verify_signed(tenant_id, keys, token, audience)?;
    check_times(&signed.claims, true, now_secs)?;
    Ok(signed.claims)
}

/// What `verify` finds that no passing of time changes: the claims, and the key that signed them.
pub(crate) struct Signed {
    pub claims: Claims,
    pub kid: String,
    pub alg: Algorithm,
}

/// The half of `verify` that does not depend on the time: the signature under the key `kid`
/// names (that key's algorithm only), `tid`, and `aud` when one is expected. `check_times` is the
/// other half.
pub(crate) fn verify_signed(
    tenant_id: &str,
    keys: &KeyRing,
    token: &str,
    audience: Option<&str>,
) -> CoreResult<Signed> {
    let header = decode_header(token).map_err(|_| invalid())?;
    let key = keys
        .verifying_key(header.kid.as_deref())
        .ok_or_else(invalid)?;
    // jsonwebtoken checks this too (and that the key's family matches); refusing here as well
    // keeps the rule in plain sight: the key decides the algorithm, never the token.
    if header.alg != key.alg.algorithm() {
        return Err(invalid());
    }
    let claims = verify_signature(key.decoding_key(), key.alg.algorithm(), token, audience)?;
    // A key moved in from another tenant also verifies the tokens it signed there.
    if !key.serves_tid(tenant_id, claims.get("tid").and_then(Value::as_str)) {
        return Err(invalid());
    }
    Ok(Signed {
        claims,
        kid: key.kid.clone(),
        alg: key.alg.algorithm(),
    })
}

/// Verifies an HS256 token against a shared secret. `require_exp`: a token without `exp` is refused.
/// Any algorithm but HS256 (including `none`) is refused.
pub fn verify_hs256(
    secret: &[u8],
    token: &str,
    audience: Option<&str>,
    require_exp: bool,
    now_secs: i64,
) -> CoreResult<Claims> {
    verify_with(
        &DecodingKey::from_secret(secret),
        Algorithm::HS256,
        token,
        audience,
        require_exp,
        now_secs,
    )
}

fn verify_with(
    key: &DecodingKey,
    alg: Algorithm,
    token: &str,
    audience: Option<&str>,
    require_exp: bool,
    now_secs: i64,
) -> CoreResult<Claims> {
    let claims = verify_signature(key, alg, token, audience)?;
    check_times(&claims, require_exp, now_secs)?;
    Ok(claims)
}

/// The signature under `key` (algorithm `alg` only), and `aud` when one is expected.
fn verify_signature(
    key: &DecodingKey,
    alg: Algorithm,
    token: &str,
    audience: Option<&str>,
) -> CoreResult<Claims> {
    let mut validation = Validation::new(alg);
    validation.required_spec_claims.clear();
    // Expiry is checked by `check_times` against the injected clock, with no leeway.
    validation.validate_exp = false;
    validation.leeway = 0;
    match audience {
        Some(aud) => validation.set_audience(&[aud]),
        None => validation.validate_aud = false,
    }
    let data = decode::<Claims>(token, key, &validation).map_err(|_| invalid())?;
    let claims = data.claims;
    if audience.is_some() && !claims.contains_key("aud") {
        return Err(invalid());
    }
    Ok(claims)
}

/// `nbf` not in the future, and `exp` (required when `require_exp`) in the future, at `now_secs`.
pub(crate) fn check_times(claims: &Claims, require_exp: bool, now_secs: i64) -> CoreResult<()> {
    if let Some(nbf) = claims.get("nbf") {
        if nbf.as_f64().ok_or_else(invalid)? > now_secs as f64 {
            return Err(invalid());
        }
    }
    match claims.get("exp") {
        Some(exp) => {
            let exp = exp.as_f64().ok_or_else(invalid)?;
            if exp <= now_secs as f64 {
                return Err(CoreError::Unauthorized(AuthFailure::ExpiredToken));
            }
        }
        None if require_exp => return Err(invalid()),
        None => {}
    }
    Ok(())
}

/// What a tenant asks of the custom tokens its customers sign (settings `CUSTOM_TOKEN_*`).
#[derive(Debug, Clone, Copy)]
pub struct CustomTokenRules {
    pub require_exp: bool,
    pub max_age_secs: i64,
}

/// How far a customer's clock may run ahead of ours in `iat`.
const IAT_SKEW_SECS: f64 = 60.0;

/// Verifies a customer-signed custom token (see `verify_hs256`, which also honours `nbf`), then
/// caps its age: `iat` no older than `max_age_secs` (and not in the future beyond a minute of
/// clock skew); without `iat`, `exp` no further than `max_age_secs` from now, so that no token
/// can be replayed for longer than the cap either way.
pub fn verify_custom(
    secret: &[u8],
    token: &str,
    audience: &str,
    rules: CustomTokenRules,
    now_secs: i64,
) -> CoreResult<Claims> {
    let claims = verify_hs256(secret, token, Some(audience), rules.require_exp, now_secs)?;
    let (now, max_age) = (now_secs as f64, rules.max_age_secs as f64);
    let number = |k: &str| claims.get(k).map(|v| v.as_f64().ok_or_else(invalid));
    match (number("iat").transpose()?, number("exp").transpose()?) {
        (Some(iat), _) if iat > now + IAT_SKEW_SECS => Err(invalid()),
        (Some(iat), _) if now - iat > max_age => {
            Err(CoreError::Unauthorized(AuthFailure::ExpiredToken))
        }
        (None, Some(exp)) if exp - now > max_age => Err(invalid()),
        _ => Ok(claims),
    }
}

/// The `exp` of verified claims as whole seconds, if it has one.
pub fn expiry_of(claims: &Claims) -> Option<i64> {
    claims.get("exp")?.as_f64().map(|e| e.floor() as i64)
}

fn invalid() -> CoreError {
    CoreError::Unauthorized(AuthFailure::InvalidToken)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::EncodingKey;
    use serde_json::json;

    pub(super) const NOW: i64 = 1_800_000_000;

    pub(super) fn claims() -> Claims {
        json!({"id": "u1", "scope": ["user"]})
            .as_object()
            .unwrap()
            .clone()
    }

    #[test]
    fn a_token_carries_the_standard_claims_and_verifies() {
        let keys = KeyRing::new(vec![SigningKey::generate(0)]);
        let t = issue("t1", &keys, claims(), 60, NOW).unwrap();
        let c = verify("t1", &keys, &t, None, NOW).unwrap();
        assert_eq!(c["tid"], "t1");
        assert_eq!(c["iat"], NOW);
        assert_eq!(c["exp"], NOW + 60);
        assert_eq!(c["jti"].as_str().unwrap().len(), 36);
        assert_eq!(issued_at_ms(&c), Some(NOW * 1000));
        assert_eq!(c["id"], "u1");
    }

    #[test]
    fn a_token_issued_until_a_time_expires_by_then() {
        let keys = KeyRing::new(vec![SigningKey::generate(0)]);
        let t = issue_at_ms("t1", &keys, claims(), 600, NOW * 1000, Some(NOW + 120)).unwrap();
        assert_eq!(
            verify("t1", &keys, &t, None, NOW).unwrap()["exp"],
            NOW + 120
        );
        let t = issue_at_ms("t1", &keys, claims(), 60, NOW * 1000, Some(NOW + 120)).unwrap();
        assert_eq!(verify("t1", &keys, &t, None, NOW).unwrap()["exp"], NOW + 60);
    }

    #[test]
    fn custom_tokens_honour_nbf_and_a_maximum_age() {
        let secret = b"s";
        let aud = "https://tiledesk.com/projects/p1";
        let rules = CustomTokenRules {
            require_exp: true,
            max_age_secs: 300,
        };
        let make = |extra: serde_json::Value| {
            let mut c = json!({"_id": "x", "aud": aud, "exp": NOW + 60});
            for (k, v) in extra.as_object().unwrap() {
                c[k] = v.clone();
            }
            encode(
                &Header::new(Algorithm::HS256),
                &c,
                &EncodingKey::from_secret(secret),
            )
            .unwrap()
        };
        let check = |t: &str| verify_custom(secret, t, aud, rules, NOW);
        assert!(check(&make(json!({"iat": NOW - 10}))).is_ok());
        assert!(check(&make(json!({"iat": NOW - 301}))).is_err());
        assert!(check(&make(json!({"iat": NOW + 3600}))).is_err());
        assert!(check(&make(json!({"nbf": NOW + 5}))).is_err());
        assert!(check(&make(json!({"nbf": NOW - 5}))).is_ok());
        assert!(check(&make(json!({"exp": NOW + 301}))).is_err());
        assert!(check(&make(json!({"exp": NOW + 300}))).is_ok());
        assert!(check(&make(json!({"iat": "yesterday"}))).is_err());
    }

    #[test]
    fn the_jti_carries_the_issue_time_to_the_millisecond() {
        let keys = KeyRing::new(vec![SigningKey::generate(0)]);
        let t = issue_at_ms("t1", &keys, claims(), 60, NOW * 1000 + 417, None).unwrap();
        let c = verify("t1", &keys, &t, None, NOW).unwrap();
        assert_eq!(c["iat"], NOW);
        assert_eq!(issued_at_ms(&c), Some(NOW * 1000 + 417));
        // A jti without time: the start of the iat second.
        let mut legacy = c.clone();
        legacy.insert("jti".into(), uuid::Uuid::new_v4().to_string().into());
        assert_eq!(issued_at_ms(&legacy), Some(NOW * 1000));
    }

    #[test]
    fn expiry_is_exact_with_no_leeway() {
        let keys = KeyRing::new(vec![SigningKey::generate(0)]);
        let t = issue("t1", &keys, claims(), 60, NOW).unwrap();
        assert!(verify("t1", &keys, &t, None, NOW + 59).is_ok());
        assert!(matches!(
            verify("t1", &keys, &t, None, NOW + 60),
            Err(CoreError::Unauthorized(AuthFailure::ExpiredToken))
        ));
    }

    #[test]
    fn another_tenants_token_fails_even_with_the_same_key() {
        let key = SigningKey::generate(0);
        let keys = KeyRing::new(vec![key]);
        let t = issue("tenant-a", &keys, claims(), 60, NOW).unwrap();
        assert!(verify("tenant-b", &keys, &t, None, NOW).is_err());
        let other = KeyRing::new(vec![SigningKey::generate(0)]);
        assert!(verify("tenant-a", &other, &t, None, NOW).is_err());
    }

    #[test]
    fn rotation_keeps_old_tokens_valid_until_the_old_key_is_retired() {
        let old = SigningKey::generate(1);
        let mut ring = KeyRing::new(vec![old.clone()]);
        let old_token = issue("t", &ring, claims(), 600, NOW).unwrap();
        let new = SigningKey::generate(2);
        ring = KeyRing::new(vec![old.clone(), new.clone()]);
        assert_eq!(ring.signing_key_at(NOW * 1000).unwrap().kid, new.kid);
        let new_token = issue("t", &ring, claims(), 600, NOW).unwrap();
        assert!(verify("t", &ring, &old_token, None, NOW).is_ok());
        assert!(verify("t", &ring, &new_token, None, NOW).is_ok());
        let mut retired = old;
        retired.retired_at = Some(3);
        ring = KeyRing::new(vec![retired, new]);
        assert!(verify("t", &ring, &old_token, None, NOW).is_err());
        assert!(verify("t", &ring, &new_token, None, NOW).is_ok());
    }

    #[test]
    fn alg_none_and_other_algorithms_are_refused() {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
        use base64::Engine;
        let keys = KeyRing::new(vec![SigningKey::generate(0)]);
        let kid = keys.signing_key().unwrap().kid.clone();
        let body = json!({"id":"u1","tid":"t","exp": NOW + 60});
        for alg in ["none", "HS512", "RS256"] {
            let header = json!({"alg": alg, "typ": "JWT", "kid": kid});
            let token = format!(
                "{}.{}.",
                B64.encode(header.to_string()),
                B64.encode(body.to_string())
            );
            assert!(
                verify("t", &keys, &token, None, NOW).is_err(),
                "{alg} accepted"
            );
        }
    }

    #[test]
    fn custom_secret_tokens_honour_aud_and_require_exp() {
        let secret = b"project-secret";
        let header = Header::new(Algorithm::HS256);
        let with_aud = json!({"_id": "x", "aud": "https://tiledesk.com/projects/p1"});
        let t = encode(&header, &with_aud, &EncodingKey::from_secret(secret)).unwrap();
        let aud = Some("https://tiledesk.com/projects/p1");
        assert!(verify_hs256(secret, &t, aud, false, NOW).is_ok());
        assert!(verify_hs256(secret, &t, aud, true, NOW).is_err());
        assert!(verify_hs256(
            secret,
            &t,
            Some("https://tiledesk.com/projects/p2"),
            false,
            NOW
        )
        .is_err());
        assert!(verify_hs256(b"other", &t, aud, false, NOW).is_err());
        let no_aud = encode(
            &header,
            &json!({"_id": "x"}),
            &EncodingKey::from_secret(secret),
        )
        .unwrap();
        assert!(verify_hs256(secret, &no_aud, aud, false, NOW).is_err());
    }

    #[test]
    fn eddsa_and_rs256_tokens_name_kid_and_alg_and_verify() {
        for alg in [KeyAlg::EdDsa, KeyAlg::Rs256] {
            let keys = KeyRing::new(vec![SigningKey::generate_alg(alg, 0, 0).unwrap()]);
            let t = issue("t1", &keys, claims(), 60, NOW).unwrap();
            let header = decode_header(&t).unwrap();
            assert_eq!(header.alg, alg.algorithm());
            assert_eq!(header.kid.as_deref(), Some(keys.all()[0].kid.as_str()));
            assert_eq!(verify("t1", &keys, &t, None, NOW).unwrap()["id"], "u1");
        }
    }

    #[test]
    fn an_hs256_token_keyed_with_the_public_key_is_refused() {
        let key = SigningKey::generate_alg(KeyAlg::EdDsa, 0, 0).unwrap();
        let Some(PublicJwk::Okp { x, .. }) = key.public.clone() else {
            panic!("an Ed25519 key has an OKP public part")
        };
        let keys = KeyRing::new(vec![key.clone()]);
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(key.kid.clone());
        let body = json!({"id": "u1", "tid": "t", "exp": NOW + 60});
        for secret in [x.as_bytes().to_vec(), key.secret.expose().clone()] {
            let forged = encode(&header, &body, &EncodingKey::from_secret(&secret)).unwrap();
            assert!(verify("t", &keys, &forged, None, NOW).is_err());
        }
    }
}
