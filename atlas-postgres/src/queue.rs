//! The job queue's statements for many workers on many nodes.
//!
//! - **Claim**: one statement picks the oldest claimable job with
//!   `FOR UPDATE SKIP LOCKED`, so concurrent claimers (any node) never wait
//!   on each other and never get the same job.
//! - **Per-key exclusion**: a job is claimable only when no job of its key
//!   is running and none created before it is queued. A claimer that skips
//!   a key's locked head still sees that head as queued, so it cannot take
//!   the next job of the key; the head becomes `running` in the same
//!   transaction that locked it. So two jobs of one key never run at once,
//!   whichever nodes the workers are on.
//! - **Leases**: a claim leases the job until `now + lease`; `renew`,
//!   `finish` check the owner under the row lock; `requeue_expired` (any
//!   node) takes over jobs whose lease ran out.
//! - **Wake-up**: once a transaction that made a job claimable has
//!   committed, the store sends a notification on its channel (`wake`,
//!   after the commit and coalesced); see [`crate::listen`].

use crate::db::{self, Tx};
use atlas_core::model::Timestamp;
use atlas_core::{Job, JobAction, JobChange, JobId, JobStatus, LeaseSpec, StoreError};

use crate::error::Result;
use crate::rows::{self, secs};

const CLAIMABLE: &str = "SELECT j.doc FROM jobs j \
     WHERE j.status = 'queued' AND j.run_at <= $1 \
     AND (j.key IS NULL OR NOT EXISTS ( \
         SELECT 1 FROM jobs o WHERE o.key = j.key AND ( \
             o.status = 'running' \
             OR (o.status = 'queued' AND (o.created, o.id) < (j.created, j.id))))) \
     ORDER BY j.run_at, j.created, j.id \
     LIMIT 1 \
     FOR UPDATE OF j SKIP LOCKED";

/// Claims the next claimable job for `lease`.
pub(crate) async fn claim(tx: &Tx<'_>, lease: &LeaseSpec, now: Timestamp) -> Result<Option<Job>> {
    let Some(row) = db::query_opt(tx, CLAIMABLE, &[&secs(now)]).await? else {
        return Ok(None);
    };
    let mut job = rows::job(&row, 0)?;
    job.claim(lease, now);
    save(tx, &job).await?;
    Ok(Some(job))
}

/// Writes a job's state back to its row.
pub(crate) async fn save(tx: &Tx<'_>, job: &Job) -> Result<()> {
    db::execute(
        tx,
        "UPDATE jobs SET status = $2, run_at = $3, lease_until = $4, doc = $5 WHERE id = $1",
        &[
            &job.id.to_string(),
            &job.status.as_str(),
            &secs(job.run_at),
            &job.lease_until.map(secs),
            &rows::job_json(job),
        ],
    )
    .await?;
    Ok(())
}

/// The job, its row locked until the transaction ends.
pub(crate) async fn locked(tx: &Tx<'_>, id: &JobId) -> Result<Job> {
    let row = db::query_opt(
        tx,
        "SELECT doc FROM jobs WHERE id = $1 FOR UPDATE",
        &[&id.to_string()],
    )
    .await?
    .ok_or(StoreError::JobNotFound(*id))?;
    rows::job(&row, 0)
}

/// Applies an operator's `action` to job `id` under its row lock (the
/// store wakes the workers of every node when the job is queued again).
pub(crate) async fn act_on(tx: &Tx<'_>, id: &JobId, action: &JobAction, now: Timestamp) -> Result<JobChange> {
    let Some(row) = db::query_opt(
        tx,
        "SELECT doc FROM jobs WHERE id = $1 FOR UPDATE",
        &[&id.to_string()],
    )
    .await?
    else {
        return Ok(JobChange::Missing);
    };
    let mut job = rows::job(&row, 0)?;
    if !job.act(action, now) {
        return Ok(JobChange::Refused(job));
    }
    save(tx, &job).await?;
    Ok(JobChange::Applied(job))
}

/// The job, locked, when `owner` holds its lease.
pub(crate) async fn leased(tx: &Tx<'_>, id: &JobId, owner: &str) -> Result<Job> {
    let job = locked(tx, id).await?;
    job.check_lease(owner)?;
    Ok(job)
}

/// Requeues (or dead-letters) running jobs whose lease ended by `now`;
/// returns how many and whether any went back to the queue.
pub(crate) async fn requeue_expired(tx: &Tx<'_>, now: Timestamp) -> Result<(u64, bool)> {
    let rows = db::query(
        tx,
        "SELECT doc FROM jobs WHERE status = 'running' AND lease_until <= $1 \
             FOR UPDATE SKIP LOCKED",
        &[&secs(now)],
    )
    .await?;
    let mut requeued = false;
    for row in &rows {
        let mut job = rows::job(row, 0)?;
        tracing::warn!(job.id = %job.id, job.kind = %job.kind, "lease expired; requeueing");
        job.expire_lease(now);
        requeued |= job.status == JobStatus::Queued;
        save(tx, &job).await?;
    }
    Ok((rows.len() as u64, requeued))
}
