//! Properties over the whole gateway (issue 14, item 1), driven in-process: the real `App` (both
//! facades, the forward-auth door, every middleware) over one SQLite database per property, called
//! through `actix_web::test` without a socket, so each case costs a request and not a server.
//!
//! For any route the gateway documents, any method, any Host, any Content-Type, any
//! Authorization (arbitrary bytes, a known scheme before arbitrary text, or a real token with
//! bytes changed) and any body (arbitrary bytes, or the route's own fields holding arbitrary JSON
//! values): never a panic, never a 5xx, and never a token, meaning no string anywhere in the
//! answer (body or headers) verifies as a token of any tenant. The tenants close every way of
//! creating an account, so a token in an answer could only come from a credential check that
//! failed open.
//!
//! Case counts are bounded (PROPTEST_CASES overrides them) so the file runs in a few seconds.

use actix_web::dev::ServiceResponse;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::test::{self, TestRequest};
use actix_web::HttpMessage;
use gatehouse::app::{app, prepare_core, AppParts};
use gatehouse::Config;
use gatehouse_core::{Core, SystemClock};
use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestCaseError, TestRunner};
use serde_json::{Map, Value};
use std::sync::Arc;

const SETTINGS: &str = r#"{ BCRYPT_COST = "4", API_USER_CREATE_SCOPE = "admin", SIGNUP_CLOSED_COVERS = "signup,custom_token,anonymous", SIGNIN_TARPIT_MAX_MS = "0", SIGNIN_MAX_FAILURES = "1000000", SIGNIN_FAILURES_PER_IP_PER_MINUTE = "0" }"#;

fn config(dir: &tempfile::TempDir) -> Config {
    let path = dir.path().join("gatehouse.toml");
    let toml = format!(
        r#"
[server]
bind = "127.0.0.1:0"
metrics_bind = ""
[database]
url = "sqlite://{db}"
pool_size = 2
[hashing]
threads = 1
[tenants]
patterns = ["api.{{tenant}}.localhost"]
[[tenants.bootstrap]]
slug = "demo"
hosts = ["localhost", "127.0.0.1"]
apis = ["tiledesk", "appmixer"]
settings = {SETTINGS}
[[tenants.bootstrap]]
slug = "acme"
apis = ["tiledesk", "appmixer"]
settings = {SETTINGS}
"#,
        db = dir.path().join("gatehouse.db").display()
    );
    std::fs::write(&path, toml).expect("write config");
    Config::load(Some(&path)).expect("config loads")
}

/// One documented operation: method, path template, and the names of its body's fields.
#[derive(Debug, Clone)]
struct Route {
    method: String,
    path: String,
    fields: Vec<String>,
}

fn documented(doc: &Value) -> Vec<Route> {
    let mut all = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            if method == "parameters" {
                continue;
            }
            let fields = op["requestBody"]["content"]["application/json"]["schema"]["properties"]
                .as_object()
                .map(|p| p.keys().cloned().collect())
                .unwrap_or_default();
            all.push(Route {
                method: method.to_ascii_uppercase(),
                path: path.clone(),
                fields,
            });
        }
    }
    all
}

/// Any JSON value, a few levels deep, with strings that hold anything (NUL, surrogates' neighbours,
/// right-to-left marks) and numbers at their edges.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,40}".prop_map(Value::String),
        Just(Value::String("alice@example.com".into())),
        Just(Value::String(String::new())),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(".{0,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

#[derive(Debug, Clone)]
enum Body {
    None,
    Bytes(Vec<u8>),
    /// The route's fields (a random subset of them) set to arbitrary values.
    Fields(Vec<Option<Value>>),
    Json(Value),
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        Just(Body::None),
        prop::collection::vec(any::<u8>(), 0..200).prop_map(Body::Bytes),
        prop::collection::vec(prop::option::of(json_value()), 0..8).prop_map(Body::Fields),
        json_value().prop_map(Body::Json),
    ]
}

#[derive(Debug, Clone)]
enum Auth {
    None,
    Raw(Vec<u8>),
    Scheme(&'static str, String),
    /// A real token of tenant `demo` with the byte at `at` replaced.
    Garbled(&'static str, usize, u8),
}

fn auth() -> impl Strategy<Value = Auth> {
    let scheme = prop::sample::select(vec!["JWT ", "Bearer ", "Basic ", "jwt ", "", "JWT  "]);
    prop_oneof![
        Just(Auth::None),
        prop::collection::vec(any::<u8>(), 0..120).prop_map(Auth::Raw),
        (scheme.clone(), ".{0,120}").prop_map(|(s, t)| Auth::Scheme(s, t)),
        (scheme, any::<usize>(), any::<u8>()).prop_map(|(s, at, b)| Auth::Garbled(s, at, b)),
    ]
}

/// Mostly hosts some tenant serves, so that most cases reach a route's own checks.
fn host() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => prop::sample::select(vec![
            "localhost",
            "LOCALHOST.",
            "localhost:8080",
            "127.0.0.1",
            "api.acme.localhost",
            "api.demo.localhost",
            "api..localhost",
            "globex.test",
            "",
            "[::1]:80",
        ])
        .prop_map(|h| h.as_bytes().to_vec()),
        1 => prop::collection::vec(any::<u8>(), 0..60),
        1 => "[a-z.:\\[\\]0-9{}%]{0,40}".prop_map(|s| s.into_bytes()),
    ]
}

fn content_type() -> impl Strategy<Value = Option<Vec<u8>>> {
    prop_oneof![
        Just(None),
        prop::sample::select(vec![
            "application/json",
            "application/x-www-form-urlencoded",
            "application/json; charset=utf-16",
            "application/vnd.x+json",
            "text/plain",
            "multipart/form-data; boundary=z",
        ])
        .prop_map(|c| Some(c.as_bytes().to_vec())),
        prop::collection::vec(any::<u8>(), 0..40).prop_map(Some),
    ]
}

/// A path parameter: anything, percent-encoded so the request line stays valid.
fn segment() -> impl Strategy<Value = String> {
    ".{0,20}".prop_map(|s| {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    })
}

#[derive(Debug, Clone)]
struct Case {
    route: usize,
    other_method: Option<&'static str>,
    params: Vec<String>,
    host: Vec<u8>,
    content_type: Option<Vec<u8>>,
    auth: Auth,
    body: Body,
}

fn case(routes: usize) -> impl Strategy<Value = Case> {
    (
        0..routes,
        prop::option::weighted(
            0.1,
            prop::sample::select(vec![
                "GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD",
            ]),
        ),
        prop::collection::vec(segment(), 2),
        host(),
        content_type(),
        auth(),
        body(),
    )
        .prop_map(
            |(route, other_method, params, host, content_type, auth, body)| Case {
                route,
                other_method,
                params,
                host,
                content_type,
                auth,
                body,
            },
        )
}

/// Every maximal run of token characters with two dots: the candidates for a JWT.
fn jwt_like(text: &str) -> Vec<&str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
        .filter(|s| s.matches('.').count() == 2 && s.len() > 20)
        .collect()
}

struct Harness {
    core: Arc<Core>,
    routes: Vec<Route>,
    /// A token of `demo` to garble.
    real_token: String,
}

impl Harness {
    fn request(&self, c: &Case) -> TestRequest {
        let route = &self.routes[c.route];
        let mut params = c.params.iter();
        let path: String = route
            .path
            .split('/')
            .map(|seg| {
                if seg.starts_with('{') {
                    params.next().cloned().unwrap_or_default()
                } else {
                    seg.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        let method = c.other_method.unwrap_or(route.method.as_str());
        let mut req = TestRequest::default()
            .method(method.parse().expect("a method"))
            .uri(&path);
        let mut header = |name: &'static str, value: &[u8]| {
            if let Ok(v) = HeaderValue::from_bytes(value) {
                req = std::mem::take(&mut req).insert_header((HeaderName::from_static(name), v));
            }
        };
        header("host", &c.host);
        if let Some(ct) = &c.content_type {
            header("content-type", ct);
        }
        match &c.auth {
            Auth::None => {}
            Auth::Raw(bytes) => header("authorization", bytes),
            Auth::Scheme(s, t) => header("authorization", format!("{s}{t}").as_bytes()),
            Auth::Garbled(s, at, b) => {
                let mut t = self.real_token.clone().into_bytes();
                let len = t.len();
                t[at % len] = *b;
                header("authorization", &[s.as_bytes(), &t].concat());
            }
        }
        let bytes = match &c.body {
            Body::None => return req,
            Body::Bytes(b) => b.clone(),
            Body::Json(v) => serde_json::to_vec(v).expect("serialises"),
            Body::Fields(values) => {
                let mut m = Map::new();
                for (name, v) in route.fields.iter().zip(values) {
                    if let Some(v) = v {
                        m.insert(name.clone(), v.clone());
                    }
                }
                serde_json::to_vec(&Value::Object(m)).expect("serialises")
            }
        };
        req.set_payload(bytes)
    }

    /// The answer holds no string that verifies as a token of any tenant, but the one the caller
    /// sent (the custom-token route hands a token of this tenant back as it came).
    fn holds_no_token(&self, texts: &[String], sent: &str) -> Result<(), TestCaseError> {
        for text in texts {
            for candidate in jwt_like(text).into_iter().filter(|c| !sent.contains(c)) {
                for tenant in self.core.tenants() {
                    prop_assert!(
                        self.core.verify_token(&tenant, candidate, None).is_err(),
                        "a token of {} in the answer: {candidate}",
                        tenant.slug.as_str()
                    );
                }
            }
        }
        Ok(())
    }
}

fn cases(default: u32) -> RunnerConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(default);
    RunnerConfig {
        cases,
        failure_persistence: None,
        ..RunnerConfig::default()
    }
}

#[test]
fn any_request_is_answered_without_5xx_and_without_a_token() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let local = tokio::task::LocalSet::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config(&dir);
    let (svc, harness) = local.block_on(&rt, async {
        let registry = prometheus::Registry::new();
        let core = prepare_core(&config, Arc::new(SystemClock), registry.clone())
            .await
            .expect("core");
        let parts = AppParts::new(&config, core.clone(), registry);
        let svc = test::init_service(app(&parts)).await;
        let doc: Value = test::call_and_read_body_json(
            &svc,
            TestRequest::get().uri("/openapi.json").to_request(),
        )
        .await;
        let demo = core.tenant_by_slug("demo").expect("demo");
        let mut claims = Map::new();
        claims.insert("sub".into(), "user".into());
        let real_token = core
            .issue_token_until(&demo, claims, None)
            .expect("a token");
        let routes = documented(&doc);
        assert!(routes.len() > 30, "{} routes documented", routes.len());
        (
            svc,
            Harness {
                core,
                routes,
                real_token,
            },
        )
    });
    // The real token verifies: the check below would see one if an answer held it.
    let demo = harness.core.tenant_by_slug("demo").expect("demo");
    assert!(harness
        .core
        .verify_token(&demo, &harness.real_token, None)
        .is_ok());

    let mut runner = TestRunner::new(cases(1024));
    let statuses = std::cell::RefCell::new(std::collections::BTreeMap::<u16, u32>::new());
    let result = runner.run(&case(harness.routes.len()), |c| {
        let req = harness.request(&c).to_request();
        let sent = req
            .headers()
            .get("authorization")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default();
        // An error the service returns is what the server would turn into the response.
        let res = match local.block_on(&rt, test::try_call_service(&svc, req)) {
            Ok(res) => res.map_into_boxed_body(),
            Err(e) => {
                let res = e.error_response();
                ServiceResponse::new(TestRequest::default().to_http_request(), res)
            }
        };
        let status = res.status();
        let mut texts: Vec<String> = res
            .headers()
            .iter()
            .map(|(_, v)| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        let body = local.block_on(&rt, test::read_body(res));
        texts.push(String::from_utf8_lossy(&body).into_owned());
        *statuses.borrow_mut().entry(status.as_u16()).or_default() += 1;
        prop_assert!(
            !status.is_server_error(),
            "{status} for {c:?}: {}",
            String::from_utf8_lossy(&body)
        );
        harness.holds_no_token(&texts, &sent)
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let statuses = statuses.into_inner();
    eprintln!("statuses seen: {statuses:?}");
    // Not every case may stop at the door: some reach a route's own checks.
    assert!(
        statuses.keys().any(|s| *s != 401 && *s != 404),
        "{statuses:?}"
    );
}
