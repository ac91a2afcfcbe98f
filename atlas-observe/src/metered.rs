//! [`MeteredStore`]: a [`Store`] decorator that times every operation into
//! [`Metrics`] and observes the job queue from outside the worker: a
//! successful `claim` starts a job attempt, a successful `finish` ends it
//! with its outcome, `requeue_expired` counts the jobs of stopped workers.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use atlas_core::model::{Doc, Id, Resource, Timestamp};
use atlas_core::query::FindQuery;
use atlas_core::{
    Batch, Committed, FindPage, Job, JobAction, JobChange, JobId, JobPage, LeaseSpec, Outcome, Store,
    StoreError,
};

use crate::metrics::Metrics;

/// Wraps a store, recording into [`Metrics`]. Behaves exactly as the
/// wrapped store.
#[derive(Debug, Clone)]
pub struct MeteredStore<S> {
    inner: S,
    metrics: Metrics,
}

impl<S: Store> MeteredStore<S> {
    /// `inner`, metered into `metrics`.
    pub fn new(inner: S, metrics: Metrics) -> Self {
        Self { inner, metrics }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Wraps `inner` and returns it as a shared store.
    pub fn shared(inner: S, metrics: Metrics) -> Arc<dyn Store> {
        Arc::new(Self::new(inner, metrics))
    }

    fn time<T>(&self, op: &'static str, started: Instant, r: &Result<T, StoreError>) {
        self.metrics.observe_store(op, r.is_ok(), started.elapsed());
    }
}

#[async_trait]
impl<S: Store> Store for MeteredStore<S> {
    async fn get(&self, res: Resource, id: &Id) -> Result<Option<Doc>, StoreError> {
        let t = Instant::now();
        let r = self.inner.get(res, id).await;
        self.time("get", t, &r);
        r
    }

    async fn find(&self, res: Resource, q: &FindQuery) -> Result<FindPage, StoreError> {
        let t = Instant::now();
        let r = self.inner.find(res, q).await;
        self.time("find", t, &r);
        r
    }

    async fn history(&self, res: Resource, id: &Id) -> Result<Vec<Doc>, StoreError> {
        let t = Instant::now();
        let r = self.inner.history(res, id).await;
        self.time("history", t, &r);
        r
    }

    async fn commit(&self, batch: Batch) -> Result<Committed, StoreError> {
        let t = Instant::now();
        let r = self.inner.commit(batch).await;
        self.time("commit", t, &r);
        r
    }

    async fn claim(&self, lease: &LeaseSpec, now: Timestamp) -> Result<Option<Job>, StoreError> {
        let t = Instant::now();
        let r = self.inner.claim(lease, now).await;
        self.time("claim", t, &r);
        if let Ok(Some(job)) = &r {
            self.metrics.job_started(job);
        }
        r
    }

    async fn renew(&self, job: &JobId, owner: &str, until: Timestamp) -> Result<(), StoreError> {
        let t = Instant::now();
        let r = self.inner.renew(job, owner, until).await;
        self.time("renew", t, &r);
        r
    }

    async fn finish(&self, job: &JobId, outcome: Outcome) -> Result<(), StoreError> {
        let t = Instant::now();
        let result = outcome.clone();
        let r = self.inner.finish(job, outcome).await;
        self.time("finish", t, &r);
        match &r {
            Ok(()) => self.metrics.job_finished(job, &result),
            Err(StoreError::LeaseLost { .. }) | Err(StoreError::JobNotFound(_)) => {
                self.metrics.job_abandoned(job)
            }
            // The worker may retry the finish without its follow-up writes.
            Err(_) => {}
        }
        r
    }

    async fn requeue_expired(&self, now: Timestamp) -> Result<u64, StoreError> {
        let t = Instant::now();
        let r = self.inner.requeue_expired(now).await;
        self.time("requeue_expired", t, &r);
        if let Ok(n) = &r {
            self.metrics.jobs_requeued(*n);
        }
        r
    }

    async fn job(&self, id: &JobId) -> Result<Option<Job>, StoreError> {
        let t = Instant::now();
        let r = self.inner.job(id).await;
        self.time("job", t, &r);
        r
    }

    async fn find_jobs(&self, q: &FindQuery) -> Result<JobPage, StoreError> {
        let t = Instant::now();
        let r = self.inner.find_jobs(q).await;
        self.time("find_jobs", t, &r);
        r
    }

    async fn lead(
        &self,
        role: &str,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StoreError> {
        let t = Instant::now();
        let r = self.inner.lead(role, owner, now, until).await;
        self.time("lead", t, &r);
        r
    }
    async fn act_on_job(
        &self,
        id: &JobId,
        action: &JobAction,
        now: Timestamp,
    ) -> Result<JobChange, StoreError> {
        let t = Instant::now();
        let r = self.inner.act_on_job(id, action, now).await;
        self.time("act_on_job", t, &r);
        r
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use atlas_core::JobSpec;
    use atlas_core::MemoryStore;
    use serde_json::json;

    use super::*;

    fn count(text: &str, series: &str) -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or(0.0)
    }

    #[tokio::test]
    async fn metered_store_times_operations_and_sees_jobs_start_and_finish() {
        let metrics = Metrics::new();
        let store = MeteredStore::new(MemoryStore::new(), metrics.clone());
        let now = Timestamp::from_unix(100);
        let mut b = Batch::new(now);
        b.enqueue(JobSpec::new("routes_publish", json!({}), now));
        store.commit(b).await.unwrap();
        let lease = LeaseSpec {
            owner: "w".into(),
            duration: Duration::from_secs(60),
        };
        let job = store.claim(&lease, now).await.unwrap().unwrap();
        store
            .finish(
                &job.id,
                Outcome {
                    owner: "w".into(),
                    now,
                    result: Ok(json!({})),
                    follow_up: Batch::new(now),
                },
            )
            .await
            .unwrap();

        let text = metrics.encode();
        assert_eq!(
            count(
                &text,
                "atlas_store_operation_duration_seconds_count{operation=\"commit\",result=\"ok\"}"
            ),
            1.0
        );
        assert_eq!(
            count(
                &text,
                "atlas_jobs_finished_total{kind=\"routes_publish\",outcome=\"succeeded\"}"
            ),
            1.0
        );
        assert_eq!(
            store.job(&job.id).await.unwrap().unwrap().status,
            atlas_core::JobStatus::Succeeded,
            "the decorator changes nothing"
        );
    }

    #[tokio::test]
    async fn failed_store_operations_are_timed_as_errors() {
        let metrics = Metrics::new();
        let store = MeteredStore::new(MemoryStore::new(), metrics.clone());
        let missing = store.history(Resource::Code, &Id::from_bytes([1; 12])).await;
        assert!(missing.is_err());
        let text = metrics.encode();
        assert_eq!(
            count(
                &text,
                "atlas_store_operation_duration_seconds_count{operation=\"history\",result=\"error\"}"
            ),
            1.0
        );
    }
}
