//! `sort`: parsing the three syntaxes ([`parse_sort`]) and the ordering every
//! store reproduces ([`compare_docs`], [`compare_values`]).
//!
//! # Order of values
//! MongoDB's BSON type order, restricted to JSON: missing = `null` <
//! numbers < strings < objects < arrays < booleans. Numbers compare
//! numerically (integers and floats mixed), strings byte-wise (UTF-8), objects
//! by their entries in key order (key, then value), arrays element by
//! element and then by length, `false < true`. Dates are stored as
//! `DATE_FORMAT` strings, whose byte order is chronological.
//!
//! # Sorting documents
//! For each sort key the document's value at the path is found as in
//! `where` (dotted paths, arrays of objects). When it is an array (or the
//! path crosses arrays), the key is its smallest element for an ascending
//! sort and its largest for a descending one (MongoDB); an empty array sorts
//! before `null`. Ties after all keys are broken by `_id` ascending, so the
//! order is total and pages are stable.

use std::cmp::Ordering;

use serde_json::Value;

use super::eval::num_cmp;
use super::path::resolve;
use super::{QueryError, SortKey};

/// The most keys a `sort` may name: more is a 400
/// ([`QueryError::TooManySortKeys`]), so no backend is handed an `ORDER BY`
/// beyond its limits (SQLite refuses 1,000 terms).
pub(crate) const MAX_SORT_KEYS: usize = 32;

impl SortKey {
    /// Ascending on `path`.
    pub fn asc(path: impl Into<String>) -> SortKey {
        SortKey {
            path: path.into(),
            descending: false,
        }
    }

    /// Descending on `path`.
    pub fn desc(path: impl Into<String>) -> SortKey {
        SortKey {
            path: path.into(),
            descending: true,
        }
    }
}

/// Orders two documents by `sort`, then by `_id` ascending.
///
/// For each key the value at the path is found as in `where` (dotted paths,
/// arrays of objects). When that reaches an array (or several values), the
/// key is the smallest element for an ascending sort and the largest for a
/// descending one (MongoDB); an empty array sorts before `null`/missing.
/// Values compare with [`compare_values`].
pub fn compare_docs(sort: &[SortKey], a: &Value, b: &Value) -> Ordering {
    for key in sort {
        let ka = sort_value(a, key);
        let kb = sort_value(b, key);
        let ord = cmp_sort_values(ka, kb);
        let ord = if key.descending { ord.reverse() } else { ord };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    compare_values(a.get("_id"), b.get("_id"))
}

/// Orders two values (`None` = missing) in MongoDB's type order, restricted
/// to JSON: missing = `null` < numbers < strings < objects < arrays <
/// booleans. Numbers compare numerically (integers and floats mixed,
/// exactly), strings byte-wise (UTF-8), objects by their entries in key
/// order (key, then value, then length), arrays element by element and then
/// by length, `false < true`. `DATE_FORMAT` strings sort chronologically.
pub fn compare_values(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    let (a, b) = (a.filter(|v| !v.is_null()), b.filter(|v| !v.is_null()));
    let (a, b) = match (a, b) {
        (None, None) => return Ordering::Equal,
        (None, Some(_)) => return Ordering::Less,
        (Some(_), None) => return Ordering::Greater,
        (Some(a), Some(b)) => (a, b),
    };
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => num_cmp(x, y),
        (Value::String(x), Value::String(y)) => x.as_str().cmp(y.as_str()),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Array(xs), Value::Array(ys)) => xs
            .iter()
            .zip(ys)
            .map(|(x, y)| compare_values(Some(x), Some(y)))
            .find(|o| o.is_ne())
            .unwrap_or_else(|| xs.len().cmp(&ys.len())),
        (Value::Object(xs), Value::Object(ys)) => {
            let mut xs: Vec<_> = xs.iter().collect();
            let mut ys: Vec<_> = ys.iter().collect();
            xs.sort_by(|p, q| p.0.cmp(q.0));
            ys.sort_by(|p, q| p.0.cmp(q.0));
            xs.iter()
                .zip(&ys)
                .map(|((kx, x), (ky, y))| kx.cmp(ky).then_with(|| compare_values(Some(x), Some(y))))
                .find(|o| o.is_ne())
                .unwrap_or_else(|| xs.len().cmp(&ys.len()))
        }
        _ => type_rank(a).cmp(&type_rank(b)),
    }
}

fn type_rank(v: &Value) -> u8 {
    match v {
        Value::Null => 0,
        Value::Number(_) => 1,
        Value::String(_) => 2,
        Value::Object(_) => 3,
        Value::Array(_) => 4,
        Value::Bool(_) => 5,
    }
}

/// The value a document sorts by for one key.
#[derive(Debug, Clone, Copy)]
enum SortValue<'a> {
    /// Only empty arrays were reached: before `null`.
    EmptyArray,
    /// The (smallest or largest) value; `None` = missing.
    Value(Option<&'a Value>),
}

fn sort_value<'a>(doc: &'a Value, key: &SortKey) -> SortValue<'a> {
    let mut saw_empty_array = false;
    let mut best: Option<Option<&'a Value>> = None;
    let mut consider = |candidate: Option<&'a Value>| {
        best = Some(match best {
            None => candidate,
            Some(current) => {
                let ord = compare_values(candidate, current);
                let better = if key.descending {
                    ord == Ordering::Greater
                } else {
                    ord == Ordering::Less
                };
                if better {
                    candidate
                } else {
                    current
                }
            }
        });
    };
    for found in resolve(doc, &key.path) {
        match found {
            Some(Value::Array(items)) if items.is_empty() => saw_empty_array = true,
            Some(Value::Array(items)) => items.iter().for_each(|e| consider(Some(e))),
            other => consider(other),
        }
    }
    match best {
        Some(v) => SortValue::Value(v),
        None if saw_empty_array => SortValue::EmptyArray,
        None => SortValue::Value(None),
    }
}

fn cmp_sort_values(a: SortValue<'_>, b: SortValue<'_>) -> Ordering {
    match (a, b) {
        (SortValue::EmptyArray, SortValue::EmptyArray) => Ordering::Equal,
        (SortValue::EmptyArray, SortValue::Value(_)) => Ordering::Less,
        (SortValue::Value(_), SortValue::EmptyArray) => Ordering::Greater,
        (SortValue::Value(x), SortValue::Value(y)) => compare_values(x, y),
    }
}

/// Parses a `sort` parameter: `-a`, `a,-b` (a leading `-` is descending), or
/// a list of `(path, direction)` pairs, Python style `[("a",-1), ("b", 1)]`
/// or JSON `[["a",-1]]`, with direction `1` or `-1`. Empty means no sort
/// keys (then `_id` order).
///
/// # Errors
/// [`QueryError::Sort`] ("Unable to parse `sort` clause") for anything else,
/// including empty or malformed paths; [`QueryError::TooManySortKeys`] for
/// more than 32 keys.
pub fn parse_sort(s: &str) -> Result<Vec<SortKey>, QueryError> {
    let keys = parse_sort_keys(s)?;
    if keys.len() > MAX_SORT_KEYS {
        return Err(QueryError::TooManySortKeys {
            max: MAX_SORT_KEYS,
            got: keys.len(),
        });
    }
    Ok(keys)
}

fn parse_sort_keys(s: &str) -> Result<Vec<SortKey>, QueryError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(Vec::new());
    }
    if s.starts_with('[') {
        return parse_sort_list(s);
    }
    s.split(',')
        .map(|part| {
            let part = part.trim();
            let (path, descending) = match part.strip_prefix('-') {
                Some(rest) => (rest, true),
                None => (part, false),
            };
            if valid_path(path) {
                Ok(SortKey {
                    path: path.to_owned(),
                    descending,
                })
            } else {
                Err(QueryError::Sort)
            }
        })
        .collect()
}

fn parse_sort_list(s: &str) -> Result<Vec<SortKey>, QueryError> {
    let value: Value = serde_json::from_str(s)
        .or_else(|_| serde_json::from_str(&python_tuples_to_json(s)))
        .map_err(|_| QueryError::Sort)?;
    let Value::Array(items) = value else {
        return Err(QueryError::Sort);
    };
    items
        .iter()
        .map(|item| match item.as_array().map(Vec::as_slice) {
            Some([Value::String(path), dir]) if valid_path(path) => match dir.as_i64() {
                Some(1) => Ok(SortKey::asc(path.as_str())),
                Some(-1) => Ok(SortKey::desc(path.as_str())),
                _ => Err(QueryError::Sort),
            },
            _ => Err(QueryError::Sort),
        })
        .collect()
}

/// `[("a", -1), ('b', 1)]` → `[["a", -1], ["b", 1]]`.
fn python_tuples_to_json(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '(' => '[',
            ')' => ']',
            '\'' => '"',
            other => other,
        })
        .collect()
}

/// A path usable in `sort` or `projection`: dot-separated non-empty
/// segments, no whitespace, quotes or brackets, not starting with `$`.
pub(crate) fn valid_path(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('$')
        && path.split('.').all(|seg| !seg.is_empty())
        && !path
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "\"'()[]{},".contains(c))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::super::fixtures;
    use super::*;

    fn keys(s: &str) -> Vec<(String, bool)> {
        match parse_sort(s) {
            Ok(ks) => ks.into_iter().map(|k| (k.path, k.descending)).collect(),
            Err(e) => panic!("{s}: {e}"),
        }
    }

    fn k(path: &str, descending: bool) -> (String, bool) {
        (path.to_owned(), descending)
    }

    fn order(sort: &[SortKey], mut docs: Vec<Value>) -> Vec<String> {
        docs.sort_by(|a, b| compare_docs(sort, a, b));
        docs.iter()
            .map(|d| d["_id"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    #[test]
    fn parse_sort_refuses_more_than_32_keys_in_either_syntax() {
        let comma: Vec<String> = (0..33).map(|i| format!("f{i}")).collect();
        let list: Vec<String> = (0..1000).map(|i| format!("[\"f{i}\", 1]")).collect();
        for s in [comma.join(","), format!("[{}]", list.join(","))] {
            let e = parse_sort(&s).unwrap_err();
            assert!(matches!(e, QueryError::TooManySortKeys { max: 32, .. }), "{e}");
            assert!(e.to_string().contains("at most 32"), "{e}");
        }
        assert_eq!(parse_sort(&comma[..32].join(",")).unwrap().len(), 32);
    }

    #[test]
    fn parse_sort_reads_a_single_descending_field() {
        assert_eq!(keys("-meta.version"), vec![k("meta.version", true)]);
    }

    #[test]
    fn parse_sort_reads_a_comma_list() {
        assert_eq!(
            keys("meta.name, -meta.version"),
            vec![k("meta.name", false), k("meta.version", true)]
        );
    }

    #[test]
    fn parse_sort_reads_python_tuples() {
        assert_eq!(
            keys(r#"[("meta.name",-1), ('sid', 1)]"#),
            vec![k("meta.name", true), k("sid", false)]
        );
    }

    #[test]
    fn parse_sort_reads_json_pairs() {
        assert_eq!(keys(r#"[["a",-1],["b",1]]"#), vec![k("a", true), k("b", false)]);
    }

    #[test]
    fn parse_sort_reads_empty_text_as_no_keys() {
        assert_eq!(keys(""), vec![]);
        assert_eq!(keys("[]"), vec![]);
    }

    #[test]
    fn parse_sort_refuses_malformed_clauses_with_eves_message() {
        for s in [
            "a,,b",
            "-",
            "a b",
            "[(\"a\", 2)]",
            "[(\"a\")]",
            "[(\"a\", -1)",
            "[1]",
            "[[\"\", 1]]",
            "{\"a\": 1}",
            "$natural",
            "a..b",
        ] {
            assert_eq!(
                parse_sort(s).map_err(|e| e.to_string()),
                Err("Unable to parse `sort` clause".to_owned()),
                "{s}"
            );
        }
    }

    #[test]
    fn compare_values_follows_the_bson_type_order() {
        let ladder = [
            None,
            Some(json!(-5)),
            Some(json!(7.5)),
            Some(json!("")),
            Some(json!("a")),
            Some(json!({})),
            Some(json!({"a": 1})),
            Some(json!([])),
            Some(json!([1])),
            Some(json!(false)),
            Some(json!(true)),
        ];
        for (i, a) in ladder.iter().enumerate() {
            for (j, b) in ladder.iter().enumerate() {
                assert_eq!(
                    compare_values(a.as_ref(), b.as_ref()),
                    i.cmp(&j),
                    "{a:?} vs {b:?}"
                );
            }
        }
    }

    #[test]
    fn compare_values_treats_null_as_missing() {
        assert_eq!(compare_values(Some(&json!(null)), None), Ordering::Equal);
    }

    #[test]
    fn compare_values_compares_integers_and_floats_numerically() {
        assert_eq!(
            compare_values(Some(&json!(2)), Some(&json!(2.0))),
            Ordering::Equal
        );
        assert_eq!(
            compare_values(Some(&json!(10)), Some(&json!(9.5))),
            Ordering::Greater
        );
    }

    #[test]
    fn compare_values_orders_dates_in_date_format_chronologically() {
        assert_eq!(
            compare_values(
                Some(&json!("2026-01-02 00:00:00 GMT")),
                Some(&json!("2026-11-25 01:36:55 GMT"))
            ),
            Ordering::Less
        );
    }

    #[test]
    fn compare_values_compares_objects_whatever_their_key_order() {
        assert_eq!(
            compare_values(Some(&json!({"a": 1, "b": 2})), Some(&json!({"b": 2, "a": 1}))),
            Ordering::Equal
        );
        assert_eq!(
            compare_values(Some(&json!({"a": 1})), Some(&json!({"a": 1, "b": 0}))),
            Ordering::Less
        );
    }

    #[test]
    fn compare_docs_sorts_by_each_key_in_turn() {
        let docs = vec![
            json!({"_id": "1", "meta": {"name": "b", "version": "1"}}),
            json!({"_id": "2", "meta": {"name": "a", "version": "1"}}),
            json!({"_id": "3", "meta": {"name": "b", "version": "2"}}),
        ];
        let sort = [SortKey::asc("meta.name"), SortKey::desc("meta.version")];
        assert_eq!(order(&sort, docs), ["2", "3", "1"]);
    }

    #[test]
    fn compare_docs_breaks_ties_by_id_ascending_whatever_the_direction() {
        let docs = vec![
            json!({"_id": "c", "status": "installed"}),
            json!({"_id": "a", "status": "installed"}),
            json!({"_id": "b", "status": "available"}),
        ];
        assert_eq!(order(&[SortKey::desc("status")], docs.clone()), ["a", "c", "b"]);
        assert_eq!(order(&[], docs), ["a", "b", "c"]);
    }

    #[test]
    fn compare_docs_puts_missing_fields_first_ascending_and_last_descending() {
        let docs = vec![
            json!({"_id": "1", "update_group": 1}),
            json!({"_id": "2"}),
            json!({"_id": "3", "update_group": null}),
        ];
        assert_eq!(
            order(&[SortKey::asc("update_group")], docs.clone()),
            ["2", "3", "1"]
        );
        assert_eq!(order(&[SortKey::desc("update_group")], docs), ["1", "2", "3"]);
    }

    #[test]
    fn compare_docs_sorts_arrays_by_smallest_element_ascending() {
        let docs = vec![
            json!({"_id": "1", "tag": ["m", "z"]}),
            json!({"_id": "2", "tag": ["b", "y"]}),
            json!({"_id": "3", "tag": "c"}),
        ];
        assert_eq!(order(&[SortKey::asc("tag")], docs), ["2", "3", "1"]);
    }

    #[test]
    fn compare_docs_sorts_arrays_by_largest_element_descending() {
        let docs = vec![
            json!({"_id": "1", "tag": ["m", "z"]}),
            json!({"_id": "2", "tag": ["b", "y"]}),
            json!({"_id": "3", "tag": "x"}),
        ];
        assert_eq!(order(&[SortKey::desc("tag")], docs), ["1", "2", "3"]);
    }

    #[test]
    fn compare_docs_sorts_empty_arrays_before_null() {
        let docs = vec![
            json!({"_id": "1", "tag": null}),
            json!({"_id": "2", "tag": []}),
            json!({"_id": "3", "tag": ["a"]}),
        ];
        assert_eq!(order(&[SortKey::asc("tag")], docs), ["2", "1", "3"]);
    }

    #[test]
    fn compare_docs_reaches_through_arrays_of_objects() {
        let docs = vec![
            json!({"_id": "1", "users": [{"age": 40}, {"age": 20}]}),
            json!({"_id": "2", "users": [{"age": 30}]}),
        ];
        assert_eq!(order(&[SortKey::asc("users.age")], docs.clone()), ["1", "2"]);
        assert_eq!(order(&[SortKey::desc("users.age")], docs), ["1", "2"]);
    }

    proptest! {
        #[test]
        fn compare_docs_is_reflexive_and_antisymmetric(
            sort in prop::collection::vec((fixtures::path(), any::<bool>()), 0..3),
            docs in fixtures::docs(3),
        ) {
            let sort: Vec<SortKey> = sort.into_iter().map(|(path, descending)| SortKey { path, descending }).collect();
            for a in &docs {
                prop_assert_eq!(compare_docs(&sort, a, a), Ordering::Equal);
                for b in &docs {
                    prop_assert_eq!(compare_docs(&sort, a, b), compare_docs(&sort, b, a).reverse());
                }
            }
        }

        #[test]
        fn compare_docs_is_transitive(
            sort in prop::collection::vec((fixtures::path(), any::<bool>()), 0..3),
            docs in fixtures::docs(4),
        ) {
            let sort: Vec<SortKey> = sort.into_iter().map(|(path, descending)| SortKey { path, descending }).collect();
            for a in &docs {
                for b in &docs {
                    for c in &docs {
                        if compare_docs(&sort, a, b).is_le() && compare_docs(&sort, b, c).is_le() {
                            prop_assert!(compare_docs(&sort, a, c).is_le());
                        }
                    }
                }
            }
        }

        #[test]
        fn compare_docs_orders_distinct_ids_strictly(
            sort in prop::collection::vec((fixtures::path(), any::<bool>()), 0..3),
            docs in fixtures::docs(4),
        ) {
            let sort: Vec<SortKey> = sort.into_iter().map(|(path, descending)| SortKey { path, descending }).collect();
            for (i, a) in docs.iter().enumerate() {
                for (j, b) in docs.iter().enumerate() {
                    prop_assert_eq!(compare_docs(&sort, a, b).is_eq(), i == j);
                }
            }
        }

        #[test]
        fn compare_values_is_transitive_on_values(
            a in fixtures::value(), b in fixtures::value(), c in fixtures::value()
        ) {
            let cmp = |x: &Value, y: &Value| compare_values(Some(x), Some(y));
            prop_assert_eq!(cmp(&a, &b), cmp(&b, &a).reverse());
            if cmp(&a, &b).is_le() && cmp(&b, &c).is_le() {
                prop_assert!(cmp(&a, &c).is_le());
            }
        }
    }
}
