//! Edge cases where a store's own query translation is easy to get subtly
//! wrong, each compared with the reference evaluator on a small record set:
//! record dates (`_created`, `_updated`) against dates and against strings
//! rendering dates, `_version` ranges, boolean ranges, a string that looks
//! like an array against a real array, sorting by a path that crosses an
//! array, and job `run_at` ranges.

use std::sync::Arc;

use serde_json::json;

use crate::batch::Batch;
use crate::jobs::JobSpec;
use crate::model::{Doc, Resource};
use crate::query::{select, FindQuery, Op, Operand};
use crate::store::Store;

use super::{at, body, field, find, find_job_ids, id, insert, j, query, sorted, update};

/// Three statistics records written at `at(1)`, `at(2)`, `at(3)`; the
/// second updated at `at(4)` (version 2).
async fn records(store: &dyn Store) -> Vec<Doc> {
    let r = Resource::Statistics;
    let a = insert(
        store,
        r,
        id(1),
        body(json!({"flag": false, "s": "[\"a\"]", "arr": [{"b": 2}, {"b": 9}], "n": 1})),
        at(1),
    )
    .await;
    let b = insert(
        store,
        r,
        id(2),
        body(json!({"flag": true, "s": ["a"], "arr": [{"b": 1}], "n": 2})),
        at(2),
    )
    .await;
    let c = insert(
        store,
        r,
        id(3),
        body(json!({"flag": true, "s": "a", "arr": [{"b": 5}, {"c": 0}], "n": 3})),
        at(3),
    )
    .await;
    let b = update(store, r, &b, json!({"n": 20}), at(4)).await;
    vec![a, b, c]
}

/// `find` returns exactly what the reference evaluator selects.
async fn agrees(store: &dyn Store, all: &[Doc], name: &str, q: FindQuery) {
    let expected = select(all.iter().map(|d| (d.id, d.to_json())), &q);
    assert_eq!(
        find(store, Resource::Statistics, &q).await,
        expected,
        "case `{name}`"
    );
}

fn date(secs: i64) -> Operand {
    Operand::Date(at(secs))
}

/// Dates, versions, booleans, look-alike strings and sorts across arrays
/// agree with the reference evaluator.
pub async fn find_agrees_with_the_reference_on_translator_edge_cases(store: Arc<dyn Store>) {
    let all = records(&*store).await;
    let cases = vec![
        ("_created $eq date", query(field("_created", Op::Eq(date(2))))),
        ("_created $gte date", query(field("_created", Op::Gte(date(2))))),
        ("_created $lt date", query(field("_created", Op::Lt(date(3))))),
        ("_updated $gt date", query(field("_updated", Op::Gt(date(3))))),
        ("_updated $lte date", query(field("_updated", Op::Lte(date(3))))),
        (
            "_created $eq an RFC 3339 string",
            query(field(
                "_created",
                Op::Eq(j(json!(at(2).to_chrono().to_rfc3339()))),
            )),
        ),
        (
            "_created $eq the rendered date string",
            query(field("_created", Op::Eq(j(json!(at(2).to_string()))))),
        ),
        ("_version $gt 1", query(field("_version", Op::Gt(j(json!(1)))))),
        ("_version $lte 1", query(field("_version", Op::Lte(j(json!(1)))))),
        (
            "_version $in",
            query(field("_version", Op::In(vec![j(json!(2))]))),
        ),
        ("boolean $lt true", query(field("flag", Op::Lt(j(json!(true)))))),
        (
            "boolean $gte false",
            query(field("flag", Op::Gte(j(json!(false))))),
        ),
        ("boolean $gt false", query(field("flag", Op::Gt(j(json!(false)))))),
        (
            "array-looking string $eq",
            query(field("s", Op::Eq(j(json!("[\"a\"]"))))),
        ),
        ("array $eq", query(field("s", Op::Eq(j(json!(["a"])))))),
        ("element $eq", query(field("s", Op::Eq(j(json!("a")))))),
        (
            "sort across an array",
            sorted(crate::query::Filter::All, &[("arr.b", false)]),
        ),
        (
            "sort across an array, descending",
            sorted(crate::query::Filter::All, &[("arr.b", true)]),
        ),
        (
            "path across an array $gte",
            query(field("arr.b", Op::Gte(j(json!(5))))),
        ),
    ];
    for (name, q) in cases {
        agrees(&*store, &all, name, q).await;
    }
}

/// `run_at` ranges and `$eq` on jobs agree with the reference evaluator
/// over the jobs' JSON.
pub async fn find_jobs_compares_run_at_like_the_reference(store: Arc<dyn Store>) {
    let mut b = Batch::new(at(0));
    for n in [1, 5, 9] {
        b.enqueue(JobSpec::new("clear_apc", json!({ "n": n }), at(n)));
    }
    store.commit(b).await.unwrap();
    let all = store.find_jobs(&FindQuery::default()).await.unwrap().items;
    for (name, op) in [
        ("run_at $lt", Op::Lt(date(5))),
        ("run_at $gte", Op::Gte(date(5))),
        ("run_at $eq", Op::Eq(date(9))),
        (
            "run_at $eq string",
            Op::Eq(j(json!(at(9).to_chrono().to_rfc3339()))),
        ),
    ] {
        let q = query(field("run_at", op));
        let expected = select(all.iter().map(|job| (job.id.0, job.to_json())), &q);
        let (found, total) = find_job_ids(&*store, &q).await;
        let found: Vec<_> = found.into_iter().map(|j| j.0).collect();
        assert_eq!((found, total), expected, "case `{name}`");
    }
}

/// A residual condition `AND`ed with an equality on a meta field that no
/// record can satisfy (`_version $in [2.5]`) matches nothing and never
/// fails (a store that substitutes the operand into its residual
/// evaluation must not choke on the non-integer).
pub async fn find_with_an_impossible_meta_equality_beside_a_residual_matches_nothing(store: Arc<dyn Store>) {
    let all = records(&*store).await;
    let impossible = crate::query::Filter::and(vec![
        field("status", Op::In(vec![j(json!([]))])),
        field("_version", Op::In(vec![j(json!(2.5))])),
    ]);
    agrees(
        &*store,
        &all,
        "_version $in [2.5] with an array operand",
        query(impossible),
    )
    .await;
    let possible = crate::query::Filter::and(vec![
        field("s", Op::In(vec![j(json!(["a"]))])),
        field("_version", Op::In(vec![j(json!(2.0))])),
    ]);
    agrees(
        &*store,
        &all,
        "_version $in [2.0] with an array operand",
        query(possible),
    )
    .await;
}
