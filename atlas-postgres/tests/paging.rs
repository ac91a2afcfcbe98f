//! Finds the database pages by itself (every record matches, sorted by
//! `_id` or not at all) answer the same pages and totals as the evaluator
//! does for an equivalent query it pages in memory.

use atlas_core::model::{Id, Resource, Timestamp};
use atlas_core::query::{Filter, FindQuery, Op, Paging, SortKey};
use atlas_core::testing::fixtures;
use atlas_core::{Batch, Store};
use atlas_postgres::testing::TestSchema;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_in_sql_equal_the_evaluators_pages() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let store = schema.store().await;
    let now = Timestamp::from_unix(1_795_564_800);
    let mut batch = Batch::new(now);
    let mut ids = Vec::new();
    for _ in 0..120 {
        let id = Id::generate(now);
        ids.push(id);
        batch.insert(Resource::Instance, id, fixtures::instance().build());
    }
    store.commit(batch).await.unwrap();
    let mut gone = Batch::new(now);
    gone.delete(Resource::Instance, ids[7], None);
    store.commit(gone).await.unwrap();

    for descending in [false, true] {
        for page in [1, 2, 5, 6] {
            for show_deleted in [false, true] {
                let q = |filter: Filter| FindQuery {
                    filter,
                    sort: vec![SortKey {
                        path: "_id".into(),
                        descending,
                    }],
                    paging: Paging {
                        page,
                        max_results: 25,
                    },
                    show_deleted,
                    count: true,
                };
                let in_sql = store.find(Resource::Instance, &q(Filter::All)).await.unwrap();
                // `_id` exists everywhere, but the prefilter does not
                // translate it: the evaluator pages this one.
                let evaluated = store
                    .find(Resource::Instance, &q(Filter::field("_id", Op::Exists(true))))
                    .await
                    .unwrap();
                assert_eq!(in_sql.total, evaluated.total, "page {page} desc {descending}");
                assert_eq!(in_sql.total, if show_deleted { 120 } else { 119 });
                assert_eq!(in_sql.items, evaluated.items, "page {page} desc {descending}");
            }
        }
    }
    let unsorted = store
        .find(Resource::Instance, &FindQuery::default())
        .await
        .unwrap();
    let mut live: Vec<Id> = ids.iter().copied().filter(|id| *id != ids[7]).collect();
    live.sort_by_key(ToString::to_string);
    let first: Vec<Id> = unsorted.items.iter().map(|d| d.id).collect();
    assert_eq!(first, live[..first.len()], "ascending ids by default");
}
