//! [`select`]: a whole `find` (soft-delete visibility, filter, sort, page)
//! over in-memory items. `MemoryStore::find` is exactly this, and every other
//! store must return what it would.

use std::borrow::Borrow;

use serde_json::Value;

use super::{compare_docs, FindQuery};

impl FindQuery {
    /// Whether soft-deleted records are included: `show_deleted` was asked
    /// for, or the filter mentions `_deleted` (Eve's rule).
    pub fn includes_deleted(&self) -> bool {
        self.show_deleted || self.filter.mentions("_deleted")
    }
}

/// Runs `q` over `items` (each a payload and its document JSON, owned or
/// borrowed): drops
/// documents with `"_deleted": true` unless [`FindQuery::includes_deleted`],
/// keeps those matching the filter, orders them with [`compare_docs`]
/// (ties by `_id`), and returns the requested page and the total number of
/// matches.
pub fn select<T, V: Borrow<Value>>(items: impl IntoIterator<Item = (T, V)>, q: &FindQuery) -> (Vec<T>, u64) {
    let with_deleted = q.includes_deleted();
    let mut hits: Vec<(T, V)> = items
        .into_iter()
        .filter(|(_, doc)| with_deleted || doc.borrow().get("_deleted") != Some(&Value::Bool(true)))
        .filter(|(_, doc)| q.filter.matches(doc.borrow()))
        .collect();
    hits.sort_by(|(_, a), (_, b)| compare_docs(&q.sort, a.borrow(), b.borrow()));
    let total = u64::try_from(hits.len()).unwrap_or(u64::MAX);
    let skip = usize::try_from(q.paging.offset()).unwrap_or(usize::MAX);
    let take = usize::try_from(q.paging.max_results).unwrap_or(usize::MAX);
    let page = hits.into_iter().skip(skip).take(take).map(|(t, _)| t).collect();
    (page, total)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::super::fixtures;
    use super::super::{parse_where, Filter, Paging, SortKey};
    use super::*;

    fn rows() -> Vec<(u32, Value)> {
        vec![
            (1, json!({"_id": "b", "status": "installed", "_deleted": false})),
            (2, json!({"_id": "a", "status": "installed", "_deleted": true})),
            (3, json!({"_id": "c", "status": "launched"})),
            (4, json!({"_id": "d", "status": "installed"})),
        ]
    }

    fn query(filter: &str) -> FindQuery {
        FindQuery {
            filter: parse_where(filter).unwrap_or_else(|e| panic!("{e}")),
            ..FindQuery::default()
        }
    }

    #[test]
    fn select_hides_soft_deleted_documents_by_default() {
        assert_eq!(select(rows(), &query("")), (vec![1, 3, 4], 3));
    }

    #[test]
    fn select_shows_soft_deleted_documents_when_asked() {
        let q = FindQuery {
            show_deleted: true,
            ..query("")
        };
        assert!(q.includes_deleted());
        assert_eq!(select(rows(), &q), (vec![2, 1, 3, 4], 4));
    }

    #[test]
    fn select_shows_soft_deleted_documents_when_the_filter_mentions_deleted() {
        let q = query(r#"{"_deleted": true}"#);
        assert!(q.includes_deleted());
        assert_eq!(select(rows(), &q), (vec![2], 1));
    }

    #[test]
    fn select_filters_sorts_and_counts_all_matches() {
        let q = FindQuery {
            sort: vec![SortKey::desc("_id")],
            ..query(r#"{"status": "installed"}"#)
        };
        assert_eq!(select(rows(), &q), (vec![4, 1], 2));
    }

    #[test]
    fn select_returns_the_requested_page_and_the_full_total() {
        let q = FindQuery {
            paging: Paging {
                page: 2,
                max_results: 2,
            },
            ..query("")
        };
        assert_eq!(select(rows(), &q), (vec![4], 3));
    }

    #[test]
    fn select_returns_an_empty_page_past_the_end_with_the_total() {
        let q = FindQuery {
            paging: Paging {
                page: 9,
                max_results: 2,
            },
            ..query("")
        };
        assert_eq!(select(rows(), &q), (vec![], 3));
    }

    #[test]
    fn select_with_unbounded_paging_returns_everything() {
        let q = FindQuery::all_matching(Filter::All);
        assert_eq!(select(rows(), &q), (vec![1, 3, 4], 3));
    }

    proptest! {
        #[test]
        fn select_total_counts_every_live_match(f in fixtures::filter(), docs in fixtures::docs(8)) {
            let q = FindQuery { filter: f.clone(), paging: Paging { page: 1, max_results: 2 }, ..FindQuery::default() };
            let expected = docs.iter().filter(|d| {
                (q.includes_deleted() || d.get("_deleted") != Some(&Value::Bool(true))) && f.matches(d)
            }).count();
            let (_, total) = select(docs.into_iter().map(|d| ((), d)), &q);
            prop_assert_eq!(total, expected as u64);
        }

        #[test]
        fn select_pages_partition_the_sorted_results(
            f in fixtures::filter(),
            docs in fixtures::docs(8),
            size in 1u64..4,
            descending in any::<bool>(),
        ) {
            let base = FindQuery {
                filter: f,
                sort: vec![SortKey { path: "status".into(), descending }],
                paging: Paging::all(),
                show_deleted: false,
                count: true,
            };
            let items: Vec<(usize, Value)> = docs.into_iter().enumerate().collect();
            let (all, total) = select(items.clone(), &base);
            let mut joined = Vec::new();
            for page in 1..=(total / size + 2) {
                let q = FindQuery { paging: Paging { page, max_results: size }, ..base.clone() };
                let (chunk, t) = select(items.clone(), &q);
                prop_assert_eq!(t, total);
                prop_assert!(chunk.len() as u64 <= size);
                joined.extend(chunk);
            }
            prop_assert_eq!(joined, all);
        }
    }
}
