//! [`Sid`]: an instance's site id, used in paths, database names and URLs, so
//! it is held to a safe character set.

use std::fmt;

use rand::Rng;

use crate::model::string_serde::string_serde;

/// The pattern every sid matches (also the schema's regex).
pub const SID_PATTERN: &str = "^[a-z0-9_]{9,14}$";

/// A validated site id: 9–14 characters of `[a-z0-9_]`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sid(String);

/// Why a string is not a [`Sid`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a valid sid: use 9 to 14 characters of a-z, 0-9 and _")]
pub struct SidError(pub String);

impl Sid {
    /// A fresh sid: `p1` followed by 10 lowercase hex characters.
    pub fn generate() -> Self {
        let n: u64 = rand::thread_rng().gen_range(0..(1u64 << 40));
        Self(format!("p1{n:010x}"))
    }

    /// Validates `s`.
    pub fn parse(s: &str) -> Result<Self, SidError> {
        let ok =
            (9..=14).contains(&s.len()) && s.bytes().all(|c| matches!(c, b'a'..=b'z' | b'0'..=b'9' | b'_'));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(SidError(s.to_owned()))
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sid({})", self.0)
    }
}

string_serde!(Sid, SidError, "a sid: 9 to 14 characters of a-z, 0-9 and _");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_sids_are_p1_and_ten_hex() {
        for _ in 0..100 {
            let s = Sid::generate();
            assert_eq!(s.as_str().len(), 12);
            assert!(s.as_str().starts_with("p1"));
            assert!(s.as_str()[2..]
                .bytes()
                .all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')));
            assert!(Sid::parse(s.as_str()).is_ok());
        }
    }

    #[test]
    fn sid_refuses_slashes_dots_uppercase_and_bad_lengths() {
        for bad in [
            "p1/abcdefgh",
            "../etc/pass",
            "P1ABCDEFGHI",
            "p1abc",
            "p1abcdef0123456",
        ] {
            assert!(Sid::parse(bad).is_err(), "{bad}");
        }
        assert!(Sid::parse("my_site_01").is_ok());
    }

    #[test]
    fn serializes_as_its_text_and_round_trips() {
        let sid: Sid = "my_site_01".parse().unwrap();
        let json = serde_json::to_string(&sid).unwrap();
        assert_eq!(json, r#""my_site_01""#);
        assert_eq!(serde_json::from_str::<Sid>(&json).unwrap(), sid);
    }

    #[test]
    fn deserializing_a_bad_sid_names_the_value_and_the_rule() {
        let e = serde_json::from_str::<Sid>(r#""../etc/pass""#).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("'../etc/pass' is not a valid sid: use 9 to 14 characters of a-z, 0-9 and _"),
            "{e}"
        );
        assert!("p1abc".parse::<Sid>().is_err());
        let e = serde_json::from_str::<Sid>("null").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("invalid type: null, expected a sid: 9 to 14 characters of a-z, 0-9 and _"),
            "{e}"
        );
    }
}
