//! Unique constraints declared by the schema and enforced by every store:
//! [`unique_keys`], and [`unique_values`], the one rule for which values a
//! record holds for a key.

use std::fmt;

use serde_json::Value;

use crate::model::{Doc, Resource};

/// A unique constraint over one or more dotted paths of a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UniqueKey {
    /// The field an `_issues` entry is reported under (`sid`, `meta`, …).
    pub field: &'static str,
    /// The paths whose values together must be unique among live records.
    pub paths: &'static [&'static str],
    /// When set, the constraint applies only to records whose value at this
    /// path is `true` (a partial index: one *current* item per name/type).
    pub only_when_true: Option<&'static str>,
}

const CODE: &[UniqueKey] = &[
    UniqueKey {
        field: "commit_hash",
        paths: &["commit_hash"],
        only_when_true: None,
    },
    UniqueKey {
        field: "meta",
        paths: &["meta.name", "meta.version", "meta.code_type"],
        only_when_true: None,
    },
    UniqueKey {
        field: "meta.is_current",
        paths: &["meta.name", "meta.code_type"],
        only_when_true: Some("meta.is_current"),
    },
];
const INSTANCE: &[UniqueKey] = &[
    UniqueKey {
        field: "sid",
        paths: &["sid"],
        only_when_true: None,
    },
    UniqueKey {
        field: "path",
        paths: &["path"],
        only_when_true: None,
    },
];
const ROUTE: &[UniqueKey] = &[UniqueKey {
    field: "source",
    paths: &["source"],
    only_when_true: None,
}];
const STATISTICS: &[UniqueKey] = &[UniqueKey {
    field: "instance",
    paths: &["instance"],
    only_when_true: None,
}];

/// The unique constraints of `res`.
pub fn unique_keys(res: Resource) -> &'static [UniqueKey] {
    match res {
        Resource::Code => CODE,
        Resource::Instance => INSTANCE,
        Resource::Route => ROUTE,
        Resource::Statistics => STATISTICS,
        Resource::Commands | Resource::Site | Resource::Backup | Resource::Rollout => &[],
    }
}

/// The values `doc` holds for `key`, in the order of the key's paths, or
/// `None` when the key does not apply to it: a part is missing or `null`,
/// or the key's `only_when_true` condition is not met. Two live records
/// clash on `key` when their values are equal.
pub fn unique_values<'d>(key: &UniqueKey, doc: &'d Doc) -> Option<UniqueValues<'d>> {
    if let Some(cond) = key.only_when_true {
        if doc.field(cond) != Some(&Value::Bool(true)) {
            return None;
        }
    }
    key.paths
        .iter()
        .map(|p| doc.field(p).filter(|v| !v.is_null()))
        .collect::<Option<Vec<_>>>()
        .map(UniqueValues)
}

/// A record's values for one unique key ([`unique_values`]). Displayed for
/// people: strings bare, other values as JSON, separated by `, `.
#[derive(Debug, Clone, PartialEq)]
pub struct UniqueValues<'d>(Vec<&'d Value>);

impl<'d> UniqueValues<'d> {
    /// The values, in the order of the key's paths.
    pub fn as_slice(&self) -> &[&'d Value] {
        &self.0
    }
}

impl fmt::Display for UniqueValues<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            match v {
                Value::String(s) => f.write_str(s)?,
                other => write!(f, "{other}")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Id, Timestamp};
    use serde_json::json;

    fn doc(body: Value) -> Doc {
        let now = Timestamp::from_unix(0);
        Doc::new(
            Id::generate(now),
            body.as_object().cloned().unwrap_or_default(),
            now,
        )
    }

    fn key(res: Resource, field: &str) -> &'static UniqueKey {
        unique_keys(res).iter().find(|k| k.field == field).unwrap()
    }

    #[test]
    fn a_compound_key_gives_its_values_in_path_order_and_shows_strings_bare() {
        let d = doc(json!({"meta": {"code_type": "core", "version": 7.42, "name": "drupal"}}));
        let v = unique_values(key(Resource::Code, "meta"), &d).unwrap();
        assert_eq!(v.as_slice(), [&json!("drupal"), &json!(7.42), &json!("core")]);
        assert_eq!(v.to_string(), "drupal, 7.42, core");
    }

    #[test]
    fn a_key_with_a_missing_or_null_part_does_not_apply() {
        let meta = key(Resource::Code, "meta");
        assert_eq!(
            unique_values(meta, &doc(json!({"meta": {"name": "drupal"}}))),
            None
        );
        let sid = key(Resource::Instance, "sid");
        assert_eq!(unique_values(sid, &doc(json!({"sid": null}))), None);
        assert_eq!(unique_values(sid, &doc(json!({}))), None);
    }

    #[test]
    fn a_partial_key_applies_only_when_its_flag_is_true() {
        let current = key(Resource::Code, "meta.is_current");
        let body = |flag: Value| json!({"meta": {"name": "drupal", "code_type": "core", "is_current": flag}});
        assert!(unique_values(current, &doc(body(json!(true)))).is_some());
        assert_eq!(unique_values(current, &doc(body(json!(false)))), None);
        assert_eq!(unique_values(current, &doc(body(json!("true")))), None);
    }

    #[test]
    fn values_other_than_strings_are_shown_as_json() {
        let d = doc(json!({"instance": {"id": 3}}));
        let v = unique_values(key(Resource::Statistics, "instance"), &d).unwrap();
        assert_eq!(v.to_string(), r#"{"id":3}"#);
    }
}
