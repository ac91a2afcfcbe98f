//! Unique constraints declared by the schema and enforced by every store.

use crate::model::Resource;

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
        Resource::Commands | Resource::Site => &[],
    }
}
