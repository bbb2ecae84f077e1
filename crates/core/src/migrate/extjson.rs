//! MongoDB Extended JSON as `mongoexport` writes it, in both modes: relaxed (`{"$oid": "..."}`,
//! `{"$date": "2020-01-01T00:00:00Z"}`, plain numbers) and canonical (`{"$date": {"$numberLong":
//! "..."}}`, `{"$numberInt": "100"}`). Each reader answers `None` for a value of another shape.

use serde_json::{Map, Value};

/// The value under `key`, treating JSON `null` as absent.
pub fn field<'v>(doc: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    doc.get(key).filter(|v| !v.is_null())
}

fn wrapped<'v>(v: &'v Value, key: &str) -> Option<&'v Value> {
    match v {
        Value::Object(m) if m.len() == 1 => m.get(key),
        _ => None,
    }
}

/// An ObjectId: `{"$oid": "..."}` or the bare hex string.
pub fn oid(v: &Value) -> Option<String> {
    let raw = wrapped(v, "$oid").unwrap_or(v).as_str()?;
    Some(raw.to_owned())
}

/// A number: plain, or `{"$numberInt" | "$numberLong" | "$numberDouble": "..."}`.
pub fn number(v: &Value) -> Option<f64> {
    if let Some(n) = v.as_f64() {
        return Some(n);
    }
    ["$numberInt", "$numberLong", "$numberDouble"]
        .iter()
        .find_map(|k| wrapped(v, k))
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
}

/// A time as Unix milliseconds: `{"$date": "<ISO-8601>"}` (relaxed), `{"$date": {"$numberLong":
/// "<ms>"}}` (canonical), `{"$date": <ms>}` (older tools), or a bare ISO-8601 string.
pub fn date_ms(v: &Value) -> Option<i64> {
    let inner = wrapped(v, "$date").unwrap_or(v);
    if let Some(text) = inner.as_str() {
        return chrono::DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| t.timestamp_millis());
    }
    wrapped(v, "$date").and_then(number).map(|ms| ms as i64)
}

pub fn string<'v>(doc: &'v Map<String, Value>, key: &str) -> Option<&'v str> {
    field(doc, key).and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_modes_read_alike() {
        assert_eq!(
            oid(&json!({"$oid": "5f1b2c3d4e5f6a7b8c9d0e1f"})).unwrap(),
            "5f1b2c3d4e5f6a7b8c9d0e1f"
        );
        assert_eq!(oid(&json!("abc")).unwrap(), "abc");
        assert_eq!(oid(&json!(5)), None);
        let ms = 1_577_836_800_123;
        assert_eq!(
            date_ms(&json!({"$date": "2020-01-01T00:00:00.123Z"})),
            Some(ms)
        );
        assert_eq!(
            date_ms(&json!({"$date": {"$numberLong": "1577836800123"}})),
            Some(ms)
        );
        assert_eq!(date_ms(&json!({"$date": 1_577_836_800_123_i64})), Some(ms));
        assert_eq!(date_ms(&json!("2020-01-01T01:00:00.123+01:00")), Some(ms));
        assert_eq!(date_ms(&json!("yesterday")), None);
        assert_eq!(number(&json!({"$numberInt": "100"})), Some(100.0));
        assert_eq!(number(&json!(100)), Some(100.0));
        assert_eq!(number(&json!("100")), None);
    }
}
