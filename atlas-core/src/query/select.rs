//! [`select`]: a whole `find` (soft-delete visibility, filter, sort, page)
//! over in-memory items, paged by [`SortedPage`]. `MemoryStore::find` is exactly this, and every other
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
    let mut page = SortedPage::new(q);
    for (t, doc) in items {
        let visible = with_deleted || doc.borrow().get("_deleted") != Some(&Value::Bool(true));
        if visible && q.filter.matches(doc.borrow()) {
            page.push(t, doc);
        }
    }
    page.finish()
}

/// The page of a [`FindQuery`] out of its matches pushed in any order:
/// ordered by the query's sort with [`compare_docs`] (equal documents in
/// the order they were pushed), with the number of matches. Holds only the
/// matches up to the page's end — at most twice that many (at least 1,024)
/// at once — so memory is bounded by the page asked for, not by the number
/// of matches. [`select`] pages with it; a store that filters elsewhere (in
/// SQL) but cannot sort there pushes its matches here.
#[derive(Debug)]
pub struct SortedPage<'q, T, V> {
    q: &'q FindQuery,
    /// Rows up to the page's end: the offset plus the page size.
    keep: usize,
    rows: Vec<(T, V)>,
    total: u64,
}

impl<'q, T, V: Borrow<Value>> SortedPage<'q, T, V> {
    /// An empty page of `q`.
    pub fn new(q: &'q FindQuery) -> Self {
        let skip = usize::try_from(q.paging.offset()).unwrap_or(usize::MAX);
        let take = usize::try_from(q.paging.max_results).unwrap_or(usize::MAX);
        Self {
            q,
            keep: skip.saturating_add(take),
            rows: Vec::new(),
            total: 0,
        }
    }

    /// One match: its payload and its document JSON.
    pub fn push(&mut self, row: T, doc: V) {
        self.total += 1;
        self.rows.push((row, doc));
        if self.rows.len() >= self.keep.saturating_mul(2).max(1024) {
            self.trim();
        }
    }

    /// Sorts (stably: equal rows keep their arrival order) and drops what
    /// is past the page's end.
    fn trim(&mut self) {
        let sort = &self.q.sort;
        self.rows
            .sort_by(|(_, a), (_, b)| compare_docs(sort, a.borrow(), b.borrow()));
        self.rows.truncate(self.keep);
    }

    /// The page's payloads in order, and the number of matches pushed.
    pub fn finish(mut self) -> (Vec<T>, u64) {
        self.trim();
        let skip = usize::try_from(self.q.paging.offset()).unwrap_or(usize::MAX);
        let page = self.rows.into_iter().skip(skip).map(|(t, _)| t).collect();
        (page, self.total)
    }
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

    /// Documents `0..n` keyed by `k(i)`, paged by [`SortedPage`] (holding
    /// at most twice the rows up to the page's end, at least 1,024),
    /// against a full stable sort of all of them.
    fn sorted_page_equals_a_full_sort(n: usize, page: u64, max_results: u64, k: impl Fn(usize) -> i64) {
        let q = FindQuery {
            sort: vec![SortKey {
                path: "k".into(),
                descending: false,
            }],
            paging: Paging { page, max_results },
            ..FindQuery::default()
        };
        let end = usize::try_from((page - 1) * max_results + max_results).unwrap();
        let mut sorted = SortedPage::new(&q);
        let mut all: Vec<(usize, Value)> = Vec::new();
        for i in 0..n {
            let doc = json!({ "k": k(i) });
            sorted.push(i, doc.clone());
            all.push((i, doc));
            assert!(
                sorted.rows.len() <= (end * 2).max(1024),
                "holds at most twice the page's end"
            );
        }
        all.sort_by(|(_, a), (_, b)| compare_docs(&q.sort, a, b));
        let skip = usize::try_from((page - 1) * max_results).unwrap();
        let want: Vec<usize> = all
            .into_iter()
            .skip(skip)
            .take(usize::try_from(max_results).unwrap())
            .map(|(i, _)| i)
            .collect();
        assert_eq!(sorted.finish(), (want, u64::try_from(n).unwrap()));
    }

    #[test]
    fn a_sorted_page_holds_only_the_rows_up_to_its_end() {
        // Descending keys, many ties (arrival order kept), later pages,
        // fewer rows than the page, and a page of none.
        sorted_page_equals_a_full_sort(10_000, 1, 25, |i| -(i as i64));
        sorted_page_equals_a_full_sort(10_000, 3, 50, |i| (i % 7) as i64);
        sorted_page_equals_a_full_sort(10_000, 2, 1_500, |i| ((i * 7_919) % 1_000) as i64);
        sorted_page_equals_a_full_sort(10, 1, 25, |i| (i % 3) as i64);
        sorted_page_equals_a_full_sort(5_000, 1, 0, |i| i as i64);
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
