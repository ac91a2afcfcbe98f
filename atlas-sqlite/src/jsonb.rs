//! Decoding SQLite's binary JSON (JSONB, what `jsonb()` stores in the
//! `body` columns) straight into `serde_json` values, so reading a record
//! no longer renders its body as JSON text in SQLite (`json(body)`) only to
//! parse that text again in Rust.
//!
//! # Contracts
//! - [`decode_object`] gives exactly what `serde_json` gives for the text
//!   SQLite's `json()` renders from the same blob: same values, same key
//!   order (a repeated key keeps its first place and its last value), same
//!   numbers (integer and float payloads are parsed by `serde_json` from
//!   the text `json()` would print), same refusals (nesting deeper than
//!   `serde_json`'s 127 levels, escapes it rejects, numbers out of range).
//!   One deliberate difference: a JSON5 `\v` escape is a vertical tab
//!   (U+000B), as JSON5 defines it; the bundled SQLite's `json()` prints a
//!   tab. JSON5 never comes from Atlas's own writes (they store
//!   `serde_json` text).
//! - Every element type of the format is read: the canonical ones SQLite
//!   writes for JSON text, the JSON5 ones (`INT5` hexadecimal, `FLOAT5`,
//!   `TEXT5` escapes) and `TEXTRAW`. A blob that is not well-formed JSONB
//!   (a reserved type, a size past the end, bytes after the value, a key
//!   that is not a string) is refused with what is wrong and where.
//!
//! The format: <https://sqlite.org/jsonb.html> — a header whose low four
//! bits are the element type and whose high four bits are the payload size
//! (0–11) or say how many bytes after the first hold it (12: 1, 13: 2,
//! 14: 4, 15: 8, big-endian); arrays and objects hold their elements (for
//! objects: key, value, key, value…) as their payload.

use serde_json::{Map, Number, Value};

/// `serde_json::from_str`'s recursion limit: it accepts 127 nested arrays
/// and objects, and refuses the 128th.
const MAX_DEPTH: usize = 128;

/// Why a blob did not decode.
#[derive(Debug, thiserror::Error)]
#[error("the stored JSONB is not valid: {0}")]
pub(crate) struct JsonbError(String);

impl JsonbError {
    #[cold]
    fn at(offset: usize, what: impl std::fmt::Display) -> JsonbError {
        JsonbError(format!("{what} (at byte {offset})"))
    }
}

/// The element types (low four bits of a header).
mod kind {
    pub(super) const NULL: u8 = 0;
    pub(super) const TRUE: u8 = 1;
    pub(super) const FALSE: u8 = 2;
    pub(super) const INT: u8 = 3;
    pub(super) const INT5: u8 = 4;
    pub(super) const FLOAT: u8 = 5;
    pub(super) const FLOAT5: u8 = 6;
    pub(super) const TEXT: u8 = 7;
    pub(super) const TEXTJ: u8 = 8;
    pub(super) const TEXT5: u8 = 9;
    pub(super) const TEXTRAW: u8 = 10;
    pub(super) const ARRAY: u8 = 11;
    pub(super) const OBJECT: u8 = 12;
}

/// The JSON object `blob` holds (a record body).
pub(crate) fn decode_object(blob: &[u8]) -> Result<Map<String, Value>, JsonbError> {
    match decode(blob)? {
        Value::Object(map) => Ok(map),
        other => Err(JsonbError(format!(
            "it holds {}, not an object",
            kind_name(&other)
        ))),
    }
}

/// The JSON value `blob` holds.
pub(crate) fn decode(blob: &[u8]) -> Result<Value, JsonbError> {
    let (value, end) = element(blob, 0, 0)?;
    if end != blob.len() {
        return Err(JsonbError::at(end, "bytes follow the value"));
    }
    Ok(value)
}

fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The element whose header starts at `at`: its type, its payload's range
/// and where the next element starts.
#[inline]
fn header(buf: &[u8], at: usize) -> Result<(u8, usize, usize), JsonbError> {
    let Some(&first) = buf.get(at) else {
        return Err(JsonbError::at(at, "an element is missing"));
    };
    let (start, size) = match first >> 4 {
        n @ 0..=11 => (at + 1, usize::from(n)),
        n => {
            let len = 1usize << (n - 12);
            let Some(bytes) = buf.get(at + 1..at + 1 + len) else {
                return Err(JsonbError::at(at, "a header is cut short"));
            };
            let size = bytes.iter().fold(0u64, |n, b| (n << 8) | u64::from(*b));
            let Ok(size) = usize::try_from(size) else {
                return Err(JsonbError::at(at, "a payload size is too large"));
            };
            (at + 1 + len, size)
        }
    };
    match start.checked_add(size) {
        Some(end) if end <= buf.len() => Ok((first & 0x0f, start, end)),
        _ => Err(JsonbError::at(at, "a payload runs past the end")),
    }
}

/// The value of the element at `at` (nested `depth` deep) and where the
/// next element starts.
fn element(buf: &[u8], at: usize, depth: usize) -> Result<(Value, usize), JsonbError> {
    let (kind, start, end) = header(buf, at)?;
    let payload = &buf[start..end];
    let value = match kind {
        kind::NULL => Value::Null,
        kind::TRUE => Value::Bool(true),
        kind::FALSE => Value::Bool(false),
        kind::INT | kind::FLOAT => Value::Number(number(payload, at)?),
        kind::INT5 => Value::Number(number(hex_integer(payload, at)?.as_bytes(), at)?),
        kind::FLOAT5 => Value::Number(number(json5_float(payload).as_bytes(), at)?),
        k if is_text(k) => Value::String(string(kind, payload, at)?),
        kind::ARRAY | kind::OBJECT => {
            if depth + 1 >= MAX_DEPTH {
                return Err(JsonbError::at(at, "values are nested too deep"));
            }
            if kind == kind::ARRAY {
                let mut items = Vec::new();
                let mut next = start;
                while next < end {
                    let (item, after) = element(&buf[..end], next, depth + 1)?;
                    items.push(item);
                    next = after;
                }
                Value::Array(items)
            } else {
                let mut map = Map::with_capacity(children(&buf[..end], start)? / 2);
                let mut next = start;
                while next < end {
                    let (key_kind, key_start, key_end) = header(&buf[..end], next)?;
                    if !is_text(key_kind) {
                        return Err(JsonbError::at(next, "an object key is not a string"));
                    }
                    let key = string(key_kind, &buf[key_start..key_end], next)?;
                    if key_end >= end {
                        return Err(JsonbError::at(next, "an object key has no value"));
                    }
                    let (item, after) = element(&buf[..end], key_end, depth + 1)?;
                    map.insert(key, item);
                    next = after;
                }
                Value::Object(map)
            }
        }
        other => return Err(JsonbError::at(at, format!("element type {other} is reserved"))),
    };
    Ok((value, end))
}

/// How many elements follow each other from `at` to the end of `buf` (an
/// object's payload): sized up front, its map never grows.
fn children(buf: &[u8], mut at: usize) -> Result<usize, JsonbError> {
    let mut n = 0;
    while at < buf.len() {
        at = header(buf, at)?.2;
        n += 1;
    }
    Ok(n)
}

/// Whether elements of type `kind` are strings.
fn is_text(kind: u8) -> bool {
    matches!(kind, kind::TEXT | kind::TEXTJ | kind::TEXT5 | kind::TEXTRAW)
}

/// A number from the JSON text of it.
fn number(text: &[u8], at: usize) -> Result<Number, JsonbError> {
    // The common case, a short plain integer, without a parser: what
    // serde_json makes of it (u64 when not negative, else i64).
    if let Some(n) = small_integer(text) {
        return Ok(n);
    }
    serde_json::from_slice(text).map_err(|e| JsonbError::at(at, format!("a number does not parse: {e}")))
}

/// `text` as a number when it is a canonical integer of at most 18
/// digits (no overflow possible), `-0` aside.
fn small_integer(text: &[u8]) -> Option<Number> {
    let (negative, digits) = match text.strip_prefix(b"-") {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let canonical = match digits {
        [b'0'] => !negative,
        [b'1'..=b'9', rest @ ..] => rest.len() < 18 && rest.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    if !canonical {
        return None;
    }
    let n = digits.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0'));
    Some(if negative {
        Number::from(-n)
    } else {
        Number::from(n.unsigned_abs())
    })
}

/// The decimal text `json()` prints for an `INT5` payload (`0x1F`,
/// `-0x1f`): too large for 64 bits, it prints `9.0e999` (out of range).
fn hex_integer(payload: &[u8], at: usize) -> Result<String, JsonbError> {
    let (sign, digits) = match payload.strip_prefix(b"-") {
        Some(rest) => ("-", rest),
        None => ("", payload.strip_prefix(b"+").unwrap_or(payload)),
    };
    let digits = digits
        .strip_prefix(b"0x")
        .or_else(|| digits.strip_prefix(b"0X"))
        .ok_or_else(|| JsonbError::at(at, "a JSON5 integer is not hexadecimal"))?;
    let text = std::str::from_utf8(digits).map_err(|_| JsonbError::at(at, "a JSON5 integer is not ASCII"))?;
    Ok(match u64::from_str_radix(text, 16) {
        Ok(n) => format!("{sign}{n}"),
        Err(e) if matches!(e.kind(), std::num::IntErrorKind::PosOverflow) => format!("{sign}9.0e999"),
        Err(_) => {
            return Err(JsonbError::at(
                at,
                "a JSON5 integer has a digit that is not hexadecimal",
            ))
        }
    })
}

/// The JSON text `json()` prints for a `FLOAT5` payload: a `0` before a
/// leading `.` and after a trailing one (`.5` → `0.5`, `5.` → `5.0`).
fn json5_float(payload: &[u8]) -> String {
    let mut out = String::with_capacity(payload.len() + 2);
    let (sign, rest) = match payload.strip_prefix(b"-") {
        Some(rest) => ("-", rest),
        None => ("", payload),
    };
    out.push_str(sign);
    if rest.first() == Some(&b'.') {
        out.push('0');
    }
    for (i, &b) in rest.iter().enumerate() {
        out.push(char::from(b));
        if b == b'.' && !rest.get(i + 1).is_some_and(u8::is_ascii_digit) {
            out.push('0');
        }
    }
    out
}

/// A string element's text.
fn string(kind: u8, payload: &[u8], at: usize) -> Result<String, JsonbError> {
    match kind {
        kind::TEXTJ => unescape(payload, at),
        kind::TEXT5 => unescape(&json5_to_json_escapes(payload), at),
        _ => String::from_utf8(payload.to_vec()).map_err(|_| JsonbError::at(at, "a string is not UTF-8")),
    }
}

/// The text of a string with JSON escapes (the text between its quotes).
fn unescape(escaped: &[u8], at: usize) -> Result<String, JsonbError> {
    let mut quoted = Vec::with_capacity(escaped.len() + 2);
    quoted.push(b'"');
    quoted.extend_from_slice(escaped);
    quoted.push(b'"');
    serde_json::from_slice(&quoted).map_err(|e| JsonbError::at(at, format!("a string does not parse: {e}")))
}

/// JSON5 escapes rewritten as JSON ones: `\'` → `'`, `\v` → `\u000b`,
/// `\0` → `\u0000`, `\xHH` → `\u00HH`, and a backslash before a line
/// break (`\n`, `\r`, `\r\n`, U+2028, U+2029) removed with the break.
fn json5_to_json_escapes(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 8);
    let mut i = 0;
    while i < text.len() {
        if text[i] != b'\\' {
            out.push(text[i]);
            i += 1;
            continue;
        }
        let rest = &text[i + 1..];
        let (replacement, used): (&[u8], usize) = match rest {
            [b'\'', ..] => (b"'", 1),
            [b'v', ..] => (b"\\u000b", 1),
            [b'0', ..] => (b"\\u0000", 1),
            [b'x', ..] => {
                out.extend_from_slice(b"\\u00");
                i += 2;
                continue;
            }
            [b'\r', b'\n', ..] => (b"", 2),
            [b'\r' | b'\n', ..] => (b"", 1),
            [0xe2, 0x80, 0xa8 | 0xa9, ..] => (b"", 3),
            [c, ..] => {
                out.push(b'\\');
                out.push(*c);
                i += 2;
                continue;
            }
            [] => (b"\\", 0),
        };
        out.extend_from_slice(replacement);
        i += 1 + used;
    }
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rusqlite::Connection;

    use super::*;

    /// What the read path did before: `json(blob)` parsed by `serde_json`.
    fn via_text(c: &Connection, blob: &[u8]) -> Result<Value, String> {
        let text: String = c
            .query_row("SELECT json(?1)", [blob], |r| r.get(0))
            .map_err(|e| e.to_string())?;
        serde_json::from_str(&text).map_err(|e| e.to_string())
    }

    fn jsonb(c: &Connection, text: &str) -> Vec<u8> {
        c.query_row("SELECT jsonb(?1)", [text], |r| r.get(0)).unwrap()
    }

    /// The element types in `buf[at..end]`, nested ones included.
    fn kinds(buf: &[u8], mut at: usize, end: usize, out: &mut Vec<u8>) {
        while at < end {
            let (kind, start, next) = header(buf, at).unwrap();
            out.push(kind);
            if kind == kind::ARRAY || kind == kind::OBJECT {
                kinds(buf, start, next, out);
            }
            at = next;
        }
    }

    fn same_as_json_text(c: &Connection, text: &str) {
        let blob = jsonb(c, text);
        let expected = via_text(c, &blob).unwrap();
        let got = decode(&blob).unwrap();
        assert_eq!(got, expected, "{text}");
        // Same key order, not only the same maps.
        assert_eq!(got.to_string(), expected.to_string(), "{text}");
    }

    #[test]
    fn canonical_json_decodes_as_its_text_does() {
        let c = Connection::open_in_memory().unwrap();
        for text in [
            r#"{"z": 1, "a": [1.5, "x", null, true, false], "n": {"deep": {"er": -12}}}"#,
            r#"{"big": 18446744073709551615, "neg": -9223372036854775808, "huge": 1e300, "over": 123456789012345678901234567890}"#,
            r#"{"esc": "quote \" slash \\ tab \t nl \n uni \u00e9 \ud83d\ude00 ctl \u0001", "raw": "déjà vu 😀"}"#,
            r#"{"dup": 1, "other": 2, "dup": 3}"#,
            r#"{"": "", "empty": {}, "none": []}"#,
            r#"{"f": -0.0, "g": 0.1, "h": 2.5e-8, "i": -0}"#,
        ] {
            same_as_json_text(&c, text);
        }
    }

    #[test]
    fn json5_elements_decode_as_json_renders_them() {
        let c = Connection::open_in_memory().unwrap();
        let mut seen = Vec::new();
        for text in [
            "{hex: 0x1F, neg: -0xff, up: 0XAB}",
            "{a: .5, b: 5., c: -.25, d: +1.5, e: +7}",
            r#"{s: 'single \' quote', t: "nul \0 hex \x41 \
continued", u: 'a\'b'}"#,
            r#"{"nan": NaN, trailing: [1, 2,], }"#,
        ] {
            same_as_json_text(&c, text);
            let blob = jsonb(&c, text);
            kinds(&blob, 0, blob.len(), &mut seen);
        }
        for kind in [kind::INT5, kind::FLOAT5, kind::TEXT5] {
            assert!(seen.contains(&kind), "no element of type {kind} in {seen:?}");
        }
    }

    #[test]
    fn a_json5_vertical_tab_escape_is_a_vertical_tab() {
        // SQLite's own json() of this version renders `\v` as `\u0009`.
        let c = Connection::open_in_memory().unwrap();
        let blob = jsonb(&c, r#"{"t": "a\vb"}"#);
        assert_eq!(decode(&blob).unwrap(), serde_json::json!({"t": "a\u{b}b"}));
    }

    #[test]
    fn json5_values_serde_refuses_are_refused_too() {
        let c = Connection::open_in_memory().unwrap();
        for text in [
            r#"{"inf": Infinity}"#,
            "{neg: [-Infinity]}",
            "{big: 0x1FFFFFFFFFFFFFFFFF}",
        ] {
            let blob = jsonb(&c, text);
            assert!(via_text(&c, &blob).is_err(), "{text}");
            let e = decode(&blob).unwrap_err();
            assert!(e.to_string().contains("number does not parse"), "{text}: {e}");
        }
    }

    #[test]
    fn text_raw_strings_from_sql_text_decode() {
        let c = Connection::open_in_memory().unwrap();
        // json_set with an SQL text value stores it as TEXTRAW.
        let blob: Vec<u8> = c
            .query_row(
                "SELECT jsonb_set('{\"a\":1}', '$.s', 'quote \" and \\ and \n')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        // Unescaped in the blob: TEXTRAW, not TEXTJ.
        assert!(blob.windows(9).any(|w| w == b"quote \" a"), "{blob:?}");
        assert_eq!(decode(&blob).unwrap(), via_text(&c, &blob).unwrap());
    }

    #[test]
    fn nesting_past_serdes_limit_is_refused_like_serde_does() {
        let c = Connection::open_in_memory().unwrap();
        // serde_json takes 127 levels: the object and 126 arrays in it.
        let ok = format!("{}1{}", "[".repeat(126), "]".repeat(126));
        same_as_json_text(&c, &format!("{{\"a\": {ok}}}"));
        let deep = format!("{{\"a\": {}1{}}}", "[".repeat(127), "]".repeat(127));
        let blob = jsonb(&c, &deep);
        assert!(via_text(&c, &blob).is_err());
        let e = decode(&blob).unwrap_err();
        assert!(e.to_string().contains("nested too deep"), "{e}");
    }

    #[test]
    fn malformed_blobs_are_refused_with_what_is_wrong() {
        let cases: [(&[u8], &str); 7] = [
            (&[], "an element is missing"),
            (&[0x0d], "element type 13 is reserved"),
            (&[0x2c, 0x17], "runs past the end"),
            (&[0xcc], "header is cut short"),
            (&[0x00, 0x00], "bytes follow the value"),
            (&[0x2c, 0x13, 0x00], "key is not a string"),
            (&[0x2c, 0x17, b'a'], "key has no value"),
        ];
        for (blob, expected) in cases {
            let e = decode(blob).unwrap_err();
            assert!(e.to_string().contains(expected), "{blob:?}: {e}");
        }
        let e = decode_object(&[0x13, b'1']).unwrap_err();
        assert!(e.to_string().contains("holds a number, not an object"), "{e}");
    }

    #[test]
    fn large_payload_sizes_use_the_longer_headers() {
        let c = Connection::open_in_memory().unwrap();
        let long = "x".repeat(70_000);
        let many: Vec<String> = (0..300).map(|i| format!("\"k{i}\": {i}")).collect();
        same_as_json_text(
            &c,
            &format!("{{\"long\": \"{long}\", \"short\": \"{}\"}}", "y".repeat(200)),
        );
        same_as_json_text(&c, &format!("{{{}}}", many.join(", ")));
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            any::<String>().prop_map(Value::String),
            "[ -~\\\\\"\\n\\t\u{e9}\u{1F600}]{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(5, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                prop::collection::vec(("[a-z_]{0,6}", inner), 0..8)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn any_body_serde_writes_decodes_as_its_json_text(
            body in prop::collection::vec(("[a-z_]{1,8}", json_value()), 0..10)
        ) {
            let c = Connection::open_in_memory().unwrap();
            let body: Map<String, Value> = body.into_iter().collect();
            let text = serde_json::to_string(&body).unwrap();
            let blob = jsonb(&c, &text);
            let got = decode_object(&blob).unwrap();
            let expected = via_text(&c, &blob).unwrap();
            prop_assert_eq!(Value::Object(got.clone()), expected.clone());
            prop_assert_eq!(Value::Object(got).to_string(), expected.to_string());
        }
    }
}
