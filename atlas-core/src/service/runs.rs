//! Command runs: how a `command_run` went across its instances. The run
//! job finishes once it has fanned out; its outcome is that of its
//! `command_instance` jobs, read from the queue whenever the run is read,
//! so it is always current and never needs a write of its own.

use serde::Serialize;
use serde_json::Value;

use crate::jobs::{Job, JobStatus};
use crate::model::JobId;
use crate::query::{Filter, FindQuery};
use crate::service::{Service, ServiceError};
use crate::task::Task;

/// How a command run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunOutcome {
    /// Some instance jobs are still queued or running.
    Running,
    /// Every instance job succeeded (or there were none).
    Succeeded,
    /// Every instance job finished and at least one failed.
    Failed,
}

/// The tally of a command run's instance jobs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunSummary {
    /// Instance jobs the run fanned out.
    pub total: u64,
    /// Those that succeeded.
    pub succeeded: u64,
    /// Those that failed for good.
    pub failed: u64,
    /// Those still queued or running.
    pub pending: u64,
    /// The sids (or, before the job recorded one, instance ids) of the
    /// failed instances.
    pub failed_sids: Vec<String>,
    /// The run's outcome: failed when any instance failed.
    pub outcome: RunOutcome,
}

impl RunSummary {
    /// Tallies `children`, the instance jobs of one run.
    pub fn of(children: &[Job]) -> Self {
        let mut s = RunSummary {
            total: children.len() as u64,
            succeeded: 0,
            failed: 0,
            pending: 0,
            failed_sids: Vec::new(),
            outcome: RunOutcome::Succeeded,
        };
        for job in children {
            match job.status {
                JobStatus::Succeeded => s.succeeded += 1,
                JobStatus::Queued | JobStatus::Running => s.pending += 1,
                JobStatus::Dead => {
                    s.failed += 1;
                    s.failed_sids.push(subject(job));
                }
            }
        }
        s.outcome = if s.pending > 0 {
            RunOutcome::Running
        } else if s.failed > 0 {
            RunOutcome::Failed
        } else {
            RunOutcome::Succeeded
        };
        s
    }
}

/// The sid an instance job recorded, else the instance id it was for.
fn subject(job: &Job) -> String {
    let recorded = job
        .result
        .as_ref()
        .and_then(|r| r.get("sid"))
        .and_then(Value::as_str);
    match (recorded, Task::from_job(job)) {
        (Some(sid), _) => sid.to_owned(),
        (None, Ok(Task::CommandInstance { instance, .. })) => instance.to_string(),
        (None, _) => job.id.to_string(),
    }
}

impl Service {
    /// The summary of command run `run` (a `command_run` job's id).
    ///
    /// # Errors
    /// Store failures.
    pub async fn run_summary(&self, run: &JobId) -> Result<RunSummary, ServiceError> {
        let q = FindQuery::all_matching(Filter::and(vec![
            Filter::eq("kind", "command_instance"),
            Filter::eq("payload.run", run.to_string()),
        ]));
        let children = self.store().find_jobs(&q).await?;
        Ok(RunSummary::of(&children.items))
    }

    /// `job` with, for a command run that has fanned out, its current
    /// summary in `result.summary`.
    pub(crate) async fn with_run_summary(&self, mut job: Job) -> Result<Job, ServiceError> {
        if job.kind != "command_run" || job.status != JobStatus::Succeeded {
            return Ok(job);
        }
        let summary = self.run_summary(&job.id).await?;
        if let Some(Value::Object(result)) = job.result.as_mut() {
            let summary = serde_json::to_value(&summary).unwrap_or(Value::Null);
            result.insert("summary".into(), summary);
        }
        Ok(job)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::model::{Id, Timestamp};

    fn child(status: JobStatus, sid: Option<&str>) -> Job {
        let now = Timestamp::from_unix(0);
        let task = Task::CommandInstance {
            command: Id::generate(now),
            instance: Id::generate(now),
            run: JobId(Id::generate(now)),
            operation: None,
            requested_by: None,
        };
        let mut j = Job::from_spec(JobId(Id::generate(now)), task.spec(now), now);
        j.status = status;
        j.result = sid.map(|s| json!({ "sid": s }));
        j
    }

    #[test]
    fn a_run_whose_every_instance_failed_has_failed() {
        let s = RunSummary::of(&[
            child(JobStatus::Dead, Some("p1aaaaaaaaaa")),
            child(JobStatus::Dead, Some("p1bbbbbbbbbb")),
        ]);
        assert_eq!((s.total, s.succeeded, s.failed, s.pending), (2, 0, 2, 0));
        assert_eq!(s.failed_sids, ["p1aaaaaaaaaa", "p1bbbbbbbbbb"]);
        assert_eq!(s.outcome, RunOutcome::Failed);
    }

    #[test]
    fn a_run_is_running_while_an_instance_job_is_pending_and_failed_if_any_failed() {
        let running = RunSummary::of(&[child(JobStatus::Queued, None), child(JobStatus::Dead, None)]);
        assert_eq!(running.outcome, RunOutcome::Running);
        assert_eq!(
            running.failed_sids.len(),
            1,
            "an instance id stands in for a missing sid"
        );
        let mixed = RunSummary::of(&[
            child(JobStatus::Succeeded, Some("p1a")),
            child(JobStatus::Dead, Some("p1b")),
        ]);
        assert_eq!(mixed.outcome, RunOutcome::Failed);
        let fine = RunSummary::of(&[child(JobStatus::Succeeded, None)]);
        assert_eq!(fine.outcome, RunOutcome::Succeeded);
        assert_eq!(RunSummary::of(&[]).outcome, RunOutcome::Succeeded);
    }

    #[test]
    fn summaries_serialise_with_stable_field_names() {
        let v = serde_json::to_value(RunSummary::of(&[child(JobStatus::Dead, Some("p1x"))])).unwrap();
        assert_eq!(
            v,
            json!({"total": 1, "succeeded": 0, "failed": 1, "pending": 0,
                   "failed_sids": ["p1x"], "outcome": "failed"})
        );
    }
}
