//! Batches: a batch commits all of its writes and jobs or none; later
//! writes see earlier ones; inserts, updates and replaces stamp versions,
//! times and etags; etags give compare-and-swap (one of two racers wins,
//! stale etags are refused).

use std::sync::Arc;

use serde_json::json;

use crate::batch::{Batch, Written};
use crate::error::StoreError;
use crate::jobs::JobSpec;
use crate::model::{Doc, Resource};
use crate::store::Store;
use crate::testing::fixtures;

use super::{all_jobs, at, body, commit_ok, current, first_doc, id, insert, update};

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
        crate::batch::Write::Update {
            res: Resource::Code,
            id: v1.id,
            patch: body(json!({"git_url": "https://example.org/x.git"})),
            expect: stale.clone(),
        },
        crate::batch::Write::Replace {
            res: Resource::Code,
            id: v1.id,
            body: fixtures::code().build(),
            expect: stale.clone(),
        },
        crate::batch::Write::Delete {
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
