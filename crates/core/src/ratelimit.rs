//! The per-client-IP limit on signups, user creations and anonymous sign-ins: a fixed one-minute
//! window per (tenant, IP), kept in memory on each node.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

const WINDOW_MS: i64 = 60_000;
/// Past this many tracked clients, finished windows are swept on the next check.
const SWEEP_ABOVE: usize = 10_000;

#[derive(Default)]
pub struct RateLimiter {
    windows: Mutex<HashMap<(String, IpAddr), (i64, u32)>>,
}

impl RateLimiter {
    /// Counts one request and says whether it is within `per_minute` (0: no limit).
    pub fn allow(&self, tenant_id: &str, ip: IpAddr, per_minute: u32, now_ms: i64) -> bool {
        if per_minute == 0 {
            return true;
        }
        let window = now_ms.div_euclid(WINDOW_MS);
        let mut map = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > SWEEP_ABOVE {
            map.retain(|_, (w, _)| *w == window);
        }
        let entry = map.entry((tenant_id.to_owned(), ip)).or_insert((window, 0));
        if entry.0 != window {
            *entry = (window, 0);
        }
        if entry.1 >= per_minute {
            return false;
        }
        entry.1 += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_tenant_and_ip_and_resets_each_minute() {
        let rl = RateLimiter::default();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        assert!(rl.allow("a", ip, 2, 0));
        assert!(rl.allow("a", ip, 2, 1));
        assert!(!rl.allow("a", ip, 2, 2));
        assert!(rl.allow("a", other, 2, 2));
        assert!(rl.allow("b", ip, 2, 2));
        assert!(rl.allow("a", ip, 2, 60_000));
        assert!(rl.allow("a", ip, 0, 60_001));
    }
}
