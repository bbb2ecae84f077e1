//! The dialect-neutral facade end to end: EdDSA and RS256 tenants' JWKS and discovery, tokens
//! verified offline by another ecosystem's JWT library (Node's `jose`), key rotation with a lead
//! and retirement, the attacks a JWKS invites, and the forward-auth door (directly and behind a
//! real nginx).
//!
//! Reference behaviour followed: RFC 7517 section 4 (a JWK names `kty`, and `use` "sig" for
//! signing keys; `kid` to choose among keys), RFC 8037 section 2 (`"kty":"OKP","crv":"Ed25519","x"`),
//! RFC 7518 section 6.3.1 (`"kty":"RSA"` with `n` and `e`), RFC 6750 section 3 ("If the protected
//! resource request does not include authentication credentials [...] the resource server SHOULD
//! NOT include an error code"), and nginx's ngx_http_auth_request_module: "If the subrequest
//! returns a 2xx response code, the access is allowed. If it returns 401 or 403, the access is
//! denied with the corresponding error code."

use crate::helpers::*;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use gatehouse_core::tenants::TenantSpec;
use gatehouse_core::token::KeyAlg;
use gatehouse_core::{Api, TenantSlug};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use std::collections::HashMap;

pub(crate) const ED: &str = "ed.test";
pub(crate) const RS: &str = "rs.test";

pub(crate) async fn asymmetric_tenant(app: &TestApp, slug: &str, host: &str, alg: KeyAlg) {
    let mut spec = TenantSpec::new(TenantSlug::parse(slug).unwrap());
    spec.hosts = vec![host.to_owned()];
    spec.apis = Api::ALL.to_vec();
    spec.alg = alg;
    spec.settings.insert("BCRYPT_COST".into(), "4".into());
    app.core.create_tenant(spec).await.expect("tenant created");
}

/// An Appmixer user's token (through `POST /user`).
pub(crate) async fn appmixer_token(app: &TestApp, host: &str, email: &str) -> String {
    let r = app
        .post(
            host,
            "/user",
            &json!({"username": email, "email": email, "password": "long-enough-pw"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["token"].as_str().unwrap().to_owned()
}

/// A Tiledesk agent's token, `JWT ` prefix included.
pub(crate) async fn tiledesk_token(app: &TestApp, host: &str, email: &str) -> String {
    let body = json!({"email": email, "password": "correct-horse-battery",
                      "firstname": "Ann", "lastname": "Lee"});
    let r = app.post(host, "/v1/auth/signup", &body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    app.token_of(host, "/v1/auth/signin", &body).await
}

pub(crate) struct Answer {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: String,
}

pub(crate) async fn get_full(app: &TestApp, host: &str, path: &str, auth: Option<&str>) -> Answer {
    let mut rb = app.request(reqwest::Method::GET, host, path);
    if let Some(a) = auth {
        rb = rb.header(reqwest::header::AUTHORIZATION, a);
    }
    let res = rb.send().await.expect("request sent");
    let status = res.status().as_u16();
    let headers = res
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let body = res.text().await.unwrap();
    Answer {
        status,
        headers,
        body,
    }
}

pub(crate) async fn jwks(app: &TestApp, host: &str) -> Value {
    let r = app.get(host, "/.well-known/jwks.json", None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

pub(crate) fn kids(set: &Value) -> Vec<String> {
    set["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

pub(crate) fn header_of(token: &str) -> jsonwebtoken::Header {
    jsonwebtoken::decode_header(token.trim_start_matches("JWT ")).unwrap()
}

/// Runs tests/jose/verify.js over `checks`; `None` (after a note) where node is not installed.
pub(crate) async fn jose(checks: Value) -> Option<Vec<Value>> {
    use std::process::Command;
    if Command::new("node").arg("--version").output().is_err() {
        eprintln!("skipped the jose part: node is not on PATH");
        return None;
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/jose");
    let out = tokio::task::spawn_blocking(move || {
        // The SQLite and PostgreSQL variants run at once: one `npm ci` at a time, or the second
        // deletes the node_modules the first is filling.
        static NPM_CI: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _one_at_a_time = NPM_CI.lock().unwrap_or_else(|p| p.into_inner());
        if !dir.join("node_modules/jose").exists() {
            let out = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&dir)
                .output()
                .expect("npm runs");
            assert!(
                out.status.success(),
                "npm ci failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Command::new("node")
            .arg("verify.js")
            .current_dir(&dir)
            .env("CHECKS", checks.to_string())
            .output()
            .expect("node runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "verify.js failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(
        stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
    )
}

pub(crate) fn check(app: &TestApp, host: &str, token: &str) -> Value {
    json!({"jwks_url": app.url("/.well-known/jwks.json"), "host": host,
           "token": token.trim_start_matches("JWT "), "issuer": format!("https://{host}")})
}

// ---- JWKS and discovery ----

async fn jwks_publishes_eddsa_and_rs256_public_keys_and_never_an_hs256_secret(app: TestApp) {
    asymmetric_tenant(&app, "ed", ED, KeyAlg::EdDsa).await;
    asymmetric_tenant(&app, "rs", RS, KeyAlg::Rs256).await;
    let r = get_full(&app, ED, "/.well-known/jwks.json", None).await;
    assert_eq!(r.status, 200);
    // The test config refreshes tenants every second: no cache may hold a key set longer.
    assert_eq!(r.headers["cache-control"], "public, max-age=1");
    let set: Value = serde_json::from_str(&r.body).unwrap();
    let key = &set["keys"][0];
    assert_eq!(set["keys"].as_array().unwrap().len(), 1);
    assert_eq!(
        (&key["kty"], &key["crv"], &key["alg"], &key["use"]),
        (
            &json!("OKP"),
            &json!("Ed25519"),
            &json!("EdDSA"),
            &json!("sig")
        )
    );
    assert_eq!(B64.decode(key["x"].as_str().unwrap()).unwrap().len(), 32);
    assert!(key.get("d").is_none(), "no private part");

    let set = jwks(&app, RS).await;
    let key = &set["keys"][0];
    assert_eq!(
        (&key["kty"], &key["alg"], &key["use"], &key["e"]),
        (
            &json!("RSA"),
            &json!("RS256"),
            &json!("sig"),
            &json!("AQAB")
        )
    );
    assert_eq!(B64.decode(key["n"].as_str().unwrap()).unwrap().len(), 256);
    for private in ["d", "p", "q", "dp", "dq", "qi"] {
        assert!(key.get(private).is_none(), "{private} published");
    }
    // An HS256 tenant publishes nothing.
    assert_eq!(jwks(&app, DEMO).await, json!({"keys": []}));
}

async fn discovery_names_the_issuer_the_jwks_uri_and_the_algorithms_in_use(app: TestApp) {
    asymmetric_tenant(&app, "ed", ED, KeyAlg::EdDsa).await;
    let r = app.get(ED, "/.well-known/openid-configuration", None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"issuer": "https://ed.test", "jwks_uri": "https://ed.test/.well-known/jwks.json",
               "introspection_endpoint": "https://ed.test/oauth/introspect",
               "id_token_signing_alg_values_supported": ["EdDSA"]})
    );
    app.set("ed", "ISSUER", "https://id.ed.example/").await;
    let doc = app
        .get(ED, "/.well-known/openid-configuration", None)
        .await
        .json();
    assert_eq!(doc["issuer"], "https://id.ed.example");
    assert_eq!(
        doc["jwks_uri"],
        "https://id.ed.example/.well-known/jwks.json"
    );
    // Tokens carry it.
    let token = appmixer_token(&app, ED, "iss@ed.test").await;
    let claims = app
        .core
        .verify_token(&*app.tenant("ed").await, &token, None)
        .unwrap();
    assert_eq!(claims["iss"], "https://id.ed.example");
}

/// Tiledesk clients read `iss` (TILEDESK_ISSUER) and `aud` from their tokens, so the Tiledesk
/// dialect keeps them; only the other dialect's tokens carry the tenant's ISSUER.
async fn tiledesk_tokens_keep_their_issuer_and_appmixer_tokens_carry_the_tenants(app: TestApp) {
    asymmetric_tenant(&app, "ed", ED, KeyAlg::EdDsa).await;
    let t = app.tenant("ed").await;
    let td = tiledesk_token(&app, ED, "td@ed.test").await;
    let am = appmixer_token(&app, ED, "am@ed.test").await;
    let td = app
        .core
        .verify_token(&t, td.trim_start_matches("JWT "), None)
        .unwrap();
    let am = app.core.verify_token(&t, &am, None).unwrap();
    assert_eq!(td["iss"], "https://tiledesk.com");
    assert_eq!(am["iss"], "https://ed.test");
}

// ---- offline verification with jose, rotation and retirement ----

async fn jose_verifies_eddsa_and_rs256_tokens_offline_and_a_retired_kid_is_gone(app: TestApp) {
    asymmetric_tenant(&app, "ed", ED, KeyAlg::EdDsa).await;
    asymmetric_tenant(&app, "rs", RS, KeyAlg::Rs256).await;
    let ed_token = appmixer_token(&app, ED, "a@ed.test").await;
    let rs_token = appmixer_token(&app, RS, "a@rs.test").await;
    assert_eq!(header_of(&ed_token).alg, Algorithm::EdDSA);
    assert_eq!(header_of(&rs_token).alg, Algorithm::RS256);

    let Some(results) = jose(json!([
        check(&app, ED, &ed_token),
        check(&app, RS, &rs_token),
        // Each tenant's key set verifies only its own tokens.
        check(&app, RS, &ed_token),
    ]))
    .await
    else {
        return;
    };
    assert_eq!(results[0]["ok"], true, "{results:?}");
    assert_eq!(results[0]["alg"], "EdDSA");
    assert_eq!(results[1]["ok"], true, "{results:?}");
    assert_eq!(results[1]["alg"], "RS256");
    assert_eq!(results[2]["ok"], false, "{results:?}");

    // Rotate (signing at once), then retire the old key.
    let old_kid = header_of(&ed_token).kid.unwrap();
    let o = app.cli(&[
        "tenant",
        "rotate-key",
        "ed",
        "--alg",
        "EdDSA",
        "--lead",
        "0",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = app.cli(&["tenant", "retire-key", "ed", &old_kid]);
    assert!(o.status.success(), "{}", stderr(&o));
    app.tenant("ed").await; // this node reloads now (others within refresh_seconds)
    let published = kids(&jwks(&app, ED).await);
    assert_eq!(published.len(), 1);
    assert!(!published.contains(&old_kid));
    let new_token = appmixer_token(&app, ED, "b@ed.test").await;
    assert_ne!(header_of(&new_token).kid.unwrap(), old_kid);

    let results = jose(json!([
        check(&app, ED, &ed_token),
        check(&app, ED, &new_token)
    ]))
    .await
    .unwrap();
    assert_eq!(results[0]["ok"], false, "{results:?}");
    assert_eq!(results[0]["code"], "ERR_JWKS_NO_MATCHING_KEY");
    assert_eq!(results[1]["ok"], true, "{results:?}");
    // Gatehouse refuses the retired key's token too, in each door.
    let bearer = format!("Bearer {ed_token}");
    assert_eq!(app.get(ED, "/user", Some(&bearer)).await.status, 401);
    assert_eq!(app.get(ED, "/auth/verify", Some(&bearer)).await.status, 401);
}

async fn a_rotated_in_key_is_published_for_its_lead_before_it_signs(app: TestApp) {
    asymmetric_tenant(&app, "rs", RS, KeyAlg::Rs256).await;
    let before = appmixer_token(&app, RS, "a@rs.test").await;
    let old_kid = header_of(&before).kid.unwrap();
    // The default lead for an asymmetric key: published now, signing later.
    let o = app.cli(&["tenant", "rotate-key", "rs", "--alg", "EdDSA"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("signing in 2 s"), "{}", stdout(&o));
    app.tenant("rs").await;
    let published = kids(&jwks(&app, RS).await);
    assert_eq!(published.len(), 2, "{published:?}");
    assert!(published.contains(&old_kid));
    let during = appmixer_token(&app, RS, "b@rs.test").await;
    assert_eq!(
        header_of(&during).kid.unwrap(),
        old_kid,
        "the old key signs during the lead"
    );
    // Once the lead is over the new key signs, and the old one stays published (its tokens live on).
    assert!(
        eventually(10, || async {
            let t = appmixer_token(&app, RS, &format!("{}@rs.test", uuid::Uuid::new_v4())).await;
            header_of(&t).alg == Algorithm::EdDSA
        })
        .await
    );
    assert!(kids(&jwks(&app, RS).await).contains(&old_kid));
    let bearer = format!("Bearer {before}");
    assert_eq!(app.get(RS, "/user", Some(&bearer)).await.status, 200);
}

async fn tenant_create_takes_the_first_keys_algorithm(app: TestApp) {
    let o = app.cli(&[
        "tenant",
        "create",
        "cli-ed",
        "--host",
        "cli-ed.test",
        "--alg",
        "eddsa",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    app.tenant("cli-ed").await;
    let set = jwks(&app, "cli-ed.test").await;
    assert_eq!(set["keys"][0]["alg"], "EdDSA");
    let o = app.cli(&["tenant", "create", "cli-x", "--alg", "ES256"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("HS256, EdDSA or RS256"),
        "{}",
        stderr(&o)
    );
}

// ---- attacks ----

fn forge(header: &Value, payload: &Value, signature: &str) -> String {
    format!(
        "{}.{}.{signature}",
        B64.encode(header.to_string()),
        B64.encode(payload.to_string())
    )
}

/// Asserts a token is refused by both dialects' doors and the forward-auth door.
async fn refused_everywhere(app: &TestApp, host: &str, token: &str) {
    let bearer = format!("Bearer {token}");
    let jwt = format!("JWT {token}");
    assert_eq!(app.get(host, "/user", Some(&bearer)).await.status, 401);
    assert_eq!(app.get(host, "/v1/users", Some(&jwt)).await.status, 401);
    assert_eq!(
        app.get(host, "/auth/verify", Some(&bearer)).await.status,
        401
    );
}

/// The claims of a real user's Appmixer token on `host`, to forge from.
async fn real_claims(app: &TestApp, host: &str, slug: &str) -> (String, Value) {
    let token = appmixer_token(app, host, &format!("victim@{host}")).await;
    let claims = app
        .core
        .verify_token(&*app.tenant(slug).await, &token, None)
        .unwrap();
    (
        token,
        Value::Object(std::sync::Arc::unwrap_or_clone(claims)),
    )
}

async fn an_hs256_token_keyed_with_an_eddsa_tenants_public_key_is_refused(app: TestApp) {
    asymmetric_tenant(&app, "ed", ED, KeyAlg::EdDsa).await;
    let (token, claims) = real_claims(&app, ED, "ed").await;
    let set = jwks(&app, ED).await;
    let key = &set["keys"][0];
    let mut header = Header::new(Algorithm::HS256);
    header.kid = key["kid"].as_str().map(str::to_owned);
    // Every form of the public key an attacker might try as the HMAC secret.
    let x = key["x"].as_str().unwrap();
    for secret in [
        x.as_bytes().to_vec(),
        B64.decode(x).unwrap(),
        key.to_string().into_bytes(),
    ] {
        let forged =
            jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&secret)).unwrap();
        refused_everywhere(&app, ED, &forged).await;
    }
    let ok = format!("Bearer {token}");
    assert_eq!(app.get(ED, "/user", Some(&ok)).await.status, 200);
}

async fn an_alg_none_token_is_refused(app: TestApp) {
    asymmetric_tenant(&app, "ed", ED, KeyAlg::EdDsa).await;
    let (token, claims) = real_claims(&app, ED, "ed").await;
    let kid = header_of(&token).kid.unwrap();
    for alg in ["none", "None", "NONE"] {
        let forged = forge(&json!({"alg": alg, "typ": "JWT", "kid": kid}), &claims, "");
        refused_everywhere(&app, ED, &forged).await;
    }
}

async fn a_kid_of_another_tenant_is_refused(app: TestApp) {
    asymmetric_tenant(&app, "ed", ED, KeyAlg::EdDsa).await;
    asymmetric_tenant(&app, "rs", RS, KeyAlg::EdDsa).await;
    // A genuine token of tenant rs, and one re-signed with rs's key but claiming ed's user.
    let (_, ed_claims) = real_claims(&app, ED, "ed").await;
    let rs_token = appmixer_token(&app, RS, "someone@rs.test").await;
    refused_everywhere(&app, ED, &rs_token).await;
    let rs = app.tenant("rs").await;
    let key = rs.keys.signing_key().unwrap();
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(key.kid.clone());
    let forged = jsonwebtoken::encode(
        &header,
        &ed_claims,
        &EncodingKey::from_ed_pem(key.secret.expose()).unwrap(),
    )
    .unwrap();
    refused_everywhere(&app, ED, &forged).await;
}

async fn a_kid_that_names_no_key_is_refused(app: TestApp) {
    asymmetric_tenant(&app, "ed", ED, KeyAlg::EdDsa).await;
    let (token, _) = real_claims(&app, ED, "ed").await;
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    for kid in [json!("0000000000000000"), json!(""), json!(null), json!(7)] {
        let mut header: Value = serde_json::from_slice(&B64.decode(&parts[0]).unwrap()).unwrap();
        header["kid"] = kid;
        parts[0] = B64.encode(header.to_string());
        refused_everywhere(&app, ED, &parts.join(".")).await;
    }
}

async fn a_tampered_payload_is_refused(app: TestApp) {
    asymmetric_tenant(&app, "ed", ED, KeyAlg::EdDsa).await;
    asymmetric_tenant(&app, "rs", RS, KeyAlg::Rs256).await;
    for (host, slug) in [(ED, "ed"), (RS, "rs")] {
        let (token, mut claims) = real_claims(&app, host, slug).await;
        let _ = appmixer_token(&app, host, &format!("admin-to-be@{host}")).await;
        claims["scope"] = json!(["user", "admin"]);
        let parts: Vec<&str> = token.split('.').collect();
        let tampered = format!(
            "{}.{}.{}",
            parts[0],
            B64.encode(claims.to_string()),
            parts[2]
        );
        refused_everywhere(&app, host, &tampered).await;
    }
}

on_both!(
    jwks_publishes_eddsa_and_rs256_public_keys_and_never_an_hs256_secret,
    discovery_names_the_issuer_the_jwks_uri_and_the_algorithms_in_use,
    tiledesk_tokens_keep_their_issuer_and_appmixer_tokens_carry_the_tenants,
    jose_verifies_eddsa_and_rs256_tokens_offline_and_a_retired_kid_is_gone,
    a_rotated_in_key_is_published_for_its_lead_before_it_signs,
    tenant_create_takes_the_first_keys_algorithm,
    an_hs256_token_keyed_with_an_eddsa_tenants_public_key_is_refused,
    an_alg_none_token_is_refused,
    a_kid_of_another_tenant_is_refused,
    a_kid_that_names_no_key_is_refused,
    a_tampered_payload_is_refused,
);
