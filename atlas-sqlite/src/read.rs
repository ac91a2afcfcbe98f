//! The read side: a small pool of reader connections and the queries run on
//! them (`get`, `find`, `history`, `job`, `find_jobs`). Each `find` runs in
//! one read transaction, so the shape catalog it plans with, the total and
//! the page all come from the same snapshot; the total is counted only when
//! the page cannot tell it (a full page, or an empty one past the start),
//! and then read from the cached counts instead when the filter is one they
//! answer (live records, or live records whose counted path equals a string:
//! `translate::count_key`). The counts are not this module's: triggers
//! created by `migrations` keep them (see `tables.rs`); `find` only reads
//! them, in the same snapshot as the page.
//! [`within_budget`] bounds the work of a find tried on an async task.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use atlas_core::model::{Doc, Id, Resource};
use atlas_core::query::{FindQuery, SortedPage};
use atlas_core::{FindPage, Job, JobPage, StoreError};
use rusqlite::{params_from_iter, Connection, ErrorCode, OptionalExtension, Row};
use serde_json::Value;

use crate::apply;
use crate::error::{Error, Result};
use crate::functions::Residuals;
use crate::rows::{DocRow, JobRow, DOC_SELECT};
use crate::shape::ShapeCache;
use crate::tables::{table, table_name, TableSpec, COUNTS, JOBS};
use crate::translate::{count_key, translate, CountKey, Translation};

/// A reader connection (shared with the writer in memory).
pub(crate) type Conn = Arc<Mutex<Connection>>;

/// Reader connections (at least one), handed out round-robin to whoever
/// is free.
#[derive(Debug)]
pub(crate) struct Readers {
    first: Conn,
    others: Vec<Conn>,
    next: AtomicUsize,
}

impl Readers {
    /// A pool over `first` and `others`.
    pub(crate) fn new(first: Conn, others: Vec<Conn>) -> Readers {
        Readers {
            first,
            others,
            next: AtomicUsize::new(0),
        }
    }

    /// The connections, starting at the next one in turn.
    fn in_turn(&self) -> impl Iterator<Item = &Conn> {
        let n = self.others.len() + 1;
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        std::iter::once(&self.first)
            .chain(&self.others)
            .cycle()
            .skip(start)
            .take(n)
    }

    /// Runs `f` on a connection that is free right now; gives `f` back when
    /// every connection is busy.
    pub(crate) fn try_with<T, F>(&self, f: F) -> Result<T, F>
    where
        F: FnOnce(&mut Connection) -> T,
    {
        for c in self.in_turn() {
            if let Ok(mut guard) = c.try_lock() {
                return Ok(f(&mut guard));
            }
        }
        Err(f)
    }

    /// Runs `f` on a free connection (waiting for the one in turn when all
    /// are busy).
    pub(crate) fn with<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        let mut turn = self.in_turn();
        // `in_turn` yields every connection, so there is a first one.
        let in_turn = turn.next().unwrap_or(&self.first);
        let free = std::iter::once(in_turn)
            .chain(turn)
            .find_map(|c| c.try_lock().ok());
        let mut guard = match free {
            Some(guard) => guard,
            None => in_turn.lock().unwrap_or_else(PoisonError::into_inner),
        };
        f(&mut guard)
    }
}

/// Every version of a record, oldest first: the history table's rows (the
/// versions replaced so far) and then the current row.
pub(crate) fn history(conn: &Connection, res: Resource, id: &Id) -> Result<Vec<Doc>> {
    let mut stmt = conn.prepare_cached(&apply::sqls(res).versions)?;
    let mut rows = stmt.query([table_name(res), &id.to_string()])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(DocRow::read(row)?.0);
    }
    if out.is_empty() {
        return Err(StoreError::not_found(res, id).into());
    }
    Ok(out)
}

/// Records matching `q` ([`Error::OverBudget`] past `max_rows` rows read).
pub(crate) fn find(
    conn: &mut Connection,
    residuals: &Arc<Residuals>,
    shapes: &ShapeCache,
    res: Resource,
    q: &FindQuery,
    max_rows: usize,
) -> Result<FindPage> {
    let (items, total) = find_rows(
        conn,
        residuals,
        shapes,
        &table(res),
        q,
        max_rows,
        DOC_SELECT,
        |row| Ok(DocRow::read(row)?.0),
        Doc::to_json,
    )?;
    Ok(FindPage { items, total })
}

/// Jobs matching `q` ([`Error::OverBudget`] past `max_rows` rows read).
pub(crate) fn find_jobs(
    conn: &mut Connection,
    residuals: &Arc<Residuals>,
    shapes: &ShapeCache,
    q: &FindQuery,
    max_rows: usize,
) -> Result<JobPage> {
    let (items, total) = find_rows(
        conn,
        residuals,
        shapes,
        &JOBS,
        q,
        max_rows,
        "json(doc)",
        |row| Ok(JobRow::read(row, 0)?.0),
        Job::to_json,
    )?;
    Ok(JobPage { items, total })
}

/// Runs `f` with SQLite interrupting any of its statements after `steps`
/// virtual-machine steps: `Ok(None)` when it was interrupted, or when it
/// reported [`Error::OverBudget`] itself (too many rows).
pub(crate) fn within_budget<T>(
    conn: &mut Connection,
    steps: u32,
    f: impl FnOnce(&mut Connection) -> Result<T>,
) -> Result<Option<T>> {
    conn.progress_handler(i32::try_from(steps).unwrap_or(i32::MAX), Some(|| true));
    // The handler must not outlive this call, even when `f` panics: the
    // connection goes back to the pool (or is the writer's, in memory).
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(conn)));
    conn.progress_handler(0, None::<fn() -> bool>);
    let result = result.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    match result {
        Ok(t) => Ok(Some(t)),
        Err(Error::OverBudget) => Ok(None),
        Err(Error::Sqlite(rusqlite::Error::SqliteFailure(e, _)))
            if e.code == ErrorCode::OperationInterrupted =>
        {
            Ok(None)
        }
        Err(other) => Err(other),
    }
}

#[allow(clippy::too_many_arguments)]
fn find_rows<T>(
    conn: &mut Connection,
    residuals: &Arc<Residuals>,
    shapes: &ShapeCache,
    spec: &TableSpec,
    q: &FindQuery,
    max_rows: usize,
    columns: &str,
    read: impl Fn(&Row<'_>) -> Result<T>,
    to_json: impl Fn(&T) -> Value,
) -> Result<(Vec<T>, u64)> {
    let tx = conn.transaction()?;
    let shape = shapes.get(&tx, spec.name)?;
    let mut tr = translate(spec, &shape, residuals, &q.filter, &q.sort, q.includes_deleted());
    let cached = count_key(spec, &shape, &q.filter, q.includes_deleted());
    let name = spec.name;
    let w = tr.where_sql.clone();
    // Runs `sql`, handing each row read to `each`; past `max_rows` rows
    // read, `Error::OverBudget`.
    let for_each_row =
        |sql: &str, params: &[rusqlite::types::Value], each: &mut dyn FnMut(T)| -> Result<()> {
            let mut stmt = tx.prepare_cached(sql)?;
            let n = stmt.parameter_count();
            let mut rows = stmt.query(params_from_iter(params.iter().take(n)))?;
            let mut seen = 0_usize;
            while let Some(row) = rows.next()? {
                if seen == max_rows {
                    return Err(Error::OverBudget);
                }
                seen += 1;
                each(read(row)?);
            }
            Ok(())
        };
    let where_params = tr.params.len();
    let result = match page_sql(name, columns, &mut tr, q) {
        Some(page) => {
            let mut items = Vec::new();
            if q.paging.max_results != 0 {
                for_each_row(&page, &tr.params, &mut |t| items.push(t))?;
            }
            let got = u64::try_from(items.len()).unwrap_or(u64::MAX);
            let total = match (q.total_from_page(got), &cached) {
                (Some(total), _) => total,
                (None, Some(key)) => cached_total(&tx, name, key)?,
                (None, None) => {
                    let mut count = tx.prepare_cached(&format!("SELECT count(*) FROM {name} WHERE {w}"))?;
                    let n = count.parameter_count().min(where_params);
                    let total: i64 = count.query_row(params_from_iter(&tr.params[..n]), |r| r.get(0))?;
                    u64::try_from(total).unwrap_or_default()
                }
            };
            (items, total)
        }
        None => {
            // A sort key the SQL cannot order by: sort the matches in Rust,
            // holding only the rows up to the page's end (memory bounded by
            // the page asked for, not by the number of matches).
            let mut page = SortedPage::new(q);
            for_each_row(
                &format!("SELECT {columns} FROM {name} WHERE {w}"),
                &tr.params,
                &mut |t| {
                    let j = to_json(&t);
                    page.push(t, j);
                },
            )?;
            page.finish()
        }
    };
    drop(tr.guards);
    tx.commit()?;
    Ok(result)
}

/// The lookup of a cached total: `?1` the table, `?2` the field, `?3` the
/// value.
const CACHED_TOTAL: &str = "SELECT n FROM value_counts WHERE tbl = ?1 AND field = ?2 AND value = ?3";

/// The number of `table`'s rows the filter `key` stands for matches, from
/// the counts table (no row: none).
fn cached_total(conn: &Connection, table: &str, key: &CountKey<'_>) -> Result<u64> {
    let n: Option<i64> = conn
        .prepare_cached(CACHED_TOTAL)?
        .query_row([table, key.field, key.value], |r| r.get(0))
        .optional()?;
    let n = n.unwrap_or_default();
    u64::try_from(n).map_err(|e| {
        Error::corrupt(
            format!(
                "the {COUNTS} count of {table} {} '{}' ({n})",
                key.field, key.value
            ),
            e,
        )
    })
}

/// The page query (binding limit and offset), or `None` when the order
/// needs Rust.
fn page_sql(name: &str, columns: &str, tr: &mut Translation, q: &FindQuery) -> Option<String> {
    let order = tr.order_sql.clone()?;
    let lim = tr.bind(i64::try_from(q.paging.max_results).unwrap_or(i64::MAX).into());
    let off = tr.bind(i64::try_from(q.paging.offset()).unwrap_or(i64::MAX).into());
    let w = &tr.where_sql;
    Some(format!(
        "SELECT {columns} FROM {name} WHERE {w} ORDER BY {order} LIMIT {lim} OFFSET {off}"
    ))
}

/// `EXPLAIN QUERY PLAN` of the SQL `find(res, q)` runs when its page is
/// full: the count (or the lookup of the cached total that replaces it),
/// then the page.
pub(crate) fn explain(
    conn: &mut Connection,
    residuals: &Arc<Residuals>,
    shapes: &ShapeCache,
    res: Resource,
    q: &FindQuery,
) -> Result<Vec<String>> {
    let spec = table(res);
    let tx = conn.transaction()?;
    let shape = shapes.get(&tx, spec.name)?;
    let mut tr = translate(&spec, &shape, residuals, &q.filter, &q.sort, q.includes_deleted());
    let name = spec.name;
    let count = match count_key(&spec, &shape, &q.filter, q.includes_deleted()) {
        Some(key) => (
            CACHED_TOTAL.to_owned(),
            vec![
                name.to_owned().into(),
                key.field.to_owned().into(),
                key.value.to_owned().into(),
            ],
        ),
        None => (
            format!("SELECT count(*) FROM {name} WHERE {}", tr.where_sql),
            tr.params.clone(),
        ),
    };
    let page = page_sql(name, DOC_SELECT, &mut tr, q)
        .unwrap_or_else(|| format!("SELECT {DOC_SELECT} FROM {name} WHERE {}", tr.where_sql));
    let mut out = Vec::new();
    for (sql, params) in [count, (page, tr.params.clone())] {
        let mut stmt = tx.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
        let n = stmt.parameter_count();
        let mut rows = stmt.query(params_from_iter(params.iter().take(n)))?;
        while let Some(row) = rows.next()? {
            out.push(row.get::<_, String>(3)?);
        }
    }
    drop(tr.guards);
    tx.commit()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count_to(conn: &mut Connection, n: i64) -> Result<i64> {
        Ok(conn.query_row(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?1) SELECT count(*) FROM c",
            [n],
            |r| r.get(0),
        )?)
    }

    #[test]
    fn work_within_the_budget_completes() {
        let mut c = Connection::open_in_memory().unwrap();
        assert_eq!(
            within_budget(&mut c, 100_000, |c| count_to(c, 10)).unwrap(),
            Some(10)
        );
    }

    #[test]
    fn work_past_the_budget_is_interrupted_and_the_connection_stays_usable() {
        let mut c = Connection::open_in_memory().unwrap();
        assert_eq!(
            within_budget(&mut c, 1_000, |c| count_to(c, 1_000_000)).unwrap(),
            None
        );
        // The handler is gone afterwards: the same work now completes.
        assert_eq!(count_to(&mut c, 100_000).unwrap(), 100_000);
    }

    #[test]
    fn a_panic_inside_the_budget_leaves_no_handler_behind() {
        let mut c = Connection::open_in_memory().unwrap();
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = within_budget(&mut c, 1_000, |_| -> Result<()> { panic!("bug") });
        }));
        assert!(panicked.is_err());
        assert_eq!(count_to(&mut c, 100_000).unwrap(), 100_000);
    }

    #[test]
    fn too_many_rows_counts_as_over_budget_and_other_errors_pass() {
        let mut c = Connection::open_in_memory().unwrap();
        assert_eq!(
            within_budget(&mut c, 1_000, |_| Err::<(), _>(Error::OverBudget)).unwrap(),
            None
        );
        let e = within_budget(&mut c, 1_000, |c| {
            c.execute("SELECT nope", []).map_err(Error::from)
        })
        .unwrap_err();
        assert!(e.to_string().contains("nope"), "{e}");
    }
}
