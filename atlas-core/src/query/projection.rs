//! `projection`: which fields a GET returns ([`Projection`]).
//!
//! `{"meta.name": 1}` keeps only the listed paths (inclusion);
//! `{"meta": 0}` drops them (exclusion). Whatever the projection, the meta
//! fields ([`META_FIELDS`]) are always kept, as Eve does; listing them does
//! not decide the mode. Dotted paths reach into nested objects, and into the
//! objects inside arrays (MongoDB); the order of the remaining fields is
//! unchanged.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::embedded::flag_value;
use super::sort::valid_path;
use super::QueryError;

/// The fields every projected document keeps.
pub const META_FIELDS: &[&str] = &[
    "_id",
    "_etag",
    "_created",
    "_updated",
    "_deleted",
    "_version",
    "_latest_version",
    "_links",
];

/// A parsed `projection`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Projection {
    /// Every field (no projection, or `{}`).
    #[default]
    All,
    /// Only these dotted paths, plus the meta fields.
    Include(Vec<String>),
    /// Every field except these dotted paths (meta fields are never dropped).
    Exclude(Vec<String>),
}

impl Projection {
    /// Parses the `projection` parameter: a JSON object mapping dotted paths
    /// to `1`/`true` (include) or `0`/`false` (exclude). Empty text or `{}`
    /// is [`Projection::All`].
    ///
    /// # Errors
    /// [`QueryError::Projection`] ("Unable to parse `projection` clause")
    /// for text that is not such an object, a bad path, or a mix of `1` and
    /// `0` (meta fields aside).
    pub fn parse(s: &str) -> Result<Projection, QueryError> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(Projection::All);
        }
        let value: Value = serde_json::from_str(s).map_err(|_| QueryError::Projection)?;
        let map = value.as_object().ok_or(QueryError::Projection)?;
        let (mut include, mut exclude) = (Vec::new(), Vec::new());
        for (path, flag) in map {
            if !valid_path(path) {
                return Err(QueryError::Projection);
            }
            let flag = flag_value(flag).ok_or(QueryError::Projection)?;
            if is_meta(path) {
                continue;
            }
            if flag {
                include.push(path.clone());
            } else {
                exclude.push(path.clone());
            }
        }
        match (include.is_empty(), exclude.is_empty()) {
            (false, false) => Err(QueryError::Projection),
            (false, true) => Ok(Projection::Include(include)),
            (true, false) => Ok(Projection::Exclude(exclude)),
            (true, true) if map.is_empty() => Ok(Projection::All),
            // Only meta fields were listed: an inclusion of nothing else
            // when they were included, else nothing to drop.
            (true, true) => Ok(if map.values().any(|f| flag_value(f) == Some(true)) {
                Projection::Include(Vec::new())
            } else {
                Projection::All
            }),
        }
    }

    /// Projects `doc` in place. Non-object documents are left alone.
    pub fn apply(&self, doc: &mut Value) {
        let Value::Object(map) = doc else { return };
        match self {
            Projection::All => {}
            Projection::Include(paths) => {
                let kept = include(std::mem::take(map), &tree(paths), true);
                *map = kept;
            }
            Projection::Exclude(paths) => exclude(map, &tree(paths), true),
        }
    }
}

fn is_meta(path: &str) -> bool {
    let top = path.split('.').next().unwrap_or(path);
    META_FIELDS.contains(&top)
}

/// Paths as a tree of segments; a leaf covers everything below it.
#[derive(Debug)]
enum Node {
    Leaf,
    Children(BTreeMap<String, Node>),
}

fn tree(paths: &[String]) -> BTreeMap<String, Node> {
    let mut root = BTreeMap::new();
    for path in paths {
        let segments: Vec<&str> = path.split('.').collect();
        insert(&mut root, &segments);
    }
    root
}

fn insert(level: &mut BTreeMap<String, Node>, segments: &[&str]) {
    let Some((first, rest)) = segments.split_first() else {
        return;
    };
    if rest.is_empty() {
        level.insert((*first).to_owned(), Node::Leaf);
        return;
    }
    let node = level
        .entry((*first).to_owned())
        .or_insert_with(|| Node::Children(BTreeMap::new()));
    if let Node::Children(children) = node {
        insert(children, rest);
    }
}

fn include(map: Map<String, Value>, tree: &BTreeMap<String, Node>, top: bool) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, value) in map {
        match tree.get(&key) {
            Some(Node::Leaf) => {
                out.insert(key, value);
            }
            Some(Node::Children(sub)) => match value {
                Value::Object(inner) => {
                    out.insert(key, Value::Object(include(inner, sub, false)));
                }
                Value::Array(items) => {
                    let kept = items
                        .into_iter()
                        .filter_map(|item| match item {
                            Value::Object(inner) => Some(Value::Object(include(inner, sub, false))),
                            _ => None,
                        })
                        .collect();
                    out.insert(key, Value::Array(kept));
                }
                _ => {}
            },
            None if top && META_FIELDS.contains(&key.as_str()) => {
                out.insert(key, value);
            }
            None => {}
        }
    }
    out
}

fn exclude(map: &mut Map<String, Value>, tree: &BTreeMap<String, Node>, top: bool) {
    for (key, node) in tree {
        if top && META_FIELDS.contains(&key.as_str()) {
            continue;
        }
        match node {
            Node::Leaf => {
                map.shift_remove(key);
            }
            Node::Children(sub) => match map.get_mut(key) {
                Some(Value::Object(inner)) => exclude(inner, sub, false),
                Some(Value::Array(items)) => {
                    for item in items {
                        if let Value::Object(inner) = item {
                            exclude(inner, sub, false);
                        }
                    }
                }
                _ => {}
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::fixtures::{core_code, module_code, CORE};
    use super::*;

    fn with_meta(mut doc: Value) -> Value {
        if let Value::Object(m) = &mut doc {
            m.insert("_etag".into(), json!("e"));
            m.insert("_version".into(), json!(2));
            m.insert("_links".into(), json!({"self": {"href": "code/x"}}));
        }
        doc
    }

    fn project(s: &str, mut doc: Value) -> Value {
        Projection::parse(s)
            .unwrap_or_else(|e| panic!("{s}: {e}"))
            .apply(&mut doc);
        doc
    }

    #[test]
    fn inclusion_keeps_listed_paths_and_meta_fields() {
        let doc = project(r#"{"meta.name": 1}"#, with_meta(core_code()));
        assert_eq!(
            doc,
            json!({"meta": {"name": "drupal"}, "_id": CORE, "_deleted": false,
                   "_etag": "e", "_version": 2, "_links": {"self": {"href": "code/x"}}})
        );
    }

    #[test]
    fn inclusion_of_a_whole_subdocument_keeps_all_of_it() {
        let doc = project(r#"{"meta": 1, "meta.name": 1}"#, core_code());
        assert_eq!(doc["meta"], core_code()["meta"]);
        assert!(doc.get("git_url").is_none());
    }

    #[test]
    fn inclusion_keeps_the_stored_field_order() {
        let doc = project(r#"{"commit_hash": 1, "meta": 1}"#, core_code());
        let keys: Vec<&str> = doc
            .as_object()
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default();
        assert_eq!(keys, ["meta", "commit_hash", "_id", "_deleted"]);
    }

    #[test]
    fn inclusion_reaches_objects_inside_arrays() {
        let doc = json!({"_id": "x", "users": [{"name": "a", "role": "r"}, 5, {"role": "s"}]});
        assert_eq!(
            project(r#"{"users.name": 1}"#, doc),
            json!({"_id": "x", "users": [{"name": "a"}, {}]})
        );
    }

    #[test]
    fn exclusion_drops_listed_paths_only() {
        let doc = project(r#"{"meta": 0}"#, with_meta(core_code()));
        assert!(doc.get("meta").is_none());
        assert_eq!(doc["git_url"], core_code()["git_url"]);
        assert_eq!(doc["_etag"], json!("e"));
    }

    #[test]
    fn exclusion_of_a_dotted_path_drops_the_nested_field() {
        let doc = project(r#"{"meta.dependency": 0, "meta.tag": false}"#, module_code());
        assert_eq!(
            doc["meta"],
            json!({"name": "mod_events", "version": "2.1", "code_type": "module", "is_current": false})
        );
    }

    #[test]
    fn exclusion_never_drops_meta_fields() {
        let doc = project(r#"{"_id": 0, "_etag": 0, "git_url": 0}"#, with_meta(core_code()));
        assert_eq!(doc["_id"], json!(CORE));
        assert_eq!(doc["_etag"], json!("e"));
        assert!(doc.get("git_url").is_none());
    }

    #[test]
    fn listing_meta_fields_does_not_decide_the_mode() {
        assert_eq!(
            Projection::parse(r#"{"_id": 0, "meta.name": 1}"#),
            Ok(Projection::Include(vec!["meta.name".into()]))
        );
        assert_eq!(
            Projection::parse(r#"{"_id": 1}"#),
            Ok(Projection::Include(vec![]))
        );
        assert_eq!(Projection::parse(r#"{"_id": 0}"#), Ok(Projection::All));
    }

    #[test]
    fn inclusion_of_only_meta_fields_returns_only_meta_fields() {
        let doc = project(r#"{"_id": 1}"#, core_code());
        assert_eq!(doc, json!({"_id": CORE, "_deleted": false}));
    }

    #[test]
    fn empty_projection_keeps_everything() {
        assert_eq!(Projection::parse(""), Ok(Projection::All));
        assert_eq!(project("{}", core_code()), core_code());
    }

    #[test]
    fn projection_refuses_mixing_inclusion_and_exclusion() {
        assert_eq!(
            Projection::parse(r#"{"meta": 1, "git_url": 0}"#).map_err(|e| e.to_string()),
            Err("Unable to parse `projection` clause".to_owned())
        );
    }

    #[test]
    fn projection_refuses_text_that_is_not_an_object_of_flags() {
        for s in ["nope", "[1]", r#"{"a": 2}"#, r#"{"a": "1"}"#, r#"{"a..b": 1}"#] {
            assert_eq!(Projection::parse(s), Err(QueryError::Projection), "{s}");
        }
    }

    #[test]
    fn apply_leaves_non_objects_alone() {
        let mut v = json!([1, 2]);
        Projection::Include(vec!["a".into()]).apply(&mut v);
        assert_eq!(v, json!([1, 2]));
    }
}
