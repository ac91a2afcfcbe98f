//! The store conformance suite: one `pub async fn` per behaviour every
//! [`Store`] must have, each taking a fresh, empty store. Instantiate it for a
//! backend with [`crate::store_conformance!`], which generates one
//! `#[tokio::test]` per case; [`CASES`] holds the same cases as data.
//!
//! The cases live in one file per topic:
//! - `batches`: atomic batches, write stamping and merging, etag
//!   compare-and-swap;
//! - `unique`: unique keys;
//! - `deletes`: soft delete;
//! - `history`: the version history;
//! - `filters`: filter semantics equal to the reference evaluator;
//! - `sort`: sort order, paging and totals;
//! - `queue`: enqueueing, claiming, per-key order and `find_jobs`;
//! - `leases`: lease expiry, renewal and ownership;
//! - `outcomes`: finished jobs: backoff, dead letter, follow-up batches.
//!
//! (`find_fixture` holds the record set `filters` and `sort` query.)
//!
//! This file holds the helpers they share and [`CASES`]; the one list of
//! case names lives in [`crate::store_conformance!`], which builds both the
//! tests and [`CASES`] from it.
//!
//! Conventions:
//! - Each case arranges its own data, with fixed [`Timestamp`]s (never the
//!   wall clock) and, where order matters, fixed ids.
//! - Write indexes in errors are **0-based**: the third write of a batch is
//!   `write: 2`.
//! - Filter results are compared with [`crate::query::select`], the reference
//!   evaluator, so a backend reproduces its semantics exactly.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::store::Outcome;

use crate::batch::{Batch, Committed};
use crate::jobs::{Job, JobFailure, JobId, JobSpec, LeaseSpec};
use crate::model::{Body, Doc, Id, Resource, Timestamp};
use crate::query::{Filter, FindQuery, Op, Operand, Pattern, SortKey};
use crate::store::{Store, StoreExt};

mod batches;
mod deletes;
mod edges;
mod filters;
mod find_fixture;
mod history;
mod leases;
mod outcomes;
mod queue;
mod sort;
mod unique;

pub use batches::*;
pub use deletes::*;
pub use edges::*;
pub use filters::*;
pub use history::*;
pub use leases::*;
pub use outcomes::*;
pub use queue::*;
pub use sort::*;
pub use unique::*;

// ------------------------------------------------------------ the cases

/// One conformance case: checks one behaviour on the fresh, empty store it
/// is given.
pub type Case = fn(Arc<dyn Store>) -> Pin<Box<dyn Future<Output = ()> + Send>>;

crate::store_conformance!(@each_case cases_table {});

/// Instantiates the conformance suite: one `#[tokio::test]` per case, each
/// on a fresh store built by `$make` (an expression evaluating to a future
/// of a `Store`), inside a `mod store_conformance`.
///
/// ```ignore
/// atlas_core::store_conformance!(async { SqliteStore::open_in_memory().await.unwrap() });
/// // or a subset:
/// atlas_core::store_conformance!(async { MyStore::new() }; commit_is_all_or_nothing, ties_break_by_id);
/// ```
///
/// The calling crate needs `tokio` (with `macros` and `rt-multi-thread`) as
/// a dev-dependency.
///
/// Arms starting with `@` are internal. `@each_case` holds the one list of
/// case names, in run order, and hands it to the arm its first argument
/// names: `@tests` (the tests above) or `@cases_table` (which defines
/// [`testing::store_suite::CASES`](crate::testing::store_suite::CASES)). A
/// case is a `pub async fn` in one of the suite's topic files; a unit test
/// checks that each of them is listed exactly once.
#[macro_export]
macro_rules! store_conformance {
    (@each_case $then:ident $args:tt) => {
        $crate::store_conformance!(
            @$then $args
            // batches
            commit_is_all_or_nothing,
            later_writes_of_a_batch_see_earlier_ones,
            insert_stamps_version_one_and_the_computed_etag,
            update_merges_nested_fields_and_bumps_version,
            replace_keeps_created_and_drops_missing_fields,
            etag_compare_and_swap_lets_exactly_one_of_two_racers_win,
            stale_etag_is_refused,
            // unique
            unique_constraints_are_enforced,
            a_clash_between_inserts_of_one_batch_names_the_later_write,
            soft_deleted_records_do_not_count_for_unique,
            unique_values_follow_updates_within_and_across_batches,
            two_current_code_items_of_same_name_and_type_are_impossible,
            // deletes
            soft_deleted_records_are_hidden_unless_show_deleted_or_filter_mentions_deleted,
            delete_of_deleted_record_is_a_no_op,
            writes_to_deleted_records_are_refused,
            // history
            history_keeps_every_version_including_delete,
            // filters
            find_filters_by_equality_and_inequality,
            find_matches_ids_given_as_hex_strings,
            find_filters_by_ordering_comparisons,
            find_filters_by_membership_in_a_set,
            find_filters_by_field_existence,
            find_filters_by_regex,
            find_combines_filters_with_and_or_nor,
            find_filters_by_nested_path,
            find_matches_array_fields_by_element,
            find_compares_body_dates,
            find_compares_record_timestamps,
            find_returns_deleted_records_when_asked,
            find_filters_code_by_type_and_currency,
            find_filters_code_by_tag_and_dependency,
            find_filters_code_by_name_version_label_and_hash,
            find_compares_whole_arrays_and_objects_numerically,
            // edges
            find_agrees_with_the_reference_on_translator_edge_cases,
            find_jobs_compares_run_at_like_the_reference,
            find_with_an_impossible_meta_equality_beside_a_residual_matches_nothing,
            // sort
            find_sorts_on_several_keys_like_the_reference,
            find_sorts_on_a_sometimes_missing_field_like_the_reference,
            sort_paging_and_total,
            uncounted_pages_hold_the_same_items_with_a_lower_bound_total,
            ties_break_by_id,
            // queue
            enqueued_jobs_commit_with_their_batch,
            claim_hands_each_job_to_exactly_one_of_eight_claimers,
            jobs_with_the_same_key_never_run_at_once_and_run_in_order,
            find_jobs_filters_by_status_and_kind,
            // leases
            expired_lease_is_redelivered,
            finish_requires_the_lease,
            renew_extends_a_lease,
            // outcomes
            failed_job_waits_for_its_backoff_time,
            job_is_dead_lettered_after_max_attempts,
            finish_commits_follow_up_atomically,
            operators_retry_dead_jobs_and_cancel_queued_ones,
        );
    };
    (@tests { $make:expr } $($case:ident,)+) => {
        mod store_conformance {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let store: ::std::sync::Arc<dyn $crate::Store> =
                        ::std::sync::Arc::new($make.await);
                    $crate::testing::store_suite::$case(store).await;
                }
            )+
        }
    };
    (@cases_table {} $($case:ident,)+) => {
        /// Every case of the suite, by name and in run order: what
        /// [`store_conformance!`](crate::store_conformance) instantiates, for
        /// a backend that runs the suite its own way.
        pub const CASES: &[(&str, $crate::testing::store_suite::Case)] = &[
            $((
                ::std::stringify!($case),
                |store| ::std::boxed::Box::pin($crate::testing::store_suite::$case(store)),
            ),)+
        ];
    };
    ($make:expr) => {
        $crate::store_conformance!(@each_case tests { $make });
    };
    ($make:expr; $($case:ident),+ $(,)?) => {
        $crate::store_conformance!(@tests { $make } $($case,)+);
    };
}

// ------------------------------------------------------------ helpers

/// `2026-11-25 00:00:00 GMT` in Unix seconds: the suite's time origin.
const T0: i64 = 1_795_564_800;

/// The suite's clock: `T0 + secs`.
fn at(secs: i64) -> Timestamp {
    Timestamp::from_unix(T0 + secs)
}

/// A fixed id; ids sort by `n`.
fn id(n: u32) -> Id {
    let mut b = [0u8; 12];
    b[..4].copy_from_slice(&(T0 as u32).to_be_bytes());
    b[4..8].copy_from_slice(&[0xa7, 0x1a, 0x50, 0x00]);
    b[8..].copy_from_slice(&n.to_be_bytes());
    Id::from_bytes(b)
}

fn body(v: Value) -> Body {
    match v {
        Value::Object(m) => m,
        other => panic!("test body must be an object, got {other}"),
    }
}

async fn commit_ok(store: &dyn Store, batch: Batch) -> Committed {
    match store.commit(batch).await {
        Ok(c) => c,
        Err(e) => panic!("commit should succeed: {e}"),
    }
}

async fn insert(store: &dyn Store, res: Resource, id: Id, b: Body, now: Timestamp) -> Doc {
    let mut batch = Batch::new(now);
    batch.insert(res, id, b);
    first_doc(&commit_ok(store, batch).await)
}

async fn update(store: &dyn Store, res: Resource, doc: &Doc, patch: Value, now: Timestamp) -> Doc {
    let mut batch = Batch::new(now);
    batch.update(res, doc.id, body(patch), Some(doc.etag.clone()));
    first_doc(&commit_ok(store, batch).await)
}

async fn delete(store: &dyn Store, res: Resource, doc: &Doc, now: Timestamp) -> Doc {
    let mut batch = Batch::new(now);
    batch.delete(res, doc.id, Some(doc.etag.clone()));
    first_doc(&commit_ok(store, batch).await)
}

fn first_doc(c: &Committed) -> Doc {
    c.docs().next().cloned().expect("the batch wrote a record")
}

async fn current(store: &dyn Store, res: Resource, id: &Id) -> Doc {
    match store.require(res, id).await {
        Ok(d) => d,
        Err(e) => panic!("{res} {id} should exist: {e}"),
    }
}

async fn find(store: &dyn Store, res: Resource, q: &FindQuery) -> (Vec<Id>, u64) {
    let page = store.find(res, q).await.expect("find succeeds");
    (page.items.iter().map(|d| d.id).collect(), page.total)
}

async fn find_job_ids(store: &dyn Store, q: &FindQuery) -> (Vec<JobId>, u64) {
    let page = store.find_jobs(q).await.expect("find_jobs succeeds");
    (page.items.iter().map(|j| j.id).collect(), page.total)
}

async fn job(store: &dyn Store, id: &JobId) -> Job {
    store.job(id).await.expect("job succeeds").expect("job exists")
}

fn query(filter: Filter) -> FindQuery {
    FindQuery::all_matching(filter)
}

fn sorted(filter: Filter, sort: &[(&str, bool)]) -> FindQuery {
    FindQuery {
        sort: sort
            .iter()
            .map(|(p, d)| SortKey {
                path: (*p).to_owned(),
                descending: *d,
            })
            .collect(),
        ..query(filter)
    }
}

fn field(path: &str, op: Op) -> Filter {
    Filter::field(path, op)
}

fn j(v: Value) -> Operand {
    Operand::Json(v)
}

fn regex(source: &str, options: &str) -> Op {
    Op::Regex(Pattern::new(source, options).expect("valid test regex"))
}

fn lease(owner: &str, secs: u64) -> LeaseSpec {
    LeaseSpec {
        owner: owner.to_owned(),
        duration: Duration::from_secs(secs),
    }
}

fn succeeded(owner: &str, now: Timestamp, follow_up: Batch) -> Outcome {
    Outcome {
        owner: owner.to_owned(),
        now,
        result: Ok(json!({"ok": true})),
        follow_up,
    }
}

fn failed(owner: &str, now: Timestamp, error: &str, retry_at: Option<Timestamp>) -> Outcome {
    Outcome {
        owner: owner.to_owned(),
        now,
        result: Err(JobFailure {
            error: error.to_owned(),
            retry_at,
            result: None,
        }),
        follow_up: Batch::new(now),
    }
}

async fn enqueue(store: &dyn Store, spec: JobSpec, now: Timestamp) -> JobId {
    let mut batch = Batch::new(now);
    batch.enqueue(spec);
    commit_ok(store, batch)
        .await
        .jobs()
        .next()
        .expect("the batch enqueued a job")
}

async fn claim(store: &dyn Store, owner: &str, secs: u64, now: Timestamp) -> Option<Job> {
    store
        .claim(&lease(owner, secs), now)
        .await
        .expect("claim succeeds")
}

async fn all_jobs(store: &dyn Store) -> Vec<Job> {
    store
        .find_jobs(&query(Filter::All))
        .await
        .expect("find_jobs succeeds")
        .items
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::CASES;
    use crate::MemoryStore;

    /// The `pub async fn`s of the suite's topic files.
    fn defined_cases() -> BTreeSet<String> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/testing/store_suite");
        let mut names = BTreeSet::new();
        for entry in std::fs::read_dir(dir).expect("the suite's directory") {
            let path = entry.expect("a directory entry").path();
            if path.file_name().is_some_and(|n| n == "mod.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("a topic file");
            for line in text.lines() {
                if let Some(rest) = line.strip_prefix("pub async fn ") {
                    let name = rest.split('(').next().unwrap_or(rest);
                    assert!(names.insert(name.to_owned()), "{name} is defined twice");
                }
            }
        }
        names
    }

    #[test]
    fn every_case_is_listed_exactly_once() {
        let listed: Vec<&str> = CASES.iter().map(|(name, _)| *name).collect();
        let distinct: BTreeSet<String> = listed.iter().map(|n| (*n).to_owned()).collect();
        assert_eq!(distinct.len(), listed.len(), "a case is listed twice: {listed:?}");
        let defined = defined_cases();
        let unlisted: Vec<_> = defined.difference(&distinct).collect();
        assert!(
            unlisted.is_empty(),
            "add to the list in `store_conformance!`: {unlisted:?}"
        );
        let undefined: Vec<_> = distinct.difference(&defined).collect();
        assert!(
            undefined.is_empty(),
            "listed but not a topic file's `pub async fn`: {undefined:?}"
        );
    }

    #[tokio::test]
    async fn a_case_of_the_table_runs_on_a_store() {
        let (_, case) = CASES
            .iter()
            .find(|(name, _)| *name == "ties_break_by_id")
            .expect("listed");
        case(std::sync::Arc::new(MemoryStore::new())).await;
    }
}
