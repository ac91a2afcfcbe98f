//! An operator's actions on one job: [`Service::retry_job`] (a dead job
//! runs again) and [`Service::cancel_job`] (a queued job is stopped). Each
//! is one atomic [`Store::act_on_job`](crate::Store::act_on_job); a job
//! whose status does not allow the action is a 409 naming its status.

use crate::jobs::{Job, JobAction, JobChange, JobId};

use super::{Actor, Service, ServiceError};

impl Service {
    /// Puts a dead job back in the queue, due now, with a full attempt
    /// budget, and wakes the worker.
    ///
    /// # Errors
    /// [`ServiceError::JobNotFound`]; [`ServiceError::Conflict`] when the
    /// job is not dead; store failures.
    pub async fn retry_job(&self, id: &str, actor: &Actor) -> Result<Job, ServiceError> {
        let job = self.act_on_job(id, JobAction::Retry).await?;
        tracing::info!(job.id = %job.id, job.kind = %job.kind, user = %actor, "job retried");
        self.inner.jobs_enqueued.notify_one();
        Ok(job)
    }

    /// Stops a queued job (due or waiting for a retry): it becomes dead,
    /// with `cancelled by <user>` as its last error. A job that moves an
    /// instance through its lifecycle leaves the instance in its in-flight
    /// status; retry the job to finish the change.
    ///
    /// # Errors
    /// [`ServiceError::JobNotFound`]; [`ServiceError::Conflict`] when the
    /// job is not queued (a running job's worker holds it); store failures.
    pub async fn cancel_job(&self, id: &str, actor: &Actor) -> Result<Job, ServiceError> {
        let reason = format!("cancelled by {actor}");
        let job = self.act_on_job(id, JobAction::Cancel { reason }).await?;
        tracing::info!(job.id = %job.id, job.kind = %job.kind, user = %actor, "job cancelled");
        Ok(job)
    }

    async fn act_on_job(&self, id: &str, action: JobAction) -> Result<Job, ServiceError> {
        let not_found = || ServiceError::JobNotFound(id.to_owned());
        let parsed: JobId = id.parse().map_err(|_| not_found())?;
        let now = self.clock().now();
        match self.store().act_on_job(&parsed, &action, now).await? {
            JobChange::Applied(job) => Ok(job),
            JobChange::Missing => Err(not_found()),
            JobChange::Refused(job) => {
                let (verb, hint) = match action {
                    JobAction::Retry => ("retried", "only dead jobs can be retried"),
                    _ => (
                        "cancelled",
                        "only queued jobs can be cancelled; a running job finishes or fails by itself",
                    ),
                };
                Err(ServiceError::conflict(
                    "status",
                    format!("job '{}' is {} and cannot be {verb}: {hint}", job.id, job.status),
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::clock::ManualClock;
    use crate::jobs::{JobSpec, JobStatus};
    use crate::model::Timestamp;
    use crate::{Batch, SecretKey, ServiceConfig, Write};
    use crate::{MemoryStore, Store};

    async fn service_with_job() -> (Service, Arc<MemoryStore>, JobId) {
        let store = Arc::new(MemoryStore::new());
        let now = Timestamp::from_unix(1_000);
        let mut batch = Batch::new(now);
        batch.writes.push(Write::Enqueue(
            JobSpec::new("drush_cron", json!({}), now).max_attempts(1),
        ));
        store.commit(batch).await.unwrap();
        let job = store
            .find_jobs(&crate::query::FindQuery::default())
            .await
            .unwrap()
            .items
            .remove(0);
        let svc = Service::new(
            store.clone(),
            Arc::new(ManualClock::at(Timestamp::from_unix(2_000))),
            SecretKey::from_bytes([1; 32]),
            ServiceConfig::default(),
        );
        (svc, store, job.id)
    }

    fn alice() -> Actor {
        Actor("alice".into())
    }

    #[tokio::test]
    async fn a_queued_job_is_cancelled_then_retried_and_each_twice_is_a_conflict() {
        let (svc, store, id) = service_with_job().await;
        let cancelled = svc.cancel_job(&id.to_string(), &alice()).await.unwrap();
        assert_eq!(cancelled.status, JobStatus::Dead);
        assert_eq!(cancelled.last_error.as_deref(), Some("cancelled by alice"));
        let again = svc.cancel_job(&id.to_string(), &alice()).await.unwrap_err();
        assert!(matches!(again, ServiceError::Conflict { .. }), "{again}");
        assert!(again.to_string().contains("is dead"), "{again}");

        let retried = svc.retry_job(&id.to_string(), &alice()).await.unwrap();
        assert_eq!(retried.status, JobStatus::Queued);
        assert_eq!(retried.attempts, 0);
        assert_eq!(retried.run_at, Timestamp::from_unix(2_000));
        assert_eq!(store.job(&id).await.unwrap(), Some(retried));
        let again = svc.retry_job(&id.to_string(), &alice()).await.unwrap_err();
        assert!(again.to_string().contains("only dead jobs"), "{again}");
    }

    #[tokio::test]
    async fn unknown_or_malformed_job_ids_are_not_found() {
        let (svc, _, _) = service_with_job().await;
        for id in ["nope", "0123456789abcdef01234567"] {
            let e = svc.retry_job(id, &alice()).await.unwrap_err();
            assert!(matches!(e, ServiceError::JobNotFound(_)), "{e}");
        }
    }
}
