//! Applying a prepared batch, run by the writer thread inside its
//! transaction: record versions (the current version in the resource's
//! table; each version it replaces moved to the history table, so together
//! they hold every version), the package side table and shape-catalog
//! deltas; enqueued jobs are stored by `queue.rs`, unique clashes named by
//! `unique_clash.rs`. Semantics follow the reference `MemoryStore`.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use atlas_core::model::{merge_patch, Doc, Etag, Id, Resource, Timestamp};
use atlas_core::{write_target, Committed, StoreError};
use rusqlite::{params, Connection, OptionalExtension};

use crate::error::Result;
use crate::migrations::packages;
use crate::prepare::{Applied, NewRecord, Prepared, Step};
use crate::queue::insert_job;
use crate::request::Change;
use crate::rows::{to_json, DocRow, DOC_SELECT};
use crate::shape::ShapeDelta;
use crate::tables::table_name;
use crate::unique_clash::unique_error;

/// `Store::commit`: a batch, answered with what it wrote.
impl Change for Prepared {
    type Ran = Vec<Applied>;
    type Answer = Committed;

    fn run(&self, conn: &Connection, delta: &mut ShapeDelta) -> Result<Vec<Applied>> {
        apply_batch(conn, self, delta)
    }

    fn answer(self, applied: Vec<Applied>) -> Committed {
        self.into_committed(applied)
    }
}

/// The per-table statements of the write path (and `history`), built once.
#[derive(Debug)]
pub(crate) struct Sqls {
    load: String,
    taken: String,
    insert: String,
    update_body: String,
    update_meta: String,
    history: String,
    /// Every version of a record, oldest first.
    pub(crate) versions: String,
}

/// The statements of `res`'s table.
pub(crate) fn sqls(res: Resource) -> &'static Sqls {
    static ALL: OnceLock<Vec<Sqls>> = OnceLock::new();
    let all = ALL.get_or_init(|| {
        Resource::ALL
            .iter()
            .map(|r| {
                let t = table_name(*r);
                Sqls {
                    load: format!("SELECT {DOC_SELECT} FROM {t} WHERE id = ?1"),
                    taken: format!("SELECT 1 FROM {t} WHERE id = ?1"),
                    insert: format!(
                        "INSERT INTO {t}(id, etag, created, updated, version, deleted, body)
                         VALUES (?1, ?2, ?3, ?4, ?5, 0, jsonb(?6))"
                    ),
                    update_body: format!(
                        "UPDATE {t} SET etag = ?2, updated = ?3, version = ?4, deleted = ?5, body = jsonb(?6)
                         WHERE id = ?1"
                    ),
                    update_meta: format!(
                        "UPDATE {t} SET etag = ?2, updated = ?3, version = ?4, deleted = ?5 WHERE id = ?1"
                    ),
                    history: format!(
                        "INSERT INTO history(res, id, version, etag, created, updated, deleted, body)
                         SELECT ?1, id, version, etag, created, updated, deleted, body FROM {t} WHERE id = ?2"
                    ),
                    versions: format!(
                        "SELECT {DOC_SELECT} FROM (
                             SELECT seq, id, etag, created, updated, version, deleted, body
                             FROM history WHERE res = ?1 AND id = ?2
                             UNION ALL
                             SELECT 9223372036854775807, id, etag, created, updated, version, deleted, body
                             FROM {t} WHERE id = ?2)
                         ORDER BY seq"
                    ),
                }
            })
            .collect()
    });
    let i = Resource::ALL.iter().position(|r| *r == res).unwrap_or_default();
    &all[i]
}

/// Applies `batch` in order; the first failing write fails the whole batch
/// (the caller rolls it back). The batch is only borrowed, so it can be
/// applied again after a rollback.
pub(crate) fn apply_batch(
    conn: &Connection,
    batch: &Prepared,
    delta: &mut ShapeDelta,
) -> Result<Vec<Applied>> {
    let mut applied = Vec::with_capacity(batch.steps.len());
    for (write, step) in batch.steps.iter().enumerate() {
        applied.push(apply_one(conn, write, step, batch.now, delta)?);
    }
    Ok(applied)
}

fn apply_one(
    conn: &Connection,
    write: usize,
    step: &Step,
    now: Timestamp,
    delta: &mut ShapeDelta,
) -> Result<Applied> {
    let doc = match step {
        Step::Insert(rec) => {
            insert(conn, write, rec, delta)?;
            return Ok(Applied::Inserted);
        }
        Step::Enqueue(job) => {
            insert_job(conn, job, delta)?;
            return Ok(Applied::Enqueued);
        }
        Step::Update {
            res,
            id,
            patch,
            expect,
        } => {
            let old = live_target(conn, write, *res, id, expect.as_ref())?;
            let mut body = old.body.clone();
            merge_patch(&mut body, patch);
            let mut doc = old.clone();
            doc.body = body;
            write_version(conn, write, *res, &old, doc, now, delta)?
        }
        Step::Replace {
            res,
            id,
            body,
            expect,
        } => {
            let old = live_target(conn, write, *res, id, expect.as_ref())?;
            let mut doc = old.clone();
            doc.body = body.clone();
            write_version(conn, write, *res, &old, doc, now, delta)?
        }
        Step::Delete { res, id, expect } => {
            let found = load(conn, *res, id)?;
            if let Some(gone) = found.as_ref().filter(|d| d.deleted) {
                return Ok(Applied::Doc(gone.clone()));
            }
            let old = write_target(found, write, *res, id, expect.as_ref())?;
            let mut doc = old.clone();
            doc.deleted = true;
            write_version(conn, write, *res, &old, doc, now, delta)?
        }
    };
    Ok(Applied::Doc(doc))
}

/// The current version of a record.
pub(crate) fn load(conn: &Connection, res: Resource, id: &Id) -> Result<Option<Doc>> {
    let mut stmt = conn.prepare_cached(&sqls(res).load)?;
    let mut rows = stmt.query([id.to_string()])?;
    match rows.next()? {
        Some(row) => Ok(Some(DocRow::read(row)?.0)),
        None => Ok(None),
    }
}

fn live_target(
    conn: &Connection,
    write: usize,
    res: Resource,
    id: &Id,
    expect: Option<&Etag>,
) -> Result<Doc> {
    Ok(write_target(load(conn, res, id)?, write, res, id, expect)?)
}

fn insert(conn: &Connection, write: usize, rec: &NewRecord, delta: &mut ShapeDelta) -> Result<()> {
    let (res, doc) = (rec.res, &rec.doc);
    conn.prepare_cached(&sqls(res).insert)?
        .execute(params![
            doc.id.to_string(),
            doc.etag.as_str(),
            doc.created.unix_seconds(),
            doc.updated.unix_seconds(),
            version_sql(doc.version),
            rec.json
        ])
        .map_err(|e| match id_taken(conn, res, &doc.id) {
            // The reference reports a taken id before any other clash.
            Ok(true) => StoreError::Unique {
                write,
                res,
                field: "_id".into(),
                value: doc.id.to_string(),
            }
            .into(),
            Ok(false) => unique_error(conn, e, write, res, doc),
            Err(other) => other,
        })?;
    if !rec.packages.is_empty() {
        sync_packages(conn, &doc.id, &BTreeSet::new(), &rec.packages)?;
    }
    delta.add(table_name(res), &rec.shape);
    Ok(())
}

fn id_taken(conn: &Connection, res: Resource, id: &Id) -> Result<bool> {
    Ok(conn
        .prepare_cached(&sqls(res).taken)?
        .query_row([id.to_string()], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Stamps `doc` as the version after `old` at `now` and stores it.
fn write_version(
    conn: &Connection,
    write: usize,
    res: Resource,
    old: &Doc,
    mut doc: Doc,
    now: Timestamp,
    delta: &mut ShapeDelta,
) -> Result<Doc> {
    let t = table_name(res);
    doc.version += 1;
    doc.updated = now;
    doc.etag = doc.compute_etag();
    let body_changed = doc.body != old.body;
    let id = doc.id.to_string();
    // The version being replaced moves to the history table.
    add_history(conn, res, &doc.id)?;
    let result = if body_changed {
        let json = to_json("a record body", &doc.body)?;
        conn.prepare_cached(&sqls(res).update_body)?.execute(params![
            id,
            doc.etag.as_str(),
            doc.updated.unix_seconds(),
            version_sql(doc.version),
            doc.deleted,
            json
        ])
    } else {
        conn.prepare_cached(&sqls(res).update_meta)?.execute(params![
            id,
            doc.etag.as_str(),
            doc.updated.unix_seconds(),
            version_sql(doc.version),
            doc.deleted
        ])
    };
    result.map_err(|e| unique_error(conn, e, write, res, &doc))?;
    if body_changed {
        if res == Resource::Instance {
            sync_packages(conn, &doc.id, &packages(&old.body), &packages(&doc.body))?;
        }
        delta.replace(t, Some(&old.body), Some(&doc.body));
    }
    Ok(doc)
}

fn version_sql(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn add_history(conn: &Connection, res: Resource, id: &Id) -> Result<()> {
    conn.prepare_cached(&sqls(res).history)?
        .execute(params![table_name(res), id.to_string()])?;
    Ok(())
}

fn sync_packages(conn: &Connection, id: &Id, old: &BTreeSet<String>, new: &BTreeSet<String>) -> Result<()> {
    // One statement per direction, each taking its package ids as a JSON array.
    let gone: Vec<&String> = old.difference(new).collect();
    let added: Vec<&String> = new.difference(old).collect();
    let id = id.to_string();
    if !gone.is_empty() {
        conn.prepare_cached(
            "DELETE FROM instance_package
             WHERE instance_id = ?1 AND pkg IN (SELECT value FROM json_each(?2))",
        )?
        .execute(params![id, to_json("package ids", &gone)?])?;
    }
    if !added.is_empty() {
        conn.prepare_cached(
            "INSERT OR IGNORE INTO instance_package(pkg, instance_id)
             SELECT value, ?1 FROM json_each(?2)",
        )?
        .execute(params![id, to_json("package ids", &added)?])?;
    }
    Ok(())
}
