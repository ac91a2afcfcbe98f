//! [`Id`]: a record id with MongoDB ObjectId layout, rendered as 24 lowercase
//! hex characters.

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use crate::model::string_serde::string_serde;
use crate::model::Timestamp;

/// A record id: 4 bytes of big-endian Unix seconds, 5 random bytes fixed per
/// process, and a 3-byte counter (the ObjectId layout). Ordering follows the
/// bytes, so ids sort by creation second.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Id([u8; 12]);

/// Why a string is not an [`Id`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not an id: ids are 24 lowercase hexadecimal characters")]
pub struct IdError(pub String);

fn process_random() -> &'static [u8; 5] {
    static BYTES: OnceLock<[u8; 5]> = OnceLock::new();
    BYTES.get_or_init(rand::random)
}

fn counter() -> &'static AtomicU32 {
    static COUNTER: OnceLock<AtomicU32> = OnceLock::new();
    COUNTER.get_or_init(|| AtomicU32::new(rand::random::<u32>() & 0x00ff_ffff))
}

impl Id {
    /// A fresh id stamped with `now`. Unique within the process; unique
    /// across processes with overwhelming probability.
    pub fn generate(now: Timestamp) -> Self {
        let secs = u32::try_from(now.unix_seconds().max(0)).unwrap_or(u32::MAX);
        let count = counter().fetch_add(1, Ordering::Relaxed) & 0x00ff_ffff;
        let mut b = [0u8; 12];
        b[..4].copy_from_slice(&secs.to_be_bytes());
        b[4..9].copy_from_slice(process_random());
        b[9..].copy_from_slice(&count.to_be_bytes()[1..]);
        Self(b)
    }

    /// Strict parse: exactly 24 lowercase hex characters (uppercase is
    /// refused, as Eve's item URLs refuse it).
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let ok = s.len() == 24 && s.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
        if !ok {
            return Err(IdError(s.to_owned()));
        }
        let mut b = [0u8; 12];
        hex::decode_to_slice(s, &mut b).map_err(|_| IdError(s.to_owned()))?;
        Ok(Self(b))
    }

    /// Whether `s` has the shape of an id.
    pub fn is_id(s: &str) -> bool {
        Self::parse(s).is_ok()
    }

    /// The raw 12 bytes.
    pub fn bytes(&self) -> [u8; 12] {
        self.0
    }

    /// Builds an id from its 12 raw bytes.
    pub fn from_bytes(b: [u8; 12]) -> Self {
        Self(b)
    }

    /// The Unix seconds stored in the first four bytes.
    pub fn seconds(&self) -> u32 {
        u32::from_be_bytes([self.0[0], self.0[1], self.0[2], self.0[3]])
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Into a buffer on the stack (`hex::encode` builds its String one
        // char at a time; ids are written on every answer).
        let mut text = [0u8; 24];
        hex::encode_to_slice(self.0, &mut text).map_err(|_| fmt::Error)?;
        f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({self})")
    }
}

string_serde!(Id, IdError, "an id: 24 lowercase hexadecimal characters");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_24_lowercase_hex_and_carry_the_second() {
        let now = Timestamp::parse("2026-11-25 01:36:55 GMT").unwrap();
        let id = Id::generate(now);
        let s = id.to_string();
        assert_eq!(s.len(), 24);
        assert!(s
            .bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_eq!(i64::from(id.seconds()), now.unix_seconds());
        assert_eq!(Id::parse(&s).unwrap(), id);
    }

    #[test]
    fn consecutive_ids_differ_and_sort_in_creation_order() {
        let now = Timestamp::parse("2026-11-25 01:36:55 GMT").unwrap();
        let a = Id::generate(now);
        let b = Id::generate(now.plus(std::time::Duration::from_secs(1)));
        assert_ne!(a, b);
        assert!(a < b);
    }

    #[test]
    fn parse_refuses_uppercase_short_and_non_hex() {
        assert!(Id::parse("6B063BB73E47CEC0540BAA24").is_err());
        assert!(Id::parse("6b063bb73e47cec0540baa2").is_err());
        assert!(Id::parse("6b063bb73e47cec0540baa2g").is_err());
        assert!(Id::parse("6b063bb73e47cec0540baa24").is_ok());
    }

    #[test]
    fn serializes_as_its_hex_text_and_round_trips() {
        let id: Id = "6b063bb73e47cec0540baa24".parse().unwrap();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, r#""6b063bb73e47cec0540baa24""#);
        assert_eq!(serde_json::from_str::<Id>(&json).unwrap(), id);
    }

    #[test]
    fn deserializing_a_bad_id_names_the_value_and_the_format() {
        let e = serde_json::from_str::<Id>(r#""6B063BB73E47CEC0540BAA24""#).unwrap_err();
        assert!(
            e.to_string().starts_with(
                "'6B063BB73E47CEC0540BAA24' is not an id: ids are 24 lowercase hexadecimal characters"
            ),
            "{e}"
        );
        let e = serde_json::from_str::<Id>("42").unwrap_err();
        assert!(
            e.to_string().starts_with(
                "invalid type: integer `42`, expected an id: 24 lowercase hexadecimal characters"
            ),
            "{e}"
        );
    }
}
