//! What each fuzz target checks, over the crates' own pure entry points (nothing here re-implements
//! a parser): JSON bodies as each dialect's routes read them, token verification with a tenant's
//! keys, Host -> tenant resolution, and export files as `gatehouse import tiledesk|appmixer` reads
//! them. A panic, or an assertion below failing, is a crash that
//! libFuzzer saves under `fuzz/artifacts/<target>/`.

use actix_web::dev::RequestHead;
use actix_web::http::header::{HeaderName, HeaderValue};
use gatehouse::forwarded::{host_of, Trust};
use gatehouse_core::ids::is_object_id;
use gatehouse_core::migrate::reader::RecordReader;
use gatehouse_core::migrate::{self, Format, Record};
use gatehouse_core::tenants::{normalize_host, HostPattern, TenantDirectory};
use gatehouse_core::token::{self, CustomTokenRules, KeyAlg, KeyRing, SigningKey};
use gatehouse_core::{Api, Email, Settings, Tenant, TenantSlug, Username};
use serde_json::{json, Map, Value};
use std::sync::OnceLock;

/// Content types a client may send, chosen by the input's first byte; the last takes the rest of
/// the input up to a NUL as the header itself.
const CONTENT_TYPES: [Option<&str>; 8] = [
    None,
    Some("application/json"),
    Some("application/json; charset=utf-8"),
    Some("application/x-www-form-urlencoded"),
    Some("application/vnd.api+json"),
    Some("text/plain"),
    Some("application/json; charset=utf-16"),
    Some("multipart/form-data; boundary=x"),
];

/// Splits an input into a `Content-Type` (or none) and a body.
fn content_type_and_body(data: &[u8]) -> (Option<HeaderValue>, &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return (None, data);
    };
    let i = first as usize % (CONTENT_TYPES.len() + 1);
    match CONTENT_TYPES.get(i) {
        Some(ct) => (ct.map(HeaderValue::from_static), rest),
        None => {
            let (raw, body) = match rest.iter().position(|&b| b == 0) {
                Some(at) => (&rest[..at], &rest[at + 1..]),
                None => (rest, &[][..]),
            };
            (HeaderValue::from_bytes(raw).ok(), body)
        }
    }
}

/// A body parsed as the routes parse it is an object whose keys are each given once; a refusal
/// is a 4xx, never a 5xx.
pub fn tiledesk_body(data: &[u8]) {
    let (ct, body) = content_type_and_body(data);
    check_body(gatehouse_tiledesk::parse_body(ct.as_ref(), body));
}

/// As `tiledesk_body`, for the Appmixer dialect.
pub fn appmixer_body(data: &[u8]) {
    let (ct, body) = content_type_and_body(data);
    check_body(gatehouse_appmixer::parse_body(ct.as_ref(), body));
}

fn check_body<E: actix_web::ResponseError>(parsed: Result<Map<String, Value>, E>) {
    match parsed {
        Ok(map) => check_fields(&map),
        Err(e) => {
            let status = e.status_code();
            assert!(status.is_client_error(), "{status} for a body");
        }
    }
}

/// Whatever came in, what the routes read back out re-serialises (no lone surrogate, no NaN).
fn check_fields(map: &Map<String, Value>) {
    let text = serde_json::to_string(map).expect("a parsed body serialises");
    let back: Value = serde_json::from_str(&text).expect("and parses again");
    assert_eq!(back.as_object().map(Map::len), Some(map.len()));
}

const NOW: i64 = 1_800_000_000;

struct Keys {
    home: KeyRing,
    other: KeyRing,
    /// Tokens `home` issued, each of which verifies at home and nowhere else.
    issued: Vec<String>,
    custom_secret: Vec<u8>,
    custom: String,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let ms = NOW * 1000 - 60_000;
        let ring = |algs: &[KeyAlg]| {
            KeyRing::new(
                algs.iter()
                    .map(|a| SigningKey::generate_alg(*a, ms, ms).expect("a key"))
                    .collect(),
            )
        };
        let home = ring(&[KeyAlg::Hs256, KeyAlg::EdDsa]);
        let other = ring(&[KeyAlg::Hs256, KeyAlg::EdDsa]);
        let mut issued = Vec::new();
        for key in home.all() {
            let claims = json!({"sub": "user", "_id": "u1", "email": "a@b.c"});
            let Value::Object(claims) = claims else {
                unreachable!()
            };
            issued
                .push(token::sign_with(key, "home", claims, 600, NOW * 1000, None).expect("signs"));
        }
        let custom_secret = b"a project secret".to_vec();
        let custom = jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &json!({"_id": "ext", "aud": "https://tiledesk.com/projects/p1", "exp": NOW + 60}),
            &jsonwebtoken::EncodingKey::from_secret(&custom_secret),
        )
        .expect("signs");
        Keys {
            home,
            other,
            issued,
            custom_secret,
            custom,
        }
    })
}

/// A token verifies only if it is, byte for byte, one that was issued, and only in the tenant
/// that issued it. Inputs are raw strings, or an issued token with bytes flipped (the first byte
/// chooses which).
pub fn token_verify(data: &[u8]) {
    let k = keys();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let candidate = match mode % 4 {
        0 => String::from_utf8_lossy(rest).into_owned(),
        m => {
            let base = match m {
                1 | 2 => &k.issued[(m - 1) as usize],
                _ => &k.custom,
            };
            let mut bytes = base.clone().into_bytes();
            for pair in rest.chunks(2) {
                let at = *pair.first().unwrap_or(&0) as usize;
                let with = *pair.get(1).unwrap_or(&0);
                let len = bytes.len();
                if let Some(b) = bytes.get_mut(at % len.max(1)) {
                    *b = with;
                }
            }
            String::from_utf8_lossy(&bytes).into_owned()
        }
    };
    let at_home = token::verify("home", &k.home, &candidate, None, NOW);
    // The cache of verified tokens answers as verification does, the first time (a miss) and
    // the second (a hit when it verified), and never for the other tenant.
    static CACHE: std::sync::OnceLock<token::VerifiedTokens> = std::sync::OnceLock::new();
    let cache = CACHE.get_or_init(token::VerifiedTokens::default);
    for _ in 0..2 {
        let cached = cache.verify("home", &k.home, &candidate, None, NOW);
        assert_eq!(
            cached.as_deref().ok(),
            at_home.as_ref().ok(),
            "the cache and verification disagree on {candidate:?}"
        );
        assert!(cache.verify("other", &k.other, &candidate, None, NOW).is_err());
    }
    if at_home.is_ok() {
        assert!(
            k.issued.contains(&candidate),
            "a token nobody issued verified: {candidate:?}"
        );
    }
    assert!(
        token::verify("other", &k.other, &candidate, None, NOW).is_err(),
        "another tenant's keys took {candidate:?}"
    );
    let rules = CustomTokenRules {
        require_exp: true,
        max_age_secs: 600,
    };
    let aud = "https://tiledesk.com/projects/p1";
    if token::verify_custom(&k.custom_secret, &candidate, aud, rules, NOW).is_ok() {
        assert_eq!(candidate, k.custom, "a custom token nobody signed verified");
    }
    assert!(token::verify_custom(b"another secret", &candidate, aud, rules, NOW).is_err());
}

fn tenant(slug: &str, hosts: &[&str]) -> Tenant {
    Tenant {
        id: format!("id-{slug}"),
        slug: TenantSlug::parse(slug).expect("a slug"),
        name: slug.to_owned(),
        hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
        apis: vec![Api::Tiledesk, Api::Appmixer],
        settings: Settings::default(),
        stored_settings: Default::default(),
        keys: KeyRing::new(vec![SigningKey::generate(0)]),
    }
}

fn directory() -> &'static TenantDirectory {
    static DIR: OnceLock<TenantDirectory> = OnceLock::new();
    DIR.get_or_init(|| {
        let pattern = HostPattern::parse("api.{tenant}.localhost").expect("a pattern");
        let dir = TenantDirectory::new(vec![pattern]);
        dir.replace(vec![
            tenant("demo", &["localhost", "127.0.0.1"]),
            tenant("acme", &[]),
            tenant("globex", &["globex.test"]),
        ]);
        dir
    })
}

/// Headers from the input: `Host`, `X-Forwarded-Host`, `X-Forwarded-For` and `Forwarded`,
/// separated by NUL bytes; the first byte chooses what is trusted. The tenant a request resolves
/// to is one whose host it names exactly (port, case and a trailing dot aside), or one with no
/// host of its own named through the pattern; never another.
pub fn host_resolution(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let trust = Trust {
        forwarded_host: mode & 1 == 1,
        forwarded_for: mode & 2 == 2,
        hops: 1 + (mode >> 2) as usize % 3,
    };
    let mut head = RequestHead::default();
    let names = ["host", "x-forwarded-host", "x-forwarded-for", "forwarded"];
    for (name, value) in names.iter().zip(rest.split(|&b| b == 0)) {
        if let Ok(v) = HeaderValue::from_bytes(value) {
            head.headers.append(HeaderName::from_static(*name), v);
        }
    }
    let host = host_of(&head, trust);
    let _ = gatehouse::forwarded::client_ip_of(&head, trust);
    let Some(t) = directory().resolve(&host) else {
        return;
    };
    let named = normalize_host(&host);
    let by_pattern = format!("api.{}.localhost", t.slug.as_str());
    assert!(
        t.hosts.contains(&named) || (t.hosts.is_empty() && named == by_pattern),
        "{host:?} resolved to tenant {}",
        t.slug.as_str()
    );
}

/// A tiledesk-server export file (JSON lines or one `--jsonArray`), each record read as a user, a
/// project and a membership, as `gatehouse import tiledesk` reads its three collections.
pub fn tiledesk_import(data: &[u8]) {
    import(
        data,
        &[
            Format::TiledeskUsers,
            Format::TiledeskProjects,
            Format::TiledeskMembers,
        ],
    );
}

/// As `tiledesk_import`, for Appmixer's user records.
pub fn appmixer_import(data: &[u8]) {
    import(data, &[Format::AppmixerUsers]);
}

/// The file split by the importer's bounded reader (a small buffer and limit, so records cross
/// buffer boundaries and the too-long path is reached), then each record through the importer's
/// own per-record parser: a record that passes the shared checks, or a short reason; never a panic.
fn import(data: &[u8], formats: &[Format]) {
    let mut reader = RecordReader::with_limit(std::io::BufReader::with_capacity(64, data), 1024);
    let lines = 1 + data.iter().filter(|&&b| b == b'\n').count() as u64;
    let mut last = 1;
    while let Some(raw) = reader.next_record().expect("reading memory cannot fail") {
        assert!(
            (last..=lines).contains(&raw.line),
            "record on line {} after line {last}, in {lines} lines",
            raw.line
        );
        last = raw.line;
        let Some(bytes) = raw.bytes else { continue };
        for &format in formats {
            match migrate::parse_record(format, &bytes) {
                Ok(record) => check_record(&record),
                Err(reason) => assert!(
                    !reason.is_empty() && reason.len() <= 512,
                    "a refusal must say why, briefly: {reason:?}"
                ),
            }
        }
    }
    assert!(reader.position() <= data.len() as u64);
}

/// What an accepted record promises the bulk writer and, later, sign-in.
fn check_record(record: &Record) {
    let json = |text: &str| {
        serde_json::from_str::<Value>(text)
            .unwrap_or_else(|e| panic!("stored JSON {text:?} does not parse: {e}"))
    };
    match record {
        Record::User(u) => {
            assert!(is_object_id(&u.id), "user id {:?}", u.id);
            let hash = u
                .password_hash
                .as_deref()
                .expect("an imported user has a hash");
            assert!(migrate::known_hash(hash), "hash {hash:?}");
            assert!(u.email.is_some() || u.username.is_some());
            // Sign-in parses what the user types the same way: what is stored must be that form.
            if let Some(email) = &u.email {
                let again = Email::parse(email).map(|e| e.as_str().to_owned());
                assert_eq!(again.ok().as_ref(), Some(email), "email {email:?}");
            }
            if let Some(name) = &u.username {
                let key = Username::parse(name).map(|n| n.key());
                assert_eq!(key.ok(), u.username_key, "username {name:?}");
            }
            assert!(json(&u.metadata).is_object() && json(&u.profile).is_object());
            if let Some(vendor) = &u.vendor {
                let v = json(vendor);
                assert!(v.is_string() || v.is_array(), "vendor {vendor}");
            }
            assert!(!u.scopes.is_empty());
        }
        Record::Project(p) => {
            assert!(is_object_id(&p.id), "project id {:?}", p.id);
            assert!(!p.name.trim().is_empty() && !p.jwt_secret.is_empty());
        }
        Record::Member(m) => {
            assert!(is_object_id(&m.id) && is_object_id(&m.project_id));
            assert!(
                m.user_id.is_none()
                    || m.member_key == format!("user:{}", m.user_id.as_deref().unwrap_or_default())
            );
            let profile = json(&m.profile);
            assert!(profile.is_object() || profile.is_null());
        }
        Record::Setting { .. }
        | Record::Header
        | Record::KeySeal(_)
        | Record::Key(_)
        | Record::OpenedKey(_) => {
            panic!("a dialect import made a Gatehouse record")
        }
    }
}
