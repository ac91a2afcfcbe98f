//! Batches of inserts and enqueues only (every create) are committed in one
//! round trip: `BEGIN`, the writes and `COMMIT` sent together. A refused
//! write must leave nothing behind — on the server or on the connection,
//! which goes back to the pool for the next batch.

use atlas_core::model::{Id, Resource, Timestamp};
use atlas_core::query::FindQuery;
use atlas_core::testing::fixtures;
use atlas_core::{Batch, JobSpec, Store, StoreError};
use atlas_postgres::testing::TestSchema;
use atlas_postgres::PgStore;
use serde_json::json;

fn instance(sid: &str, path: &str) -> atlas_core::model::Body {
    fixtures::instance().sid(sid).path(path).build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_create_leaves_its_connection_ready_for_the_next_batch() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    // One connection: the batch after the refused one runs on the very
    // connection the refused one used.
    let store = PgStore::open(schema.config(1))
        .await
        .expect("open with one connection");
    let now = Timestamp::from_unix(1_795_564_800);
    let (first, twin, next) = (Id::generate(now), Id::generate(now), Id::generate(now));

    let mut batch = Batch::new(now);
    batch.insert(Resource::Instance, first, instance("p1first00001", "first"));
    store.commit(batch).await.expect("first create");

    let mut clash = Batch::new(now);
    clash
        .insert(Resource::Instance, twin, instance("p1first00001", "twin"))
        .enqueue(JobSpec::new("provision", json!({}), now));
    let err = store.commit(clash).await.expect_err("sid already held");
    assert!(
        matches!(&err, StoreError::Unique { write: 0, res: Resource::Instance, field, .. } if field == "sid"),
        "{err:?}"
    );

    let mut batch = Batch::new(now);
    batch
        .insert(Resource::Instance, next, instance("p1next000001", "next"))
        .enqueue(JobSpec::new("provision", json!({}), now));
    store
        .commit(batch)
        .await
        .expect("the next create on the same connection");

    // Seen through another pool: committed, not held in an open transaction.
    let other = schema.store().await;
    assert!(other.get(Resource::Instance, &next).await.expect("get").is_some());
    assert_eq!(other.get(Resource::Instance, &twin).await.expect("get"), None);
    let jobs = other.find_jobs(&FindQuery::default()).await.expect("jobs");
    assert_eq!(jobs.total, 1, "only the landed create's job");
}
