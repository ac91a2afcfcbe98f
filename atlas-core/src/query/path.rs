//! Dotted-path resolution with MongoDB array semantics, shared by the
//! evaluator and the sort comparator.
//!
//! A path such as `code.package` or `meta.dependency.0` is split on `.` and
//! walked from the document root:
//! - an object segment looks the key up;
//! - when a segment meets an array, a numeric segment indexes it; any other
//!   segment is looked up in every object element (scalar and nested-array
//!   elements are skipped, as MongoDB does), so one path can reach several
//!   values;
//! - a segment that meets a scalar, `null`, or a key that is not there yields
//!   a *missing* candidate.
//!
//! The result is the list of candidates (`None` = missing). The value at the
//! end of the path is returned as is, even when it is an array: callers
//! decide whether they look inside it.

use serde_json::Value;

/// Every value `path` reaches in `doc` (`None` for a branch where the path is
/// missing). Never empty.
pub(crate) fn resolve<'a>(doc: &'a Value, path: &str) -> Vec<Option<&'a Value>> {
    let segments: Vec<&str> = path.split('.').collect();
    let mut out = Vec::new();
    walk(doc, &segments, &mut out);
    out
}

fn walk<'a>(value: &'a Value, segments: &[&str], out: &mut Vec<Option<&'a Value>>) {
    let Some((segment, rest)) = segments.split_first() else {
        out.push(Some(value));
        return;
    };
    match value {
        Value::Object(map) => match map.get(*segment) {
            Some(child) => walk(child, rest, out),
            None => out.push(None),
        },
        Value::Array(items) => {
            if let Some(index) = array_index(segment) {
                match items.get(index) {
                    Some(child) => walk(child, rest, out),
                    None => out.push(None),
                }
                return;
            }
            let before = out.len();
            for item in items {
                if item.is_object() {
                    walk(item, segments, out);
                }
            }
            if out.len() == before {
                out.push(None);
            }
        }
        _ => out.push(None),
    }
}

/// A segment made only of ASCII digits indexes an array.
fn array_index(segment: &str) -> Option<usize> {
    if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
        segment.parse().ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn resolve_walks_nested_objects() {
        let doc = json!({"code": {"core": "a"}});
        assert_eq!(resolve(&doc, "code.core"), vec![Some(&json!("a"))]);
    }

    #[test]
    fn resolve_reports_missing_when_a_key_is_absent() {
        let doc = json!({"code": {"core": "a"}});
        assert_eq!(resolve(&doc, "code.profile"), vec![None]);
        assert_eq!(resolve(&doc, "code.core.deeper"), vec![None]);
    }

    #[test]
    fn resolve_returns_a_terminal_array_whole() {
        let doc = json!({"code": {"package": ["a", "b"]}});
        assert_eq!(resolve(&doc, "code.package"), vec![Some(&json!(["a", "b"]))]);
    }

    #[test]
    fn resolve_descends_into_objects_inside_arrays() {
        let doc = json!({"a": [{"b": 1}, {"c": 2}, 7, {"b": [3]}]});
        assert_eq!(
            resolve(&doc, "a.b"),
            vec![Some(&json!(1)), None, Some(&json!([3]))]
        );
    }

    #[test]
    fn resolve_indexes_arrays_with_numeric_segments() {
        let doc = json!({"a": ["x", {"b": "y"}]});
        assert_eq!(resolve(&doc, "a.0"), vec![Some(&json!("x"))]);
        assert_eq!(resolve(&doc, "a.1.b"), vec![Some(&json!("y"))]);
        assert_eq!(resolve(&doc, "a.5"), vec![None]);
    }

    #[test]
    fn resolve_reports_missing_when_an_array_holds_no_objects() {
        let doc = json!({"a": [1, 2]});
        assert_eq!(resolve(&doc, "a.b"), vec![None]);
    }
}
