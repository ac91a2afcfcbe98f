//! Reading `embedded` ([`parse_embedded`]): which reference fields the
//! client wants inlined. Embedding itself (and ignoring fields that are not
//! data relations, as Eve does) is the service's job.

use serde_json::Value;

use super::sort::valid_path;
use super::QueryError;

/// The paths to embed, from `{"meta.dependency": 1}`, in the order given.
/// A path set to `0`/`false` is not embedded. An empty string embeds
/// nothing.
///
/// # Errors
/// [`QueryError::Embedded`] ("Unable to parse `embedded` clause") when the
/// text is not a JSON object of paths to `1`/`0` (or booleans).
pub fn parse_embedded(s: &str) -> Result<Vec<String>, QueryError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(Vec::new());
    }
    let value: Value = serde_json::from_str(s).map_err(|_| QueryError::Embedded)?;
    let map = value.as_object().ok_or(QueryError::Embedded)?;
    let mut paths = Vec::new();
    for (path, flag) in map {
        if !valid_path(path) {
            return Err(QueryError::Embedded);
        }
        if flag_value(flag).ok_or(QueryError::Embedded)? {
            paths.push(path.clone());
        }
    }
    Ok(paths)
}

/// `1`/`true` → `true`, `0`/`false` → `false`, anything else `None`.
pub(crate) fn flag_value(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_i64() {
            Some(1) => Some(true),
            Some(0) => Some(false),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_embedded_lists_paths_set_to_one() {
        assert_eq!(
            parse_embedded(r#"{"meta.dependency": 1, "code.core": true}"#),
            Ok(vec!["meta.dependency".to_owned(), "code.core".to_owned()])
        );
    }

    #[test]
    fn parse_embedded_skips_paths_set_to_zero() {
        assert_eq!(
            parse_embedded(r#"{"meta.dependency": 0, "code.core": false}"#),
            Ok(vec![])
        );
    }

    #[test]
    fn parse_embedded_reads_empty_text_as_nothing() {
        assert_eq!(parse_embedded(""), Ok(vec![]));
        assert_eq!(parse_embedded("{}"), Ok(vec![]));
    }

    #[test]
    fn parse_embedded_refuses_anything_else_with_eves_message() {
        for s in ["nope", "[1]", r#"{"a": 2}"#, r#"{"a": "yes"}"#, r#"{"": 1}"#] {
            assert_eq!(
                parse_embedded(s).map_err(|e| e.to_string()),
                Err("Unable to parse `embedded` clause".to_owned()),
                "{s}"
            );
        }
    }
}
