//! Mail: password-reset and email-verification codes, the outbox they are written to in one
//! transaction, the templates that render them, and the sender that drains the outbox over SMTP in
//! every node. Requests only write rows; they never wait on an SMTP server.

pub mod codes;
mod flows;
pub(crate) mod outbox;
pub mod sender;
pub(crate) mod settings;
pub mod templates;

pub use codes::Purpose;
pub use flows::{Links, MAIL_NOT_CONFIGURED, VERIFY_OTHER_USER};

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
    /// The longest one SMTP conversation may take.
    pub send_timeout: Duration,
}

impl Default for MailOptions {
    fn default() -> Self {
        MailOptions {
            enabled: true,
            poll_interval: Duration::from_secs(1),
            retry_base: Duration::from_secs(2),
            max_attempts: 8,
            send_timeout: Duration::from_secs(10),
        }
    }
}

/// Mails by event: `queued` (written to the outbox), `sent`, `failed` (an attempt that failed) and
/// `dead` (given up). No label names a tenant's users.
#[derive(Clone)]
pub struct MailMetrics {
    events: IntCounterVec,
}

impl MailMetrics {
    fn new(registry: &Registry) -> Self {
        let events = IntCounterVec::new(
            Opts::new(
                "gatehouse_mail_total",
                "Mails by event: queued, sent, failed (one attempt), dead (given up)",
            ),
            &["event"],
        )
        .expect("static metric definition");
        // A second core on one registry (tests) finds the metric registered: that is fine.
        let _ = registry.register(Box::new(events.clone()));
        for e in ["queued", "sent", "failed", "dead"] {
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
}

impl Mailer {
    pub fn new(options: MailOptions, registry: &Registry) -> Self {
        Mailer {
            options,
            metrics: MailMetrics::new(registry),
        }
    }
}
