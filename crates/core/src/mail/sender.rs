//! The sender: one task per node that drains the outbox over SMTP (lettre, on tokio, TLS by
//! rustls). Requests never wait on it. A failed attempt is tried again after a backoff that starts
//! at `retry_base` and doubles up to a minute; after `max_attempts` the mail is dead (kept, with
//! its last error, for an operator).

use super::outbox::{self, OutboxMessage};
use crate::error::CoreResult;
use crate::service::Core;
use crate::storage::models::OutboxRow;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::sync::Arc;
use std::time::Duration;

/// The longest wait between two attempts at one mail.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Mails one node claims at a time.
const BATCH: i64 = 16;

/// The wait after the `attempt`-th failed attempt (1-based): `base`, then doubling, capped.
pub fn backoff(base: Duration, attempt: u32) -> Duration {
    let factor = 1u32 << attempt.saturating_sub(1).min(16);
    base.saturating_mul(factor).min(MAX_BACKOFF)
}

/// Starts this node's sender. It holds the core weakly and stops once the core is gone.
pub fn spawn(core: &Arc<Core>) {
    let weak = Arc::downgrade(core);
    let poll = core.mail.options.poll_interval;
    if !core.mail.options.enabled {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(poll);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(core) = weak.upgrade() else { break };
            if let Err(e) = core.drain_outbox().await {
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

/// One mail over SMTP. Errors are lettre's (the server's answer or the connection's failure);
/// none of them holds the URL's credentials.
async fn send_smtp(url: &str, mail: &OutboxMessage, timeout: Duration) -> Result<(), String> {
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
    let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
        .map_err(|_| "the tenant's SMTP_URL is not usable".to_owned())?
        .timeout(Some(timeout))
        .build();
    match tokio::time::timeout(timeout * 2, transport.send(message)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {} s", (timeout * 2).as_secs())),
    }
}

impl Core {
    /// Sends what is due now; returns how many mails went out. The sender task calls it every
    /// `poll_interval`; tests may call it directly.
    pub async fn drain_outbox(&self) -> CoreResult<usize> {
        // No tenant can send: no query at all (a node without mail stays off the database).
        if !self.tenants().iter().any(|t| t.settings.smtp_url.is_some()) {
            return Ok(0);
        }
        let opts = self.mail.options.clone();
        let now = self.now_ms();
        let lease = i64::try_from(opts.send_timeout.as_millis() * 3).unwrap_or(i64::MAX);
        let rows = self
            .db
            .run_system(move |c| outbox::claim(c, now, lease, BATCH))
            .await?;
        let mut sent = 0;
        for row in rows {
            let result = self.deliver(&row, opts.send_timeout).await;
            let now = self.now_ms();
            let outcome = match result {
                Ok(()) => {
                    sent += 1;
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
            self.db
                .run_system(move |c| outbox::finish(c, &row, outcome, now))
                .await?;
        }
        Ok(sent)
    }

    async fn deliver(&self, row: &OutboxRow, timeout: Duration) -> Result<(), String> {
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
        send_smtp(url.expose(), &mail, timeout).await
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
