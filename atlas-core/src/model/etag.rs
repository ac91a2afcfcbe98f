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
        write_canonical(doc, &mut Sink(&mut h));
        Self(hex::encode(h.finalize()))
    }

    /// The etag of the object made of `fields` (each key once): the same
    /// as [`Etag::of`] that object, without building it.
    pub fn of_fields(fields: &mut [(&str, &Value)]) -> Self {
        let mut h = Sha1::new();
        write_object(fields, &mut Sink(&mut h));
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
    let mut out = Vec::new();
    write_canonical(v, &mut Sink(&mut out));
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// Where canonical JSON goes: a buffer, or straight into a hasher.
trait Out {
    fn put(&mut self, bytes: &[u8]);
}

impl Out for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

impl Out for Sha1 {
    fn put(&mut self, bytes: &[u8]) {
        self.update(bytes);
    }
}

/// Adapts an [`Out`] to `io::Write` for serde_json's string and number
/// rendering.
struct Sink<'a, O: Out>(&'a mut O);

impl<O: Out> std::io::Write for Sink<'_, O> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.put(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn write_canonical<O: Out>(v: &Value, out: &mut Sink<'_, O>) {
    match v {
        Value::Object(map) => {
            let mut fields: Vec<(&str, &Value)> = map.iter().map(|(k, v)| (k.as_str(), v)).collect();
            write_object(&mut fields, out);
        }
        Value::Array(items) => {
            out.0.put(b"[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.0.put(b",");
                }
                write_canonical(item, out);
            }
            out.0.put(b"]");
        }
        // Writing to a sink that cannot fail: serde_json cannot fail either.
        other => serde_json::to_writer(&mut *out, other).expect("infallible sink"),
    }
}

fn write_object<O: Out>(fields: &mut [(&str, &Value)], out: &mut Sink<'_, O>) {
    fields.sort_unstable_by(|a, b| a.0.cmp(b.0));
    out.0.put(b"{");
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            out.0.put(b",");
        }
        serde_json::to_writer(&mut *out, k).expect("infallible sink");
        out.0.put(b":");
        write_canonical(v, out);
    }
    out.0.put(b"}");
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
    fn canonical_json_sorts_keys_and_renders_like_serde_json() {
        let v = json!({"b": [1.5, "x\"y", null, true], "a": {"é": -3, "_id": "z"}, "": {}});
        assert_eq!(
            canonical_json(&v),
            r#"{"":{},"a":{"_id":"z","é":-3},"b":[1.5,"x\"y",null,true]}"#
        );
        // The etag is the sha1 of exactly that text.
        let mut h = Sha1::new();
        h.update(canonical_json(&v).as_bytes());
        assert_eq!(Etag::of(&v).as_str(), hex::encode(h.finalize()));
    }

    #[test]
    fn etag_of_fields_equals_etag_of_the_object() {
        let v = json!({"z": 1, "a": [{"c": 2, "b": 1}], "m": "s"});
        let map = v.as_object().unwrap();
        let mut fields: Vec<(&str, &Value)> = map.iter().map(|(k, v)| (k.as_str(), v)).collect();
        assert_eq!(Etag::of_fields(&mut fields), Etag::of(&v));
    }

    #[test]
    fn client_etags_lose_quotes_and_weak_prefix() {
        assert_eq!(Etag::from_client("W/\"abc\"").as_str(), "abc");
        assert_eq!(Etag::from_client("\"abc\"").as_str(), "abc");
        assert_eq!(Etag::from_client("abc").as_str(), "abc");
    }
}
