//! The store conformance suite: one `pub async fn` per behaviour every
//! [`Store`] must have, each taking a fresh, empty store. Instantiate it for a
//! backend with [`crate::store_conformance!`], which generates one
//! `#[tokio::test]` per case.
//!
//! Conventions:
//! - Each case arranges its own data, with fixed [`Timestamp`]s (never the
//!   wall clock) and, where order matters, fixed ids.
//! - Write indexes in errors are **0-based**: the third write of a batch is
//!   `write: 2`.
//! - Filter results are compared with [`crate::query::select`], the reference
//!   evaluator, so a backend reproduces its semantics exactly.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use crate::error::StoreError;
use crate::jobs::{Job, JobFailure, JobId, JobSpec, JobStatus, LeaseSpec, Outcome};
use crate::model::{Body, CodeType, Doc, Id, InstanceType, Pool, Resource, Status, Timestamp};
use crate::query::{select, Filter, FindQuery, Op, Operand, Paging, Pattern, SortKey};
use crate::store::{Batch, Committed, Store, StoreExt, Written};
use crate::testing::fixtures;

// ---------------------------------------------------------------- helpers

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

// ------------------------------------------------------------ batches

/// A batch whose third write (index 2, writes are 0-based) has a stale etag
/// or breaks a unique key changes nothing — not even the first two writes or
/// the jobs it enqueues — and the error names write 2.
pub async fn commit_is_all_or_nothing(store: Arc<dyn Store>) {
    let s = &*store;
    let a = insert(
        s,
        Resource::Instance,
        id(1),
        fixtures::instance().sid("p1aaaaaaaaaa").build(),
        at(0),
    )
    .await;
    let b = insert(
        s,
        Resource::Instance,
        id(2),
        fixtures::instance().sid("p1bbbbbbbbbb").build(),
        at(0),
    )
    .await;
    let b2 = update(s, Resource::Instance, &b, json!({"status": "available"}), at(1)).await;

    // A stale etag in write 2.
    let mut batch = Batch::new(at(2));
    batch
        .update(
            Resource::Instance,
            a.id,
            body(json!({"status": "available"})),
            Some(a.etag.clone()),
        )
        .insert(
            Resource::Instance,
            id(3),
            fixtures::instance().sid("p1cccccccccc").build(),
        )
        .update(
            Resource::Instance,
            b.id,
            body(json!({"status": "installed"})),
            Some(b.etag.clone()),
        )
        .enqueue(JobSpec::new("provision", json!({}), at(2)));
    let err = s.commit(batch).await.expect_err("stale etag refuses the batch");
    assert!(
        matches!(&err, StoreError::PreconditionFailed { write: 2, res: Resource::Instance, id, expected, found }
            if *id == b.id && *expected == b.etag.to_string() && *found == b2.etag.to_string()),
        "{err:?}"
    );
    assert_eq!(err.write_index(), Some(2));

    // A unique clash in write 2 (sid of `a`).
    let mut batch = Batch::new(at(3));
    batch
        .update(
            Resource::Instance,
            a.id,
            body(json!({"status": "available"})),
            Some(a.etag.clone()),
        )
        .insert(
            Resource::Instance,
            id(3),
            fixtures::instance().sid("p1cccccccccc").build(),
        )
        .insert(
            Resource::Instance,
            id(4),
            fixtures::instance().sid("p1aaaaaaaaaa").path("elsewhere").build(),
        )
        .enqueue(JobSpec::new("provision", json!({}), at(3)));
    let err = s.commit(batch).await.expect_err("unique clash refuses the batch");
    assert!(
        matches!(&err, StoreError::Unique { write: 2, res: Resource::Instance, field, .. } if field == "sid"),
        "{err:?}"
    );

    assert_eq!(current(s, Resource::Instance, &a.id).await, a);
    assert_eq!(current(s, Resource::Instance, &b.id).await, b2);
    assert_eq!(s.get(Resource::Instance, &id(3)).await.expect("get"), None);
    assert_eq!(s.get(Resource::Instance, &id(4)).await.expect("get"), None);
    assert_eq!(
        s.history(Resource::Instance, &a.id).await.expect("history").len(),
        1
    );
    assert!(all_jobs(s).await.is_empty());
}

/// Later writes of a batch see earlier ones: an insert then an update of the
/// same record in one batch yields version 2, and every write's result is
/// returned in order.
pub async fn later_writes_of_a_batch_see_earlier_ones(store: Arc<dyn Store>) {
    let s = &*store;
    let mut batch = Batch::new(at(5));
    batch
        .insert(Resource::Route, id(1), fixtures::route().source("lab").build())
        .update(
            Resource::Route,
            id(1),
            body(json!({"route_status": "active"})),
            None,
        )
        .enqueue(JobSpec::new("publish_routes", json!({}), at(5)));
    let c = commit_ok(s, batch).await;
    assert_eq!(c.results.len(), 3);
    let docs: Vec<&Doc> = c.docs().collect();
    assert_eq!((docs[0].version, docs[1].version), (1, 2));
    assert!(matches!(c.results[2], Written::Job(_)));
    let now = current(s, Resource::Route, &id(1)).await;
    assert_eq!(&now, docs[1]);
    assert_eq!(now.body["route_status"], "active");
    assert_eq!(
        s.history(Resource::Route, &id(1)).await.expect("history").len(),
        2
    );
}

/// An insert stamps version 1 with `_created == _updated == now` and the
/// etag [`Doc::compute_etag`] gives; `get` returns exactly what was written.
pub async fn insert_stamps_version_one_and_the_computed_etag(store: Arc<dyn Store>) {
    let s = &*store;
    let b = fixtures::code().core("drupal", "7.42").current().build();
    let d = insert(s, Resource::Code, id(1), b.clone(), at(7)).await;
    assert_eq!((d.id, d.version, d.deleted), (id(1), 1, false));
    assert_eq!((d.created, d.updated), (at(7), at(7)));
    assert_eq!(d.body, b);
    assert_eq!(d.etag, d.compute_etag());
    assert_eq!(current(s, Resource::Code, &id(1)).await, d);
    assert_eq!(s.get(Resource::Instance, &id(1)).await.expect("get"), None);
}

/// An update merges nested objects key by key, replaces other values, bumps
/// the version, keeps `_created`, stamps `_updated` and recomputes the etag.
pub async fn update_merges_nested_fields_and_bumps_version(store: Arc<dyn Store>) {
    let s = &*store;
    let b = fixtures::instance()
        .sid("p1merge00001")
        .siteimprove_site(42)
        .tag("a")
        .build();
    let v1 = insert(s, Resource::Instance, id(1), b, at(0)).await;
    let v2 = update(
        s,
        Resource::Instance,
        &v1,
        json!({"status": "available", "settings": {"siteimprove_group": 7}, "tag": ["b"]}),
        at(60),
    )
    .await;
    assert_eq!(v2.version, 2);
    assert_eq!((v2.created, v2.updated), (at(0), at(60)));
    assert_eq!(v2.etag, v2.compute_etag());
    assert_ne!(v2.etag, v1.etag);
    assert_eq!(
        v2.body["settings"],
        json!({"page_cache_maximum_age": 300, "siteimprove_site": 42, "siteimprove_group": 7})
    );
    assert_eq!(v2.body["tag"], json!(["b"]));
    assert_eq!(v2.body["status"], "available");
    assert_eq!(v2.body["sid"], "p1merge00001");
    assert_eq!(current(s, Resource::Instance, &v1.id).await, v2);
}

/// A replace swaps the whole body (fields it lacks are gone), keeps
/// `_created`, bumps the version and recomputes the etag.
pub async fn replace_keeps_created_and_drops_missing_fields(store: Arc<dyn Store>) {
    let s = &*store;
    let v1 = insert(
        s,
        Resource::Route,
        id(1),
        fixtures::route().source("old").build(),
        at(0),
    )
    .await;
    let mut batch = Batch::new(at(30));
    let new_body = body(
        json!({"route_type": "redirect", "route_status": "inactive", "source": "old",
                               "destination": "https://www.colorado.edu/new", "response_code": 301}),
    );
    batch.replace(Resource::Route, v1.id, new_body.clone(), Some(v1.etag.clone()));
    let v2 = first_doc(&commit_ok(s, batch).await);
    assert_eq!(v2.body, new_body);
    assert!(!v2.body.contains_key("active_on_launch"));
    assert_eq!((v2.created, v2.updated, v2.version), (at(0), at(30), 2));
    assert_eq!(v2.etag, v2.compute_etag());
    assert_eq!(current(s, Resource::Route, &v1.id).await, v2);
}

/// Two tasks racing to update the same record with the same etag: exactly
/// one wins each round, the other gets `PreconditionFailed`, and no update is
/// lost.
pub async fn etag_compare_and_swap_lets_exactly_one_of_two_racers_win(store: Arc<dyn Store>) {
    const ROUNDS: u64 = 40;
    let v1 = insert(
        &*store,
        Resource::Instance,
        id(1),
        fixtures::instance().build(),
        at(0),
    )
    .await;
    let mut wins = [0u64; 2];
    for round in 0..ROUNDS {
        let cur = current(&*store, Resource::Instance, &v1.id).await;
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let mut tasks = Vec::new();
        for racer in 0..2u64 {
            let (store, cur, barrier) = (store.clone(), cur.clone(), barrier.clone());
            tasks.push(tokio::spawn(async move {
                let mut batch = Batch::new(at(1 + round as i64));
                batch.update(
                    Resource::Instance,
                    cur.id,
                    body(json!({"update_group": racer, "tag": [format!("round-{round}")]})),
                    Some(cur.etag.clone()),
                );
                barrier.wait().await;
                store.commit(batch).await
            }));
        }
        let mut ok = 0;
        for (racer, t) in tasks.into_iter().enumerate() {
            match t.await.expect("racer task") {
                Ok(_) => {
                    ok += 1;
                    wins[racer] += 1;
                }
                Err(StoreError::PreconditionFailed { write: 0, .. }) => {}
                Err(e) => panic!("loser must get PreconditionFailed, got {e:?}"),
            }
        }
        assert_eq!(ok, 1, "round {round}: exactly one racer wins");
    }
    let last = current(&*store, Resource::Instance, &v1.id).await;
    assert_eq!(last.version, 1 + ROUNDS);
    assert_eq!(wins[0] + wins[1], ROUNDS);
    let history = store.history(Resource::Instance, &v1.id).await.expect("history");
    assert_eq!(history.len() as u64, 1 + ROUNDS);
}

/// Update, replace and delete conditioned on an outdated etag are refused
/// with the expected and found etags, and the record is unchanged.
pub async fn stale_etag_is_refused(store: Arc<dyn Store>) {
    let s = &*store;
    let v1 = insert(s, Resource::Code, id(1), fixtures::code().build(), at(0)).await;
    let v2 = update(s, Resource::Code, &v1, json!({"meta": {"label": "GA"}}), at(1)).await;
    let stale = Some(v1.etag.clone());
    let writes = [
        crate::store::Write::Update {
            res: Resource::Code,
            id: v1.id,
            patch: body(json!({"git_url": "https://example.org/x.git"})),
            expect: stale.clone(),
        },
        crate::store::Write::Replace {
            res: Resource::Code,
            id: v1.id,
            body: fixtures::code().build(),
            expect: stale.clone(),
        },
        crate::store::Write::Delete {
            res: Resource::Code,
            id: v1.id,
            expect: stale.clone(),
        },
    ];
    for w in writes {
        let mut batch = Batch::new(at(2));
        batch.push(w);
        let err = s.commit(batch).await.expect_err("stale etag is refused");
        assert!(
            matches!(&err, StoreError::PreconditionFailed { write: 0, res: Resource::Code, id, expected, found }
                if *id == v1.id && *expected == v1.etag.to_string() && *found == v2.etag.to_string()),
            "{err:?}"
        );
    }
    assert_eq!(current(s, Resource::Code, &v1.id).await, v2);
    // Without a precondition the write goes through.
    let mut batch = Batch::new(at(3));
    batch.update(Resource::Code, v1.id, body(json!({"created_by": "x"})), None);
    assert_eq!(first_doc(&commit_ok(s, batch).await).version, 3);
}

// ------------------------------------------------------------ unique keys

async fn assert_unique_clash(s: &dyn Store, res: Resource, new_id: Id, b: Body, field: &str) {
    let before = s.get(res, &new_id).await.expect("get");
    let mut batch = Batch::new(at(50));
    batch.insert(res, new_id, b);
    let err = s.commit(batch).await.expect_err("unique clash");
    assert!(
        matches!(&err, StoreError::Unique { write: 0, res: r, field: f, .. } if *r == res && f == field),
        "expected a clash on {res}.{field}, got {err:?}"
    );
    assert_eq!(s.get(res, &new_id).await.expect("get"), before);
}

/// Every unique key of the schema is enforced among live records: instance
/// `sid` and `path`, code `commit_hash` and `(name, version, code_type)`,
/// route `source`, statistics `instance`, and record ids; keys with a
/// missing or `null` part are not enforced.
pub async fn unique_constraints_are_enforced(store: Arc<dyn Store>) {
    let s = &*store;
    use Resource::*;
    insert(
        s,
        Instance,
        id(1),
        fixtures::instance().sid("p1uniq000001").path("lab").build(),
        at(0),
    )
    .await;
    assert_unique_clash(
        s,
        Instance,
        id(2),
        fixtures::instance().sid("p1uniq000001").path("other").build(),
        "sid",
    )
    .await;
    assert_unique_clash(
        s,
        Instance,
        id(2),
        fixtures::instance().sid("p1uniq000002").path("lab").build(),
        "path",
    )
    .await;
    insert(
        s,
        Instance,
        id(2),
        fixtures::instance().sid("p1uniq000002").build(),
        at(1),
    )
    .await;
    // An update can clash too.
    let i2 = current(s, Instance, &id(2)).await;
    let mut batch = Batch::new(at(2));
    batch.update(
        Instance,
        i2.id,
        body(json!({"path": "lab"})),
        Some(i2.etag.clone()),
    );
    let err = s.commit(batch).await.expect_err("update clash");
    assert!(
        matches!(&err, StoreError::Unique { write: 0, field, value, .. } if field == "path" && value.contains("lab")),
        "{err:?}"
    );
    // Record ids.
    assert_unique_clash(s, Instance, id(1), fixtures::instance().build(), "_id").await;

    let hash = "0123456789abcdef0123456789abcdef01234567";
    insert(
        s,
        Code,
        id(10),
        fixtures::code().core("drupal", "7.42").commit_hash(hash).build(),
        at(0),
    )
    .await;
    assert_unique_clash(
        s,
        Code,
        id(11),
        fixtures::code()
            .module("views", "7.x-3.14")
            .commit_hash(hash)
            .build(),
        "commit_hash",
    )
    .await;
    assert_unique_clash(
        s,
        Code,
        id(11),
        fixtures::code().core("drupal", "7.42").build(),
        "meta",
    )
    .await;
    // Same name and version but another type is fine.
    insert(
        s,
        Code,
        id(11),
        fixtures::code().profile("drupal", "7.42").build(),
        at(1),
    )
    .await;

    insert(
        s,
        Route,
        id(20),
        fixtures::route().source("lab/atlas").build(),
        at(0),
    )
    .await;
    assert_unique_clash(
        s,
        Route,
        id(21),
        fixtures::route().source("lab/atlas").build(),
        "source",
    )
    .await;
    insert(s, Route, id(21), fixtures::route().source("lab").build(), at(1)).await;

    insert(
        s,
        Statistics,
        id(30),
        fixtures::statistics().instance(id(1)).build(),
        at(0),
    )
    .await;
    assert_unique_clash(
        s,
        Statistics,
        id(31),
        fixtures::statistics().instance(id(1)).build(),
        "instance",
    )
    .await;
    // Missing or null parts are not enforced.
    insert(s, Statistics, id(31), fixtures::statistics().build(), at(1)).await;
    insert(s, Statistics, id(32), fixtures::statistics().build(), at(1)).await;
    let mut null_instance = fixtures::statistics().build();
    null_instance.insert("instance".into(), Value::Null);
    insert(s, Statistics, id(33), null_instance.clone(), at(1)).await;
    insert(s, Statistics, id(34), null_instance, at(1)).await;

    // Resources without unique keys accept duplicates.
    let cmd = body(json!({"name": "clear caches", "command": "drush cc all", "single_server": true}));
    insert(s, Commands, id(40), cmd.clone(), at(0)).await;
    insert(s, Commands, id(41), cmd, at(0)).await;
}

/// A unique value follows its record: an update frees the old value (for
/// later batches and for later writes of the same batch) and takes the new
/// one; two writes of one batch cannot take the same value.
pub async fn unique_values_follow_updates_within_and_across_batches(store: Arc<dyn Store>) {
    let s = &*store;
    use Resource::Instance;
    let a = insert(
        s,
        Instance,
        id(1),
        fixtures::instance().sid("p1move000001").path("pa").build(),
        at(0),
    )
    .await;
    let mut batch = Batch::new(at(1));
    batch.update(Instance, a.id, body(json!({"path": "pb"})), Some(a.etag.clone()));
    commit_ok(s, batch).await;
    // The freed value is taken by another record in a later batch…
    insert(
        s,
        Instance,
        id(2),
        fixtures::instance().sid("p1move000002").path("pa").build(),
        at(2),
    )
    .await;
    // …and within one batch, by a write after the one that frees it.
    let mut batch = Batch::new(at(3));
    batch.update(Instance, id(1), body(json!({"path": "pc"})), None);
    batch.insert(
        Instance,
        id(3),
        fixtures::instance().sid("p1move000003").path("pb").build(),
    );
    commit_ok(s, batch).await;
    // Two records swap values through a third.
    let mut batch = Batch::new(at(4));
    batch.update(Instance, id(2), body(json!({"path": "tmp"})), None);
    batch.update(Instance, id(3), body(json!({"path": "pa"})), None);
    batch.update(Instance, id(2), body(json!({"path": "pb"})), None);
    commit_ok(s, batch).await;
    assert_eq!(current(s, Instance, &id(2)).await.body["path"], "pb");
    assert_eq!(current(s, Instance, &id(3)).await.body["path"], "pa");
    // The value a record left in this batch is still taken by the record that holds it now.
    assert_unique_clash(
        s,
        Instance,
        id(4),
        fixtures::instance().sid("p1move000004").path("pa").build(),
        "path",
    )
    .await;
    // Two writes of one batch cannot take the same free value.
    let mut batch = Batch::new(at(5));
    batch.insert(
        Instance,
        id(5),
        fixtures::instance().sid("p1move000005").path("new").build(),
    );
    batch.insert(
        Instance,
        id(6),
        fixtures::instance().sid("p1move000006").path("new").build(),
    );
    let err = s.commit(batch).await.expect_err("clash within the batch");
    assert!(
        matches!(&err, StoreError::Unique { write: 1, field, .. } if field == "path"),
        "{err:?}"
    );
    assert!(s.get(Instance, &id(5)).await.expect("get").is_none());
}

/// Soft-deleted records never count for unique keys: a deleted instance's
/// sid and path, and a deleted code item's commit hash, can be reused.
pub async fn soft_deleted_records_do_not_count_for_unique(store: Arc<dyn Store>) {
    let s = &*store;
    let a = insert(
        s,
        Resource::Instance,
        id(1),
        fixtures::instance().sid("p1gone000001").build(),
        at(0),
    )
    .await;
    delete(s, Resource::Instance, &a, at(1)).await;
    let b = insert(
        s,
        Resource::Instance,
        id(2),
        fixtures::instance().sid("p1gone000001").build(),
        at(2),
    )
    .await;
    assert_eq!(b.body["path"], "p1gone000001");

    let hash = "fedcba9876543210fedcba9876543210fedcba98";
    let c = insert(
        s,
        Resource::Code,
        id(3),
        fixtures::code()
            .core("drupal", "7.50")
            .commit_hash(hash)
            .current()
            .build(),
        at(0),
    )
    .await;
    delete(s, Resource::Code, &c, at(1)).await;
    insert(
        s,
        Resource::Code,
        id(4),
        fixtures::code()
            .core("drupal", "7.50")
            .commit_hash(hash)
            .current()
            .build(),
        at(2),
    )
    .await;
}

/// At most one code item per `(name, code_type)` is current: a second
/// current one is refused on `meta.is_current`, non-current ones and other
/// types are fine, and a batch that un-currents the old item before making
/// the new one current succeeds (the reverse order fails at write 0).
pub async fn two_current_code_items_of_same_name_and_type_are_impossible(store: Arc<dyn Store>) {
    let s = &*store;
    let old = insert(
        s,
        Resource::Code,
        id(1),
        fixtures::code().core("drupal", "7.42").current().build(),
        at(0),
    )
    .await;
    assert_unique_clash(
        s,
        Resource::Code,
        id(2),
        fixtures::code().core("drupal", "7.43").current().build(),
        "meta.is_current",
    )
    .await;
    let new = insert(
        s,
        Resource::Code,
        id(2),
        fixtures::code().core("drupal", "7.43").build(),
        at(1),
    )
    .await;
    insert(
        s,
        Resource::Code,
        id(3),
        fixtures::code().profile("drupal", "7.43").current().build(),
        at(1),
    )
    .await;
    insert(
        s,
        Resource::Code,
        id(4),
        fixtures::code().core("drupal", "7.44").is_current(false).build(),
        at(1),
    )
    .await;

    let mut wrong_order = Batch::new(at(2));
    wrong_order
        .update(
            Resource::Code,
            new.id,
            body(json!({"meta": {"is_current": true}})),
            Some(new.etag.clone()),
        )
        .update(
            Resource::Code,
            old.id,
            body(json!({"meta": {"is_current": false}})),
            Some(old.etag.clone()),
        );
    let err = s.commit(wrong_order).await.expect_err("two current");
    assert!(
        matches!(&err, StoreError::Unique { write: 0, field, .. } if field == "meta.is_current"),
        "{err:?}"
    );

    let mut swap = Batch::new(at(3));
    swap.update(
        Resource::Code,
        old.id,
        body(json!({"meta": {"is_current": false}})),
        Some(old.etag.clone()),
    )
    .update(
        Resource::Code,
        new.id,
        body(json!({"meta": {"is_current": true}})),
        Some(new.etag.clone()),
    );
    commit_ok(s, swap).await;
    assert_eq!(
        current(s, Resource::Code, &old.id).await.body["meta"]["is_current"],
        false
    );
    assert_eq!(
        current(s, Resource::Code, &new.id).await.body["meta"]["is_current"],
        true
    );
}

// ------------------------------------------------------------ soft delete and history

/// Soft-deleted records are left out of `find` unless `show_deleted` is set
/// or the filter mentions `_deleted`; `get` still returns them, marked.
pub async fn soft_deleted_records_are_hidden_unless_show_deleted_or_filter_mentions_deleted(
    store: Arc<dyn Store>,
) {
    let s = &*store;
    let mut docs = Vec::new();
    for n in 1..=3 {
        let sid = format!("p1hide00000{n}");
        docs.push(
            insert(
                s,
                Resource::Instance,
                id(n),
                fixtures::instance().sid(&sid).build(),
                at(0),
            )
            .await,
        );
    }
    let gone = delete(s, Resource::Instance, &docs[1], at(1)).await;
    assert!(gone.deleted);
    assert_eq!(current(s, Resource::Instance, &id(2)).await, gone);

    assert_eq!(
        find(s, Resource::Instance, &query(Filter::All)).await,
        (vec![id(1), id(3)], 2)
    );
    let show = FindQuery {
        show_deleted: true,
        ..query(Filter::All)
    };
    assert_eq!(
        find(s, Resource::Instance, &show).await,
        (vec![id(1), id(2), id(3)], 3)
    );
    assert_eq!(
        find(s, Resource::Instance, &query(Filter::eq("_deleted", true))).await,
        (vec![id(2)], 1)
    );
    assert_eq!(
        find(s, Resource::Instance, &query(Filter::eq("_deleted", false))).await,
        (vec![id(1), id(3)], 2)
    );
    assert_eq!(
        find(s, Resource::Instance, &query(Filter::eq("sid", "p1hide000002"))).await,
        (vec![], 0)
    );
    let by_sid_and_deleted = Filter::and(vec![
        Filter::eq("sid", "p1hide000002"),
        field("_deleted", Op::Exists(true)),
    ]);
    assert_eq!(
        find(s, Resource::Instance, &query(by_sid_and_deleted)).await,
        (vec![id(2)], 1)
    );
}

/// Deleting an already-deleted record changes nothing: no new version, and
/// the write returns the record as it is.
pub async fn delete_of_deleted_record_is_a_no_op(store: Arc<dyn Store>) {
    let s = &*store;
    let v1 = insert(s, Resource::Route, id(1), fixtures::route().build(), at(0)).await;
    let v2 = delete(s, Resource::Route, &v1, at(1)).await;
    assert_eq!((v2.version, v2.deleted, v2.updated), (2, true, at(1)));
    let mut again = Batch::new(at(2));
    again.delete(Resource::Route, v1.id, None);
    assert_eq!(first_doc(&commit_ok(s, again).await), v2);
    assert_eq!(current(s, Resource::Route, &v1.id).await, v2);
    assert_eq!(
        s.history(Resource::Route, &v1.id).await.expect("history").len(),
        2
    );
}

/// Updates and replaces of deleted or missing records, and deletes of
/// missing records, are refused with `WriteTargetMissing` naming the write.
pub async fn writes_to_deleted_records_are_refused(store: Arc<dyn Store>) {
    let s = &*store;
    let v1 = insert(s, Resource::Instance, id(1), fixtures::instance().build(), at(0)).await;
    let v2 = delete(s, Resource::Instance, &v1, at(1)).await;
    let cases: Vec<(Id, crate::store::Write)> = vec![
        (
            v1.id,
            crate::store::Write::Update {
                res: Resource::Instance,
                id: v1.id,
                patch: body(json!({"status": "available"})),
                expect: None,
            },
        ),
        (
            v1.id,
            crate::store::Write::Update {
                res: Resource::Instance,
                id: v1.id,
                patch: body(json!({"status": "available"})),
                expect: Some(v2.etag.clone()),
            },
        ),
        (
            v1.id,
            crate::store::Write::Replace {
                res: Resource::Instance,
                id: v1.id,
                body: fixtures::instance().build(),
                expect: None,
            },
        ),
        (
            id(9),
            crate::store::Write::Update {
                res: Resource::Instance,
                id: id(9),
                patch: body(json!({"status": "available"})),
                expect: None,
            },
        ),
        (
            id(9),
            crate::store::Write::Replace {
                res: Resource::Instance,
                id: id(9),
                body: fixtures::instance().build(),
                expect: None,
            },
        ),
        (
            id(9),
            crate::store::Write::Delete {
                res: Resource::Instance,
                id: id(9),
                expect: None,
            },
        ),
        // Same id, other resource.
        (
            v1.id,
            crate::store::Write::Delete {
                res: Resource::Route,
                id: v1.id,
                expect: None,
            },
        ),
    ];
    for (target, w) in cases {
        let mut batch = Batch::new(at(2));
        batch.insert(Resource::Site, id(100), body(json!({"site_type": "express"})));
        batch.push(w);
        let err = s.commit(batch).await.expect_err("missing target");
        assert!(
            matches!(&err, StoreError::WriteTargetMissing { write: 1, id, .. } if *id == target),
            "{err:?}"
        );
    }
    assert_eq!(current(s, Resource::Instance, &v1.id).await, v2);
    assert_eq!(s.get(Resource::Site, &id(100)).await.expect("get"), None);
}

/// History keeps every version, oldest first, the delete included; a record
/// that never existed has no history (`NotFound`).
pub async fn history_keeps_every_version_including_delete(store: Arc<dyn Store>) {
    let s = &*store;
    let v1 = insert(
        s,
        Resource::Code,
        id(1),
        fixtures::code().module("views", "7.x-3.14").build(),
        at(0),
    )
    .await;
    let v2 = update(
        s,
        Resource::Code,
        &v1,
        json!({"meta": {"label": "Views"}}),
        at(10),
    )
    .await;
    let mut batch = Batch::new(at(20));
    batch.replace(
        Resource::Code,
        v1.id,
        fixtures::code().module("views", "7.x-3.15").build(),
        Some(v2.etag.clone()),
    );
    let v3 = first_doc(&commit_ok(s, batch).await);
    let v4 = delete(s, Resource::Code, &v3, at(30)).await;
    let history = s.history(Resource::Code, &v1.id).await.expect("history");
    assert_eq!(history, vec![v1, v2, v3, v4]);
    assert_eq!(
        history.iter().map(|d| d.version).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    assert!(history
        .iter()
        .all(|d| d.created == at(0) && d.etag == d.compute_etag()));
    let etags: BTreeSet<_> = history.iter().map(|d| d.etag.clone()).collect();
    assert_eq!(etags.len(), 4);

    for (res, missing) in [(Resource::Code, id(2)), (Resource::Instance, id(1))] {
        let err = s.history(res, &missing).await.expect_err("never existed");
        assert!(
            matches!(err, StoreError::NotFound { res: r, id } if r == res && id == missing),
            "{err:?}"
        );
    }
}

// ------------------------------------------------------------ find

struct FindFixture {
    codes: Vec<Id>,
    instances: Vec<Id>,
    ga: Id,
    views: Id,
    ctools: Id,
    webform: Id,
    core_old: Id,
}

/// Ten code items and thirty instances (two soft-deleted) with varied
/// statuses, types, pools, groups, packages, tags, settings and dates.
async fn find_fixture(s: &dyn Store) -> FindFixture {
    let code = [
        fixtures::code()
            .core("drupal", "7.42")
            .current()
            .tag("stable")
            .build(),
        fixtures::code().core("drupal", "7.41").build(),
        fixtures::code().profile("express", "2.8.1").current().build(),
        fixtures::code().profile("express", "2.8.0").build(),
        fixtures::code()
            .module("google_analytics", "7.x-2.3")
            .current()
            .label("Google Analytics")
            .build(),
        fixtures::code().module("ctools", "7.x-1.12").current().build(),
        fixtures::code()
            .module("views", "7.x-3.14")
            .current()
            .dependencies([id(106)])
            .build(),
        fixtures::code()
            .theme("cu_theme", "1.0")
            .current()
            .label("CU Theme")
            .build(),
        fixtures::code().library("ckeditor", "4.6").build(),
        fixtures::code()
            .module("webform", "7.x-4.14")
            .tag("forms")
            .tag("beta")
            .build(),
    ];
    let mut codes = Vec::new();
    for (n, b) in code.into_iter().enumerate() {
        let cid = id(101 + n as u32);
        insert(s, Resource::Code, cid, b, at(n as i64)).await;
        codes.push(cid);
    }
    let (core, core_old, profile) = (codes[0], codes[1], codes[2]);
    let (ga, ctools, views, webform) = (codes[4], codes[5], codes[6], codes[9]);

    let statuses = [
        Status::Pending,
        Status::Available,
        Status::Installed,
        Status::Launched,
        Status::Down,
    ];
    let mut instances = Vec::new();
    for n in 0..30u32 {
        let i = n as i64;
        let mut b = fixtures::instance()
            .sid(&format!("p1test{n:06}"))
            .status(statuses[n as usize % 5])
            .update_group((n % 3) as u8)
            .core(if n % 4 == 0 { core_old } else { core })
            .profile(profile)
            .created(at(i * 86_400))
            .page_cache_maximum_age(if n % 8 == 0 { 600 } else { 300 });
        b = match n % 3 {
            0 => b.packages([ga, views]),
            1 => b.packages([webform]),
            _ => b,
        };
        if n % 5 == 0 {
            let mut pk = vec![ctools];
            if n % 3 == 0 {
                pk = vec![ga, views, ctools];
            }
            b = b.packages(pk);
        }
        if n % 7 == 0 {
            b = b.instance_type(InstanceType::Custom).pool(Pool::PoolaCustom);
        } else if n % 11 == 0 {
            b = b.instance_type(InstanceType::Legacy).pool(Pool::WwwLegacy);
        }
        if n % 6 == 0 {
            b = b.tag("priority");
        }
        if n % 4 == 1 {
            b = b.siteimprove_site(1000 + i);
        }
        if n % 9 == 2 {
            b = b.date("launched", at(i * 86_400 + 3_600));
        }
        let iid = id(200 + n);
        let d = insert(s, Resource::Instance, iid, b.build(), at(i * 600)).await;
        if n == 3 || n == 17 {
            delete(s, Resource::Instance, &d, at(i * 600 + 1)).await;
        }
        instances.push(iid);
    }
    FindFixture {
        codes,
        instances,
        ga,
        views,
        ctools,
        webform,
        core_old,
    }
}

async fn assert_find_agrees(s: &dyn Store, res: Resource, all: &[Doc], name: &str, q: FindQuery) {
    let expected = select(all.iter().map(|d| (d.id, d.to_json())), &q);
    assert!(!expected.0.is_empty(), "case `{name}` should match something");
    assert_eq!(find(s, res, &q).await, expected, "case `{name}`");
    let paged = FindQuery {
        paging: Paging {
            page: 2,
            max_results: 3,
        },
        ..q
    };
    let expected = select(all.iter().map(|d| (d.id, d.to_json())), &paged);
    assert_eq!(find(s, res, &paged).await, expected, "case `{name}`, page 2 of 3");
}

/// For every filter operator (`$eq $ne $gt $gte $lt $lte $in $nin $exists
/// $regex $and $or $nor`), dotted paths, array-contains on `code.package`,
/// date comparisons on `_created` and `dates.created`, and 24-hex id
/// matches, `find` returns what the reference evaluator selects from the
/// same records, in the same order, with the same total.
pub async fn find_matches_reference_evaluator_for_every_operator(store: Arc<dyn Store>) {
    let s = &*store;
    let fx = find_fixture(s).await;
    let mut instances = Vec::new();
    for i in &fx.instances {
        instances.push(current(s, Resource::Instance, i).await);
    }
    let mut codes = Vec::new();
    for c in &fx.codes {
        codes.push(current(s, Resource::Code, c).await);
    }
    let ids = |xs: &[Id]| -> Vec<Operand> { xs.iter().map(|i| j(json!(i.to_string()))).collect() };
    let by_group = [("update_group", true)];
    let by_sid = [("sid", false)];

    let cases: Vec<(&str, FindQuery)> = vec![
        ("$eq", query(field("status", Op::Eq(j(json!("installed")))))),
        ("bare eq", sorted(Filter::eq("type", "custom"), &by_sid)),
        (
            "$eq on _id (24 hex)",
            query(Filter::eq("_id", fx.instances[5].to_string())),
        ),
        (
            "$in on _id",
            query(field(
                "_id",
                Op::In(ids(&[fx.instances[1], fx.instances[3], fx.instances[8]])),
            )),
        ),
        (
            "$ne",
            sorted(field("status", Op::Ne(j(json!("pending")))), &by_group),
        ),
        (
            "$gt",
            sorted(field("update_group", Op::Gt(j(json!(0)))), &[("sid", true)]),
        ),
        ("$gte", query(field("update_group", Op::Gte(j(json!(2)))))),
        ("$lt", query(field("update_group", Op::Lt(j(json!(1)))))),
        (
            "$lte",
            sorted(field("update_group", Op::Lte(j(json!(1)))), &by_group),
        ),
        (
            "$gt on strings",
            query(field("sid", Op::Gt(j(json!("p1test000020"))))),
        ),
        (
            "$in",
            sorted(
                field(
                    "status",
                    Op::In(vec![j(json!("installed")), j(json!("launched"))]),
                ),
                &by_group,
            ),
        ),
        ("$nin", query(field("type", Op::Nin(vec![j(json!("express"))])))),
        (
            "$exists true",
            sorted(
                field("settings.siteimprove_site", Op::Exists(true)),
                &[("settings.siteimprove_site", true)],
            ),
        ),
        ("$exists false", query(field("tag", Op::Exists(false)))),
        (
            "$exists on nested missing",
            query(field("dates.launched", Op::Exists(true))),
        ),
        ("$regex", query(field("sid", regex("^p1test00000[0-9]$", "")))),
        ("$regex with options", query(field("pool", regex("^POOLA", "i")))),
        (
            "$regex on array elements",
            query(field("tag", regex("^prio", ""))),
        ),
        (
            "$and",
            query(Filter::and(vec![
                Filter::eq("status", "installed"),
                field("update_group", Op::Gte(j(json!(1)))),
            ])),
        ),
        (
            "$or",
            sorted(
                Filter::or(vec![Filter::eq("type", "custom"), Filter::eq("status", "down")]),
                &by_group,
            ),
        ),
        (
            "$nor",
            query(Filter::Nor(vec![
                Filter::eq("status", "pending"),
                Filter::eq("update_group", 0),
            ])),
        ),
        (
            "nested $or in $and",
            query(Filter::and(vec![
                Filter::or(vec![Filter::eq("update_group", 0), Filter::eq("update_group", 2)]),
                field("status", Op::Ne(j(json!("down")))),
            ])),
        ),
        (
            "dotted path",
            query(field("settings.page_cache_maximum_age", Op::Gt(j(json!(300))))),
        ),
        (
            "array contains",
            sorted(Filter::eq("code.package", fx.ga.to_string()), &by_sid),
        ),
        (
            "array $in",
            query(field("code.package", Op::In(ids(&[fx.webform, fx.ctools])))),
        ),
        ("array $nin", query(field("code.package", Op::Nin(ids(&[fx.ga]))))),
        (
            "array $ne",
            query(field("code.package", Op::Ne(j(json!(fx.views.to_string()))))),
        ),
        (
            "id field eq",
            query(Filter::eq("code.core", fx.core_old.to_string())),
        ),
        (
            "dates.created $gte",
            sorted(
                field("dates.created", Op::Gte(Operand::Date(at(20 * 86_400)))),
                &[("dates.created", true)],
            ),
        ),
        (
            "dates.created $lt",
            query(field("dates.created", Op::Lt(Operand::Date(at(5 * 86_400))))),
        ),
        (
            "dates.created via string",
            query(Filter::eq("dates.created", at(7 * 86_400).to_string())),
        ),
        (
            "_created $gt",
            sorted(
                field("_created", Op::Gt(Operand::Date(at(10 * 600)))),
                &[("_created", true)],
            ),
        ),
        (
            "_created $lte",
            query(field("_created", Op::Lte(Operand::Date(at(6 * 600))))),
        ),
        (
            "_updated $gt (deleted excluded)",
            query(field("_updated", Op::Gt(Operand::Date(at(0))))),
        ),
        ("_deleted true", query(Filter::eq("_deleted", true))),
        (
            "show_deleted",
            FindQuery {
                show_deleted: true,
                ..sorted(Filter::eq("status", "launched"), &by_sid)
            },
        ),
        (
            "all, sorted by two keys",
            sorted(Filter::All, &[("update_group", true), ("sid", false)]),
        ),
        (
            "sort on a sometimes-missing field",
            sorted(Filter::All, &[("settings.siteimprove_site", false)]),
        ),
        ("_version", query(Filter::eq("_version", 1))),
    ];
    for (name, q) in cases {
        assert_find_agrees(s, Resource::Instance, &instances, name, q).await;
    }

    let code_cases: Vec<(&str, FindQuery)> = vec![
        (
            "code type",
            query(Filter::eq("meta.code_type", CodeType::Module.as_str())),
        ),
        (
            "current cores and profiles",
            query(Filter::and(vec![
                Filter::eq("meta.is_current", true),
                field(
                    "meta.code_type",
                    Op::In(vec![j(json!("core")), j(json!("profile"))]),
                ),
            ])),
        ),
        ("tag contains", query(Filter::eq("meta.tag", "beta"))),
        (
            "dependency contains",
            query(Filter::eq("meta.dependency", fx.ctools.to_string())),
        ),
        (
            "version regex",
            sorted(
                field("meta.version", regex(r"^7\.x-", "")),
                &[("meta.name", false)],
            ),
        ),
        (
            "name $gte",
            sorted(
                field("meta.name", Op::Gte(j(json!("d")))),
                &[("meta.name", true), ("meta.version", true)],
            ),
        ),
        ("label exists", query(field("meta.label", Op::Exists(true)))),
        (
            "commit hash",
            query(Filter::eq("commit_hash", codes[3].body["commit_hash"].clone())),
        ),
        (
            "$nor on type",
            query(Filter::Nor(vec![Filter::eq("meta.code_type", "module")])),
        ),
    ];
    for (name, q) in code_cases {
        assert_find_agrees(s, Resource::Code, &codes, name, q).await;
    }
}

/// Sorting on several keys orders the whole result before paging; every page
/// reports the full total, and a page past the end is empty.
pub async fn sort_paging_and_total(store: Arc<dyn Store>) {
    let s = &*store;
    for (n, g) in [2u8, 0, 1, 2, 0, 1, 2].into_iter().enumerate() {
        let n = n as u32 + 1;
        let b = fixtures::instance()
            .sid(&format!("p1sort00000{n}"))
            .update_group(g)
            .build();
        insert(s, Resource::Instance, id(n), b, at(i64::from(n))).await;
    }
    let page = |p: u64, sort: &[(&str, bool)]| FindQuery {
        paging: Paging {
            page: p,
            max_results: 3,
        },
        ..sorted(Filter::All, sort)
    };
    let ids = |ns: &[u32]| ns.iter().map(|&n| id(n)).collect::<Vec<_>>();
    let desc = [("update_group", true)];
    assert_eq!(
        find(s, Resource::Instance, &page(1, &desc)).await,
        (ids(&[1, 4, 7]), 7)
    );
    assert_eq!(
        find(s, Resource::Instance, &page(2, &desc)).await,
        (ids(&[3, 6, 2]), 7)
    );
    assert_eq!(find(s, Resource::Instance, &page(3, &desc)).await, (ids(&[5]), 7));
    assert_eq!(find(s, Resource::Instance, &page(4, &desc)).await, (ids(&[]), 7));
    let two_keys = [("update_group", false), ("sid", true)];
    assert_eq!(
        find(s, Resource::Instance, &page(1, &two_keys)).await,
        (ids(&[5, 2, 6]), 7)
    );
    assert_eq!(
        find(s, Resource::Instance, &page(2, &two_keys)).await,
        (ids(&[3, 7, 4]), 7)
    );
    let filtered = FindQuery {
        paging: Paging {
            page: 1,
            max_results: 2,
        },
        ..sorted(Filter::eq("update_group", 2), &[("sid", true)])
    };
    assert_eq!(find(s, Resource::Instance, &filtered).await, (ids(&[7, 4]), 3));
}

/// Records that tie on every sort key come in `_id` order, ascending even
/// when the sort is descending; with no sort, the order is `_id`.
pub async fn ties_break_by_id(store: Arc<dyn Store>) {
    let s = &*store;
    for (n, g) in [(5u32, 1u8), (2, 1), (9, 1), (7, 0)] {
        insert(
            s,
            Resource::Instance,
            id(n),
            fixtures::instance().update_group(g).build(),
            at(i64::from(n)),
        )
        .await;
    }
    let ids = |ns: &[u32]| ns.iter().map(|&n| id(n)).collect::<Vec<_>>();
    assert_eq!(
        find(s, Resource::Instance, &query(Filter::All)).await.0,
        ids(&[2, 5, 7, 9])
    );
    let asc = sorted(Filter::All, &[("update_group", false)]);
    assert_eq!(find(s, Resource::Instance, &asc).await.0, ids(&[7, 2, 5, 9]));
    let desc = sorted(Filter::All, &[("update_group", true)]);
    assert_eq!(find(s, Resource::Instance, &desc).await.0, ids(&[2, 5, 9, 7]));
    let same = sorted(Filter::All, &[("type", true)]);
    assert_eq!(find(s, Resource::Instance, &same).await.0, ids(&[2, 5, 7, 9]));
}

// ------------------------------------------------------------ jobs

/// Jobs enqueued in a batch appear with it — queued, zero attempts, stamped
/// with the batch's time — and vanish with a batch that fails.
pub async fn enqueued_jobs_commit_with_their_batch(store: Arc<dyn Store>) {
    let s = &*store;
    let mut batch = Batch::new(at(10));
    batch
        .insert(
            Resource::Instance,
            id(1),
            fixtures::instance().sid("p1jobs000001").build(),
        )
        .enqueue(
            JobSpec::new("provision", json!({"instance": id(1).to_string()}), at(10))
                .keyed(id(1).to_string()),
        );
    let c = commit_ok(s, batch).await;
    let job_id = c.jobs().next().expect("job id returned");
    let jb = job(s, &job_id).await;
    assert_eq!(
        (jb.kind.as_str(), jb.status, jb.attempts),
        ("provision", JobStatus::Queued, 0)
    );
    assert_eq!((jb.created, jb.updated, jb.run_at), (at(10), at(10), at(10)));
    assert_eq!(jb.key, Some(id(1).to_string()));
    assert_eq!(jb.payload, json!({"instance": id(1).to_string()}));
    assert_eq!(jb.max_attempts, crate::jobs::DEFAULT_MAX_ATTEMPTS);
    assert_eq!(jb.lease_owner, None);

    let inst = current(s, Resource::Instance, &id(1)).await;
    let mut failing = Batch::new(at(11));
    failing
        .enqueue(JobSpec::new("install", json!({}), at(11)))
        .update(
            Resource::Instance,
            inst.id,
            body(json!({"status": "installing"})),
            Some(inst.etag.clone()),
        )
        .enqueue(JobSpec::new("clear_caches", json!({}), at(11)))
        .insert(
            Resource::Instance,
            id(2),
            fixtures::instance().sid("p1jobs000001").build(),
        );
    let err = s.commit(failing).await.expect_err("sid clash");
    assert_eq!(err.write_index(), Some(3));
    let jobs = all_jobs(s).await;
    assert_eq!(jobs.iter().map(|j| j.id).collect::<Vec<_>>(), [job_id]);
    assert_eq!(s.job(&JobId(id(77))).await.expect("job"), None);
}

/// Eight concurrent claimers drain 500 jobs: every job is claimed exactly
/// once.
pub async fn claim_hands_each_job_to_exactly_one_of_eight_claimers(store: Arc<dyn Store>) {
    const JOBS: usize = 500;
    for chunk in 0..5 {
        let mut batch = Batch::new(at(chunk));
        for n in 0..JOBS / 5 {
            batch.enqueue(JobSpec::new("drush_cron", json!({"n": n}), at(chunk)));
        }
        commit_ok(&*store, batch).await;
    }
    let mut tasks = Vec::new();
    for w in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let owner = format!("worker-{w}");
            let mut mine = Vec::new();
            while let Some(jb) = store.claim(&lease(&owner, 300), at(100)).await.expect("claim") {
                assert!(jb.leased_to(&owner));
                assert_eq!(jb.attempts, 1);
                mine.push(jb.id);
                store
                    .finish(&jb.id, succeeded(&owner, at(101), Batch::new(at(101))))
                    .await
                    .expect("finish");
            }
            mine
        }));
    }
    let mut claimed = Vec::new();
    for t in tasks {
        claimed.extend(t.await.expect("claimer task"));
    }
    let distinct: BTreeSet<_> = claimed.iter().copied().collect();
    assert_eq!(claimed.len(), JOBS, "each job claimed once in all");
    assert_eq!(distinct.len(), JOBS, "no job claimed twice");
    let done = find_job_ids(&*store, &query(Filter::eq("status", "succeeded"))).await;
    assert_eq!(done.1, JOBS as u64);
    assert!(all_jobs(&*store).await.iter().all(|j| j.attempts == 1));
}

/// A running job whose lease ran out is requeued by `requeue_expired` (not
/// before) and redelivered to another claimer; the old owner lost it.
pub async fn expired_lease_is_redelivered(store: Arc<dyn Store>) {
    let s = &*store;
    let jid = enqueue(s, JobSpec::new("provision", json!({}), at(0)), at(0)).await;
    let first = claim(s, "w1", 60, at(0)).await.expect("claimable");
    assert_eq!((first.id, first.lease_until), (jid, Some(at(60))));
    assert!(claim(s, "w2", 60, at(30)).await.is_none());
    assert_eq!(s.requeue_expired(at(59)).await.expect("requeue"), 0);
    assert_eq!(job(s, &jid).await.status, JobStatus::Running);
    assert_eq!(s.requeue_expired(at(60)).await.expect("requeue"), 1);
    let requeued = job(s, &jid).await;
    assert_eq!(
        (
            requeued.status,
            requeued.attempts,
            requeued.lease_owner.as_deref()
        ),
        (JobStatus::Queued, 1, None)
    );
    assert!(requeued.last_error.is_some());
    let second = claim(s, "w2", 60, at(61)).await.expect("redelivered");
    assert_eq!((second.id, second.attempts), (jid, 2));
    assert!(second.leased_to("w2"));
    let err = s
        .finish(&jid, succeeded("w1", at(62), Batch::new(at(62))))
        .await
        .expect_err("w1 lost it");
    assert!(
        matches!(&err, StoreError::LeaseLost { job, owner } if *job == jid && owner == "w1"),
        "{err:?}"
    );
    assert_eq!(s.requeue_expired(at(62)).await.expect("requeue"), 0);
}

/// Only the lease holder may finish a job: others get `LeaseLost` (the job
/// stays running), an unknown job is `JobNotFound`, and a finished job can't
/// be finished again.
pub async fn finish_requires_the_lease(store: Arc<dyn Store>) {
    let s = &*store;
    let jid = enqueue(s, JobSpec::new("install", json!({}), at(0)), at(0)).await;
    claim(s, "w1", 60, at(1)).await.expect("claimable");
    let err = s
        .finish(&jid, succeeded("w2", at(2), Batch::new(at(2))))
        .await
        .expect_err("not w2's");
    assert!(matches!(err, StoreError::LeaseLost { .. }), "{err:?}");
    assert!(job(s, &jid).await.leased_to("w1"));
    let unknown = JobId(id(999));
    let err = s
        .finish(&unknown, succeeded("w1", at(2), Batch::new(at(2))))
        .await
        .expect_err("unknown");
    assert!(
        matches!(err, StoreError::JobNotFound(j) if j == unknown),
        "{err:?}"
    );

    s.finish(&jid, succeeded("w1", at(3), Batch::new(at(3))))
        .await
        .expect("w1 finishes");
    let done = job(s, &jid).await;
    assert_eq!(
        (done.status, done.finished, done.updated),
        (JobStatus::Succeeded, Some(at(3)), at(3))
    );
    assert_eq!(done.result, Some(json!({"ok": true})));
    assert_eq!((done.lease_owner, done.lease_until), (None, None));
    let err = s
        .finish(&jid, succeeded("w1", at(4), Batch::new(at(4))))
        .await
        .expect_err("already done");
    assert!(matches!(err, StoreError::LeaseLost { .. }), "{err:?}");
    assert!(claim(s, "w1", 60, at(5)).await.is_none());
}

/// Jobs sharing a key run one at a time and in creation order, while jobs
/// of other keys (and unkeyed ones) run alongside; under eight concurrent
/// claimers no two jobs of a key are ever running at once.
pub async fn jobs_with_the_same_key_never_run_at_once_and_run_in_order(store: Arc<dyn Store>) {
    let s = &*store;
    // Deterministic part.
    let a1 = enqueue(s, JobSpec::new("provision", json!({}), at(0)).keyed("i1"), at(0)).await;
    let a2 = enqueue(s, JobSpec::new("install", json!({}), at(0)).keyed("i1"), at(1)).await;
    let b1 = enqueue(s, JobSpec::new("provision", json!({}), at(0)).keyed("i2"), at(2)).await;
    let c1 = enqueue(s, JobSpec::new("clear_apc", json!({}), at(0)), at(3)).await;
    let mut got = Vec::new();
    while let Some(jb) = claim(s, "w", 60, at(10)).await {
        got.push(jb.id);
    }
    assert_eq!(got, [a1, b1, c1]);
    s.finish(&a1, succeeded("w", at(11), Batch::new(at(11))))
        .await
        .expect("finish a1");
    assert_eq!(claim(s, "w", 60, at(12)).await.map(|j| j.id), Some(a2));
    for jid in [a2, b1, c1] {
        s.finish(&jid, succeeded("w", at(13), Batch::new(at(13))))
            .await
            .expect("finish");
    }

    // Concurrent part: 3 keys × 15 jobs, 8 claimers.
    const KEYS: usize = 3;
    const PER_KEY: usize = 15;
    for n in 0..PER_KEY {
        for k in 0..KEYS {
            let spec = JobSpec::new("switch_code", json!({"seq": n}), at(20)).keyed(format!("key-{k}"));
            enqueue(s, spec, at(20 + n as i64)).await;
        }
    }
    let running: Arc<Mutex<HashMap<String, bool>>> = Arc::default();
    let order: Arc<Mutex<HashMap<String, Vec<u64>>>> = Arc::default();
    let done = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for w in 0..8 {
        let (store, running, order, done) = (store.clone(), running.clone(), order.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let owner = format!("w{w}");
            while done.load(Ordering::SeqCst) < KEYS * PER_KEY {
                let Some(jb) = store.claim(&lease(&owner, 600), at(100)).await.expect("claim") else {
                    tokio::task::yield_now().await;
                    continue;
                };
                let key = jb.key.clone().expect("keyed");
                {
                    let mut r = running.lock().expect("lock");
                    let busy = r.entry(key.clone()).or_insert(false);
                    assert!(!*busy, "two jobs of {key} running at once");
                    *busy = true;
                }
                order
                    .lock()
                    .expect("lock")
                    .entry(key.clone())
                    .or_default()
                    .push(jb.payload["seq"].as_u64().unwrap_or(u64::MAX));
                tokio::task::yield_now().await;
                running.lock().expect("lock").insert(key, false);
                store
                    .finish(&jb.id, succeeded(&owner, at(101), Batch::new(at(101))))
                    .await
                    .expect("finish");
                done.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    let all = async {
        for t in tasks {
            t.await.expect("claimer task");
        }
    };
    tokio::time::timeout(Duration::from_secs(60), all)
        .await
        .expect("claimers finish");
    let order = order.lock().expect("lock");
    for k in 0..KEYS {
        let seqs = &order[&format!("key-{k}")];
        assert_eq!(
            *seqs,
            (0..PER_KEY as u64).collect::<Vec<_>>(),
            "key-{k} ran in creation order"
        );
    }
}

/// A failed attempt with a retry time goes back to `queued` at that time:
/// it (and later jobs of its key) can't be claimed before, and can at it.
pub async fn failed_job_waits_for_its_backoff_time(store: Arc<dyn Store>) {
    let s = &*store;
    let jid = enqueue(
        s,
        JobSpec::new("provision", json!({}), at(0))
            .keyed("i1")
            .max_attempts(3),
        at(0),
    )
    .await;
    let next = enqueue(s, JobSpec::new("install", json!({}), at(0)).keyed("i1"), at(1)).await;
    claim(s, "w1", 60, at(2)).await.expect("claimable");
    s.finish(&jid, failed("w1", at(3), "mysql is down", Some(at(33))))
        .await
        .expect("finish");
    let jb = job(s, &jid).await;
    assert_eq!(
        (jb.status, jb.run_at, jb.attempts),
        (JobStatus::Queued, at(33), 1)
    );
    assert_eq!(
        (jb.last_error.as_deref(), jb.finished, jb.lease_owner),
        (Some("mysql is down"), None, None)
    );
    assert!(
        claim(s, "w2", 60, at(32)).await.is_none(),
        "neither the job nor the next of its key"
    );
    let again = claim(s, "w2", 60, at(33)).await.expect("due");
    assert_eq!((again.id, again.attempts), (jid, 2));
    s.finish(&jid, succeeded("w2", at(34), Batch::new(at(34))))
        .await
        .expect("finish");
    assert_eq!(claim(s, "w2", 60, at(35)).await.map(|j| j.id), Some(next));
}

/// A job is dead-lettered (`dead`, finished, last error kept) when it fails
/// its last allowed attempt, fails without a retry time, or loses its lease
/// on the last attempt; dead jobs are never claimed again.
pub async fn job_is_dead_lettered_after_max_attempts(store: Arc<dyn Store>) {
    let s = &*store;
    let a = enqueue(
        s,
        JobSpec::new("provision", json!({}), at(0)).max_attempts(2),
        at(0),
    )
    .await;
    claim(s, "w", 60, at(1)).await.expect("first attempt");
    s.finish(&a, failed("w", at(2), "first", Some(at(5))))
        .await
        .expect("finish");
    assert_eq!(job(s, &a).await.status, JobStatus::Queued);
    assert_eq!(claim(s, "w", 60, at(5)).await.map(|j| j.attempts), Some(2));
    s.finish(&a, failed("w", at(6), "second", Some(at(10))))
        .await
        .expect("finish");
    let dead = job(s, &a).await;
    assert_eq!(
        (dead.status, dead.attempts, dead.finished),
        (JobStatus::Dead, 2, Some(at(6)))
    );
    assert_eq!(dead.last_error.as_deref(), Some("second"));

    let b = enqueue(s, JobSpec::new("install", json!({}), at(20)), at(20)).await;
    claim(s, "w", 60, at(20)).await.expect("claimable");
    s.finish(&b, failed("w", at(21), "not retryable", None))
        .await
        .expect("finish");
    assert_eq!(job(s, &b).await.status, JobStatus::Dead);

    let c = enqueue(
        s,
        JobSpec::new("launch", json!({}), at(30)).max_attempts(1),
        at(30),
    )
    .await;
    claim(s, "w", 60, at(30)).await.expect("claimable");
    assert_eq!(s.requeue_expired(at(90)).await.expect("requeue"), 1);
    assert_eq!(job(s, &c).await.status, JobStatus::Dead);

    assert!(claim(s, "w", 60, at(1000)).await.is_none());
    let (dead_ids, total) = find_job_ids(s, &query(Filter::eq("status", "dead"))).await;
    assert_eq!((dead_ids, total), (vec![a, b, c], 3));
}

/// Finishing a job commits its follow-up batch with it; when the follow-up
/// fails, nothing changes: the job stays running and leased, and records and
/// jobs are as before.
pub async fn finish_commits_follow_up_atomically(store: Arc<dyn Store>) {
    let s = &*store;
    let mut batch = Batch::new(at(0));
    batch
        .insert(
            Resource::Instance,
            id(1),
            fixtures::instance().sid("p1follow0001").build(),
        )
        .insert(
            Resource::Instance,
            id(2),
            fixtures::instance().sid("p1follow0002").build(),
        )
        .enqueue(JobSpec::new("provision", json!({"n": 1}), at(0)).keyed("1"))
        .enqueue(JobSpec::new("provision", json!({"n": 2}), at(0)).keyed("2"));
    let c = commit_ok(s, batch).await;
    let docs: Vec<Doc> = c.docs().cloned().collect();
    let jobs: Vec<JobId> = c.jobs().collect();

    let first = claim(s, "w1", 60, at(1)).await.expect("claimable");
    assert_eq!(first.id, jobs[0]);
    let mut follow = Batch::new(at(2));
    follow
        .update(
            Resource::Instance,
            docs[0].id,
            body(json!({"status": "available"})),
            Some(docs[0].etag.clone()),
        )
        .enqueue(JobSpec::new("notify", json!({}), at(2)));
    s.finish(&jobs[0], succeeded("w1", at(2), follow))
        .await
        .expect("finish");
    let inst = current(s, Resource::Instance, &docs[0].id).await;
    assert_eq!((inst.version, inst.updated), (2, at(2)));
    assert_eq!(inst.body["status"], "available");
    assert_eq!(job(s, &jobs[0]).await.status, JobStatus::Succeeded);
    let notify = find_job_ids(s, &query(Filter::eq("kind", "notify"))).await;
    assert_eq!(notify.1, 1);

    let second = claim(s, "w1", 60, at(3)).await.expect("claimable");
    assert_eq!(second.id, jobs[1]);
    let mut bad = Batch::new(at(4));
    bad.update(
        Resource::Instance,
        docs[1].id,
        body(json!({"status": "available"})),
        Some(docs[1].etag.clone()),
    )
    .update(
        Resource::Instance,
        docs[1].id,
        body(json!({"tag": ["x"]})),
        Some(docs[1].etag.clone()),
    )
    .enqueue(JobSpec::new("notify", json!({}), at(4)));
    let err = s
        .finish(&jobs[1], succeeded("w1", at(4), bad))
        .await
        .expect_err("stale follow-up");
    assert!(
        matches!(err, StoreError::PreconditionFailed { write: 1, .. }),
        "{err:?}"
    );
    let still = job(s, &jobs[1]).await;
    assert_eq!(still, second);
    assert_eq!(current(s, Resource::Instance, &docs[1].id).await, docs[1]);
    assert_eq!(find_job_ids(s, &query(Filter::eq("kind", "notify"))).await.1, 1);
    s.finish(&jobs[1], failed("w1", at(5), "gave up", None))
        .await
        .expect("the lease is still held");
    assert_eq!(job(s, &jobs[1]).await.status, JobStatus::Dead);
}

/// Renewing a lease moves its expiry: the job is not requeued before the new
/// time. Only the holder may renew; unknown jobs are `JobNotFound`.
pub async fn renew_extends_a_lease(store: Arc<dyn Store>) {
    let s = &*store;
    let jid = enqueue(s, JobSpec::new("install", json!({}), at(0)), at(0)).await;
    claim(s, "w1", 60, at(0)).await.expect("claimable");
    s.renew(&jid, "w1", at(120)).await.expect("renew");
    assert_eq!(job(s, &jid).await.lease_until, Some(at(120)));
    assert_eq!(s.requeue_expired(at(90)).await.expect("requeue"), 0);
    assert!(job(s, &jid).await.leased_to("w1"));
    let err = s.renew(&jid, "w2", at(500)).await.expect_err("not w2's");
    assert!(
        matches!(&err, StoreError::LeaseLost { owner, .. } if owner == "w2"),
        "{err:?}"
    );
    let err = s.renew(&JobId(id(5)), "w1", at(500)).await.expect_err("unknown");
    assert!(matches!(err, StoreError::JobNotFound(_)), "{err:?}");
    assert_eq!(s.requeue_expired(at(120)).await.expect("requeue"), 1);
    let err = s
        .renew(&jid, "w1", at(500))
        .await
        .expect_err("expired and requeued");
    assert!(matches!(err, StoreError::LeaseLost { .. }), "{err:?}");
}

/// `find_jobs` filters, sorts and pages jobs as the reference evaluator does
/// over [`Job::to_json`], e.g. by `status` and `kind`.
pub async fn find_jobs_filters_by_status_and_kind(store: Arc<dyn Store>) {
    let s = &*store;
    let mut ids = Vec::new();
    for (n, kind) in [
        "deploy_code",
        "deploy_code",
        "provision",
        "provision",
        "provision",
    ]
    .into_iter()
    .enumerate()
    {
        let n = n as i64;
        ids.push(enqueue(s, JobSpec::new(kind, json!({"n": n}), at(n)), at(n)).await);
    }
    let running = claim(s, "w", 60, at(10)).await.expect("claimable");
    assert_eq!(running.id, ids[0]);

    let cases = [
        (Filter::eq("status", "running"), vec![ids[0]]),
        (Filter::eq("kind", "provision"), vec![ids[2], ids[3], ids[4]]),
        (
            Filter::and(vec![
                Filter::eq("kind", "deploy_code"),
                Filter::eq("status", "queued"),
            ]),
            vec![ids[1]],
        ),
        (Filter::eq("lease_owner", "w"), vec![ids[0]]),
        (field("payload.n", Op::Gte(j(json!(3)))), vec![ids[3], ids[4]]),
        (Filter::All, ids.clone()),
    ];
    let all: Vec<Job> = {
        let mut v = Vec::new();
        for jid in &ids {
            v.push(job(s, jid).await);
        }
        v
    };
    for (filter, want) in cases {
        let q = query(filter);
        let got = find_job_ids(s, &q).await;
        assert_eq!(got, (want.clone(), want.len() as u64), "{q:?}");
        assert_eq!(got, select(all.iter().map(|jb| (jb.id, jb.to_json())), &q));
    }
    let paged = FindQuery {
        paging: Paging {
            page: 1,
            max_results: 2,
        },
        ..sorted(Filter::All, &[("kind", true), ("run_at", true)])
    };
    assert_eq!(find_job_ids(s, &paged).await, (vec![ids[4], ids[3]], 5));
}

// ------------------------------------------------------------ the macro

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
#[macro_export]
macro_rules! store_conformance {
    ($make:expr) => {
        $crate::store_conformance!(
            $make;
            commit_is_all_or_nothing,
            later_writes_of_a_batch_see_earlier_ones,
            insert_stamps_version_one_and_the_computed_etag,
            update_merges_nested_fields_and_bumps_version,
            replace_keeps_created_and_drops_missing_fields,
            etag_compare_and_swap_lets_exactly_one_of_two_racers_win,
            stale_etag_is_refused,
            unique_constraints_are_enforced,
            soft_deleted_records_do_not_count_for_unique,
            unique_values_follow_updates_within_and_across_batches,
            two_current_code_items_of_same_name_and_type_are_impossible,
            soft_deleted_records_are_hidden_unless_show_deleted_or_filter_mentions_deleted,
            delete_of_deleted_record_is_a_no_op,
            writes_to_deleted_records_are_refused,
            history_keeps_every_version_including_delete,
            find_matches_reference_evaluator_for_every_operator,
            sort_paging_and_total,
            ties_break_by_id,
            enqueued_jobs_commit_with_their_batch,
            claim_hands_each_job_to_exactly_one_of_eight_claimers,
            expired_lease_is_redelivered,
            finish_requires_the_lease,
            jobs_with_the_same_key_never_run_at_once_and_run_in_order,
            failed_job_waits_for_its_backoff_time,
            job_is_dead_lettered_after_max_attempts,
            finish_commits_follow_up_atomically,
            renew_extends_a_lease,
            find_jobs_filters_by_status_and_kind,
        );
    };
    ($make:expr; $($case:ident),+ $(,)?) => {
        mod store_conformance {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let store: ::std::sync::Arc<dyn $crate::store::Store> =
                        ::std::sync::Arc::new($make.await);
                    $crate::testing::store_suite::$case(store).await;
                }
            )+
        }
    };
}
