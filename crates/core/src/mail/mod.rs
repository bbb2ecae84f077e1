//! Mail: password-reset and email-verification codes, the outbox they are written to in one
//! transaction, the templates that render them, and the sender that drains the outbox over SMTP in
//! every node. Requests only write rows; they never wait on an SMTP server.

pub mod codes;
mod flows;
mod limits;
pub(crate) mod outbox;
pub mod sender;
pub(crate) mod settings;
pub(crate) mod smtp;
pub mod templates;

pub use codes::Purpose;
pub use flows::{Links, VerificationMail, MAIL_NOT_CONFIGURED, VERIFY_OTHER_USER};

use prometheus::{IntCounterVec, Opts, Registry};
use std::time::Duration;

/// The sender's pace (the `[mail]` section of the configuration).
#[derive(Debug, Clone)]
pub struct MailOptions {
    /// Whether this node runs a sender at all.
    pub enabled: bool,
    /// How often the sender looks for due mail.
    pub poll_interval: Duration,
    /// The wait after the first failed attempt; it doubles per attempt up to a minute.
    pub retry_base: Duration,
    /// Attempts before a mail is dead.
    pub max_attempts: u32,
    /// The longest one SMTP conversation may take (connecting included).
    pub send_timeout: Duration,
    /// Mails this node sends at once, every tenant together.
    pub max_in_flight: usize,
    /// Mails of one tenant this node sends at once: a tenant whose server hangs holds no more.
    pub per_tenant_in_flight: usize,
}

impl Default for MailOptions {
    fn default() -> Self {
        MailOptions {
            enabled: true,
            poll_interval: Duration::from_secs(1),
            retry_base: Duration::from_secs(2),
            max_attempts: 8,
            send_timeout: Duration::from_secs(10),
            max_in_flight: 16,
            per_tenant_in_flight: 2,
        }
    }
}

/// Mails by event: `queued` (written to the outbox), `sent`, `failed` (an attempt that failed),
/// `dead` (given up) and `limited` (not written: the mail limits refused it). No label names a
/// tenant's users.
#[derive(Clone)]
pub struct MailMetrics {
    events: IntCounterVec,
}

impl MailMetrics {
    fn new(registry: &Registry) -> Self {
        let events = IntCounterVec::new(
            Opts::new(
                "gatehouse_mail_total",
                "Mails by event: queued, sent, failed (one attempt), dead (given up), limited (refused by the mail limits)",
            ),
            &["event"],
        )
        .expect("static metric definition");
        // A second core on one registry (tests) finds the metric registered: that is fine.
        let _ = registry.register(Box::new(events.clone()));
        for e in ["queued", "sent", "failed", "dead", "limited"] {
            events.with_label_values(&[e]);
        }
        MailMetrics { events }
    }

    pub fn event(&self, event: &str) {
        self.events.with_label_values(&[event]).inc();
    }
}

/// What core holds for mail.
pub struct Mailer {
    pub(crate) options: MailOptions,
    pub(crate) metrics: MailMetrics,
    /// What this node is sending now (see `sender`).
    pub(crate) in_flight: sender::InFlight,
    /// Wakes the sender when a delivery ends, so a freed slot is filled at once, not at the next
    /// tick (a tenant's queue drains as fast as its server answers, two at a time).
    pub(crate) wake: std::sync::Arc<tokio::sync::Notify>,
}

impl Mailer {
    pub fn new(options: MailOptions, registry: &Registry) -> Self {
        Mailer {
            options,
            metrics: MailMetrics::new(registry),
            in_flight: sender::InFlight::default(),
            wake: std::sync::Arc::new(tokio::sync::Notify::new()),
        }
    }
}
