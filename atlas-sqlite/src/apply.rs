//! The writes themselves, run by the writer thread inside its transaction
//! (each batch or queue operation in its own savepoint): record versions
//! (the current version in the resource's table; each version it replaces
//! moved to the history table, so together they hold every version), the
//! package side table, shape-catalog deltas, and the job queue's state
//! changes (which reuse [`Job::claim`], [`Job::finish`] and
//! [`Job::expire_lease`]). Semantics follow the reference `MemoryStore`.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use atlas_core::jobs::{Job, JobId, LeaseSpec, Outcome};
use atlas_core::model::{merge_patch, Doc, Etag, Id, Resource, Timestamp};
use atlas_core::schema::{unique_keys, UniqueKey};
use atlas_core::StoreError;
use rusqlite::types::{ToSqlOutput, Value as SqlValue, ValueRef};
use rusqlite::{params, params_from_iter, Connection, ErrorCode, OptionalExtension};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::migrations::packages;
use crate::prepare::{Applied, NewJob, NewRecord, Prepared, Step};
use crate::rows::{DocRow, JobRow, DOC_SELECT};
use crate::shape::ShapeDelta;
use crate::tables::{json_type, json_value, table_name, unique_key_by_index, JOBS};

/// The per-table statements of the write path (and `history`), built once.
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
            match load(conn, *res, id)? {
                Some(d) if d.deleted => return Ok(Applied::Doc(d)),
                Some(_) => {}
                None => {
                    return Err(StoreError::WriteTargetMissing {
                        write,
                        res: *res,
                        id: *id,
                    }
                    .into())
                }
            }
            let old = live_target(conn, write, *res, id, expect.as_ref())?;
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
    let doc = match load(conn, res, id)? {
        Some(d) if !d.deleted => d,
        _ => return Err(StoreError::WriteTargetMissing { write, res, id: *id }.into()),
    };
    if let Some(expected) = expect {
        if *expected != doc.etag {
            return Err(StoreError::PreconditionFailed {
                write,
                res,
                id: *id,
                expected: expected.to_string(),
                found: doc.etag.to_string(),
            }
            .into());
        }
    }
    Ok(doc)
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
        let json = serde_json::to_string(&doc.body)?;
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
        .execute(params![id, serde_json::to_string(&gone)?])?;
    }
    if !added.is_empty() {
        conn.prepare_cached(
            "INSERT OR IGNORE INTO instance_package(pkg, instance_id)
             SELECT value, ?1 FROM json_each(?2)",
        )?
        .execute(params![id, serde_json::to_string(&added)?])?;
    }
    Ok(())
}

/// Maps a failed record write: a unique clash becomes [`StoreError::Unique`]
/// naming the first clashing key in schema order (as the reference store
/// reports it), anything else stays a backend error.
fn unique_error(conn: &Connection, e: rusqlite::Error, write: usize, res: Resource, doc: &Doc) -> Error {
    let is_unique = matches!(
        &e,
        rusqlite::Error::SqliteFailure(f, _) if f.code == ErrorCode::ConstraintViolation
    );
    if !is_unique {
        return e.into();
    }
    for key in unique_keys(res) {
        match clashes(conn, res, key, doc) {
            Ok(Some(value)) => {
                return StoreError::Unique {
                    write,
                    res,
                    field: key.field.to_owned(),
                    value,
                }
                .into()
            }
            Ok(None) => {}
            Err(other) => return other,
        }
    }
    // Not found by value (exotic JSON): fall back to the index SQLite named.
    let index = e
        .to_string()
        .split("index '")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .map(str::to_owned);
    match index.and_then(|i| unique_key_by_index(res, &i)) {
        Some(key) => StoreError::Unique {
            write,
            res,
            field: key.field.to_owned(),
            value: key_values(key, doc)
                .map(|v| render_values(&v))
                .unwrap_or_default(),
        }
        .into(),
        None => e.into(),
    }
}

/// The values of `key`'s paths in `doc`, or `None` when the key does not
/// apply (a part missing or `null`, or the partial condition unmet).
fn key_values<'d>(key: &UniqueKey, doc: &'d Doc) -> Option<Vec<&'d Value>> {
    if let Some(cond) = key.only_when_true {
        if doc.field(cond) != Some(&Value::Bool(true)) {
            return None;
        }
    }
    key.paths
        .iter()
        .map(|p| doc.field(p).filter(|v| !v.is_null()))
        .collect()
}

/// Clashing values for people: strings bare, the rest as JSON.
fn render_values(values: &[&Value]) -> String {
    values
        .iter()
        .map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The rendered values when another live record has `doc`'s values of `key`.
fn clashes(conn: &Connection, res: Resource, key: &UniqueKey, doc: &Doc) -> Result<Option<String>, Error> {
    let Some(values) = key_values(key, doc) else {
        return Ok(None);
    };
    let t = table_name(res);
    let mut sql = format!("SELECT 1 FROM {t} WHERE deleted = 0 AND id <> ?1");
    let mut args = vec![SqlValue::Text(doc.id.to_string())];
    for (p, v) in key.paths.iter().zip(&values) {
        args.push(match v {
            Value::Bool(b) => SqlValue::Integer(i64::from(*b)),
            Value::Number(n) => match n.as_i64() {
                Some(i) => SqlValue::Integer(i),
                None => SqlValue::Real(n.as_f64().unwrap_or(0.0)),
            },
            Value::String(s) => SqlValue::Text(s.clone()),
            other => SqlValue::Text(other.to_string()),
        });
        sql.push_str(&format!(" AND {} = ?{}", json_value("body", p), args.len()));
    }
    if let Some(flag) = key.only_when_true {
        sql.push_str(&format!(" AND {} = 'true'", json_type("body", flag)));
    }
    let found = conn
        .prepare_cached(&sql)?
        .query_row(params_from_iter(args), |_| Ok(()))
        .optional()?;
    Ok(found.map(|()| render_values(&values)))
}

// ------------------------------------------------------------------ jobs

fn job_json(job: &Job) -> Result<(Value, String)> {
    let v = job.to_json();
    let s = serde_json::to_string(&v)?;
    Ok((v, s))
}

/// The job row's columns; the JSON text (and the key and status) are
/// borrowed, not copied.
fn job_params<'a>(job: &'a Job, json: &'a str) -> [ToSqlOutput<'a>; 7] {
    let text = |s: &'a str| ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes()));
    [
        ToSqlOutput::Owned(SqlValue::Text(job.id.to_string())),
        text(job.status.as_str()),
        job.key
            .as_deref()
            .map_or(ToSqlOutput::Owned(SqlValue::Null), text),
        ToSqlOutput::Owned(SqlValue::Integer(job.run_at.unix_seconds())),
        ToSqlOutput::Owned(SqlValue::Integer(job.created.unix_seconds())),
        ToSqlOutput::Owned(
            job.lease_until
                .map_or(SqlValue::Null, |t| SqlValue::Integer(t.unix_seconds())),
        ),
        text(json),
    ]
}

fn insert_job(conn: &Connection, new: &NewJob, delta: &mut ShapeDelta) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO jobs(id, status, key, run_at, created, lease_until, doc)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, jsonb(?7))",
    )?
    .execute(params_from_iter(job_params(&new.job, &new.json)))?;
    delta.add(JOBS.name, &new.shape);
    Ok(())
}

fn save_job(conn: &Connection, old: &Job, job: &Job, delta: &mut ShapeDelta) -> Result<()> {
    let (v, json) = job_json(job)?;
    conn.prepare_cached(
        "UPDATE jobs SET status = ?2, key = ?3, run_at = ?4, created = ?5, lease_until = ?6,
         doc = jsonb(?7) WHERE id = ?1",
    )?
    .execute(params_from_iter(job_params(job, &json)))?;
    delta.replace(JOBS.name, old.to_json().as_object(), v.as_object());
    Ok(())
}

/// One job.
pub(crate) fn load_job(conn: &Connection, id: &JobId) -> Result<Option<Job>> {
    let mut stmt = conn.prepare_cached("SELECT json(doc) FROM jobs WHERE id = ?1")?;
    let mut rows = stmt.query([id.to_string()])?;
    match rows.next()? {
        Some(row) => Ok(Some(JobRow::read(row, 0)?.0)),
        None => Ok(None),
    }
}

/// Leases the next claimable job (see `atlas_core::jobs`): queued and due,
/// no running job of its key, no queued job of its key created before it;
/// oldest `run_at`, then creation order.
pub(crate) fn claim(
    conn: &Connection,
    lease: &LeaseSpec,
    now: Timestamp,
    delta: &mut ShapeDelta,
) -> Result<Option<Job>> {
    let found = {
        let mut stmt = conn.prepare_cached(
            "SELECT json(j.doc) FROM jobs AS j
             WHERE j.status = 'queued' AND j.run_at <= ?1
               AND (j.key IS NULL OR NOT EXISTS (
                    SELECT 1 FROM jobs AS o
                    WHERE o.key = j.key
                      AND (o.status = 'running'
                           OR (o.status = 'queued'
                               AND (o.created < j.created OR (o.created = j.created AND o.id < j.id))))))
             ORDER BY j.run_at, j.created, j.id
             LIMIT 1",
        )?;
        let mut rows = stmt.query([now.unix_seconds()])?;
        match rows.next()? {
            Some(row) => Some(JobRow::read(row, 0)?.0),
            None => None,
        }
    };
    let Some(old) = found else {
        return Ok(None);
    };
    let mut job = old.clone();
    job.claim(lease, now);
    save_job(conn, &old, &job, delta)?;
    Ok(Some(job))
}

fn leased_job(conn: &Connection, id: &JobId, owner: &str) -> Result<Job> {
    let job = load_job(conn, id)?.ok_or(StoreError::JobNotFound(*id))?;
    if !job.leased_to(owner) {
        return Err(StoreError::LeaseLost {
            job: *id,
            owner: owner.to_owned(),
        }
        .into());
    }
    Ok(job)
}

/// Extends a running job's lease.
pub(crate) fn renew(
    conn: &Connection,
    id: &JobId,
    owner: &str,
    until: Timestamp,
    delta: &mut ShapeDelta,
) -> Result<()> {
    let old = leased_job(conn, id, owner)?;
    let mut job = old.clone();
    job.lease_until = Some(until);
    save_job(conn, &old, &job, delta)
}

/// Records an attempt's outcome and commits its follow-up batch (taken
/// out of `outcome` and prepared by the caller).
pub(crate) fn finish(
    conn: &Connection,
    id: &JobId,
    outcome: &Outcome,
    follow_up: &Prepared,
    delta: &mut ShapeDelta,
) -> Result<()> {
    let old = leased_job(conn, id, &outcome.owner)?;
    let mut job = old.clone();
    job.finish(outcome);
    apply_batch(conn, follow_up, delta)?;
    save_job(conn, &old, &job, delta)
}

/// Requeues (or dead-letters) running jobs whose lease ended by `now`.
pub(crate) fn requeue_expired(conn: &Connection, now: Timestamp, delta: &mut ShapeDelta) -> Result<u64> {
    let expired: Vec<Job> = {
        let mut stmt = conn.prepare_cached(
            "SELECT json(doc) FROM jobs WHERE status = 'running' AND lease_until <= ?1 ORDER BY id",
        )?;
        let mut rows = stmt.query([now.unix_seconds()])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(JobRow::read(row, 0)?.0);
        }
        out
    };
    for old in &expired {
        tracing::warn!(job.id = %old.id, job.kind = %old.kind, "lease expired; requeueing");
        let mut job = old.clone();
        job.expire_lease(now);
        save_job(conn, old, &job, delta)?;
    }
    Ok(u64::try_from(expired.len()).unwrap_or(u64::MAX))
}
