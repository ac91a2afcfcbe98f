//! Versioned migrations: a fresh schema is brought to the latest version,
//! opening again changes nothing, and a database from a newer Atlas is
//! refused with both versions named.

use atlas_core::model::{Id, Resource, Timestamp};
use atlas_core::{Batch, Store};
use atlas_postgres::testing::TestSchema;
use atlas_postgres::{PgStore, SCHEMA_VERSION};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_schema_is_migrated_and_reopening_keeps_the_records() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let store = schema.store().await;
    assert_eq!(store.schema_version().await.unwrap(), SCHEMA_VERSION);
    let now = Timestamp::from_unix(1_795_564_800);
    let id = Id::generate(now);
    let mut b = Batch::new(now);
    b.insert(Resource::Site, id, json!({"x": 1}).as_object().cloned().unwrap());
    store.commit(b).await.unwrap();
    let again = PgStore::open(schema.config(2)).await.unwrap();
    assert_eq!(again.migrate().await.unwrap(), SCHEMA_VERSION);
    assert!(again.get(Resource::Site, &id).await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_opening_together_migrate_once() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let opens = (0..4).map(|_| PgStore::open(schema.config(1)));
    for r in futures::future::join_all(opens).await {
        r.expect("every node opens");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_from_a_newer_atlas_is_refused_naming_both_versions() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let store = schema.store().await;
    let newer = SCHEMA_VERSION + 1;
    store.set_schema_version_for_tests(newer).await.unwrap();
    let err = PgStore::open(schema.config(1)).await.unwrap_err();
    let text = std::error::Error::source(&err).map_or(err.to_string(), |s| s.to_string());
    assert!(
        text.contains(&format!("version {newer}"))
            && text.contains(&format!("the {SCHEMA_VERSION} this Atlas")),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_2_turns_the_gin_pending_lists_off_keeping_the_records() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let store = PgStore::connect(schema.config(2)).unwrap();
    assert_eq!(store.migrate_to(1).await.unwrap(), 1);
    assert!(store
        .index_options_for_tests("gx_instance_body")
        .await
        .unwrap()
        .is_empty());
    let now = Timestamp::from_unix(1_795_564_800);
    let id = Id::generate(now);
    let mut b = Batch::new(now);
    b.insert(
        Resource::Instance,
        id,
        json!({"sid": "p1mig0000001", "status": "pending"})
            .as_object()
            .cloned()
            .unwrap(),
    );
    store.commit(b).await.unwrap();
    assert_eq!(store.migrate().await.unwrap(), SCHEMA_VERSION);
    for index in [
        "gx_instance_body",
        "gx_code_body",
        "gx_route_body",
        "gx_backup_body",
        "gx_rollout_body",
    ] {
        assert_eq!(
            store.index_options_for_tests(index).await.unwrap(),
            ["fastupdate=off"],
            "{index}"
        );
    }
    let q = atlas_core::query::FindQuery::all_matching(atlas_core::query::Filter::eq("sid", "p1mig0000001"));
    let found = store.find(Resource::Instance, &q).await.unwrap();
    assert_eq!(found.items.len(), 1, "found through the index after the merge");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_1_database_gets_the_backup_tables_and_keeps_its_records() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let store = PgStore::connect(schema.config(2)).unwrap();
    assert_eq!(store.migrate_to(1).await.unwrap(), 1);
    let now = Timestamp::from_unix(1_795_564_800);
    let site = Id::generate(now);
    let mut b = Batch::new(now);
    b.insert(
        Resource::Site,
        site,
        json!({"x": 1}).as_object().cloned().unwrap(),
    );
    store.commit(b).await.unwrap();
    assert!(
        store.get(Resource::Backup, &site).await.is_err(),
        "version 1 has no backup table"
    );
    assert_eq!(store.migrate().await.unwrap(), SCHEMA_VERSION);
    assert!(store.get(Resource::Site, &site).await.unwrap().is_some());
    let backup = Id::generate(now);
    let mut b = Batch::new(now);
    b.insert(
        Resource::Backup,
        backup,
        json!({"state": "pending"}).as_object().cloned().unwrap(),
    );
    store.commit(b).await.unwrap();
    assert!(store.get(Resource::Backup, &backup).await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_3_database_gets_the_rollout_tables_and_keeps_its_backups() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let store = PgStore::connect(schema.config(2)).unwrap();
    assert_eq!(store.migrate_to(3).await.unwrap(), 3);
    let now = Timestamp::from_unix(1_795_564_800);
    let backup = Id::generate(now);
    let mut b = Batch::new(now);
    b.insert(
        Resource::Backup,
        backup,
        json!({"state": "complete"}).as_object().cloned().unwrap(),
    );
    store.commit(b).await.unwrap();
    assert!(
        store.get(Resource::Rollout, &backup).await.is_err(),
        "version 3 has no rollout table"
    );
    assert_eq!(store.migrate().await.unwrap(), SCHEMA_VERSION);
    assert!(store.get(Resource::Backup, &backup).await.unwrap().is_some());
    let rollout = Id::generate(now);
    let mut b = Batch::new(now);
    b.insert(
        Resource::Rollout,
        rollout,
        json!({"state": "running", "wave": 1})
            .as_object()
            .cloned()
            .unwrap(),
    );
    store.commit(b).await.unwrap();
    assert!(store.get(Resource::Rollout, &rollout).await.unwrap().is_some());
    assert_eq!(
        store.index_options_for_tests("gx_rollout_body").await.unwrap(),
        ["fastupdate=off"]
    );
}
