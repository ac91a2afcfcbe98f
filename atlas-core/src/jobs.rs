//! The durable job queue's data: [`JobSpec`] (what to enqueue), [`Job`] (a
//! queued job and its state), [`LeaseSpec`] (how a worker claims),
//! [`JobFailure`] (how a failed attempt ends) and the [`Backoff`] policy.
//! The queue itself is the [`Store`](crate::Store)'s.
//!
//! The life of a job is documented on [`Job`].

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub(crate) use crate::model::JobId;
use crate::model::Timestamp;
use crate::StoreError;

/// Default number of attempts before a job is dead-lettered.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;

/// A job to enqueue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSpec {
    /// What to do (`provision`, `deploy_code`, …); the worker dispatches on it.
    pub kind: String,
    /// Arguments of the job.
    pub payload: Value,
    /// Serialisation key: jobs sharing a key never run at once and run in
    /// creation order (an instance's id, say). `None` runs freely.
    pub key: Option<String>,
    /// Earliest time the job may run.
    pub run_at: Timestamp,
    /// Attempts before the job is dead-lettered.
    pub max_attempts: u32,
}

impl JobSpec {
    /// A job of `kind` with `payload`, runnable at `run_at`, with the default
    /// attempt budget and no key.
    pub fn new(kind: impl Into<String>, payload: Value, run_at: Timestamp) -> Self {
        Self {
            kind: kind.into(),
            payload,
            key: None,
            run_at,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
        }
    }

    /// Sets the serialisation key.
    pub fn keyed(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Sets the attempt budget (at least 1).
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    /// Waiting for `run_at` and a free key.
    Queued,
    /// Leased to a worker.
    Running,
    /// Finished successfully.
    Succeeded,
    /// Failed for good (out of attempts or not retryable): the dead letter.
    Dead,
}

impl JobStatus {
    /// The API string.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Dead => "dead",
        }
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A job as the queue holds it.
///
/// # Life of a job
/// - A job is claimable when it is `queued`, its `run_at` has come, no other
///   job with the same `key` is `running`, and no job with the same `key`
///   created before it is still `queued` (per-key FIFO: the jobs of one
///   instance run one at a time, in order).
/// - Claiming sets `running`, increments `attempts`, and leases the job to
///   the claimer until `now + lease.duration`.
/// - Finishing applies the outcome and its follow-up batch atomically. A
///   failure with a retry time goes back to `queued` unless `attempts` has
///   reached `max_attempts`, in which case the job is `dead` (dead letter),
///   keeping its last error.
/// - A running job whose lease expired is requeued by `requeue_expired` (or
///   dead-lettered when it has no attempts left).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Id.
    #[serde(rename = "_id")]
    pub id: JobId,
    /// Kind (see [`JobSpec::kind`]).
    pub kind: String,
    /// Arguments.
    pub payload: Value,
    /// Serialisation key.
    pub key: Option<String>,
    /// State.
    pub status: JobStatus,
    /// Claims so far.
    pub attempts: u32,
    /// Attempt budget.
    pub max_attempts: u32,
    /// Earliest next run.
    pub run_at: Timestamp,
    /// When enqueued.
    pub created: Timestamp,
    /// Last state change.
    pub updated: Timestamp,
    /// When the current or last attempt started.
    pub started: Option<Timestamp>,
    /// When it reached `succeeded` or `dead`.
    pub finished: Option<Timestamp>,
    /// Worker holding the lease while `running`.
    pub lease_owner: Option<String>,
    /// Lease expiry while `running`.
    pub lease_until: Option<Timestamp>,
    /// Error of the last failed attempt.
    pub last_error: Option<String>,
    /// What the job reported on success (command output, say).
    pub result: Option<Value>,
}

impl Job {
    /// A freshly enqueued job.
    pub fn from_spec(id: JobId, spec: JobSpec, now: Timestamp) -> Self {
        Self {
            id,
            kind: spec.kind,
            payload: spec.payload,
            key: spec.key,
            status: JobStatus::Queued,
            attempts: 0,
            max_attempts: spec.max_attempts.max(1),
            run_at: spec.run_at,
            created: now,
            updated: now,
            started: None,
            finished: None,
            lease_owner: None,
            lease_until: None,
            last_error: None,
            result: None,
        }
    }

    /// The job as the JSON document `/jobs` serves and filters evaluate.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// Applies a claim at `now` for `lease` (the queue calls this).
    pub fn claim(&mut self, lease: &LeaseSpec, now: Timestamp) {
        self.status = JobStatus::Running;
        self.attempts += 1;
        self.started = Some(now);
        self.updated = now;
        self.lease_owner = Some(lease.owner.clone());
        self.lease_until = Some(now.plus(lease.duration));
    }

    /// Applies the end of an attempt at `now` with `result` (the queue
    /// calls this after checking the lease).
    pub fn finish(&mut self, now: Timestamp, result: &Result<Value, JobFailure>) {
        self.updated = now;
        self.lease_owner = None;
        self.lease_until = None;
        match result {
            Ok(v) => {
                self.status = JobStatus::Succeeded;
                self.result = Some(v.clone());
                self.finished = Some(now);
            }
            Err(f) => {
                self.last_error = Some(f.error.clone());
                self.result = f.result.clone();
                match f.retry_at {
                    Some(at) if self.attempts < self.max_attempts => {
                        self.status = JobStatus::Queued;
                        self.run_at = at;
                    }
                    _ => {
                        self.status = JobStatus::Dead;
                        self.finished = Some(now);
                    }
                }
            }
        }
    }

    /// Applies lease expiry at `now` (the queue calls this for running jobs
    /// whose lease ran out).
    pub fn expire_lease(&mut self, now: Timestamp) {
        self.updated = now;
        self.lease_owner = None;
        self.lease_until = None;
        self.last_error = Some("lease expired: the worker stopped before finishing".into());
        if self.attempts < self.max_attempts {
            self.status = JobStatus::Queued;
            self.run_at = now;
        } else {
            self.status = JobStatus::Dead;
            self.finished = Some(now);
        }
    }

    /// Whether the lease is held by `owner` and still running.
    pub fn leased_to(&self, owner: &str) -> bool {
        self.status == JobStatus::Running && self.lease_owner.as_deref() == Some(owner)
    }

    /// [`Job::leased_to`] as the stores answer it.
    ///
    /// # Errors
    /// [`StoreError::LeaseLost`] when `owner` does not hold the lease.
    pub fn check_lease(&self, owner: &str) -> Result<(), StoreError> {
        if self.leased_to(owner) {
            return Ok(());
        }
        Err(StoreError::LeaseLost {
            job: self.id,
            owner: owner.to_owned(),
        })
    }

    /// Applies an operator's `action` at `now`; `false`, and nothing
    /// changes, when the job's status does not allow it.
    ///
    /// - [`JobAction::Retry`] needs a `dead` job: it becomes `queued`, due
    ///   `now`, with `attempts` back at 0 (a full attempt budget) and no
    ///   `finished`; `last_error` and `result` stay until the next attempt.
    /// - [`JobAction::Cancel`] needs a `queued` job (due or waiting for a
    ///   retry): it becomes `dead`, `finished` at `now`, with the reason as
    ///   `last_error`. A running job cannot be cancelled: its worker holds
    ///   the lease.
    pub fn act(&mut self, action: &JobAction, now: Timestamp) -> bool {
        match (action, self.status) {
            (JobAction::Retry, JobStatus::Dead) => {
                self.status = JobStatus::Queued;
                self.attempts = 0;
                self.run_at = now;
                self.finished = None;
            }
            (JobAction::Cancel { reason }, JobStatus::Queued) => {
                self.status = JobStatus::Dead;
                self.finished = Some(now);
                self.last_error = Some(reason.clone());
            }
            _ => return false,
        }
        self.updated = now;
        self.lease_owner = None;
        self.lease_until = None;
        true
    }
}

/// What an operator asks of one job (`POST /jobs/<id>/retry` and
/// `/cancel`); see [`Job::act`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JobAction {
    /// Run a dead job again, now, with a full attempt budget.
    Retry,
    /// Stop a queued job: it becomes dead with `reason` as its last error.
    Cancel {
        /// Why, and who asked (e.g. `cancelled by alice`).
        reason: String,
    },
}

impl JobAction {
    /// The status a job needs for this action.
    pub fn requires(&self) -> JobStatus {
        match self {
            JobAction::Retry => JobStatus::Dead,
            JobAction::Cancel { .. } => JobStatus::Queued,
        }
    }
}

/// How [`Store::act_on_job`](crate::Store::act_on_job) went.
#[derive(Debug, Clone, PartialEq)]
pub enum JobChange {
    /// The action was applied; the job as it now is.
    Applied(Job),
    /// The job's status does not allow the action; the job, unchanged.
    Refused(Job),
    /// No such job.
    Missing,
}

/// How a worker claims jobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseSpec {
    /// The claiming worker's name; finishing requires it.
    pub owner: String,
    /// How long the lease lasts without renewal.
    pub duration: Duration,
}

/// What a failed attempt reports.
#[derive(Debug, Clone, PartialEq)]
pub struct JobFailure {
    /// The error, for people.
    pub error: String,
    /// When to retry; `None` dead-letters at once.
    pub retry_at: Option<Timestamp>,
    /// Partial output worth keeping (command output, say).
    pub result: Option<Value>,
}

/// Exponential backoff with full jitter: attempt `n` (1-based) waits a
/// random time in `[base·2^(n-1) / 2, base·2^(n-1)]`, capped at `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay after the first failure (before jitter).
    pub base: Duration,
    /// Upper bound of any delay.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(30),
            max: Duration::from_secs(3600),
        }
    }
}

impl Backoff {
    /// The un-jittered delay after failed attempt `attempt` (1-based).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.saturating_sub(1)).unwrap_or(u32::MAX);
        self.base.checked_mul(factor).unwrap_or(self.max).min(self.max)
    }

    /// The jittered delay after failed attempt `attempt`, from `unit` in
    /// `[0, 1]` (pass `rand::random()`): half the ceiling plus up to half.
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        let c = self.ceiling(attempt).as_secs_f64();
        Duration::from_secs_f64(c / 2.0 + c / 2.0 * unit.clamp(0.0, 1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Id;
    use serde_json::json;

    fn t0() -> Timestamp {
        Timestamp::parse("2026-11-25 00:00:00 GMT").unwrap()
    }

    fn lease() -> LeaseSpec {
        LeaseSpec {
            owner: "w1".into(),
            duration: Duration::from_secs(60),
        }
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let b = Backoff {
            base: Duration::from_secs(10),
            max: Duration::from_secs(100),
        };
        assert_eq!(b.ceiling(1), Duration::from_secs(10));
        assert_eq!(b.ceiling(2), Duration::from_secs(20));
        assert_eq!(b.ceiling(4), Duration::from_secs(80));
        assert_eq!(b.ceiling(5), Duration::from_secs(100));
        assert_eq!(b.ceiling(60), Duration::from_secs(100));
        assert_eq!(b.delay(2, 0.0), Duration::from_secs(10));
        assert_eq!(b.delay(2, 1.0), Duration::from_secs(20));
    }

    #[test]
    fn failed_attempt_is_requeued_until_the_budget_is_spent() {
        let mut j = Job::from_spec(
            JobId(Id::generate(t0())),
            JobSpec::new("x", json!({}), t0()).max_attempts(2),
            t0(),
        );
        let fail = |at: Timestamp| {
            Err(JobFailure {
                error: "boom".into(),
                retry_at: Some(at.plus(Duration::from_secs(5))),
                result: None,
            })
        };
        j.claim(&lease(), t0());
        j.finish(t0(), &fail(t0()));
        assert_eq!(j.status, JobStatus::Queued);
        assert_eq!(j.run_at, t0().plus(Duration::from_secs(5)));
        j.claim(&lease(), t0());
        j.finish(t0(), &fail(t0()));
        assert_eq!(j.status, JobStatus::Dead);
        assert_eq!(j.last_error.as_deref(), Some("boom"));
    }

    #[test]
    fn expired_lease_requeues_or_dead_letters() {
        let mut j = Job::from_spec(
            JobId(Id::generate(t0())),
            JobSpec::new("x", json!({}), t0()).max_attempts(1),
            t0(),
        );
        j.claim(&lease(), t0());
        assert!(j.leased_to("w1"));
        j.expire_lease(t0());
        assert_eq!(j.status, JobStatus::Dead);
    }
}
