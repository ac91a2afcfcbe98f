//! The [`Store`] port: records, their version history, and the durable job
//! queue, with all-or-nothing [`Batch`] commits.
//!
//! # Contracts
//! - `commit` applies a batch atomically: either every precondition and
//!   unique constraint holds and every write lands, or nothing changes and
//!   the error names the failing write's index.
//! - Jobs enqueued in a batch become visible exactly when the batch's record
//!   writes do (transactional outbox).
//! - Unique constraints are those of [`crate::schema::unique_keys`]; soft-deleted
//!   records never count, and a key with a missing or `null` part is not
//!   enforced.
//! - Etags are [`Doc::compute_etag`] of the written version, so every store
//!   agrees on them.
//! - Stores never read a clock: time arrives in the batch (`now`) or as an
//!   argument.

pub(crate) mod memory;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use crate::batch::{Batch, Committed};
use crate::error::StoreError;
use crate::jobs::{Job, JobAction, JobChange, JobFailure, JobId, LeaseSpec};
use crate::model::{Doc, Etag, Id, Resource, Timestamp};
use crate::query::FindQuery;

/// How an attempt ended, with the records it changes: what a worker hands
/// to [`Store::finish`].
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The worker that held the lease.
    pub owner: String,
    /// When the attempt ended.
    pub now: Timestamp,
    /// Success with a result, or failure.
    pub result: Result<Value, JobFailure>,
    /// Writes committed atomically with the job's new state (an instance
    /// moving to `available`, say). Empty when there are none.
    pub follow_up: Batch,
}

/// The live record write number `write` of a batch targets (`found`, the
/// current version of `res`/`id` or `None`), checked against the etag the
/// write expects: the one rule every store applies to updates, replaces
/// and deletes.
///
/// # Errors
/// [`StoreError::WriteTargetMissing`] for a missing or deleted record;
/// [`StoreError::PreconditionFailed`] for another etag.
pub fn write_target<D: std::borrow::Borrow<Doc>>(
    found: Option<D>,
    write: usize,
    res: Resource,
    id: &Id,
    expect: Option<&Etag>,
) -> Result<D, StoreError> {
    let doc = match found {
        Some(d) if !d.borrow().deleted => d,
        _ => return Err(StoreError::WriteTargetMissing { write, res, id: *id }),
    };
    if let Some(expected) = expect {
        let etag = &doc.borrow().etag;
        if expected != etag {
            return Err(StoreError::PreconditionFailed {
                write,
                res,
                id: *id,
                expected: expected.to_string(),
                found: etag.to_string(),
            });
        }
    }
    Ok(doc)
}

/// A page of records plus the total number matching.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FindPage {
    /// The page's records.
    pub items: Vec<Doc>,
    /// How many records match in all; with [`FindQuery::count`] `false`,
    /// possibly only a lower bound (the store may skip counting; see
    /// [`FindQuery::total_from_page`]).
    pub total: u64,
}

/// A page of jobs plus the total number matching.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JobPage {
    /// The page's jobs.
    pub items: Vec<Job>,
    /// How many jobs match in all.
    pub total: u64,
}

/// Records, versions and the job queue. Share as `Arc<dyn Store>`.
#[async_trait]
pub trait Store: Send + Sync + fmt::Debug + 'static {
    /// The current version of a record.
    ///
    /// # Behavior
    /// Returns soft-deleted records too (`deleted: true`); callers decide
    /// whether that is a 404.
    ///
    /// # Errors
    /// [`StoreError::Backend`] only.
    async fn get(&self, res: Resource, id: &Id) -> Result<Option<Doc>, StoreError>;

    /// Records matching a query.
    ///
    /// # Behavior
    /// Evaluates the filter exactly as [`crate::query`]'s evaluator does
    /// against [`Doc::to_json`]; orders by the sort keys then `_id`; returns
    /// the requested page and the total. Soft-deleted records are left out
    /// unless `show_deleted` is set or the filter mentions `_deleted`.
    ///
    /// # Errors
    /// [`StoreError::Backend`] only.
    async fn find(&self, res: Resource, q: &FindQuery) -> Result<FindPage, StoreError>;

    /// Every version of a record, oldest first (a delete is a version).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the record never existed.
    async fn history(&self, res: Resource, id: &Id) -> Result<Vec<Doc>, StoreError>;

    /// Applies a batch.
    ///
    /// # Behavior
    /// All-or-nothing: on any failed precondition, missing target or unique
    /// clash nothing changes. A caller is answered only once the batch is
    /// durable.
    ///
    /// # Errors
    /// [`StoreError::PreconditionFailed`], [`StoreError::Unique`] or
    /// [`StoreError::WriteTargetMissing`] naming the write's index;
    /// [`StoreError::Backend`].
    async fn commit(&self, batch: Batch) -> Result<Committed, StoreError>;

    /// Leases the next claimable job (see [`Job`](crate::Job)) to `lease.owner`.
    ///
    /// # Behavior
    /// Each job is handed to exactly one claimer. Oldest `run_at` first,
    /// then creation order.
    ///
    /// # Errors
    /// [`StoreError::Backend`] only.
    async fn claim(&self, lease: &LeaseSpec, now: Timestamp) -> Result<Option<Job>, StoreError>;

    /// Extends the lease of a running job to `until`.
    ///
    /// # Errors
    /// [`StoreError::LeaseLost`] when `owner` no longer holds it;
    /// [`StoreError::JobNotFound`].
    async fn renew(&self, job: &JobId, owner: &str, until: Timestamp) -> Result<(), StoreError>;

    /// Records how an attempt ended and commits its follow-up batch, atomically.
    ///
    /// # Behavior
    /// See [`Job`](crate::Job) for the resulting state. If the follow-up batch
    /// fails nothing changes: the job stays running.
    ///
    /// # Errors
    /// [`StoreError::LeaseLost`] when `outcome.owner` no longer holds the
    /// lease; the follow-up batch's errors; [`StoreError::JobNotFound`].
    async fn finish(&self, job: &JobId, outcome: Outcome) -> Result<(), StoreError>;

    /// Requeues (or dead-letters) running jobs whose lease ended before `now`.
    ///
    /// # Errors
    /// [`StoreError::Backend`] only.
    async fn requeue_expired(&self, now: Timestamp) -> Result<u64, StoreError>;

    /// One job.
    ///
    /// # Errors
    /// [`StoreError::Backend`] only.
    async fn job(&self, id: &JobId) -> Result<Option<Job>, StoreError>;

    /// Jobs matching a query, evaluated against [`Job::to_json`]
    /// (`show_deleted` is meaningless here).
    ///
    /// # Errors
    /// [`StoreError::Backend`] only.
    async fn find_jobs(&self, q: &FindQuery) -> Result<JobPage, StoreError>;

    /// Makes `owner` the one process acting as `role` (the periodic
    /// scheduler uses [`SCHEDULER_ROLE`]) until `until`, unless another
    /// owner holds the role past `now`.
    ///
    /// # Behavior
    /// Answers `true` when `owner` holds the role after the call: it held
    /// it and renews, nobody held it, or the holder's time ran out
    /// (takeover). A store that several processes share keeps one holder
    /// at a time; the default, for stores one process opens, always
    /// answers `true`.
    ///
    /// # Errors
    /// [`StoreError::Backend`] only.
    async fn lead(
        &self,
        role: &str,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StoreError> {
        let _ = (role, owner, now, until);
        Ok(true)
    }

    /// Applies an operator's action to one job, atomically: reads it,
    /// applies [`Job::act`] at `now` and stores the result, so a worker's
    /// concurrent claim or finish sees the job either before or after.
    ///
    /// # Behavior
    /// [`JobChange::Applied`] with the new job; [`JobChange::Refused`] with
    /// the unchanged job when its status does not allow the action (see
    /// [`Job::act`]); [`JobChange::Missing`] when there is no such job.
    ///
    /// # Errors
    /// [`StoreError::Backend`] only.
    async fn act_on_job(
        &self,
        id: &JobId,
        action: &JobAction,
        now: Timestamp,
    ) -> Result<JobChange, StoreError>;
}

/// The role of the periodic scheduler in [`Store::lead`]: one scheduler
/// across every process sharing a store.
pub const SCHEDULER_ROLE: &str = "scheduler";

/// Conveniences over [`Store`].
#[async_trait]
pub trait StoreExt: Store {
    /// The record, or [`StoreError::NotFound`].
    async fn require(&self, res: Resource, id: &Id) -> Result<Doc, StoreError> {
        self.get(res, id)
            .await?
            .ok_or_else(|| StoreError::not_found(res, id))
    }

    /// The live (not soft-deleted) record, if any.
    async fn get_live(&self, res: Resource, id: &Id) -> Result<Option<Doc>, StoreError> {
        Ok(self.get(res, id).await?.filter(|d| !d.deleted))
    }
}

impl<S: Store + ?Sized> StoreExt for S {}

#[async_trait]
impl<S: Store + ?Sized> Store for Arc<S> {
    async fn get(&self, res: Resource, id: &Id) -> Result<Option<Doc>, StoreError> {
        (**self).get(res, id).await
    }
    async fn find(&self, res: Resource, q: &FindQuery) -> Result<FindPage, StoreError> {
        (**self).find(res, q).await
    }
    async fn history(&self, res: Resource, id: &Id) -> Result<Vec<Doc>, StoreError> {
        (**self).history(res, id).await
    }
    async fn commit(&self, batch: Batch) -> Result<Committed, StoreError> {
        (**self).commit(batch).await
    }
    async fn claim(&self, lease: &LeaseSpec, now: Timestamp) -> Result<Option<Job>, StoreError> {
        (**self).claim(lease, now).await
    }
    async fn renew(&self, job: &JobId, owner: &str, until: Timestamp) -> Result<(), StoreError> {
        (**self).renew(job, owner, until).await
    }
    async fn finish(&self, job: &JobId, outcome: Outcome) -> Result<(), StoreError> {
        (**self).finish(job, outcome).await
    }
    async fn requeue_expired(&self, now: Timestamp) -> Result<u64, StoreError> {
        (**self).requeue_expired(now).await
    }
    async fn job(&self, id: &JobId) -> Result<Option<Job>, StoreError> {
        (**self).job(id).await
    }
    async fn find_jobs(&self, q: &FindQuery) -> Result<JobPage, StoreError> {
        (**self).find_jobs(q).await
    }
    async fn lead(
        &self,
        role: &str,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StoreError> {
        (**self).lead(role, owner, now, until).await
    }
    async fn act_on_job(
        &self,
        id: &JobId,
        action: &JobAction,
        now: Timestamp,
    ) -> Result<JobChange, StoreError> {
        (**self).act_on_job(id, action, now).await
    }
}
