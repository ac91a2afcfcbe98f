//! Sort order, paging and totals: sorting on several keys (also on a field
//! some records lack) orders like the reference evaluator, the whole result
//! is ordered before paging, every page reports the full total, and ties
//! break by `_id`.

use std::sync::Arc;

use crate::model::Resource;
use crate::query::{Filter, FindQuery, Paging};
use crate::store::Store;
use crate::testing::fixtures;

use super::find_fixture::FindFixture;
use super::{at, find, id, insert, query, sorted};

/// Sorting on two keys, one descending, orders like the reference evaluator.
pub async fn find_sorts_on_several_keys_like_the_reference(store: Arc<dyn Store>) {
    let fx = FindFixture::load(&*store).await;
    fx.assert_instances(vec![(
        "all, sorted by two keys",
        sorted(Filter::All, &[("update_group", true), ("sid", false)]),
    )])
    .await;
}

/// Sorting on a field some records lack places them as the reference
/// evaluator does.
pub async fn find_sorts_on_a_sometimes_missing_field_like_the_reference(store: Arc<dyn Store>) {
    let fx = FindFixture::load(&*store).await;
    fx.assert_instances(vec![(
        "sort on a sometimes-missing field",
        sorted(Filter::All, &[("settings.siteimprove_site", false)]),
    )])
    .await;
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

/// A query that does not ask for the count ([`FindQuery::count`] off)
/// gets the same pages; its total lies between `offset + items` (0 for
/// an empty page) and the counted total (a store may count anyway).
pub async fn uncounted_pages_hold_the_same_items_with_a_lower_bound_total(store: Arc<dyn Store>) {
    let s = &*store;
    for n in 1..=7u32 {
        let b = fixtures::instance()
            .sid(&format!("p1uncount000{n}"))
            .update_group(u8::try_from(n % 3).unwrap())
            .build();
        insert(s, Resource::Instance, id(n), b, at(i64::from(n))).await;
    }
    for filter in [Filter::All, Filter::eq("update_group", 1)] {
        for p in 1..=4u64 {
            let counted = FindQuery {
                paging: Paging {
                    page: p,
                    max_results: 2,
                },
                ..sorted(filter.clone(), &[("sid", true)])
            };
            let uncounted = FindQuery {
                count: false,
                ..counted.clone()
            };
            let (items, total) = find(s, Resource::Instance, &counted).await;
            let (same, bound) = find(s, Resource::Instance, &uncounted).await;
            assert_eq!(same, items, "page {p} of {filter:?}");
            // An empty page past the end tells nothing.
            let least = if items.is_empty() {
                0
            } else {
                counted.paging.offset() + items.len() as u64
            };
            assert!(
                (least..=total).contains(&bound),
                "page {p} of {filter:?}: uncounted total {bound} outside {least}..={total}"
            );
        }
    }
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
