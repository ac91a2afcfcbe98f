//! The hot queries go through their indexes: `EXPLAIN QUERY PLAN` of the
//! count and page queries `find` runs names the expected index and never
//! scans the table; the totals the cached counts answer are one lookup.

use atlas_core::model::{Id, InstanceType, Resource, Status, Timestamp};
use atlas_core::query::{Filter, FindQuery, Op, Operand, Paging};
use atlas_core::testing::fixtures;
use atlas_core::{Batch, Store};
use atlas_sqlite::SqliteStore;
use serde_json::json;

const T0: i64 = 1_795_564_800;

/// 300 instances (most of them installed, so an index is worth less than
/// a scan only to a planner with statistics), 40 code items, routes and
/// statistics.
async fn populated() -> (SqliteStore, tempfile::TempDir, Id) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_path(dir.path().join("plans.db")).await.unwrap();
    let now = Timestamp::from_unix(T0);
    let mut codes = Vec::new();
    let mut b = Batch::new(now);
    for n in 0..40 {
        let id = Id::generate(now);
        codes.push(id);
        b.insert(
            Resource::Code,
            id,
            fixtures::code()
                .module(&format!("mod{n}"), "1.0")
                .is_current(n % 2 == 0)
                .build(),
        );
    }
    store.commit(b).await.unwrap();
    let mut b = Batch::new(now);
    for n in 0..300 {
        let status = if n % 10 == 0 {
            Status::Pending
        } else {
            Status::Installed
        };
        let inst = Id::generate(now);
        b.insert(
            Resource::Instance,
            inst,
            fixtures::instance()
                .status(status)
                .instance_type(if n % 3 == 0 {
                    InstanceType::Custom
                } else {
                    InstanceType::Express
                })
                .packages([codes[n % 40], codes[(n + 1) % 40]])
                .build(),
        );
        b.insert(Resource::Route, Id::generate(now), fixtures::route().build());
        b.insert(
            Resource::Statistics,
            Id::generate(now),
            json!({"instance": inst.to_string()})
                .as_object()
                .cloned()
                .unwrap(),
        );
    }
    store.commit(b).await.unwrap();
    (store, dir, codes[3])
}

fn first_page(filter: Filter) -> FindQuery {
    FindQuery {
        filter,
        paging: Paging {
            page: 1,
            max_results: 25,
        },
        ..FindQuery::default()
    }
}

async fn assert_indexed(store: &SqliteStore, res: Resource, q: FindQuery, index: &str) {
    let plan = store.explain_find(res, &q).await.unwrap();
    let text = plan.join("\n");
    assert!(
        text.contains(index),
        "{res} {:?} should use {index}:\n{text}",
        q.filter
    );
    let table_scan = format!("SCAN {res}");
    assert!(
        !plan
            .iter()
            .any(|l| l == &table_scan || l.starts_with(&format!("{table_scan} "))),
        "{res} {:?} scans the table:\n{text}",
        q.filter
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_queries_use_their_indexes() {
    let (store, _dir, pkg) = populated().await;
    let eq = |p: &str, v: serde_json::Value| first_page(Filter::field(p, Op::Eq(Operand::Json(v))));

    assert_indexed(
        &store,
        Resource::Instance,
        eq("status", json!("installed")),
        "ix_instance_status",
    )
    .await;
    assert_indexed(
        &store,
        Resource::Instance,
        eq("sid", json!("p1abcdef0123")),
        "ux_instance_sid",
    )
    .await;
    assert_indexed(
        &store,
        Resource::Instance,
        eq("path", json!("p1abcdef0123")),
        "ux_instance_path",
    )
    .await;
    assert_indexed(
        &store,
        Resource::Instance,
        eq("type", json!("custom")),
        "ix_instance_type",
    )
    .await;
    assert_indexed(
        &store,
        Resource::Instance,
        eq("code.package", json!(pkg.to_string())),
        "instance_package",
    )
    .await;
    assert_indexed(
        &store,
        Resource::Instance,
        first_page(Filter::field(
            "_updated",
            Op::Gte(Operand::Date(Timestamp::from_unix(T0 - 60))),
        )),
        "ix_instance_updated",
    )
    .await;
    assert_indexed(
        &store,
        Resource::Code,
        eq("meta.name", json!("mod3")),
        "ix_code_meta_name",
    )
    .await;
    assert_indexed(
        &store,
        Resource::Code,
        eq("meta.code_type", json!("module")),
        "ix_code_meta_code_type",
    )
    .await;
    assert_indexed(
        &store,
        Resource::Code,
        eq("meta.is_current", json!(true)),
        "ix_code_meta_is_current",
    )
    .await;
    assert_indexed(
        &store,
        Resource::Route,
        eq("source", json!("lab")),
        "ux_route_source",
    )
    .await;
    assert_indexed(
        &store,
        Resource::Route,
        eq("instance_id", json!("x")),
        "ix_route_instance_id",
    )
    .await;
    assert_indexed(
        &store,
        Resource::Route,
        eq("route_status", json!("active")),
        "ix_route_route_status",
    )
    .await;
    assert_indexed(
        &store,
        Resource::Statistics,
        eq("instance", json!("x")),
        "ux_statistics_instance",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_total_is_read_from_the_counts_and_the_first_page_from_the_status_index() {
    let (store, _dir, _) = populated().await;
    let q = first_page(Filter::eq("status", "installed"));
    let plan = store.explain_find(Resource::Instance, &q).await.unwrap();
    assert_eq!(
        plan,
        [
            "SEARCH value_counts USING PRIMARY KEY (tbl=? AND field=? AND value=?)",
            "SEARCH instance USING INDEX ix_instance_status (<expr>=? AND deleted=?)",
        ],
        "the total is one lookup, the first page comes from the status index with no sort step"
    );
    let page = store.find(Resource::Instance, &q).await.unwrap();
    assert_eq!(page.total, 270);
    assert_eq!(page.items.len(), 25);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_count_and_first_page_come_from_the_status_index_without_sorting() {
    let (store, _dir, _) = populated().await;
    // The same rows as `status = installed`, but not a filter the counts answer.
    let q = first_page(status_in_installed());
    let plan = store.explain_find(Resource::Instance, &q).await.unwrap();
    assert_eq!(
        plan,
        [
            "SEARCH instance USING INDEX ix_instance_status (<expr>=? AND deleted=?)",
            "SEARCH instance USING INDEX ix_instance_status (<expr>=? AND deleted=?)",
        ],
        "the count and the first page both come from the status index, with no sort step"
    );
    let page = store.find(Resource::Instance, &q).await.unwrap();
    assert_eq!(page.total, 270);
    assert_eq!(page.items.len(), 25);
}

fn status_in_installed() -> Filter {
    Filter::field("status", Op::In(vec![Operand::Json(json!("installed"))]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_live_records_and_one_counted_equality_read_the_counts() {
    let (store, _dir, _) = populated().await;
    let cached = |filter: Filter, show_deleted: bool| {
        let store = store.clone();
        async move {
            let q = FindQuery {
                show_deleted,
                ..first_page(filter.clone())
            };
            let plan = store.explain_find(Resource::Instance, &q).await.unwrap();
            let total = store.find(Resource::Instance, &q).await.unwrap().total;
            (plan[0].contains("value_counts"), total)
        }
    };
    let pending = || Filter::eq("status", "pending");
    let express = || Filter::eq("type", "express");
    for (filter, show_deleted, uses_counts, total) in [
        (Filter::All, false, true, 300),
        (pending(), false, true, 30),
        (express(), false, true, 200),
        (Filter::and(vec![pending()]), false, true, 30),
        (Filter::All, true, false, 300),
        (pending(), true, false, 30),
        (Filter::and(vec![pending(), express()]), false, false, 20),
        (Filter::or(vec![pending()]), false, false, 30),
        (status_in_installed(), false, false, 270),
        (
            Filter::field("status", Op::Ne(Operand::Json(json!("pending")))),
            false,
            false,
            270,
        ),
        (Filter::eq("sid", "p1abcdef0123"), false, false, 0),
        (Filter::eq("status", 1), false, false, 0),
    ] {
        assert_eq!(
            cached(filter.clone(), show_deleted).await,
            (uses_counts, total),
            "{filter:?} show_deleted {show_deleted}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn combined_hot_conditions_still_use_an_index() {
    let (store, _dir, pkg) = populated().await;
    let q = first_page(Filter::and(vec![
        Filter::eq("status", "installed"),
        Filter::eq("code.package", pkg.to_string()),
    ]));
    let plan = store.explain_find(Resource::Instance, &q).await.unwrap();
    let text = plan.join("\n");
    assert!(!plan.iter().any(|l| l == "SCAN instance"), "{text}");
    let page = store.find(Resource::Instance, &q).await.unwrap();
    assert!(page.total > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_count_uses_the_index_even_after_analyze() {
    let (store, dir, _) = populated().await;
    drop(store);
    let path = dir.path().join("plans.db");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("ANALYZE")
        .unwrap();
    let store = SqliteStore::open_path(&path).await.unwrap();
    let q = first_page(status_in_installed());
    let plan = store.explain_find(Resource::Instance, &q).await.unwrap();
    assert!(plan[0].contains("ix_instance_status"), "{plan:?}");
}
