//! Where an audited action came from: the client's address, user agent, dialect and request id.
//! The binary scopes one around each request (`AuditContext::scope`), so core records it without
//! every function taking it as an argument; the CLI scopes `AuditContext::operator()`.

use std::future::Future;
use std::net::IpAddr;

tokio::task_local! {
    static CURRENT: AuditContext;
}

/// What a user agent or request id may hold at most; longer is cut, control characters dropped.
const USER_AGENT_MAX: usize = 256;
const REQUEST_ID_MAX: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditContext {
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    /// `tiledesk`, `appmixer`, `gateway` (the binary's own routes), `cli`, or `internal`.
    pub dialect: String,
    pub request_id: Option<String>,
}

impl AuditContext {
    /// An HTTP request's context. `request_id` is the client's `X-Request-Id` when it is a sane
    /// token (letters, digits, `-_.:`, up to 64), else a fresh one.
    pub fn http(
        client_ip: IpAddr,
        user_agent: Option<&str>,
        request_id: Option<&str>,
        dialect: &str,
    ) -> AuditContext {
        let request_id = request_id
            .filter(|id| {
                (1..=REQUEST_ID_MAX).contains(&id.len())
                    && id
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
            })
            .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
        AuditContext {
            client_ip: Some(client_ip.to_string()),
            user_agent: user_agent
                .map(|ua| {
                    ua.chars()
                        .filter(|c| !c.is_control())
                        .take(USER_AGENT_MAX)
                        .collect::<String>()
                })
                .filter(|ua| !ua.is_empty()),
            dialect: dialect.to_owned(),
            request_id: Some(request_id),
        }
    }

    /// The command line's context: no address, no agent, one request id per command.
    pub fn operator() -> AuditContext {
        AuditContext {
            client_ip: None,
            user_agent: None,
            dialect: "cli".into(),
            request_id: Some(uuid::Uuid::new_v4().to_string()),
        }
    }

    /// Work nobody asked for in a request (background tasks), or code not scoped by a caller.
    pub fn internal() -> AuditContext {
        AuditContext {
            client_ip: None,
            user_agent: None,
            dialect: "internal".into(),
            request_id: None,
        }
    }

    pub fn with_dialect(mut self, dialect: &str) -> AuditContext {
        dialect.clone_into(&mut self.dialect);
        self
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
