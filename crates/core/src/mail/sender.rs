//! The sender: every node drains the outbox over SMTP (lettre, on tokio, TLS by rustls), fairly
//! across tenants. Each round claims at most `per_tenant_in_flight` mails of a tenant (minus those
//! of the tenant this node is already sending) and at most `max_in_flight` in all, tenants taken
//! longest-waiting first, and sends each in a task of its own: a tenant whose SMTP server hangs
//! holds only its own slots, and every other tenant's mail goes out on the next round. Requests
//! never wait on it. A failed attempt is tried again after a backoff that starts at `retry_base`
//! and doubles up to a minute; after `max_attempts` the mail is dead (kept, with its last error,
//! for an operator). Every connection goes through the outbound guard (`crate::outbound`).

use super::outbox::{self, ClaimLimits, OutboxMessage};
use super::smtp;
use crate::error::CoreResult;
use crate::outbound::Guard;
use crate::service::Core;
use crate::storage::models::OutboxRow;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncTransport, Message};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;

/// The longest wait between two attempts at one mail.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// The wait after the `attempt`-th failed attempt (1-based): `base`, then doubling, capped.
pub fn backoff(base: Duration, attempt: u32) -> Duration {
    let factor = 1u32 << attempt.saturating_sub(1).min(16);
    base.saturating_mul(factor).min(MAX_BACKOFF)
}

/// The mails this node is sending now, per tenant. Claims are made one at a time on a node
/// (`claiming`), so two rounds (the sender's and a caller's `drain_outbox`) never both fill a
/// tenant's last slot.
#[derive(Default)]
pub(crate) struct InFlight {
    per_tenant: Mutex<HashMap<String, i64>>,
    claiming: tokio::sync::Mutex<()>,
}

impl InFlight {
    fn snapshot(&self) -> HashMap<String, i64> {
        self.per_tenant
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn take(&self, tenant_id: &str) {
        *self
            .per_tenant
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(tenant_id.to_owned())
            .or_insert(0) += 1;
    }

    fn release(&self, tenant_id: &str) {
        let mut map = self.per_tenant.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(tenant_id) {
            *n -= 1;
            if *n <= 0 {
                map.remove(tenant_id);
            }
        }
    }
}

/// One mail's slot in `InFlight`, given back when its delivery ends, however it ends.
struct Slot {
    core: Arc<Core>,
    tenant_id: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.core.mail.in_flight.release(&self.tenant_id);
        self.core.mail.wake.notify_one();
    }
}

/// Starts this node's sender. It holds the core weakly and stops once the core is gone.
pub fn spawn(core: &Arc<Core>) {
    let weak = Arc::downgrade(core);
    let poll = core.mail.options.poll_interval;
    if !core.mail.options.enabled {
        return;
    }
    let wake = core.mail.wake.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(poll);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = wake.notified() => {}
            }
            let Some(core) = weak.upgrade() else { break };
            // Deliveries run on their own; the next round does not wait for them.
            if let Err(e) = core.start_due().await {
                log::warn!("mail sender: {e}");
            }
        }
    });
}

/// What the sender says when a tenant has no address to send from.
pub const NO_SENDER: &str =
    "no sender address: set MAIL_FROM (the tenant has no host name to send from as no-reply@)";

/// The longest line RFC 5322 allows, without its CRLF.
const MAX_LINE: usize = 998;

/// A part a person can read in the raw message: 7bit when it is ASCII with lines of at most 998
/// bytes, else 8bit, and base64 only for what neither can carry (a longer line, a NUL). Never
/// quoted-printable, whose soft breaks and `=3D` cut the link and the code apart. (lettre's own
/// choice takes 76 characters for a long line, so a link goes quoted-printable: the body is
/// checked and encoded here.)
fn readable_part(kind: ContentType, text: &str) -> SinglePart {
    let lines: Vec<&str> = text.split('\n').map(|l| l.trim_end_matches('\r')).collect();
    let fits = lines
        .iter()
        .all(|l| l.len() <= MAX_LINE && !l.contains(['\0', '\r']));
    let body = if fits {
        let crlf = lines.join("\r\n");
        let encoding = if crlf.is_ascii() {
            ContentTransferEncoding::SevenBit
        } else {
            ContentTransferEncoding::EightBit
        };
        Body::dangerous_pre_encoded(crlf.into_bytes(), encoding)
    } else {
        Body::new_with_encoding(text.to_owned(), ContentTransferEncoding::Base64)
            .unwrap_or_else(|_| Body::new(text.to_owned()))
    };
    SinglePart::builder().header(kind).body(body)
}

/// One mail over SMTP, to an address the outbound guard allows. Errors are the guard's or
/// lettre's (the server's answer or the connection's failure); none holds the URL's credentials.
/// The caller bounds the whole conversation (`send_timeout`).
async fn send_smtp(guard: &Guard, url: &str, mail: &OutboxMessage) -> Result<(), String> {
    let from: Mailbox = mail.from.parse().map_err(|e| format!("From: {e}"))?;
    if super::flows::is_ip_literal(from.email.domain()) {
        return Err(format!("{NO_SENDER} (not {})", from.email));
    }
    let to: Mailbox = mail.to.parse().map_err(|e| format!("To: {e}"))?;
    let message = Message::builder()
        .from(from)
        .to(to)
        .subject(mail.subject.clone())
        .multipart(
            MultiPart::alternative()
                .singlepart(readable_part(ContentType::TEXT_PLAIN, &mail.text))
                .singlepart(readable_part(ContentType::TEXT_HTML, &mail.html)),
        )
        .map_err(|e| format!("message: {e}"))?;
    let transport = smtp::parse(url)?
        .transport(guard)
        .await
        .map_err(|e| e.to_string())?;
    transport
        .send(message)
        .await
        .map(drop)
        .map_err(|e| e.to_string())
}

impl Core {
    /// Sends what is due now and waits for those sends; returns how many mails went out. Tests
    /// and the CLI call it; the sender task starts the same rounds without waiting.
    pub async fn drain_outbox(self: &Arc<Self>) -> CoreResult<usize> {
        let mut sent = 0;
        for handle in self.start_due().await? {
            if matches!(handle.await, Ok(true)) {
                sent += 1;
            }
        }
        Ok(sent)
    }

    /// One round: claims the due mails this node may send now (see the module's head) and starts
    /// a delivery task for each.
    async fn start_due(self: &Arc<Self>) -> CoreResult<Vec<JoinHandle<bool>>> {
        // No tenant can send: no query at all (a node without mail stays off the database).
        if !self.tenants().iter().any(|t| t.settings.smtp_url.is_some()) {
            return Ok(Vec::new());
        }
        let opts = self.mail.options.clone();
        let in_flight = &self.mail.in_flight;
        let _one_claim_at_a_time = in_flight.claiming.lock().await;
        let busy = in_flight.snapshot();
        let total =
            i64::try_from(opts.max_in_flight).unwrap_or(i64::MAX) - busy.values().sum::<i64>();
        if total <= 0 {
            return Ok(Vec::new());
        }
        let limits = ClaimLimits {
            total,
            per_tenant: i64::try_from(opts.per_tenant_in_flight).unwrap_or(1),
            busy,
        };
        let now = self.now_ms();
        // The lease outlives the longest attempt, so a row is never claimed twice while it is sent.
        let lease = i64::try_from(opts.send_timeout.as_millis() * 3).unwrap_or(i64::MAX);
        let rows = self
            .db
            .run_system(move |c| outbox::claim(c, now, lease, &limits))
            .await?;
        let mut started = Vec::with_capacity(rows.len());
        for row in rows {
            in_flight.take(&row.tenant_id);
            let slot = Slot {
                core: Arc::clone(self),
                tenant_id: row.tenant_id.clone(),
            };
            started.push(tokio::spawn(async move {
                let core = Arc::clone(&slot.core);
                let sent = core.attempt(row).await;
                drop(slot);
                sent
            }));
        }
        Ok(started)
    }

    /// One attempt at one claimed mail, within `send_timeout`, and its outcome recorded.
    async fn attempt(&self, row: OutboxRow) -> bool {
        let opts = &self.mail.options;
        let result = match tokio::time::timeout(opts.send_timeout, self.deliver(&row)).await {
            Ok(result) => result,
            Err(_) => Err(format!(
                "no answer within {} ms",
                opts.send_timeout.as_millis()
            )),
        };
        let now = self.now_ms();
        let sent = result.is_ok();
        let outcome = match result {
            Ok(()) => {
                self.mail.metrics.event("sent");
                Ok(())
            }
            Err(error) => {
                self.mail.metrics.event("failed");
                let attempt = u32::try_from(row.attempts).unwrap_or(u32::MAX);
                if attempt >= opts.max_attempts {
                    self.mail.metrics.event("dead");
                    log::error!(
                        "mail {} of tenant {} is dead after {attempt} attempts: {error}",
                        row.id,
                        row.tenant_id
                    );
                    Err((error, None))
                } else {
                    log::warn!(
                        "mail {} of tenant {}: attempt {attempt} failed: {error}",
                        row.id,
                        row.tenant_id
                    );
                    let wait = backoff(opts.retry_base, attempt).as_millis();
                    Err((error, Some(now + i64::try_from(wait).unwrap_or(60_000))))
                }
            }
        };
        let id = row.id.clone();
        if let Err(e) = self
            .db
            .run_system(move |c| outbox::finish(c, &row, outcome, now))
            .await
        {
            // The lease runs out and another round tries again; the mail may then go twice.
            log::warn!("mail {id}: its outcome was not recorded: {e}");
        }
        sent
    }

    async fn deliver(&self, row: &OutboxRow) -> Result<(), String> {
        let mail = outbox::open(&self.sealer, row).map_err(|e| e.to_string())?;
        let tenant = self
            .tenant(&row.tenant_id)
            .ok_or_else(|| "the tenant no longer exists".to_owned())?;
        let url = tenant
            .settings
            .smtp_url
            .as_ref()
            .ok_or_else(|| "mail is not configured for the tenant (SMTP_URL)".to_owned())?;
        let mut mail = mail;
        if mail.from.is_empty() {
            // Queued without a sender: one set since (MAIL_FROM, a host name) is used now.
            mail.from = super::flows::from_of(&tenant).ok_or_else(|| NO_SENDER.to_owned())?;
        }
        send_smtp(&self.outbound, url.expose(), &mail).await
    }

    /// Mails of the tenant in the outbox in `state` (`queued`, `sent` or `dead`).
    pub async fn outbox_count(&self, tenant_id: &str, state: &'static str) -> CoreResult<i64> {
        let tid = tenant_id.to_owned();
        self.db
            .run_tenant(tenant_id, move |c| outbox::count(c, &tid, state))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw_part(text: &str) -> String {
        String::from_utf8(readable_part(ContentType::TEXT_PLAIN, text).formatted()).unwrap()
    }

    #[test]
    fn parts_go_7bit_or_8bit_with_long_lines_whole_and_base64_only_past_998() {
        let link = format!(
            "https://auth.example.com/#/resetpassword/{}",
            "c".repeat(64)
        );
        let raw = raw_part(&format!("Hello,\n\n{link}\n"));
        assert!(raw.contains("Content-Transfer-Encoding: 7bit"), "{raw}");
        assert!(raw.contains(&format!("\r\n{link}\r\n")), "{raw}");
        let raw = raw_part(&format!("Réinitialisez : {link}"));
        assert!(raw.contains("Content-Transfer-Encoding: 8bit"), "{raw}");
        assert!(raw.contains(&format!("Réinitialisez : {link}")), "{raw}");
        let raw = raw_part(&"x".repeat(999));
        assert!(raw.contains("Content-Transfer-Encoding: base64"), "{raw}");
        assert!(!raw_part(&link).contains("quoted-printable"));
    }

    #[test]
    fn backoff_starts_at_the_base_doubles_and_stops_at_a_minute() {
        let base = Duration::from_secs(2);
        assert_eq!(backoff(base, 1), Duration::from_secs(2));
        assert_eq!(backoff(base, 2), Duration::from_secs(4));
        assert_eq!(backoff(base, 5), Duration::from_secs(32));
        assert_eq!(backoff(base, 6), MAX_BACKOFF);
        assert_eq!(backoff(base, 40), MAX_BACKOFF);
    }
}
