//! Where an audited action came from: the client's address, user agent, dialect and request id.
//! The binary scopes one around each request (`AuditContext::scope`), so core records it without
//! every function taking it as an argument; the CLI scopes `AuditContext::operator()`.
//!
//! Every request gets one, and few record an event, so a context holds what the request gave
//! (address, raw header values) and makes the stored fields (`AuditContext::fields`: the address
//! as text, the cleaned user agent, a fresh request id when the client sent no usable one) only
//! when an event asks. Cloning one, as each facade's scope does, is a reference count.

use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

tokio::task_local! {
    static CURRENT: AuditContext;
}

/// What a user agent or request id may hold at most; longer is cut, control characters dropped.
const USER_AGENT_MAX: usize = 256;
const REQUEST_ID_MAX: usize = 64;

#[derive(Debug, Clone)]
pub struct AuditContext {
    source: Arc<Source>,
    /// `tiledesk`, `appmixer`, `gateway` (the binary's own routes), `operator`, `cli`, or `internal`.
    dialect: &'static str,
}

#[derive(Debug)]
struct Source {
    client_ip: Option<IpAddr>,
    /// The `User-Agent` as sent (cleaned in `fields`).
    user_agent: Option<Box<str>>,
    /// The client's `X-Request-Id` as sent (kept only if sane, in `request_id`).
    client_request_id: Option<Box<str>>,
    /// Whether this context has a request id at all (the internal one has none).
    identified: bool,
    /// Made once, on the first event: every event of one request shares it.
    request_id: OnceLock<String>,
}

/// The fields an audit event stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditFields {
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub dialect: String,
    pub request_id: Option<String>,
}

impl AuditContext {
    fn new(
        client_ip: Option<IpAddr>,
        user_agent: Option<&str>,
        client_request_id: Option<&str>,
        identified: bool,
        dialect: &'static str,
    ) -> AuditContext {
        AuditContext {
            source: Arc::new(Source {
                client_ip,
                user_agent: user_agent.map(Into::into),
                client_request_id: client_request_id.map(Into::into),
                identified,
                request_id: OnceLock::new(),
            }),
            dialect,
        }
    }

    /// An HTTP request's context. The request id is the client's `X-Request-Id` when it is a sane
    /// token (letters, digits, `-_.:`, up to 64), else a fresh one.
    pub fn http(
        client_ip: IpAddr,
        user_agent: Option<&str>,
        request_id: Option<&str>,
        dialect: &'static str,
    ) -> AuditContext {
        AuditContext::new(Some(client_ip), user_agent, request_id, true, dialect)
    }

    /// The command line's context: no address, no agent, one request id per command.
    pub fn operator() -> AuditContext {
        AuditContext::new(None, None, None, true, "cli")
    }

    /// Work nobody asked for in a request (background tasks), or code not scoped by a caller.
    pub fn internal() -> AuditContext {
        AuditContext::new(None, None, None, false, "internal")
    }

    /// The same request, audited under another dialect (each facade's scope).
    pub fn with_dialect(mut self, dialect: &'static str) -> AuditContext {
        self.dialect = dialect;
        self
    }

    /// What an event stores of this context.
    pub fn fields(&self) -> AuditFields {
        let s = &self.source;
        AuditFields {
            client_ip: s.client_ip.map(|ip| ip.to_string()),
            user_agent: s
                .user_agent
                .as_deref()
                .map(|ua| {
                    ua.chars()
                        .filter(|c| !c.is_control())
                        .take(USER_AGENT_MAX)
                        .collect::<String>()
                })
                .filter(|ua| !ua.is_empty()),
            dialect: self.dialect.to_owned(),
            request_id: s.identified.then(|| self.request_id().to_owned()),
        }
    }

    fn request_id(&self) -> &str {
        let s = &self.source;
        s.request_id.get_or_init(|| {
            s.client_request_id
                .as_deref()
                .filter(|id| {
                    (1..=REQUEST_ID_MAX).contains(&id.len())
                        && id
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
                })
                .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned)
        })
    }

    /// The context scoped around the running task, else `internal()`.
    pub fn current() -> AuditContext {
        CURRENT
            .try_with(Clone::clone)
            .unwrap_or_else(|_| AuditContext::internal())
    }

    /// Runs `fut` with this context as the current one (an inner scope wins over an outer one).
    pub async fn scope<F: Future>(self, fut: F) -> F::Output {
        CURRENT.scope(self, fut).await
    }
}
