//! ObjectId-style ids: 24 hex digits, a 4-byte big-endian timestamp then 8 random bytes, because
//! clients of both dialects treat ids as Mongo ObjectIds (and some sort by them).

use rand::RngCore;

pub fn object_id(now_secs: i64) -> String {
    let mut bytes = [0u8; 12];
    bytes[..4].copy_from_slice(&(now_secs as u32).to_be_bytes());
    rand::thread_rng().fill_bytes(&mut bytes[4..]);
    hex::encode(bytes)
}

/// True for strings shaped like an id this module makes; lets lookups reject junk before a query.
pub fn is_object_id(s: &str) -> bool {
    s.len() == 24 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_24_hex_and_start_with_time() {
        let id = object_id(0x6560_0000);
        assert!(is_object_id(&id));
        assert!(id.starts_with("65600000"));
        assert_ne!(object_id(1), object_id(1));
        assert!(!is_object_id("zz"));
    }
}
