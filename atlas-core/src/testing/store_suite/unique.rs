//! Unique keys: every unique key of the schema is enforced among live
//! records, follows its record through updates within and across batches,
//! ignores soft-deleted records, and allows one current code item per name
//! and type.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::batch::Batch;
use crate::error::StoreError;
use crate::jobs::JobSpec;
use crate::model::{Body, Id, Resource};
use crate::store::Store;
use crate::testing::fixtures;

use super::{at, body, commit_ok, current, delete, id, insert};

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

/// Two inserts of one batch (among other inserts and enqueues, as an
/// instance create writes them) that hold the same unique value: the
/// later one is refused, named by its index, and nothing of the batch
/// lands.
pub async fn a_clash_between_inserts_of_one_batch_names_the_later_write(store: Arc<dyn Store>) {
    let s = &*store;
    let mut batch = Batch::new(at(0));
    batch
        .insert(Resource::Site, id(1), body(json!({})))
        .insert(
            Resource::Instance,
            id(2),
            fixtures::instance().sid("p1twin000001").path("twin-a").build(),
        )
        .enqueue(JobSpec::new("provision", json!({}), at(0)))
        .insert(
            Resource::Instance,
            id(3),
            fixtures::instance().sid("p1twin000001").path("twin-b").build(),
        )
        .insert(
            Resource::Statistics,
            id(4),
            body(json!({"instance": id(3).to_string()})),
        );
    let err = s.commit(batch).await.expect_err("clash within the batch");
    assert!(
        matches!(&err, StoreError::Unique { write: 3, res: Resource::Instance, field, .. } if field == "sid"),
        "{err:?}"
    );
    for (res, n) in [
        (Resource::Site, 1),
        (Resource::Instance, 2),
        (Resource::Instance, 3),
    ] {
        assert_eq!(s.get(res, &id(n)).await.expect("get"), None, "{res} {n}");
    }
    let jobs = s
        .find_jobs(&crate::query::FindQuery::default())
        .await
        .expect("jobs");
    assert_eq!(jobs.total, 0, "no job enqueued");
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
