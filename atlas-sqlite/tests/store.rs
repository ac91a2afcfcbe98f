//! `SqliteStore` behaviour beyond the core suite: opening files (newer
//! schemas refused, data kept across reopen), group commit under
//! concurrency (cached counts included), and configuration.

use std::sync::Arc;

use atlas_core::model::{Etag, Id, Resource, Timestamp};
use atlas_core::query::{Filter, FindQuery};
use atlas_core::{Batch, Store, StoreError};
use atlas_sqlite::{SqliteConfig, SqliteStore, Synchronous, SCHEMA_VERSION};
use serde_json::json;

fn now() -> Timestamp {
    Timestamp::from_unix(1_795_564_800)
}

fn body(v: serde_json::Value) -> atlas_core::model::Body {
    v.as_object().cloned().unwrap()
}

#[tokio::test]
async fn opening_a_database_from_a_newer_atlas_is_refused_naming_both_versions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.db");
    let c = rusqlite::Connection::open(&path).unwrap();
    c.pragma_update(None, "user_version", SCHEMA_VERSION + 7).unwrap();
    drop(c);
    let err = SqliteStore::open_path(&path).await.unwrap_err();
    let msg = match &err {
        StoreError::Backend { backend, source } => {
            assert_eq!(*backend, "sqlite");
            source.to_string()
        }
        other => panic!("expected a backend error, got {other:?}"),
    };
    assert!(msg.contains(&(SCHEMA_VERSION + 7).to_string()), "{msg}");
    assert!(msg.contains(&SCHEMA_VERSION.to_string()), "{msg}");
}

#[tokio::test]
async fn records_jobs_and_history_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("atlas.db");
    let id = Id::generate(now());
    {
        let store = SqliteStore::open_path(&path).await.unwrap();
        let mut b = Batch::new(now());
        b.insert(
            Resource::Instance,
            id,
            body(json!({"sid": "p1reopen0001", "code": {"package": ["x"]}})),
        );
        b.enqueue(atlas_core::JobSpec::new("provision", json!({}), now()));
        store.commit(b).await.unwrap();
    }
    let store = SqliteStore::open_path(&path).await.unwrap();
    assert!(store.get(Resource::Instance, &id).await.unwrap().is_some());
    assert_eq!(store.history(Resource::Instance, &id).await.unwrap().len(), 1);
    let q = FindQuery::all_matching(Filter::eq("code.package", "x"));
    assert_eq!(store.find(Resource::Instance, &q).await.unwrap().total, 1);
    assert_eq!(store.find_jobs(&FindQuery::default()).await.unwrap().total, 1);
    assert!(store.integrity_check().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_commits_fail_only_where_their_own_batch_fails() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open_path(dir.path().join("g.db")).await.unwrap());
    let mut tasks = Vec::new();
    for n in 0..64u32 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let mut b = Batch::new(now());
            b.insert(Resource::Site, Id::generate(now()), body(json!({"n": n})));
            if n % 8 == 3 {
                // A stale etag on a record that does not exist: this batch fails.
                b.update(
                    Resource::Site,
                    Id::generate(now()),
                    body(json!({})),
                    Some(Etag::from_client("stale")),
                );
            }
            (n, store.commit(b).await)
        }));
    }
    let mut ok = 0;
    for t in tasks {
        let (n, r) = t.await.unwrap();
        if n % 8 == 3 {
            assert!(
                matches!(r, Err(StoreError::WriteTargetMissing { write: 1, .. })),
                "batch {n}: {r:?}"
            );
        } else {
            assert!(r.is_ok(), "batch {n}: {r:?}");
            ok += 1;
        }
    }
    let all = store
        .find(Resource::Site, &FindQuery::all_matching(Filter::All))
        .await
        .unwrap();
    assert_eq!(all.total, ok);
    let failed: Vec<u64> = all
        .items
        .iter()
        .filter_map(|d| d.body["n"].as_u64())
        .filter(|n| n % 8 == 3)
        .collect();
    assert!(failed.is_empty(), "writes of failed batches landed: {failed:?}");
    // The cached total (a full page of one) agrees, and so do all counts.
    let counted = store
        .find(Resource::Site, &FindQuery::count_of(Filter::All))
        .await
        .unwrap();
    assert_eq!(counted.total, ok);
    assert_eq!(store.integrity_check().await.unwrap(), Vec::<String>::new());
}

#[tokio::test]
async fn synchronous_and_pool_size_are_configurable() {
    let dir = tempfile::tempdir().unwrap();
    let config = SqliteConfig {
        synchronous: Synchronous::Normal,
        readers: 1,
        max_group: 1,
        ..SqliteConfig::at(dir.path().join("cfg.db"))
    };
    let store = SqliteStore::open(config.clone()).await.unwrap();
    assert_eq!(store.config(), &config);
    let mut b = Batch::new(now());
    b.insert(Resource::Site, Id::generate(now()), body(json!({})));
    store.commit(b).await.unwrap();
    assert_eq!(
        store
            .find(Resource::Site, &FindQuery::default())
            .await
            .unwrap()
            .total,
        1
    );
}

#[tokio::test]
async fn two_stores_on_one_file_see_each_others_commits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    let a = SqliteStore::open_path(&path).await.unwrap();
    let b = SqliteStore::open_path(&path).await.unwrap();
    let id = Id::generate(now());
    let mut batch = Batch::new(now());
    batch.insert(Resource::Site, id, body(json!({"x": 1})));
    a.commit(batch).await.unwrap();
    assert!(b.get(Resource::Site, &id).await.unwrap().is_some());
}

/// Commits `n` code items named `c000`, `c001`, … in one batch.
async fn code_items(store: &SqliteStore, n: usize) {
    let mut b = Batch::new(now());
    for i in 0..n {
        b.insert(
            Resource::Code,
            Id::generate(now()),
            body(json!({"meta": {"name": format!("c{i:03}"), "is_current": i % 2 == 0}})),
        );
    }
    store.commit(b).await.unwrap();
}

async fn open_with(dir: &tempfile::TempDir, inline_find_steps: u32) -> SqliteStore {
    SqliteStore::open(SqliteConfig {
        inline_find_steps,
        ..SqliteConfig::at(dir.path().join("atlas.db"))
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn finds_past_the_inline_budget_still_return_every_match() {
    let dir = tempfile::tempdir().unwrap();
    // A budget of a few steps interrupts every statement: all on the pool.
    for steps in [0, 3, 5_000, 1_000_000] {
        let store = open_with(&dir, steps).await;
        if steps == 0 {
            code_items(&store, atlas_sqlite::INLINE_FIND_ROWS * 3).await;
        }
        let all = store
            .find(Resource::Code, &FindQuery::all_matching(Filter::All))
            .await
            .unwrap();
        assert_eq!(
            all.items.len(),
            atlas_sqlite::INLINE_FIND_ROWS * 3,
            "steps {steps}"
        );
        assert_eq!(all.total, (atlas_sqlite::INLINE_FIND_ROWS * 3) as u64);
        let current = store
            .find(
                Resource::Code,
                &FindQuery::all_matching(Filter::eq("meta.is_current", true)),
            )
            .await
            .unwrap();
        assert_eq!(
            current.total,
            (atlas_sqlite::INLINE_FIND_ROWS * 3 / 2) as u64,
            "steps {steps}"
        );
        let one = store
            .find(
                Resource::Code,
                &FindQuery::all_matching(Filter::eq("meta.name", "c007")),
            )
            .await
            .unwrap();
        assert_eq!((one.items.len(), one.total), (1, 1), "steps {steps}");
    }
}

#[tokio::test]
async fn totals_are_right_on_full_partial_and_past_the_end_pages() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_with(&dir, 5_000).await;
    code_items(&store, 10).await;
    let page = |page, max_results| FindQuery {
        paging: atlas_core::query::Paging { page, max_results },
        ..FindQuery::all_matching(Filter::All)
    };
    for (p, max, items) in [
        (1, 5, 5),
        (2, 5, 5),
        (3, 5, 0),
        (1, 10, 10),
        (2, 10, 0),
        (1, 25, 10),
        (3, 4, 2),
        (4, 4, 0),
        (9, 4, 0),
    ] {
        let found = store.find(Resource::Code, &page(p, max)).await.unwrap();
        assert_eq!((found.items.len(), found.total), (items, 10), "page {p} of {max}");
    }
    let zero = store.find(Resource::Code, &page(1, 0)).await.unwrap();
    assert_eq!((zero.items.len(), zero.total), (0, 10));
}

/// A measurement, not a check of speed: the time of a first page of 25 of
/// 158,000 pending instances whose total is read from the cached counts,
/// and of the same page whose total is counted (`$in` is not cached), as
/// `_meta.total` of the hot `GET /instance?where={"status":"pending"}`
/// needs. Run with `cargo test -p atlas-sqlite --test store -- --ignored
/// --nocapture` (a debug build measures debug SQLite).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: loads 158,000 records"]
async fn time_of_a_cached_and_a_counted_total_over_158k_pending_instances() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pending.db");
    drop(SqliteStore::open_path(&path).await.unwrap());
    // Loaded in SQL (the count triggers run as for any write).
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(
            "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 158000)
             INSERT INTO instance(id, etag, created, updated, version, deleted, body)
             SELECT printf('%024x', x), 'e', 1795564800, 1795564800, 1, 0,
                    jsonb(json_object('status', 'pending', 'type', 'express', 'n', x))
             FROM n",
        )
        .unwrap();
    let store = SqliteStore::open_path(&path).await.unwrap();
    let first_page = |filter: Filter| FindQuery {
        paging: atlas_core::query::Paging {
            page: 1,
            max_results: 25,
        },
        ..FindQuery::count_of(filter)
    };
    let cached = first_page(Filter::eq("status", "pending"));
    let counted = first_page(Filter::field(
        "status",
        atlas_core::query::Op::In(vec![atlas_core::query::Operand::Json(json!("pending"))]),
    ));
    for (name, q) in [("cached", &cached), ("counted", &counted)] {
        let mut times = Vec::new();
        for _ in 0..41 {
            let t = std::time::Instant::now();
            let page = store.find(Resource::Instance, q).await.unwrap();
            times.push(t.elapsed());
            assert_eq!((page.items.len(), page.total), (25, 158_000), "{name}");
        }
        times.sort();
        println!(
            "{name} total: p50 {:?}, best {:?}",
            times[times.len() / 2],
            times[0]
        );
    }
}
