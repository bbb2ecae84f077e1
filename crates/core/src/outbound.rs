//! The outbound guard: every connection the node makes on a tenant's behalf (SMTP now; webhooks,
//! OpenID providers and legacy upstreams later) is checked here against the operator's
//! `[outbound]` settings: first the name a tenant admin gave, then every address that name resolves
//! to at connect time, and the connection is made to a checked address only, so DNS cannot rebind
//! a name past the rule. Loopback, private, link-local and the other non-global ranges are refused
//! unless the operator lists them; public hosts are allowed unless `allow_public = false`.
//!
//! Callers either `connect` (a TCP stream to a checked address, within the operator's connect
//! timeout) or, where a client library makes its own connection, `resolve` and hand the library a
//! checked address (SMTP: lettre is given the address, and the name only for TLS).

use crate::error::CoreError;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

/// The rule every refusal names, so a tenant admin knows what the operator must change.
pub const RULE: &str = "[outbound] allowed_hosts";

/// The operator's `[outbound]` section.
#[derive(Debug, Clone)]
pub struct OutboundOptions {
    /// `host` or `host:port` entries: a DNS name (`mail.internal`), a name suffix
    /// (`*.corp.example`), an address (`10.0.0.5`, `[fd00::5]:25`) or a network (`10.0.0.0/8`).
    pub allowed_hosts: Vec<String>,
    /// Whether hosts with global (public) addresses are allowed without being listed.
    pub allow_public: bool,
    /// The longest a name lookup, and then a TCP connection, may take.
    pub connect_timeout: Duration,
}

impl Default for OutboundOptions {
    fn default() -> Self {
        OutboundOptions {
            allowed_hosts: Vec::new(),
            allow_public: true,
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// Why an outbound connection was not made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    /// The operator's rule refuses the target; the message names the rule.
    #[error("{0}")]
    Refused(String),
    /// The target is allowed but could not be reached (lookup or connection failed, timed out).
    #[error("{0}")]
    Unreachable(String),
}

#[derive(Debug, Clone, PartialEq)]
enum HostPattern {
    /// An exact DNS name, lower case, without a trailing dot.
    Name(String),
    /// `*.corp.example`: any name ending in `.corp.example` (not `corp.example` itself).
    Suffix(String),
    /// An address or a network (an address is a network of its full length).
    Net(IpAddr, u8),
}

#[derive(Debug, Clone, PartialEq)]
struct Entry {
    host: HostPattern,
    /// `None`: any port.
    port: Option<u16>,
}

/// What the name alone says about a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NameVerdict {
    /// Listed by name, or an address already checked: connect to whatever it resolves to.
    Allowed,
    /// A public-looking name: each address it resolves to must pass on its own.
    ByAddress,
}

/// The guard, built once from the operator's options.
#[derive(Debug)]
pub struct Guard {
    entries: Vec<Entry>,
    allow_public: bool,
    connect_timeout: Duration,
}

impl Guard {
    /// Builds the guard; an entry that does not parse is an error naming it (at start-up).
    pub fn new(options: &OutboundOptions) -> Result<Guard, CoreError> {
        let entries = options
            .allowed_hosts
            .iter()
            .map(|e| parse_entry(e))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Guard {
            entries,
            allow_public: options.allow_public,
            connect_timeout: options.connect_timeout,
        })
    }

    /// The operator's connect timeout (name lookup, then TCP connection).
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// Checks one address (as resolved, or as written) against the rule.
    pub fn check_addr(&self, addr: SocketAddr) -> Result<(), OutboundError> {
        let ip = canonical(addr.ip());
        let listed = self.entries.iter().any(|e| {
            (e.port.is_none() || e.port == Some(addr.port()))
                && matches!(e.host, HostPattern::Net(net, len) if in_net(ip, net, len))
        });
        if listed {
            return Ok(());
        }
        match non_global_kind(ip) {
            None if self.allow_public => Ok(()),
            None => Err(OutboundError::Refused(format!(
                "{ip} is not on the server's list of hosts it may connect to ({RULE}; public hosts are not allowed here)"
            ))),
            Some(kind) => Err(OutboundError::Refused(format!(
                "{ip} is a {kind} address, which the server connects to only when its operator lists it ({RULE})"
            ))),
        }
    }

    /// What the name says before any lookup. Also refuses `localhost` names outright (RFC 6761:
    /// they always mean this machine) and, without `allow_public`, every name not listed.
    fn check_name(&self, host: &str, port: u16) -> Result<NameVerdict, OutboundError> {
        if port == 0 {
            return Err(OutboundError::Refused(format!(
                "port 0 of {host} is not a port"
            )));
        }
        let host = normalise_host(host);
        if let Ok(ip) = host.parse::<IpAddr>() {
            self.check_addr(SocketAddr::new(ip, port))?;
            return Ok(NameVerdict::Allowed);
        }
        let listed = self.entries.iter().any(|e| {
            (e.port.is_none() || e.port == Some(port))
                && match &e.host {
                    HostPattern::Name(n) => *n == host,
                    HostPattern::Suffix(s) => {
                        host.len() > s.len() + 1 && host.ends_with(&format!(".{s}"))
                    }
                    HostPattern::Net(..) => false,
                }
        });
        if listed {
            return Ok(NameVerdict::Allowed);
        }
        if host == "localhost" || host.ends_with(".localhost") {
            return Err(OutboundError::Refused(format!(
                "{host} names this machine (loopback), which the server connects to only when its operator lists it ({RULE})"
            )));
        }
        if !self.allow_public {
            return Err(OutboundError::Refused(format!(
                "{host} is not on the server's list of hosts it may connect to ({RULE})"
            )));
        }
        Ok(NameVerdict::ByAddress)
    }

    /// The addresses of `host:port` the rule allows, in the resolver's order: a name on the list
    /// keeps every address; any other name keeps those that pass `check_addr`, and none passing is
    /// a refusal naming the first address refused. The lookup runs within the connect timeout.
    pub async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, OutboundError> {
        let verdict = self.check_name(host, port)?;
        let name = normalise_host(host);
        if let Ok(ip) = name.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        let lookup = tokio::net::lookup_host((name.as_str(), port));
        let found: Vec<SocketAddr> = match tokio::time::timeout(self.connect_timeout, lookup).await
        {
            Ok(Ok(addrs)) => addrs.collect(),
            Ok(Err(e)) => {
                return Err(OutboundError::Unreachable(format!(
                    "cannot resolve {name}: {e}"
                )))
            }
            Err(_) => {
                return Err(OutboundError::Unreachable(format!(
                    "cannot resolve {name} within {} ms",
                    self.connect_timeout.as_millis()
                )))
            }
        };
        if found.is_empty() {
            return Err(OutboundError::Unreachable(format!("{name} has no address")));
        }
        if verdict == NameVerdict::Allowed {
            return Ok(found);
        }
        let mut first_refusal = None;
        let allowed: Vec<SocketAddr> = found
            .into_iter()
            .filter(|a| match self.check_addr(*a) {
                Ok(()) => true,
                Err(e) => {
                    first_refusal.get_or_insert(e);
                    false
                }
            })
            .collect();
        match (allowed.is_empty(), first_refusal) {
            (true, Some(OutboundError::Refused(why))) => Err(OutboundError::Refused(format!(
                "{name} resolves to a refused address: {why}"
            ))),
            (true, _) => Err(OutboundError::Unreachable(format!("{name} has no address"))),
            (false, _) => Ok(allowed),
        }
    }

    /// The first checked address of `host:port` (what a client library that connects by itself
    /// is handed, with the name kept for TLS).
    pub async fn pick(&self, host: &str, port: u16) -> Result<SocketAddr, OutboundError> {
        let addrs = self.resolve(host, port).await?;
        addrs
            .into_iter()
            .next()
            .ok_or_else(|| OutboundError::Unreachable(format!("{host} has no address")))
    }

    /// A TCP connection to a checked address of `host:port`: each allowed address in turn, all
    /// within one connect timeout (the lookup's time included).
    pub async fn connect(
        &self,
        host: &str,
        port: u16,
    ) -> Result<tokio::net::TcpStream, OutboundError> {
        let deadline = Instant::now() + self.connect_timeout;
        let addrs = self.resolve(host, port).await?;
        let mut last = String::from("no address");
        for addr in addrs {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, tokio::net::TcpStream::connect(addr)).await {
                Ok(Ok(stream)) => return Ok(stream),
                Ok(Err(e)) => last = e.to_string(),
                Err(_) => {
                    last = format!(
                        "no connection within {} ms",
                        self.connect_timeout.as_millis()
                    );
                    break;
                }
            }
        }
        Err(OutboundError::Unreachable(format!(
            "cannot connect to {host}:{port}: {last}"
        )))
    }

    /// The check made when a tenant names a target (a setting is saved): the name, and the
    /// addresses it resolves to now. A name that does not resolve now passes (the connection will
    /// be checked again when it is made); one that resolves only to refused addresses does not.
    pub async fn vet(&self, host: &str, port: u16) -> Result<(), OutboundError> {
        match self.resolve(host, port).await {
            Ok(_) | Err(OutboundError::Unreachable(_)) => Ok(()),
            Err(refused) => Err(refused),
        }
    }
}

/// Lower case, without IPv6 brackets or a trailing dot.
fn normalise_host(host: &str) -> String {
    let h = host.trim();
    let h = h
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(h);
    h.trim_end_matches('.').to_ascii_lowercase()
}

/// An IPv4-mapped IPv6 address (`::ffff:127.0.0.1`) is the IPv4 address it carries.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

fn in_net(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// `None` for a global (public) address; else what kind of non-global address it is. Follows the
/// IANA special-purpose registries; addresses that embed an IPv4 address (6to4, NAT64) are judged
/// by it.
fn non_global_kind(ip: IpAddr) -> Option<&'static str> {
    match canonical(ip) {
        IpAddr::V4(v4) => v4_kind(v4),
        IpAddr::V6(v6) => v6_kind(v6),
    }
}

fn v4_kind(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    match (a, b, c) {
        (0, _, _) => Some("this-network"),
        (10, _, _) => Some("private"),
        (100, 64..=127, _) => Some("shared (carrier-grade NAT)"),
        (127, _, _) => Some("loopback"),
        (169, 254, _) => Some("link-local"),
        (172, 16..=31, _) => Some("private"),
        (192, 0, 0) => Some("IETF protocol"),
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => Some("documentation"),
        (192, 88, 99) => Some("relay (6to4)"),
        (192, 168, _) => Some("private"),
        (198, 18..=19, _) => Some("benchmarking"),
        (224..=239, _, _) => Some("multicast"),
        (240..=255, _, _) => Some("reserved"),
        _ => None,
    }
}

fn v6_kind(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    let v4_at = |i: usize| Ipv4Addr::from((u32::from(s[i]) << 16) | u32::from(s[i + 1]));
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    if ip.is_loopback() {
        return Some("loopback");
    }
    match s {
        // ::/96, IPv4-compatible (deprecated).
        [0, 0, 0, 0, 0, 0, _, _] => Some("reserved"),
        // 64:ff9b::/96, NAT64 of a public IPv4 address: judged by that address.
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => v4_kind(v4_at(6)),
        // 64:ff9b:1::/48, local-use NAT64.
        [0x64, 0xff9b, 1, ..] => Some("private"),
        [0x100, 0, 0, 0, ..] => Some("discard"),
        // 2001::/32, Teredo: a tunnel to wherever the embedded server says.
        [0x2001, 0, ..] => Some("tunnel (Teredo)"),
        [0x2001, 2, 0, ..] => Some("benchmarking"),
        [0x2001, 0xdb8, ..] => Some("documentation"),
        [0x2001, x, ..] if (0x10..=0x2f).contains(&x) => Some("reserved (ORCHID)"),
        // 2002::/16, 6to4: judged by the embedded IPv4 address.
        [0x2002, ..] => v4_kind(v4_at(1)),
        // 3fff::/20.
        [0x3fff, y, ..] if y & 0xf000 == 0 => Some("documentation"),
        [x, ..] if x & 0xfe00 == 0xfc00 => Some("private (unique local)"),
        [x, ..] if x & 0xffc0 == 0xfe80 => Some("link-local"),
        [x, ..] if x & 0xffc0 == 0xfec0 => Some("site-local"),
        [x, ..] if x & 0xff00 == 0xff00 => Some("multicast"),
        // Global unicast is 2000::/3; everything else is unassigned or reserved.
        [x, ..] if x & 0xe000 != 0x2000 => Some("reserved"),
        _ => None,
    }
}

/// One `allowed_hosts` entry: `host`, `host:port`, `[v6]`, `[v6]:port`, a bare IPv6 address, or a
/// network (`10.0.0.0/8`, `10.0.0.0/8:25`, `[fd00::/8]:25`, `fd00::/8`).
fn parse_entry(raw: &str) -> Result<Entry, CoreError> {
    let bad = |why: &str| {
        CoreError::invalid(
            "outbound.allowed_hosts",
            format!("'{raw}' is not a host, host:port, address or network ({why})"),
        )
    };
    let text = raw.trim();
    if text.is_empty() || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("empty or with spaces"));
    }
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (inside, after) = rest.split_once(']').ok_or_else(|| bad("no closing ]"))?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or_else(|| bad("junk after ]"))?),
        };
        (inside, port)
    } else if text.matches(':').count() > 1 {
        // A bare IPv6 address or network: it cannot carry a port without brackets.
        (text, None)
    } else {
        match text.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (text, None),
        }
    };
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => Some(n),
            _ => return Err(bad("the port must be 1 to 65535")),
        },
    };
    let host = normalise_host(host);
    let pattern = if let Some((addr, len)) = host.split_once('/') {
        let ip: IpAddr = addr
            .parse()
            .map_err(|_| bad("a network needs an address"))?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let len: u8 = len
            .parse()
            .ok()
            .filter(|l| *l <= max)
            .ok_or_else(|| bad("the prefix length is out of range"))?;
        // Written as an IPv6 network, matched as one (addresses are compared in their IPv4 form
        // when they carry one; list the IPv4 network for those).
        HostPattern::Net(ip, len)
    } else if let Ok(ip) = host.parse::<IpAddr>() {
        let ip = canonical(ip);
        HostPattern::Net(ip, if ip.is_ipv4() { 32 } else { 128 })
    } else {
        let (suffix, name) = match host.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, host.as_str()),
        };
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if name.is_empty() || name.len() > 253 || !name.split('.').all(label_ok) {
            return Err(bad("not a DNS name"));
        }
        if suffix {
            HostPattern::Suffix(name.to_owned())
        } else {
            HostPattern::Name(name.to_owned())
        }
    };
    Ok(Entry {
        host: pattern,
        port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(list: &[&str], allow_public: bool) -> Guard {
        Guard::new(&OutboundOptions {
            allowed_hosts: list.iter().map(|s| s.to_string()).collect(),
            allow_public,
            connect_timeout: Duration::from_secs(2),
        })
        .unwrap()
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn non_global_ranges_are_refused_unless_listed() {
        let g = guard(&[], true);
        for refused in [
            "127.0.0.1:25",
            "10.1.2.3:25",
            "172.16.0.1:25",
            "172.31.255.255:25",
            "192.168.1.1:25",
            "169.254.169.254:80",
            "100.64.0.1:25",
            "0.0.0.0:25",
            "255.255.255.255:25",
            "224.0.0.1:25",
            "192.0.2.1:25",
            "[::1]:25",
            "[::]:25",
            "[::ffff:127.0.0.1]:25",
            "[::ffff:10.0.0.1]:25",
            "[fe80::1]:25",
            "[fd00::1]:25",
            "[fc00::1]:25",
            "[ff02::1]:25",
            "[2001:db8::1]:25",
            "[2002:7f00:1::]:25",
            "[64:ff9b::a00:1]:25",
            "[2001::1]:25",
        ] {
            let e = g.check_addr(addr(refused)).unwrap_err();
            assert!(e.to_string().contains(RULE), "{refused}: {e}");
        }
        for public in [
            "93.184.216.34:25",
            "8.8.8.8:465",
            "172.32.0.1:25",
            "[2606:4700::1111]:25",
            "[2002:5db8:d822::]:25",
            "[64:ff9b::808:808]:25",
        ] {
            assert!(g.check_addr(addr(public)).is_ok(), "{public}");
        }
    }

    #[test]
    fn listed_addresses_networks_and_ports() {
        let g = guard(
            &["127.0.0.1", "10.0.0.0/8:25", "[fd00::/8]:587", "::1"],
            true,
        );
        assert!(g.check_addr(addr("127.0.0.1:2525")).is_ok());
        assert!(g.check_addr(addr("[::ffff:127.0.0.1]:2525")).is_ok());
        assert!(g.check_addr(addr("127.0.0.2:2525")).is_err());
        assert!(g.check_addr(addr("10.9.8.7:25")).is_ok());
        assert!(g.check_addr(addr("10.9.8.7:26")).is_err());
        assert!(g.check_addr(addr("[fd12::1]:587")).is_ok());
        assert!(g.check_addr(addr("[fd12::1]:25")).is_err());
        assert!(g.check_addr(addr("[::1]:9")).is_ok());
    }

    #[test]
    fn names_listed_by_name_or_suffix_and_localhost_refused() {
        let g = guard(&["mail.internal:25", "*.corp.example"], true);
        assert_eq!(g.check_name("mail.internal", 25), Ok(NameVerdict::Allowed));
        assert_eq!(g.check_name("MAIL.internal.", 25), Ok(NameVerdict::Allowed));
        assert_eq!(
            g.check_name("mail.internal", 26),
            Ok(NameVerdict::ByAddress)
        );
        assert_eq!(
            g.check_name("smtp.corp.example", 1),
            Ok(NameVerdict::Allowed)
        );
        assert_eq!(g.check_name("corp.example", 1), Ok(NameVerdict::ByAddress));
        assert_eq!(
            g.check_name("evilcorp.example", 1),
            Ok(NameVerdict::ByAddress)
        );
        assert!(g.check_name("localhost", 25).is_err());
        assert!(g.check_name("api.acme.localhost", 25).is_err());
        assert!(g.check_name("[::1]", 25).is_err());
        assert!(g.check_name("mail.example.com", 0).is_err());
        let closed = guard(&["mail.internal"], false);
        assert!(closed.check_name("mail.example.com", 25).is_err());
        assert!(closed.check_addr(addr("93.184.216.34:25")).is_err());
        assert_eq!(
            closed.check_name("mail.internal", 25),
            Ok(NameVerdict::Allowed)
        );
    }

    #[test]
    fn bad_entries_are_refused_by_name() {
        for bad in [
            "",
            "a b",
            "host:0",
            "host:99999",
            "10.0.0.0/33",
            "[::1",
            "bad_name!",
            "x.y/8",
        ] {
            let e = Guard::new(&OutboundOptions {
                allowed_hosts: vec![bad.to_owned()],
                ..OutboundOptions::default()
            })
            .unwrap_err();
            assert!(e.to_string().contains("allowed_hosts"), "{bad}: {e}");
        }
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused_and_the_refusal_names_the_rule() {
        // `localhost` itself is refused by name; a listed name may resolve anywhere.
        let g = guard(&[], true);
        let e = g.resolve("localhost", 25).await.unwrap_err();
        assert!(matches!(e, OutboundError::Refused(_)), "{e}");
        assert!(e.to_string().contains(RULE));
        let listed = guard(&["localhost"], true);
        let addrs = listed.resolve("localhost", 25).await.unwrap();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()));
        // An address written as such is checked without a lookup.
        assert_eq!(
            guard(&["127.0.0.1"], true).resolve("127.0.0.1", 7).await,
            Ok(vec![addr("127.0.0.1:7")])
        );
        assert!(g.vet("127.0.0.1", 25).await.is_err());
        // A name that does not resolve now is not refused at save time.
        assert!(g.vet("no-such-host.invalid", 25).await.is_ok());
    }

    #[tokio::test]
    async fn connect_reaches_a_listed_listener_and_not_an_unlisted_one() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        assert!(guard(&["127.0.0.1"], true)
            .connect("127.0.0.1", port)
            .await
            .is_ok());
        assert!(matches!(
            guard(&[], true).connect("127.0.0.1", port).await,
            Err(OutboundError::Refused(_))
        ));
    }
}
