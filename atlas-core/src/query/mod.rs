//! The query language: Mongo-style `where` ([`Filter`]), `sort`
//! ([`SortKey`]), paging ([`Paging`]), `projection`, and the in-memory
//! evaluator that defines their semantics for every store.

mod filter;

pub use filter::{Filter, Op, Operand, Pattern};

/// Default page size (Eve's `PAGINATION_DEFAULT`).
pub const DEFAULT_MAX_RESULTS: u64 = 500;
/// Page size cap (Eve's `PAGINATION_LIMIT`).
pub const MAX_RESULTS_CAP: u64 = 2000;

/// One sort key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    /// Dotted path.
    pub path: String,
    /// Descending order.
    pub descending: bool,
}

/// Which page to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    /// 1-based page number.
    pub page: u64,
    /// Page size, 1..=2000.
    pub max_results: u64,
}

impl Default for Paging {
    fn default() -> Self {
        Self {
            page: 1,
            max_results: DEFAULT_MAX_RESULTS,
        }
    }
}

impl Paging {
    /// Every item (page 1 of [`MAX_RESULTS_CAP`] is not enough for internal
    /// scans, so this is an unbounded page).
    pub fn all() -> Self {
        Self {
            page: 1,
            max_results: u64::MAX,
        }
    }

    /// Number of items to skip.
    pub fn offset(&self) -> u64 {
        (self.page.saturating_sub(1)).saturating_mul(self.max_results)
    }
}

/// A `find`: filter, order, page, and whether soft-deleted records show.
#[derive(Debug, Clone, PartialEq)]
pub struct FindQuery {
    /// Which records.
    pub filter: Filter,
    /// Order; ties are always broken by `_id` ascending.
    pub sort: Vec<SortKey>,
    /// Which page.
    pub paging: Paging,
    /// Include soft-deleted records. Also implied when the filter mentions
    /// `_deleted` (Eve's rule).
    pub show_deleted: bool,
}

impl Default for FindQuery {
    fn default() -> Self {
        Self {
            filter: Filter::All,
            sort: Vec::new(),
            paging: Paging::default(),
            show_deleted: false,
        }
    }
}

impl FindQuery {
    /// Every live record matching `filter`, in `_id` order, unpaged.
    pub fn all_matching(filter: Filter) -> Self {
        Self {
            filter,
            paging: Paging::all(),
            ..Self::default()
        }
    }
}
