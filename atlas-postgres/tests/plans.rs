//! The indexed finds go through their indexes: `EXPLAIN` of the statement
//! `find` runs on 20,000 instances names the GIN index (equality on indexed
//! paths, array-contains on `code.package`) or the `_updated` index, after
//! `ANALYZE`. (On the small code, route and statistics tables of a test
//! the planner rightly prefers a scan, so only instances are checked.)

use atlas_core::model::{Id, InstanceType, Resource, Status, Timestamp};
use atlas_core::query::{Filter, FindQuery, Op, Operand, Paging};
use atlas_core::testing::fixtures;
use atlas_core::{Batch, Store};
use atlas_postgres::testing::TestSchema;
use atlas_postgres::PgStore;
use serde_json::json;

const T0: i64 = 1_795_564_800;

/// 20,000 instances (a tenth pending), 40 code items (too few for any
/// index to beat a scan, so code plans are not checked), 10,000 routes and
/// statistics: enough rows for the planner to prefer an index to a scan.
async fn populated(store: &PgStore) -> Id {
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
    for chunk in 0..10 {
        let mut b = Batch::new(now);
        for n in chunk * 2000..(chunk + 1) * 2000 {
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
            if n % 2 != 0 {
                continue;
            }
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
    }
    store.analyze_for_tests().await.unwrap();
    codes[3]
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

fn eq(p: &str, v: serde_json::Value) -> FindQuery {
    first_page(Filter::field(p, Op::Eq(Operand::Json(v))))
}

async fn assert_indexed(store: &PgStore, res: Resource, q: FindQuery, index: &str) {
    let plan = store.explain_find(res, &q).await.unwrap();
    let text = plan.join("\n");
    assert!(
        text.contains(&format!("Index Scan on {index}"))
            || text.contains(&format!("Index Scan using {index}")),
        "{res} {:?} should use {index}:\n{text}",
        q.filter
    );
    assert!(
        !text.contains("Seq Scan"),
        "{res} {:?} scans the table:\n{text}",
        q.filter
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indexed_finds_use_their_index() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let store = schema.store().await;
    let pkg = populated(&store).await;
    let gin = "gx_instance_body";
    assert_indexed(&store, Resource::Instance, eq("sid", json!("p1abcdef0123")), gin).await;
    assert_indexed(&store, Resource::Instance, eq("path", json!("p1abcdef0123")), gin).await;
    assert_indexed(&store, Resource::Instance, eq("status", json!("pending")), gin).await;
    // The route source check: another instance's sid or path.
    assert_indexed(
        &store,
        Resource::Instance,
        first_page(Filter::or(vec![
            Filter::eq("sid", "p1abcdef0123"),
            Filter::eq("path", "p1abcdef0123"),
        ])),
        gin,
    )
    .await;
    assert_indexed(
        &store,
        Resource::Instance,
        eq("code.package", json!(pkg.to_string())),
        gin,
    )
    .await;
    assert_indexed(
        &store,
        Resource::Instance,
        first_page(Filter::field(
            "_updated",
            Op::Gte(Operand::Date(Timestamp::from_unix(T0 + 60))),
        )),
        "ix_instance_updated",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_prefilter_is_parameterised_and_exact_after_evaluation() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let store = schema.store().await;
    let pkg = populated(&store).await;
    let q = first_page(Filter::and(vec![
        Filter::eq("status", "installed"),
        Filter::eq("code.package", pkg.to_string()),
    ]));
    let plan = store
        .explain_find(Resource::Instance, &q)
        .await
        .unwrap()
        .join("\n");
    assert!(plan.contains("$1") || plan.contains("gx_instance_body"), "{plan}");
    let page = store.find(Resource::Instance, &q).await.unwrap();
    // Instances n with n % 40 in {2, 3} (none of them pending): 1,000.
    assert_eq!(page.total, 1000);
    assert_eq!(page.items.len(), 25);
}
