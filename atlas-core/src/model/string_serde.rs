//! [`string_serde!`]: the `FromStr`, `Serialize` and `Deserialize` impls of
//! the value types whose wire form is their text ([`Id`](super::Id),
//! [`Timestamp`](super::Timestamp), [`Sid`](super::Sid)): serialized as
//! their `Display` text, deserialized from a string through their `parse`.

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

use serde::de::{Error, Unexpected, Visitor};

/// Implements, for `$ty` (which has `fn parse(&str) -> Result<Self, $err>`
/// and `Display`):
/// - `FromStr`, by `$ty::parse`;
/// - `Serialize`, as the `Display` text;
/// - `Deserialize`, from a string by `$ty::parse`: a bad string fails with
///   the `$err` message (which names the value and the format), anything
///   but a string with "invalid type: …, expected `$expecting`".
macro_rules! string_serde {
    ($ty:ident, $err:ty, $expecting:literal) => {
        impl ::std::str::FromStr for $ty {
            type Err = $err;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl ::serde::Serialize for $ty {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_str($crate::model::string_serde::Parsed::<Self>::new($expecting))
            }
        }
    };
}
pub(crate) use string_serde;

/// A serde visitor taking a string (or UTF-8 bytes) and parsing it into a
/// `T` with `FromStr`; the parse error's text is the error message.
pub(crate) struct Parsed<T> {
    expecting: &'static str,
    parsed: PhantomData<fn() -> T>,
}

impl<T> Parsed<T> {
    /// A visitor that describes what it wants as `expecting`.
    pub(crate) fn new(expecting: &'static str) -> Self {
        Self {
            expecting,
            parsed: PhantomData,
        }
    }
}

impl<T> Visitor<'_> for Parsed<T>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<E: Error>(self, v: &str) -> Result<T, E> {
        v.parse().map_err(E::custom)
    }

    fn visit_bytes<E: Error>(self, v: &[u8]) -> Result<T, E> {
        match std::str::from_utf8(v) {
            Ok(s) => self.visit_str(s),
            Err(_) => Err(E::invalid_value(Unexpected::Bytes(v), &self)),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::de::value::{BytesDeserializer, Error as ValueError};
    use serde::Deserialize;

    use crate::model::Id;

    #[test]
    fn utf8_bytes_deserialize_like_the_string() {
        let text = "6b063bb73e47cec0540baa24";
        let id = Id::deserialize(BytesDeserializer::<ValueError>::new(text.as_bytes())).unwrap();
        assert_eq!(id, Id::parse(text).unwrap());
    }

    #[test]
    fn non_utf8_bytes_are_refused_naming_what_is_expected() {
        let e = Id::deserialize(BytesDeserializer::<ValueError>::new(&[0xff, 0xfe])).unwrap_err();
        assert!(
            e.to_string()
                .contains("expected an id: 24 lowercase hexadecimal characters"),
            "{e}"
        );
    }
}
