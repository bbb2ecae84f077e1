//! "Since when" for audit reads: a duration back from now (`90s`, `15m`, `24h`, `7d`, `2w`) or
//! an RFC 3339 time, as the CLI's `--since` and the admin route's `since` take it.

use crate::error::{CoreError, CoreResult};

/// The Unix millisecond `raw` names, counted back from `now_ms` for a duration.
pub fn parse_since(raw: &str, now_ms: i64) -> CoreResult<i64> {
    let raw = raw.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(raw) {
        return Ok(t.timestamp_millis());
    }
    let bad = || {
        CoreError::invalid(
            "since",
            format!("'{raw}' is neither a duration (90s, 15m, 24h, 7d, 2w) nor an RFC 3339 time"),
        )
    };
    let split = raw.len().checked_sub(1).ok_or_else(bad)?;
    let (number, unit) = raw.split_at(split);
    let unit_ms: i64 = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => return Err(bad()),
    };
    let n: i64 = number
        .parse()
        .ok()
        .filter(|n| (0..=100_000).contains(n))
        .ok_or_else(bad)?;
    Ok(now_ms.saturating_sub(n * unit_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_count_back_and_times_are_taken_as_they_are() {
        let now = 1_800_000_000_000;
        assert_eq!(parse_since("90s", now).unwrap(), now - 90_000);
        assert_eq!(parse_since("24h", now).unwrap(), now - 86_400_000);
        assert_eq!(parse_since(" 7d ", now).unwrap(), now - 7 * 86_400_000);
        assert_eq!(
            parse_since("2027-01-15T08:00:00Z", now).unwrap(),
            1_800_000_000_000
        );
        for bad in ["", "d", "7", "7y", "-1d", "1.5h", "999999999d", "yesterday"] {
            assert!(parse_since(bad, now).is_err(), "{bad:?}");
        }
    }
}
