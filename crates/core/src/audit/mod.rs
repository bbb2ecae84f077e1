//! The audit log: who did what security-relevant thing, when, from where, through which dialect.
//! `Core::audit` hands an event to a batching writer thread and returns at once (see `writer`);
//! the request's metadata comes from an `AuditContext` the binary scopes around each request
//! (a task-local), or the CLI's operator context. Nothing here ever holds a password, hash,
//! secret, token, or the login a person typed.

mod context;
mod since;
mod store;
mod writer;

pub use context::{AuditContext, AuditFields};
pub use since::parse_since;
pub use store::{AuditEvent, AuditQuery, AUDIT_QUERY_MAX};
pub use writer::{AuditWriter, AUDIT_BATCH, AUDIT_LINGER, AUDIT_QUEUE};

use crate::error::CoreResult;
use crate::service::Core;
use crate::tenants::Tenant;

/// The event kinds Gatehouse records. Other modules may add their own; keep them snake_case.
pub mod kind {
    /// A password sign-in (outcome success, failure or locked), in either dialect.
    pub const SIGNIN: &str = "signin";
    /// A pair (login, address) reached SIGNIN_MAX_FAILURES and is now locked.
    pub const LOCKOUT: &str = "lockout";
    pub const SIGNUP: &str = "signup";
    pub const ANONYMOUS_SIGNIN: &str = "anonymous_signin";
    pub const CUSTOM_TOKEN_SIGNIN: &str = "custom_token_signin";
    pub const PASSWORD_CHANGE: &str = "password_change";
    pub const PASSWORD_RESET: &str = "password_reset";
    pub const LOGOUT: &str = "logout";
    /// Every token of an account ended (logout everywhere, revoke-tokens).
    pub const TOKENS_REVOKED: &str = "tokens_revoked";
    pub const USER_DISABLED: &str = "user_disabled";
    pub const USER_ENABLED: &str = "user_enabled";
    pub const USER_DELETED: &str = "user_deleted";
    pub const KEY_ROTATED: &str = "key_rotated";
    pub const KEY_RETIRED: &str = "key_retired";
    pub const SETTING_CHANGED: &str = "setting_changed";
    pub const IMPORT: &str = "import";
    pub const EXPORT: &str = "export";
    /// A mail given up before it was queued (its tenant's template ran past the render budget).
    pub const MAIL_DEAD: &str = "mail_dead";
    /// An operator registered or removed a client of the introspection endpoint.
    pub const INTROSPECTION_CLIENT_CREATED: &str = "introspection_client_created";
    pub const INTROSPECTION_CLIENT_REMOVED: &str = "introspection_client_removed";
}

/// How an audited action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
    /// Refused because the login is locked out.
    Locked,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Locked => "locked",
        }
    }
}

/// One event to record: `Record::new(kind::SIGNIN, Outcome::Success).user(&id)`.
#[derive(Debug, Clone)]
pub struct Record {
    pub kind: &'static str,
    pub outcome: Outcome,
    pub user_id: Option<String>,
    /// A short note that is never a secret: a setting's name, a key's kid, an import's counts.
    pub detail: Option<String>,
}

impl Record {
    pub fn new(kind: &'static str, outcome: Outcome) -> Record {
        Record {
            kind,
            outcome,
            user_id: None,
            detail: None,
        }
    }

    pub fn success(kind: &'static str) -> Record {
        Record::new(kind, Outcome::Success)
    }

    pub fn user(mut self, id: impl Into<String>) -> Record {
        self.user_id = Some(id.into());
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Record {
        self.detail = Some(detail.into());
        self
    }
}

impl Core {
    /// Records an event for `tenant` with the current request's (or operator's) context. Never
    /// waits and never fails: a full queue drops the event and counts it
    /// (`gatehouse_audit_events_total{result="dropped"}`).
    pub fn audit(&self, tenant: &Tenant, record: Record) {
        let context = AuditContext::current().fields();
        self.auditor
            .submit(store::row(&tenant.id, self.now_ms(), record, context));
    }

    /// Waits until every event recorded so far is written (the CLI before it exits, tests).
    pub async fn flush_audit(&self) -> CoreResult<()> {
        self.auditor.flush().await
    }

    /// Writes every event recorded so far, then stops the audit writer: later events are dropped
    /// (and counted). What `serve` does last.
    pub async fn stop_audit(&self) -> CoreResult<()> {
        self.auditor.stop().await
    }

    /// A tenant's events, newest first (see `AuditQuery`).
    pub async fn audit_events(
        &self,
        tenant: &Tenant,
        query: AuditQuery,
    ) -> CoreResult<Vec<AuditEvent>> {
        let tid = tenant.id.clone();
        self.db
            .run_tenant(&tenant.id, move |c| store::query(c, &tid, &query))
            .await
    }

    /// Deletes every tenant's events older than its `AUDIT_RETENTION_DAYS`; returns how many.
    pub async fn prune_audit(&self) -> CoreResult<usize> {
        let now = self.now_ms();
        let cutoffs: Vec<(String, i64)> = self
            .tenants()
            .iter()
            .map(|t| {
                let days = i64::from(t.settings.audit_retention_days);
                (t.id.clone(), now.saturating_sub(days * 86_400_000))
            })
            .collect();
        self.db
            .run_system(move |c| {
                cutoffs
                    .iter()
                    .try_fold(0, |n, (tid, before)| -> CoreResult<usize> {
                        Ok(n + store::prune(c, tid, *before)?)
                    })
            })
            .await
    }
}

#[cfg(test)]
mod tests;
