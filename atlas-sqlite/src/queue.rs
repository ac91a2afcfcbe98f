//! The job queue's state changes, run by the writer thread inside its
//! transaction: storing enqueued jobs, and the [`Claim`], [`Renew`],
//! [`Finish`], [`RequeueExpired`] and [`ActOnJob`] changes of the `Store`
//! job API (which reuse [`Job::claim`], [`Job::finish`],
//! [`Job::expire_lease`] and [`Job::act`]), each
//! answered with its own type. Semantics follow the reference
//! `MemoryStore`.

use atlas_core::model::Timestamp;
use atlas_core::{Job, JobAction, JobChange, JobId, LeaseSpec, Outcome, StoreError};
use rusqlite::types::{ToSqlOutput, Value as SqlValue, ValueRef};
use rusqlite::{params_from_iter, Connection};
use serde_json::Value;

use crate::apply::apply_batch;
use crate::error::Result;
use crate::prepare::{NewJob, Prepared};
use crate::request::Change;
use crate::rows::{to_json, JobRow};
use crate::shape::ShapeDelta;
use crate::tables::JOBS;

/// `Store::claim`: leases the next claimable job to `lease.owner`.
#[derive(Debug)]
pub(crate) struct Claim {
    /// Who takes the lease, for how long.
    pub(crate) lease: LeaseSpec,
    /// The time of the claim.
    pub(crate) now: Timestamp,
}

impl Change for Claim {
    type Ran = Option<Job>;
    type Answer = Option<Job>;

    fn run(&self, conn: &Connection, delta: &mut ShapeDelta) -> Result<Option<Job>> {
        claim(conn, &self.lease, self.now, delta)
    }

    fn answer(self, job: Option<Job>) -> Option<Job> {
        job
    }
}

/// `Store::renew`: extends a running job's lease.
#[derive(Debug)]
pub(crate) struct Renew {
    /// The job.
    pub(crate) job: JobId,
    /// The owner that must hold its lease.
    pub(crate) owner: String,
    /// The lease's new end.
    pub(crate) until: Timestamp,
}

impl Change for Renew {
    type Ran = ();
    type Answer = ();

    fn run(&self, conn: &Connection, delta: &mut ShapeDelta) -> Result<()> {
        renew(conn, &self.job, &self.owner, self.until, delta)
    }

    fn answer(self, _: ()) {}
}

/// `Store::finish`: records an attempt's outcome and commits its follow-up
/// batch.
#[derive(Debug)]
pub(crate) struct Finish {
    /// The job.
    pub(crate) job: JobId,
    /// The attempt's outcome, its follow-up batch taken out.
    pub(crate) outcome: Outcome,
    /// The follow-up batch, prepared.
    pub(crate) follow_up: Prepared,
}

impl Change for Finish {
    type Ran = ();
    type Answer = ();

    fn run(&self, conn: &Connection, delta: &mut ShapeDelta) -> Result<()> {
        finish(conn, &self.job, &self.outcome, &self.follow_up, delta)
    }

    fn answer(self, _: ()) {}
}

/// `Store::requeue_expired`: requeues (or dead-letters) running jobs whose
/// lease ended; answered with how many.
#[derive(Debug)]
pub(crate) struct RequeueExpired {
    /// The time leases are compared with.
    pub(crate) now: Timestamp,
}

impl Change for RequeueExpired {
    type Ran = u64;
    type Answer = u64;

    fn run(&self, conn: &Connection, delta: &mut ShapeDelta) -> Result<u64> {
        requeue_expired(conn, self.now, delta)
    }

    fn answer(self, n: u64) -> u64 {
        n
    }
}

/// `Store::act_on_job`: an operator's retry or cancel of one job.
#[derive(Debug)]
pub(crate) struct ActOnJob {
    /// The job.
    pub(crate) job: JobId,
    /// What to do.
    pub(crate) action: JobAction,
    /// The time of the action.
    pub(crate) now: Timestamp,
}

impl Change for ActOnJob {
    type Ran = JobChange;
    type Answer = JobChange;

    fn run(&self, conn: &Connection, delta: &mut ShapeDelta) -> Result<JobChange> {
        let Some(old) = load_job(conn, &self.job)? else {
            return Ok(JobChange::Missing);
        };
        let mut job = old.clone();
        if !job.act(&self.action, self.now) {
            return Ok(JobChange::Refused(old));
        }
        save_job(conn, &old, &job, delta)?;
        Ok(JobChange::Applied(job))
    }

    fn answer(self, change: JobChange) -> JobChange {
        change
    }
}

/// A job's JSON, and its text to store.
fn job_json(job: &Job) -> Result<(Value, String)> {
    let v = job.to_json();
    let s = to_json("a job", &v)?;
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

/// Stores a job enqueued by a batch.
pub(crate) fn insert_job(conn: &Connection, new: &NewJob, delta: &mut ShapeDelta) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO jobs(id, status, key, run_at, created, lease_until, doc)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, jsonb(?7))",
    )?
    .execute(params_from_iter(job_params(&new.job, &new.json)))?;
    delta.add(JOBS.name, &new.shape);
    Ok(())
}

/// Stores `job`, the new state of `old`.
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
fn claim(
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

/// The job `id`, as long as `owner` holds its lease.
fn leased_job(conn: &Connection, id: &JobId, owner: &str) -> Result<Job> {
    let job = load_job(conn, id)?.ok_or(StoreError::JobNotFound(*id))?;
    job.check_lease(owner)?;
    Ok(job)
}

/// Extends a running job's lease.
fn renew(conn: &Connection, id: &JobId, owner: &str, until: Timestamp, delta: &mut ShapeDelta) -> Result<()> {
    let old = leased_job(conn, id, owner)?;
    let mut job = old.clone();
    job.lease_until = Some(until);
    save_job(conn, &old, &job, delta)
}

/// Records an attempt's outcome and commits its follow-up batch (taken
/// out of `outcome` and prepared by the caller).
fn finish(
    conn: &Connection,
    id: &JobId,
    outcome: &Outcome,
    follow_up: &Prepared,
    delta: &mut ShapeDelta,
) -> Result<()> {
    let old = leased_job(conn, id, &outcome.owner)?;
    let mut job = old.clone();
    job.finish(outcome.now, &outcome.result);
    apply_batch(conn, follow_up, delta)?;
    save_job(conn, &old, &job, delta)
}

/// Requeues (or dead-letters) running jobs whose lease ended by `now`.
fn requeue_expired(conn: &Connection, now: Timestamp, delta: &mut ShapeDelta) -> Result<u64> {
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
