//! The read side: a small pool of reader connections and the queries run on
//! them (`get`, `find`, `history`, `job`, `find_jobs`). Each `find` runs in
//! one read transaction, so the shape catalog it plans with, the total and
//! the page all come from the same snapshot.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use atlas_core::jobs::Job;
use atlas_core::model::{Doc, Id, Resource};
use atlas_core::query::{compare_docs, FindQuery};
use atlas_core::store::{FindPage, JobPage};
use atlas_core::StoreError;
use rusqlite::{params_from_iter, Connection, Row};
use serde_json::Value;

use crate::error::Result;
use crate::functions::Residuals;
use crate::rows::{DocRow, JobRow, DOC_SELECT};
use crate::shape::ShapeCache;
use crate::tables::{table, table_name, TableSpec, JOBS};
use crate::translate::{translate, Translation};
use crate::write;

/// Reader connections, handed out round-robin to whoever is free.
#[derive(Debug)]
pub(crate) struct Readers {
    conns: Vec<Arc<Mutex<Connection>>>,
    next: AtomicUsize,
}

impl Readers {
    /// A pool over `conns` (at least one).
    pub(crate) fn new(conns: Vec<Arc<Mutex<Connection>>>) -> Readers {
        Readers {
            conns,
            next: AtomicUsize::new(0),
        }
    }

    /// Runs `f` on a connection that is free right now; gives `f` back when
    /// every connection is busy.
    pub(crate) fn try_with<T, F>(&self, f: F) -> Result<T, F>
    where
        F: FnOnce(&mut Connection) -> T,
    {
        let n = self.conns.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        for i in 0..n {
            if let Some(c) = self.conns.get((start + i) % n) {
                if let Ok(mut guard) = c.try_lock() {
                    return Ok(f(&mut guard));
                }
            }
        }
        Err(f)
    }

    /// Runs `f` on a free connection (waiting for one when all are busy).
    pub(crate) fn with<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        let n = self.conns.len().max(1);
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        for i in 0..n {
            if let Some(c) = self.conns.get((start + i) % n) {
                if let Ok(mut guard) = c.try_lock() {
                    return f(&mut guard);
                }
            }
        }
        let c = self
            .conns
            .get(start)
            .ok_or_else(|| crate::error::Error::Corrupt("no reader connection".into()))?;
        let mut guard = c.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut guard)
    }
}

/// Every version of a record, oldest first: the history table's rows (the
/// versions replaced so far) and then the current row.
pub(crate) fn history(conn: &Connection, res: Resource, id: &Id) -> Result<Vec<Doc>> {
    let mut stmt = conn.prepare_cached(&write::sqls(res).versions)?;
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

/// Records matching `q`.
pub(crate) fn find(
    conn: &mut Connection,
    residuals: &Arc<Residuals>,
    shapes: &ShapeCache,
    res: Resource,
    q: &FindQuery,
) -> Result<FindPage> {
    let (items, total) = find_rows(
        conn,
        residuals,
        shapes,
        &table(res),
        q,
        DOC_SELECT,
        |row| Ok(DocRow::read(row)?.0),
        Doc::to_json,
    )?;
    Ok(FindPage { items, total })
}

/// Jobs matching `q`.
pub(crate) fn find_jobs(
    conn: &mut Connection,
    residuals: &Arc<Residuals>,
    shapes: &ShapeCache,
    q: &FindQuery,
) -> Result<JobPage> {
    let (items, total) = find_rows(
        conn,
        residuals,
        shapes,
        &JOBS,
        q,
        "json(doc)",
        |row| Ok(JobRow::read(row, 0)?.0),
        Job::to_json,
    )?;
    Ok(JobPage { items, total })
}

#[allow(clippy::too_many_arguments)]
fn find_rows<T>(
    conn: &mut Connection,
    residuals: &Arc<Residuals>,
    shapes: &ShapeCache,
    spec: &TableSpec,
    q: &FindQuery,
    columns: &str,
    read: impl Fn(&Row<'_>) -> Result<T>,
    to_json: impl Fn(&T) -> Value,
) -> Result<(Vec<T>, u64)> {
    let tx = conn.transaction()?;
    let shape = shapes.get(&tx, spec.name)?;
    let mut tr = translate(spec, &shape, residuals, &q.filter, &q.sort, q.includes_deleted());
    let name = spec.name;
    let w = tr.where_sql.clone();
    let collect = |sql: &str, params: &[rusqlite::types::Value]| -> Result<Vec<T>> {
        let mut stmt = tx.prepare_cached(sql)?;
        let n = stmt.parameter_count();
        let mut rows = stmt.query(params_from_iter(params.iter().take(n)))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(read(row)?);
        }
        Ok(out)
    };
    let where_params = tr.params.len();
    let result = match page_sql(name, columns, &mut tr, q) {
        Some(page) => {
            let mut count = tx.prepare_cached(&format!("SELECT count(*) FROM {name} WHERE {w}"))?;
            let n = count.parameter_count().min(where_params);
            let total: i64 = count.query_row(params_from_iter(&tr.params[..n]), |r| r.get(0))?;
            let total = u64::try_from(total).unwrap_or_default();
            let items = if q.paging.offset() >= total || q.paging.max_results == 0 {
                Vec::new()
            } else {
                collect(&page, &tr.params)?
            };
            (items, total)
        }
        None => {
            // A sort key the SQL cannot order by: sort the matches in Rust.
            let rows = collect(&format!("SELECT {columns} FROM {name} WHERE {w}"), &tr.params)?;
            let mut keyed: Vec<(T, Value)> = rows
                .into_iter()
                .map(|t| {
                    let j = to_json(&t);
                    (t, j)
                })
                .collect();
            keyed.sort_by(|(_, a), (_, b)| compare_docs(&q.sort, a, b));
            let total = u64::try_from(keyed.len()).unwrap_or(u64::MAX);
            let skip = usize::try_from(q.paging.offset()).unwrap_or(usize::MAX);
            let take = usize::try_from(q.paging.max_results).unwrap_or(usize::MAX);
            let items = keyed.into_iter().skip(skip).take(take).map(|(t, _)| t).collect();
            (items, total)
        }
    };
    drop(tr.guards);
    tx.commit()?;
    Ok(result)
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

/// `EXPLAIN QUERY PLAN` of the SQL `find(res, q)` runs (count, then page).
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
    let mut sqls = vec![format!("SELECT count(*) FROM {name} WHERE {}", tr.where_sql)];
    sqls.push(
        page_sql(name, DOC_SELECT, &mut tr, q)
            .unwrap_or_else(|| format!("SELECT {DOC_SELECT} FROM {name} WHERE {}", tr.where_sql)),
    );
    let mut out = Vec::new();
    for sql in sqls {
        let mut stmt = tx.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
        let n = stmt.parameter_count();
        let mut rows = stmt.query(params_from_iter(tr.params.iter().take(n)))?;
        while let Some(row) = rows.next()? {
            out.push(row.get::<_, String>(3)?);
        }
    }
    drop(tr.guards);
    tx.commit()?;
    Ok(out)
}
