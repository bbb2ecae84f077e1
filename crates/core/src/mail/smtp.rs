//! A tenant's `SMTP_URL` read as lettre reads it (scheme, `?tls=`, port defaults, credentials, the
//! path as EHLO name), and the transport that speaks to it through the outbound guard: lettre is
//! handed an address the guard has checked, never the name, so it makes no lookup of its own (a
//! name that rebinds between the check and the connection cannot take it elsewhere); the name is
//! kept for TLS, whose certificate must match it.

use crate::outbound::{Guard, OutboundError};
use crate::secret::Secret;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, Tokio1Executor};

/// How the conversation is secured, as the URL says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Security {
    /// `smtp://`: plain text.
    Plain,
    /// `smtp://...?tls=required`: STARTTLS or nothing.
    StartTlsRequired,
    /// `smtp://...?tls=opportunistic`: STARTTLS when offered.
    StartTlsOpportunistic,
    /// `smtps://`: TLS from the first byte.
    Wrapper,
}

/// Where a tenant's mail goes. Its `Debug` never prints the password.
#[derive(Debug, Clone)]
pub(crate) struct SmtpTarget {
    /// The host as written (lower case, IPv6 without brackets).
    pub host: String,
    pub port: u16,
    pub security: Security,
    hello: Option<String>,
    credentials: Option<(String, Secret<String>)>,
}

/// Reads an `SMTP_URL`. The error never repeats the URL (it may hold credentials).
pub(crate) fn parse(url: &str) -> Result<SmtpTarget, String> {
    let bad = |why: &str| format!("the SMTP_URL is not usable: {why}");
    let parsed = url::Url::parse(url.trim()).map_err(|_| bad("not a URL"))?;
    let host = match parsed.host() {
        Some(url::Host::Domain(d)) if !d.is_empty() => d.trim_end_matches('.').to_ascii_lowercase(),
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        _ => return Err(bad("no host")),
    };
    let tls = parsed
        .query_pairs()
        .find(|(k, _)| k == "tls")
        .map(|(_, v)| v.into_owned());
    // lettre's defaults: 25 for plain, 587 for STARTTLS, 465 for TLS from the start.
    let (security, default_port) = match (parsed.scheme(), tls.as_deref()) {
        ("smtp", None) => (Security::Plain, 25),
        ("smtp", Some("required")) => (Security::StartTlsRequired, 587),
        ("smtp", Some("opportunistic")) => (Security::StartTlsOpportunistic, 587),
        ("smtps", _) => (Security::Wrapper, 465),
        _ => {
            return Err(bad(
                "the scheme must be smtp or smtps, tls= required or opportunistic",
            ))
        }
    };
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| bad("the credentials are not UTF-8"))
    };
    let credentials = match parsed.password() {
        Some(password) => Some((decode(parsed.username())?, Secret::new(decode(password)?))),
        None => None,
    };
    let path = parsed.path().trim_matches('/');
    Ok(SmtpTarget {
        host,
        port: parsed.port().unwrap_or(default_port),
        security,
        hello: (!path.is_empty()).then(|| path.to_owned()),
        credentials,
    })
}

impl SmtpTarget {
    /// A transport to an address of this target that `guard` allows; each connection it makes
    /// waits at most the guard's connect timeout. The caller bounds the whole conversation.
    pub(crate) async fn transport(
        &self,
        guard: &Guard,
    ) -> Result<AsyncSmtpTransport<Tokio1Executor>, OutboundError> {
        let addr = guard.pick(&self.host, self.port).await?;
        let tls_for = |host: &str| {
            TlsParameters::new(host.to_owned())
                .map_err(|e| OutboundError::Unreachable(format!("TLS for {host}: {e}")))
        };
        let tls = match self.security {
            Security::Plain => Tls::None,
            Security::StartTlsRequired => Tls::Required(tls_for(&self.host)?),
            Security::StartTlsOpportunistic => Tls::Opportunistic(tls_for(&self.host)?),
            Security::Wrapper => Tls::Wrapper(tls_for(&self.host)?),
        };
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(addr.ip().to_string())
                .port(addr.port())
                .tls(tls)
                .timeout(Some(guard.connect_timeout()));
        if let Some(name) = &self.hello {
            builder = builder.hello_name(ClientId::Domain(name.clone()));
        }
        if let Some((user, password)) = &self.credentials {
            builder =
                builder.credentials(Credentials::new(user.clone(), password.expose().clone()));
        }
        Ok(builder.build())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_read_as_lettre_reads_them() {
        let t = parse("smtp://127.0.0.1:2525").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.security),
            ("127.0.0.1", 2525, Security::Plain)
        );
        let t = parse("smtps://u:p%40ss@Mail.Example.com").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.security),
            ("mail.example.com", 465, Security::Wrapper)
        );
        assert_eq!(
            t.credentials.as_ref().map(|(_, p)| p.expose().as_str()),
            Some("p@ss")
        );
        let t = parse("smtp://[::1]/relay.example?tls=required").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.security),
            ("::1", 587, Security::StartTlsRequired)
        );
        assert_eq!(t.hello.as_deref(), Some("relay.example"));
        for bad in ["http://h", "smtp://h?tls=maybe", "smtp://", "nonsense"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let e = parse("smtp://u:hunter2@h?tls=maybe").unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
        assert!(!format!("{:?}", parse("smtps://u:hunter2@h").unwrap()).contains("hunter2"));
    }
}
