//! [`Issues`]: the validation failures of one document, shaped as Eve's
//! `_issues`: nested fields nest as objects, list items sit under their
//! stringified index, a field with one failure has a string and a field
//! with several a list of strings.

use std::fmt;

use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

/// Message: a required field is missing.
pub const REQUIRED: &str = "required field";
/// Message: the field is not in the schema.
pub const UNKNOWN: &str = "unknown field";
/// Message: `null` sent for a field that does not accept it.
pub const NULL_NOT_ALLOWED: &str = "null value not allowed";
/// Message: a client sent a field only Atlas writes.
pub const READ_ONLY: &str = "field is read-only";

/// `unallowed value X` (strings unquoted, as Eve renders them).
pub fn unallowed(value: &Value) -> String {
    format!("unallowed value {}", render(value))
}

/// `min length is N`.
pub fn min_length(n: usize) -> String {
    format!("min length is {n}")
}

/// `max length is N`.
pub fn max_length(n: usize) -> String {
    format!("max length is {n}")
}

/// `value is not <what it should be>`, for patterns described in words.
pub fn not_like(description: &str) -> String {
    format!("value is not {description}")
}

/// `value does not match regex '<pattern>'`.
pub fn no_match(pattern: &str) -> String {
    format!("value does not match regex '{pattern}'")
}

/// `must be of <type> type`.
pub fn wrong_type(type_name: &str) -> String {
    format!("must be of {type_name} type")
}

/// `value 'X' is not unique`.
pub fn not_unique(value: &str) -> String {
    format!("value '{value}' is not unique")
}

/// `value '<id>' must exist in resource '<res>', field '_id'.`
pub fn must_exist(id: &str, resource: &str) -> String {
    format!("value '{id}' must exist in resource '{resource}', field '_id'.")
}

/// A JSON value as people read it: strings without quotes, the rest as JSON.
pub(crate) fn render(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Node {
    messages: Vec<String>,
    children: Vec<(String, Node)>,
}

impl Node {
    fn child(&mut self, key: &str) -> &mut Node {
        let pos = match self.children.iter().position(|(k, _)| k == key) {
            Some(p) => p,
            None => {
                self.children.push((key.to_owned(), Node::default()));
                self.children.len() - 1
            }
        };
        &mut self.children[pos].1
    }

    fn is_empty(&self) -> bool {
        self.messages.is_empty() && self.children.iter().all(|(_, c)| c.is_empty())
    }

    fn to_json(&self) -> Value {
        let children = || {
            let mut m = Map::new();
            for (k, c) in &self.children {
                if !c.is_empty() {
                    m.insert(k.clone(), c.to_json());
                }
            }
            m
        };
        let has_children = self.children.iter().any(|(_, c)| !c.is_empty());
        match (self.messages.as_slice(), has_children) {
            ([one], false) => Value::String(one.clone()),
            (msgs, false) => Value::Array(msgs.iter().cloned().map(Value::String).collect()),
            ([], true) => Value::Object(children()),
            (msgs, true) => {
                let mut list: Vec<Value> = msgs.iter().cloned().map(Value::String).collect();
                list.push(Value::Object(children()));
                Value::Array(list)
            }
        }
    }

    fn flatten<'a>(&'a self, prefix: &str, out: &mut Vec<(String, &'a str)>) {
        for m in &self.messages {
            out.push((prefix.to_owned(), m));
        }
        for (k, c) in &self.children {
            let path = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            c.flatten(&path, out);
        }
    }

    fn merge(&mut self, other: Node) {
        self.messages.extend(other.messages);
        for (k, c) in other.children {
            self.child(&k).merge(c);
        }
    }
}

/// The validation failures of one document, in Eve's `_issues` shape.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Issues {
    root: Node,
}

impl Issues {
    /// No issues.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether there is no issue at all.
    pub fn is_empty(&self) -> bool {
        self.root.is_empty()
    }

    /// Adds `msg` at a dotted path (`meta.code_type`, `meta.dependency.0`).
    /// A message already present at that path is not repeated.
    pub fn add(&mut self, path: &str, msg: impl Into<String>) {
        self.add_at(path.split('.'), msg);
    }

    /// Adds `msg` at the path given as segments (use this when a key itself
    /// holds a dot, e.g. an unknown field `"meta.bar"` sent on create).
    pub fn add_at<I, S>(&mut self, path: I, msg: impl Into<String>)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut node = &mut self.root;
        for seg in path {
            node = node.child(seg.as_ref());
        }
        let msg = msg.into();
        if !node.messages.contains(&msg) {
            node.messages.push(msg);
        }
    }

    /// Adds every issue of `other` (messages of a shared field accumulate).
    pub fn merge(&mut self, other: Issues) {
        self.root.merge(other.root);
    }

    /// Every `(dotted path, message)` pair, in the order added.
    pub fn entries(&self) -> Vec<(String, &str)> {
        let mut out = Vec::new();
        self.root.flatten("", &mut out);
        out
    }

    /// The messages at exactly the dotted `path`.
    pub fn messages_at(&self, path: &str) -> Vec<&str> {
        self.entries()
            .into_iter()
            .filter(|(p, _)| p == path)
            .map(|(_, m)| m)
            .collect()
    }

    /// The `_issues` object.
    pub fn to_json(&self) -> Value {
        match self.root.to_json() {
            Value::Object(m) => Value::Object(m),
            // Messages at the root (not produced by the validator) are
            // reported under the empty key so the shape stays an object.
            other => {
                let mut m = Map::new();
                m.insert(String::new(), other);
                Value::Object(m)
            }
        }
    }
}

impl Serialize for Issues {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl fmt::Display for Issues {
    /// One line naming each field and its messages:
    /// `commit_hash: required field; meta.code_type: unallowed value plugin`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let entries = self.entries();
        if entries.is_empty() {
            return f.write_str("no issues");
        }
        for (i, (path, msg)) in entries.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{path}: {msg}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Issues {}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn single_failure_is_a_string_and_nested_fields_nest() {
        let mut i = Issues::new();
        i.add("commit_hash", REQUIRED);
        i.add("meta.code_type", unallowed(&json!("plugin")));
        assert_eq!(
            i.to_json(),
            json!({"commit_hash": "required field", "meta": {"code_type": "unallowed value plugin"}})
        );
    }

    #[test]
    fn two_failures_on_one_field_become_a_list() {
        let mut i = Issues::new();
        i.add("sid", max_length(14));
        i.add("sid", no_match("^[a-z0-9_]{9,14}$"));
        assert_eq!(
            i.to_json(),
            json!({"sid": ["max length is 14", "value does not match regex '^[a-z0-9_]{9,14}$'"]})
        );
    }

    #[test]
    fn list_items_sit_under_their_stringified_index() {
        let mut i = Issues::new();
        i.add_at(["meta", "dependency", "0"], wrong_type("objectid"));
        assert_eq!(
            i.to_json(),
            json!({"meta": {"dependency": {"0": "must be of objectid type"}}})
        );
    }

    #[test]
    fn own_messages_and_child_issues_share_a_list() {
        let mut i = Issues::new();
        i.add("tag", min_length(1));
        i.add("tag.0", wrong_type("string"));
        assert_eq!(
            i.to_json(),
            json!({"tag": ["min length is 1", {"0": "must be of string type"}]})
        );
    }

    #[test]
    fn the_same_message_twice_on_one_field_is_kept_once() {
        let mut i = Issues::new();
        i.add("meta", wrong_type("dict"));
        i.add("meta", wrong_type("dict"));
        assert_eq!(i.to_json(), json!({"meta": "must be of dict type"}));
    }

    #[test]
    fn add_at_keeps_dots_inside_a_key() {
        let mut i = Issues::new();
        i.add_at(["meta.bar"], UNKNOWN);
        assert_eq!(i.to_json(), json!({"meta.bar": "unknown field"}));
    }

    #[test]
    fn display_is_one_line_naming_the_fields() {
        let mut i = Issues::new();
        i.add("commit_hash", REQUIRED);
        i.add("meta.code_type", unallowed(&json!("plugin")));
        assert_eq!(
            i.to_string(),
            "commit_hash: required field; meta.code_type: unallowed value plugin"
        );
        assert_eq!(Issues::new().to_string(), "no issues");
    }

    #[test]
    fn merge_accumulates_and_is_empty_reflects_content() {
        let mut a = Issues::new();
        assert!(a.is_empty());
        let mut b = Issues::new();
        b.add("sid", not_unique("p1abcdef0123"));
        a.add("sid", REQUIRED);
        a.merge(b);
        assert!(!a.is_empty());
        assert_eq!(
            a.messages_at("sid"),
            ["required field", "value 'p1abcdef0123' is not unique"]
        );
    }

    #[test]
    fn message_wording_matches_eve() {
        assert_eq!(unallowed(&json!(303)), "unallowed value 303");
        assert_eq!(min_length(3), "min length is 3");
        assert_eq!(max_length(14), "max length is 14");
        assert_eq!(wrong_type("boolean"), "must be of boolean type");
        assert_eq!(
            must_exist("5f1f00000000000000000000", "code"),
            "value '5f1f00000000000000000000' must exist in resource 'code', field '_id'."
        );
        assert_eq!(NULL_NOT_ALLOWED, "null value not allowed");
    }

    #[test]
    fn serializes_as_the_issues_object() {
        let mut i = Issues::new();
        i.add("foo", UNKNOWN);
        assert_eq!(serde_json::to_value(&i).unwrap(), json!({"foo": "unknown field"}));
    }
}
