//! [`Etag`]: sha1 (40 lowercase hex) of the canonical JSON of a stored
//! document, and the canonical JSON itself.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha1::{Digest, Sha1};

/// A document etag: 40 lowercase hex characters.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Etag(String);

impl Etag {
    /// The etag of `doc`: sha1 of its [`canonical_json`], so equal content
    /// gives the same etag whatever the key order.
    pub fn of(doc: &Value) -> Self {
        let mut h = Sha1::new();
        h.update(canonical_json(doc).as_bytes());
        Self(hex::encode(h.finalize()))
    }

    /// Wraps a client-supplied value (an `If-Match` header, say). Quotes and
    /// a `W/` prefix are stripped; nothing else is checked, since an unknown
    /// etag simply never matches.
    pub fn from_client(s: &str) -> Self {
        let s = s.trim();
        let s = s.strip_prefix("W/").unwrap_or(s);
        Self(s.trim_matches('"').to_owned())
    }

    /// The hex text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Etag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Etag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Etag({})", self.0)
    }
}

/// Canonical JSON: object keys sorted recursively, no insignificant
/// whitespace, serde_json's number and string rendering.
pub fn canonical_json(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn etag_is_40_lowercase_hex() {
        let e = Etag::of(&json!({"a": 1}));
        assert_eq!(e.as_str().len(), 40);
        assert!(e.as_str().bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')));
    }

    #[test]
    fn etag_ignores_key_order_at_every_depth() {
        let a: Value = serde_json::from_str(r#"{"b":1,"a":{"y":[1,{"q":1,"p":2}],"x":2}}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"a":{"x":2,"y":[1,{"p":2,"q":1}]},"b":1}"#).unwrap();
        assert_eq!(Etag::of(&a), Etag::of(&b));
        assert_ne!(Etag::of(&a), Etag::of(&json!({"b": 2})));
    }

    #[test]
    fn client_etags_lose_quotes_and_weak_prefix() {
        assert_eq!(Etag::from_client("W/\"abc\"").as_str(), "abc");
        assert_eq!(Etag::from_client("\"abc\"").as_str(), "abc");
        assert_eq!(Etag::from_client("abc").as_str(), "abc");
    }
}
