//! `gatehouse healthcheck`: asks a running node's `/readyz` and exits 0 when it answers 200, 1
//! otherwise. It is the container's healthcheck (docker-compose.yml): the runtime image has no
//! curl, and the binary is there anyway. It opens no database and needs no master key; the address
//! comes from `server.bind` (a wildcard bind is asked on loopback) unless `--url` names one.
//!
//! The request is one plain HTTP/1.1 GET over a TCP connection with timeouts: a probe inside the
//! container, never TLS (TLS ends in front of Gatehouse).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// How long the probe waits to connect, and for the answer.
pub const TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, clap::Args)]
pub struct HealthcheckArgs {
    /// The URL to ask instead of `http://<server.bind>/readyz` (plain http only).
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
}

/// Where to probe: `host:port` and the path.
#[derive(Debug, PartialEq, Eq)]
pub struct Target {
    pub authority: String,
    pub path: String,
}

/// The probe's target for a bind address: a wildcard (`0.0.0.0`, `[::]`) is asked on loopback.
pub fn target_of_bind(bind: &str) -> Result<Target, String> {
    let (host, port) = bind
        .rsplit_once(':')
        .ok_or_else(|| format!("server.bind '{bind}' has no port"))?;
    let host = match host {
        "0.0.0.0" | "" => "127.0.0.1",
        "[::]" => "[::1]",
        other => other,
    };
    Ok(Target {
        authority: format!("{host}:{port}"),
        path: "/readyz".into(),
    })
}

/// The probe's target for `--url http://host:port/path`.
pub fn target_of_url(raw: &str) -> Result<Target, String> {
    let url = url::Url::parse(raw).map_err(|e| format!("--url '{raw}': {e}"))?;
    if url.scheme() != "http" {
        return Err(format!("--url '{raw}': only http:// is probed"));
    }
    let host = url
        .host_str()
        .ok_or_else(|| format!("--url '{raw}' has no host"))?;
    let port = url.port_or_known_default().unwrap_or(80);
    let path = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    Ok(Target {
        authority: format!("{host}:{port}"),
        path,
    })
}

/// The status code of an HTTP/1.x answer's first line.
pub fn status_of(answer: &[u8]) -> Option<u16> {
    let line = answer.split(|b| *b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split_whitespace();
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    parts.next()?.parse().ok()
}

/// Asks `target` once: `Ok(())` for a 200, else what went wrong, in one line.
pub fn probe(target: &Target, timeout: Duration) -> Result<(), String> {
    let addrs: Vec<SocketAddr> = target
        .authority
        .to_socket_addrs()
        .map_err(|e| format!("{}: {e}", target.authority))?
        .collect();
    let mut last = format!("{}: no address", target.authority);
    for addr in addrs {
        match ask(addr, target, timeout) {
            Ok(200) => return Ok(()),
            Ok(status) => return Err(format!("{addr}{} answered {status}", target.path)),
            Err(e) => last = format!("{addr}: {e}"),
        }
    }
    Err(last)
}

fn ask(addr: SocketAddr, target: &Target, timeout: Duration) -> Result<u16, String> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|_| stream.set_write_timeout(Some(timeout)))
        .map_err(|e| e.to_string())?;
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: gatehouse-healthcheck\r\nConnection: close\r\n\r\n",
        target.path
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    // The status line is all that is read; the body is not needed.
    let mut answer = Vec::with_capacity(256);
    let mut buf = [0u8; 256];
    while !answer.contains(&b'\n') && answer.len() < 4096 {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) => return Err(e.to_string()),
        }
    }
    status_of(&answer).ok_or_else(|| "not an HTTP answer".to_owned())
}

/// The command: probe, and say what was found on one line (an error exits 1, see `cli::main`).
pub fn run(bind: &str, args: &HealthcheckArgs) -> Result<(), String> {
    let target = match &args.url {
        Some(url) => target_of_url(url)?,
        None => target_of_bind(bind)?,
    };
    probe(&target, TIMEOUT).map_err(|e| format!("not ready: {e}"))?;
    println!("ready: http://{}{}", target.authority, target.path);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn a_wildcard_bind_is_probed_on_loopback() {
        assert_eq!(
            target_of_bind("0.0.0.0:8080").unwrap(),
            Target {
                authority: "127.0.0.1:8080".into(),
                path: "/readyz".into()
            }
        );
        assert_eq!(target_of_bind("[::]:81").unwrap().authority, "[::1]:81");
        assert_eq!(
            target_of_bind("10.0.0.5:9000").unwrap().authority,
            "10.0.0.5:9000"
        );
        assert!(target_of_bind("nonsense").is_err());
    }

    #[test]
    fn urls_must_be_plain_http() {
        let t = target_of_url("http://127.0.0.1:9/readyz?x=1").unwrap();
        assert_eq!(
            (t.authority.as_str(), t.path.as_str()),
            ("127.0.0.1:9", "/readyz?x=1")
        );
        assert_eq!(target_of_url("http://gw/").unwrap().authority, "gw:80");
        assert!(target_of_url("https://gw/readyz").is_err());
        assert!(target_of_url("not a url").is_err());
    }

    #[test]
    fn the_status_line_is_read() {
        assert_eq!(
            status_of(b"HTTP/1.1 200 OK\r\ncontent-length: 2"),
            Some(200)
        );
        assert_eq!(
            status_of(b"HTTP/1.0 503 Service Unavailable\r\n"),
            Some(503)
        );
        assert_eq!(status_of(b"SSH-2.0-OpenSSH\r\n"), None);
        assert_eq!(status_of(b""), None);
    }

    /// A one-shot server answering `status` to the first request; its target.
    fn answering(status: &'static str) -> Target {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            if let Ok((mut s, _)) = listener.accept() {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf);
                let _ = s.write_all(
                    format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n").as_bytes(),
                );
            }
        });
        Target {
            authority: format!("127.0.0.1:{port}"),
            path: "/readyz".into(),
        }
    }

    #[test]
    fn only_a_200_is_healthy() {
        assert_eq!(probe(&answering("200 OK"), TIMEOUT), Ok(()));
        let e = probe(&answering("503 Service Unavailable"), TIMEOUT).unwrap_err();
        assert!(e.contains("503"), "{e}");
        // Nothing listening: refused, not healthy.
        let closed = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let target = Target {
            authority: format!("127.0.0.1:{closed}"),
            path: "/readyz".into(),
        };
        assert!(probe(&target, Duration::from_secs(1)).is_err());
    }

    #[test]
    fn a_server_that_never_answers_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let target = Target {
            authority: listener.local_addr().unwrap().to_string(),
            path: "/readyz".into(),
        };
        let started = std::time::Instant::now();
        assert!(probe(&target, Duration::from_millis(300)).is_err());
        assert!(started.elapsed() < Duration::from_secs(5));
        drop(listener);
    }
}
