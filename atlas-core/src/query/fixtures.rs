//! Test-only material for the query tests: realistic instance and code
//! documents, and proptest strategies for filters and documents.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::{Filter, Op, Operand, Pattern};
use crate::model::Timestamp;

pub(crate) const CORE: &str = "5a1b2c3d4e5f60718293a4b5";
pub(crate) const PROFILE: &str = "5a1b2c3d4e5f60718293a4b6";
pub(crate) const PKG1: &str = "5a1b2c3d4e5f60718293a4b7";
pub(crate) const PKG2: &str = "5a1b2c3d4e5f60718293a4b8";
pub(crate) const ROUTE: &str = "5a1b2c3d4e5f60718293a4b9";
pub(crate) const OTHER: &str = "5a1b2c3d4e5f60718293a4ba";

/// An installed express instance with two packages.
pub(crate) fn instance() -> Value {
    json!({
        "sid": "p1abc0123456",
        "path": "lab",
        "status": "installed",
        "type": "express",
        "update_group": 2,
        "tag": ["lab", "news"],
        "settings": {"page_cache_maximum_age": 300},
        "code": {"core": CORE, "profile": PROFILE, "package": [PKG1, PKG2]},
        "routes": {"primary_route": ROUTE},
        "dates": {"created": "2026-11-25 01:36:55 GMT", "assigned": null},
        "_id": "6b063bb73e47cec0540baa24",
        "_deleted": false
    })
}

/// The current drupal core.
pub(crate) fn core_code() -> Value {
    json!({
        "meta": {"name": "drupal", "version": "7.42", "code_type": "core",
                 "is_current": true, "dependency": [], "tag": []},
        "git_url": "https://github.com/drupal/drupal.git",
        "commit_hash": "0123456789abcdef0123456789abcdef01234567",
        "_id": CORE,
        "_deleted": false
    })
}

/// A module depending on a package.
pub(crate) fn module_code() -> Value {
    json!({
        "meta": {"name": "mod_events", "version": "2.1", "code_type": "module",
                 "is_current": false, "dependency": [PKG2], "tag": ["Events"]},
        "git_url": "git@github.com:cu/mod_events.git",
        "commit_hash": "89abcdef0123456789abcdef0123456789abcdef",
        "_id": PKG1,
        "_deleted": false
    })
}

fn scalar() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-3i64..4).prop_map(Value::from),
        (-6i64..7).prop_map(|n| Value::from(n as f64 / 2.0)),
        prop::sample::select(vec![
            "a",
            "b",
            "installed",
            "drupal",
            "Drupal",
            "mod_x",
            CORE,
            PKG1,
            "2026-11-25 01:36:55 GMT",
            "2026-11-26 00:00:00 GMT",
            "",
        ])
        .prop_map(Value::from),
    ]
    .boxed()
}

/// A value a document field or an operand may hold.
pub(crate) fn value() -> BoxedStrategy<Value> {
    prop_oneof![
        4 => scalar(),
        1 => prop::collection::vec(scalar(), 0..3).prop_map(Value::Array),
        1 => (scalar(), prop::option::of(scalar())).prop_map(|(b, c)| {
            let mut m = serde_json::Map::new();
            m.insert("b".into(), b);
            if let Some(c) = c {
                m.insert("c".into(), c);
            }
            Value::Object(m)
        }),
    ]
    .boxed()
}

pub(crate) fn path() -> BoxedStrategy<String> {
    prop::sample::select(vec![
        "status",
        "tag",
        "update_group",
        "code.package",
        "meta.name",
        "dates.created",
        "a",
        "a.b",
        "a.0",
        "_deleted",
    ])
    .prop_map(str::to_owned)
    .boxed()
}

pub(crate) fn operand() -> BoxedStrategy<Operand> {
    prop_oneof![
        4 => value().prop_map(Operand::from_json),
        1 => (1_700_000_000i64..1_900_000_000).prop_map(|s| Operand::Date(Timestamp::from_unix(s))),
    ]
    .boxed()
}

pub(crate) fn op() -> BoxedStrategy<Op> {
    let operands = || prop::collection::vec(operand(), 0..3);
    prop_oneof![
        operand().prop_map(Op::Eq),
        operand().prop_map(Op::Ne),
        operand().prop_map(Op::Gt),
        operand().prop_map(Op::Gte),
        operand().prop_map(Op::Lt),
        operand().prop_map(Op::Lte),
        operands().prop_map(Op::In),
        operands().prop_map(Op::Nin),
        any::<bool>().prop_map(Op::Exists),
        (
            prop::sample::select(vec!["^mod_", "drupal", "^d.*l$", "a|b"]),
            prop::sample::select(vec!["", "i", "ms"])
        )
            .prop_map(|(p, o)| match Pattern::new(p, o) {
                Ok(p) => Op::Regex(p),
                Err(_) => Op::Exists(true),
            }),
    ]
    .boxed()
}

/// Filters with non-empty boolean lists (so `to_json` round-trips).
pub(crate) fn filter() -> BoxedStrategy<Filter> {
    let leaf = prop_oneof![
        8 => (path(), op()).prop_map(|(p, o)| Filter::field(p, o)),
        1 => Just(Filter::All),
    ];
    leaf.prop_recursive(3, 16, 3, |inner| {
        let list = || prop::collection::vec(inner.clone(), 1..4);
        prop_oneof![
            list().prop_map(Filter::And),
            list().prop_map(Filter::Or),
            list().prop_map(Filter::Nor),
        ]
    })
    .boxed()
}

/// Documents shaped like the paths of [`path`] (fields may be missing).
pub(crate) fn doc() -> BoxedStrategy<Value> {
    let a = prop_oneof![
        value(),
        prop::collection::vec(value().prop_map(|b| json!({ "b": b })), 0..3).prop_map(Value::Array),
    ];
    (
        prop::option::of(value()),
        prop::option::of(value()),
        prop::option::of(value()),
        prop::option::of(value()),
        prop::option::of(value()),
        prop::option::of(value()),
        prop::option::of(a),
        prop::option::of(any::<bool>()),
    )
        .prop_map(|(status, tag, group, package, name, created, a, deleted)| {
            let mut m = serde_json::Map::new();
            let mut put = |k: &str, v: Option<Value>| {
                if let Some(v) = v {
                    m.insert(k.to_owned(), v);
                }
            };
            put("status", status);
            put("tag", tag);
            put("update_group", group);
            put("code", package.map(|p| json!({ "package": p })));
            put("meta", name.map(|n| json!({ "name": n })));
            put("dates", created.map(|c| json!({ "created": c })));
            put("a", a);
            put("_deleted", deleted.map(Value::Bool));
            Value::Object(m)
        })
        .boxed()
}

/// Documents with distinct `_id`s.
pub(crate) fn docs(max: usize) -> impl Strategy<Value = Vec<Value>> {
    prop::collection::vec(doc(), 0..max).prop_map(|mut docs| {
        for (i, d) in docs.iter_mut().enumerate() {
            if let Value::Object(m) = d {
                m.insert("_id".into(), Value::from(format!("{:024x}", i * 7919 % 1000)));
            }
        }
        docs
    })
}
