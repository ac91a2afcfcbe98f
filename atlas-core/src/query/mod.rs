//! The query language: Mongo-style `where` ([`Filter`]), `sort`
//! ([`SortKey`]), paging ([`Paging`]), `projection` ([`Projection`]),
//! `embedded`, and the in-memory evaluator that defines their semantics for
//! every store.
//!
//! # Layout
//! - `filter.rs`: the [`Filter`] AST, constructors, [`Filter::to_json`].
//! - `parse.rs`: [`parse_where`] / [`Filter::from_json`] (syntax and refusals).
//! - `eval.rs`: [`Filter::matches`], the reference semantics below.
//! - `path.rs`: dotted paths with MongoDB array semantics.
//! - `sort.rs`: [`parse_sort`], [`compare_docs`], [`compare_values`].
//! - `select.rs`: [`select`], a whole `find` in memory (`MemoryStore::find`),
//!   and [`SortedPage`], its sort and page holding only the rows up to the
//!   page's end.
//! - `paging.rs`: [`Paging::from_params`]; `projection.rs`: [`Projection`];
//!   `embedded.rs`: [`parse_embedded`]; `error.rs`: [`QueryError`].
//!
//! # Contracts
//! - Every store's `find` returns exactly what [`select`] returns: the same
//!   documents, the same order (sort keys, then `_id` ascending), the same page
//!   and total. Soft-deleted documents are hidden unless `show_deleted` or the
//!   filter mentions `_deleted` ([`FindQuery::includes_deleted`]).
//! - Every [`QueryError`] is a client mistake: the HTTP layer answers 400 with
//!   its `Display` as the message.
//!
//! # Semantics of `where`
//! ## Paths
//! Dotted paths are resolved as in MongoDB: objects are walked
//! by key, a numeric segment indexes an array, any other segment that meets
//! an array continues into each object element (so one path may reach
//! several values; scalar and nested-array elements are skipped), and a path that runs into a missing key, a scalar or
//! `null` is *missing* on that branch. A condition holds when it holds for
//! *any* reached value, except the negations (`$ne`, `$nin`), which are the
//! plain negation of `$eq` / `$in` on the whole document.
//!
//! ## Equality (`$eq`, bare values, `$in`)
//! - Values are equal when they are the same JSON value; numbers compare
//!   numerically (`1 == 1.0`), arrays element by element in order, objects
//!   by key set and values (key order is irrelevant).
//! - A reached array matches when it equals the operand as a whole *or* holds
//!   an element equal to it (`{"code.package": "<id>"}` matches an instance
//!   whose package list holds the id). Ids are plain 24-hex strings.
//! - `null` matches a missing field, a `null`, and an array holding `null`.
//! - A date operand ([`Operand::Date`]) equals a string that parses as a
//!   [`Timestamp`](crate::model::Timestamp) for the same instant. The parser
//!   makes string operands that look like dates (`YYYY-MM-DD…`) and parse as
//!   `DATE_FORMAT` or RFC 3339 into date operands; ids and sids stay strings.
//! - `$in` holds when `$eq` holds for any operand (an empty list matches
//!   nothing); `$ne` / `$nin` are their negations, so a missing field
//!   matches `$ne: x` for any non-null `x`.
//!
//! ## Ranges (`$gt $gte $lt $lte`)
//! Only values of the operand's class are compared, never across classes:
//! numbers with numbers, strings with strings (byte-wise, like MongoDB's
//! binary comparison), booleans with booleans (`false < true`), and a date
//! operand with strings that parse as timestamps (as instants). A reached
//! array matches when any element does. Object and array operands match
//! nothing; a `null` operand matches what `$eq: null` matches for
//! `$gte`/`$lte` and nothing for `$gt`/`$lt` (as MongoDB).
//!
//! ## Other operators
//! - `$exists: true` holds when some branch of the path reaches a value
//!   (`null` included); `$exists: false` is its negation.
//! - `$regex` holds when a reached string, or a string element of a reached
//!   array, matches (unanchored, as MongoDB).
//! - `$and` of an empty list matches everything, `$or` of an empty list
//!   nothing, `$nor` is "not `$or`" ([`Filter::All`] matches everything).
//!
//! Sorting is documented on [`compare_docs`] / [`compare_values`]: MongoDB's
//! type order (missing = `null` < numbers < strings < objects < arrays <
//! booleans), arrays sort by their smallest element ascending and their
//! largest descending, ties by `_id`.

mod embedded;
mod error;
mod eval;
mod filter;
#[cfg(test)]
mod fixtures;
mod paging;
mod parse;
mod path;
mod projection;
mod select;
mod sort;

pub use embedded::parse_embedded;
pub use error::QueryError;
pub use filter::{Filter, Op, Operand, Pattern};
pub use parse::{parse_command_query, parse_where};
pub use projection::{Projection, META_FIELDS};
pub use select::{select, SortedPage};
pub use sort::{compare_docs, compare_values, parse_sort};

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
    /// Whether the total counts every match (the default). `false` lets a
    /// store skip the count a full page would need (Eve's
    /// `OPTIMIZE_PAGINATION_FOR_SPEED`): the page's total is then only a
    /// lower bound ([`FindQuery::total_from_page`]), which a caller must
    /// not show as the total.
    pub count: bool,
}

impl Default for FindQuery {
    fn default() -> Self {
        Self {
            filter: Filter::All,
            sort: Vec::new(),
            paging: Paging::default(),
            show_deleted: false,
            count: true,
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

    /// A page of one of the records matching `filter`, asked for its
    /// total: how many match.
    pub fn count_of(filter: Filter) -> Self {
        Self {
            filter,
            paging: Paging {
                page: 1,
                max_results: 1,
            },
            ..Self::default()
        }
    }

    /// The total a page of `got` items tells without a count: exact when
    /// the page is not full (and not past the end); when
    /// [`FindQuery::count`] is off, the lower bound `offset + got` (0 for
    /// an empty page, which tells nothing); `None` when only counting the
    /// matches can tell.
    pub fn total_from_page(&self, got: u64) -> Option<u64> {
        let offset = self.paging.offset();
        if got < self.paging.max_results && (got > 0 || offset == 0) {
            Some(offset.saturating_add(got))
        } else if !self.count {
            Some(if got > 0 { offset.saturating_add(got) } else { 0 })
        } else {
            None
        }
    }

    /// The newest job matching `filter` (by `created`; a page of one,
    /// uncounted: its total is not wanted).
    pub fn newest_job(filter: Filter) -> Self {
        Self {
            filter,
            sort: vec![SortKey {
                path: "created".into(),
                descending: true,
            }],
            paging: Paging {
                page: 1,
                max_results: 1,
            },
            show_deleted: false,
            count: false,
        }
    }
}
