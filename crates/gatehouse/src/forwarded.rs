//! Which host and client address a request comes from: the request line's absolute-URI host, else
//! `Host`; and, only when configured to trust a proxy, the entry that proxy added to
//! `X-Forwarded-Host` / `X-Forwarded-For` (counted from the right, never the client's own value).

use actix_web::dev::RequestHead;
use actix_web::http::header;
use std::net::{IpAddr, Ipv4Addr};

/// How the binary reads hosts and client addresses; from `[server]`.
#[derive(Debug, Clone, Copy)]
pub struct Trust {
    pub forwarded_host: bool,
    pub forwarded_for: bool,
    /// Proxies in front that append to `X-Forwarded-*` (at least 1 when trust is on).
    pub hops: usize,
}

/// The entry the outermost trusted proxy wrote: with `hops` trusted proxies each appending one
/// entry, it is the `hops`-th from the right. Entries to its left came from the client and are
/// ignored. A list shorter than `hops` gives its leftmost entry (all of it was written by proxies).
fn trusted_entry(req: &RequestHead, name: &str, hops: usize) -> Option<String> {
    let entries: Vec<&str> = req
        .headers
        .get_all(name)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let index = entries.len().saturating_sub(hops.max(1));
    entries
        .get(index)
        .filter(|s| !s.is_empty())
        .map(|s| (*s).to_owned())
}

/// The host that names the tenant. RFC 9112 3.2.2: when the request target is in absolute form,
/// its authority is the host and `Host` is ignored.
pub fn host_of(req: &RequestHead, trust: Trust) -> String {
    if trust.forwarded_host {
        if let Some(h) = trusted_entry(req, "x-forwarded-host", trust.hops) {
            return h;
        }
    }
    if let Some(authority) = req.uri.authority() {
        return authority.as_str().to_owned();
    }
    req.headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_default()
}

/// The client address that per-IP limits count.
pub fn client_ip_of(req: &RequestHead, trust: Trust) -> IpAddr {
    if trust.forwarded_for {
        if let Some(ip) =
            trusted_entry(req, "x-forwarded-for", trust.hops).and_then(|v| v.parse().ok())
        {
            return ip;
        }
    }
    req.peer_addr
        .map(|a| a.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn trust(hops: usize) -> Trust {
        Trust {
            forwarded_host: true,
            forwarded_for: true,
            hops,
        }
    }

    #[test]
    fn the_proxys_entry_is_counted_from_the_right() {
        let req = TestRequest::default()
            .insert_header(("x-forwarded-for", "6.6.6.6, 10.0.0.1"))
            .append_header(("x-forwarded-for", "10.0.0.2"))
            .to_srv_request();
        assert_eq!(client_ip_of(req.head(), trust(1)).to_string(), "10.0.0.2");
        assert_eq!(client_ip_of(req.head(), trust(2)).to_string(), "10.0.0.1");
        assert_eq!(client_ip_of(req.head(), trust(9)).to_string(), "6.6.6.6");
    }

    #[test]
    fn an_absolute_uri_host_wins_over_the_host_header() {
        let req = TestRequest::default()
            .uri("http://globex.test/v1/x")
            .insert_header((header::HOST, "localhost"))
            .to_srv_request();
        let off = Trust {
            forwarded_host: false,
            forwarded_for: false,
            hops: 1,
        };
        assert_eq!(host_of(req.head(), off), "globex.test");
    }
}
