//! JSON text read strictly, as both facades' body parsers need it: a key given twice is refused
//! (serde_json, like `JSON.parse`, would silently keep the last, so two parsers in front of
//! Gatehouse could each see a different value). NUL is left to each field's own check (so the
//! answer names the field), and to `validated::storable` before any query. Nesting depth stays
//! bounded by serde_json's recursion limit.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

/// Why a text was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StrictJsonError {
    /// Not JSON at all.
    Syntax,
    /// An object names this key twice.
    DuplicateKey(String),
}

const DUPLICATE: &str = "gatehouse:duplicate-key:";

/// Parses `bytes` into a `Value`, refusing duplicate keys.
pub fn parse(bytes: &[u8]) -> Result<Value, StrictJsonError> {
    match serde_json::from_slice::<Strict>(bytes) {
        Ok(Strict(v)) => Ok(v),
        Err(e) => {
            let message = e.to_string();
            if let Some(rest) = message.strip_prefix(DUPLICATE) {
                // serde_json appends " at line L column C".
                let key = rest.rsplit_once(" at line ").map_or(rest, |(k, _)| k);
                Err(StrictJsonError::DuplicateKey(key.to_owned()))
            } else {
                Err(StrictJsonError::Syntax)
            }
        }
    }
}

struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Strict, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(Value::from(n))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(Value::from(n))
    }

    fn visit_f64<E>(self, n: f64) -> Result<Value, E> {
        Ok(Value::from(n))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<std::borrow::Cow<'de, str>>()? {
            let key = key.into_owned();
            if map.contains_key(&key) {
                return Err(de::Error::custom(format!("{DUPLICATE}{key}")));
            }
            let Strict(value) = access.next_value()?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys_and_bad_syntax_are_told_apart() {
        assert_eq!(
            parse(br#"{"a":1,"b":{"c":[1,2.5,"x",null,true]}}"#).unwrap(),
            serde_json::json!({"a":1,"b":{"c":[1,2.5,"x",null,true]}})
        );
        assert_eq!(
            parse(br#"{"password":"a","password":"b"}"#),
            Err(StrictJsonError::DuplicateKey("password".into()))
        );
        assert_eq!(
            parse(br#"{"x":{"k":1,"k":2}}"#),
            Err(StrictJsonError::DuplicateKey("k".into()))
        );
        assert_eq!(parse(br#"{"a":"x\u0000y"}"#).unwrap()["a"], "x\u{0}y");
        assert_eq!(parse(br#"{"a":"#), Err(StrictJsonError::Syntax));
        // A lone surrogate cannot become a Rust string: refused as bad JSON.
        assert_eq!(parse(br#"{"a":"\ud800"}"#), Err(StrictJsonError::Syntax));
        // Keys with escapes are compared once unescaped.
        assert_eq!(
            parse(br#"{"a":1,"\u0061":2}"#),
            Err(StrictJsonError::DuplicateKey("a".into()))
        );
    }
}
