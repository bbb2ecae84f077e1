//! Checks for the mail settings (`SMTP_URL`, `MAIL_FROM`, `RESET_URL`, `VERIFY_URL`). An SMTP URL
//! carries credentials: no message here repeats the value.

use crate::error::{CoreError, CoreResult};
use crate::secret::Secret;
use crate::service::Core;
use std::collections::BTreeMap;

/// `smtp://[user:pass@]host[:port]` (plain, or STARTTLS with `?tls=required`) or `smtps://...`
/// (TLS from the first byte), as lettre reads it.
pub(crate) fn smtp_url(key: &str, value: &str) -> Result<Secret<String>, CoreError> {
    let v = value.trim();
    let bad = || {
        CoreError::invalid(
            "value",
            format!("{key} must be an smtp:// or smtps:// URL such as smtps://user:password@mail.example.com:465"),
        )
    };
    let parsed = url::Url::parse(v).map_err(|_| bad())?;
    let scheme_ok = matches!(parsed.scheme(), "smtp" | "smtps");
    let host_ok = parsed.host_str().is_some_and(|h| !h.is_empty());
    if !scheme_ok || !host_ok || v.len() > 1024 || v.chars().any(char::is_whitespace) {
        return Err(bad());
    }
    Ok(Secret::new(v.to_owned()))
}

/// An address, or `Name <address>`, fit for a `From` header.
pub(crate) fn mailbox(key: &str, value: &str) -> Result<String, CoreError> {
    let v = value.trim();
    match v.parse::<lettre::message::Mailbox>() {
        // An address at an IP literal is refused or binned by most receivers.
        Ok(m) if super::flows::is_ip_literal(m.email.domain()) => Err(CoreError::invalid(
            "value",
            format!("{key} must be an address at a host name, not at an IP address ('{v}')"),
        )),
        Ok(_) if v.len() <= 320 && !v.chars().any(char::is_control) => Ok(v.to_owned()),
        _ => Err(CoreError::invalid(
            "value",
            format!("{key} must be an email address or Name <address>, not '{v}'"),
        )),
    }
}

/// A link template: an http(s) URL holding `{code}`.
pub(crate) fn link(key: &str, value: &str) -> Result<String, CoreError> {
    let v = value.trim();
    let ok = (v.starts_with("https://") || v.starts_with("http://"))
        && v.contains("{code}")
        && v.len() <= 1024
        && !v.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(v.to_owned())
    } else {
        Err(CoreError::invalid(
            "value",
            format!(
                "{key} must be an http(s) URL holding {{code}} (and optionally {{uid}}), not '{v}'"
            ),
        ))
    }
}

impl Core {
    /// A setting naming a host the node will connect to (`SMTP_URL`) must name one the operator's
    /// `[outbound]` rule allows: a 400 naming the rule otherwise, on every path that sets it
    /// (a tenant admin's `/config`, the operator API and console, the CLI, an import). The rule is
    /// checked again at every connection (`outbound`), so a name that changes its address later
    /// gains nothing.
    pub(crate) async fn vet_outbound_setting(&self, key: &str, value: &str) -> CoreResult<()> {
        if key != "SMTP_URL" {
            return Ok(());
        }
        let target = super::smtp::parse(value).map_err(|e| CoreError::invalid("value", e))?;
        self.outbound
            .vet(&target.host, target.port)
            .await
            .map_err(|e| CoreError::invalid("value", format!("{key}: {e}")))
    }

    /// `vet_outbound_setting` for each of a tenant specification's settings.
    pub(crate) async fn vet_outbound_settings(
        &self,
        settings: &BTreeMap<String, String>,
    ) -> CoreResult<()> {
        for (key, value) in settings {
            self.vet_outbound_setting(key, value).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls_are_smtp_or_smtps_and_errors_never_echo_them() {
        assert!(smtp_url("SMTP_URL", "smtp://127.0.0.1:2525").is_ok());
        assert!(smtp_url("SMTP_URL", "smtps://u:p%40ss@mail.example.com:465").is_ok());
        for bad in [
            "http://mail.example.com",
            "smtp://",
            "mail.example.com",
            "smtp://u:hunter2@ host",
        ] {
            let e = smtp_url("SMTP_URL", bad).unwrap_err().to_string();
            assert!(!e.contains("hunter2"), "{e}");
        }
        assert!(smtp_url("SMTP_URL", "smtp://u:hunter2@ host").is_err());
    }

    #[test]
    fn mailboxes_and_links() {
        assert!(mailbox("MAIL_FROM", "Acme <no-reply@acme.example>").is_ok());
        assert!(mailbox("MAIL_FROM", "no-reply@acme.example").is_ok());
        assert!(mailbox("MAIL_FROM", "not an address").is_err());
        assert!(mailbox("MAIL_FROM", "no-reply@127.0.0.1").is_err());
        assert!(mailbox("MAIL_FROM", "Acme <no-reply@[127.0.0.1]>").is_err());
        assert!(link("RESET_URL", "https://app.example/#/resetpassword/{code}").is_ok());
        assert!(link("RESET_URL", "https://app.example/reset").is_err());
        assert!(link("VERIFY_URL", "javascript:{code}").is_err());
    }
}
