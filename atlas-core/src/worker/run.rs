//! [`Worker`]: claims jobs with a lease, runs them with bounded concurrency,
//! renews leases of long jobs, enforces the time limit, retries with
//! backoff, and shuts down gracefully.

use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tracing::{error, info, warn, Instrument};

use crate::batch::Batch;
use crate::clock::Clock;
use crate::error::StoreError;
use crate::jobs::{Job, JobFailure, JobId, LeaseSpec};
use crate::store::Outcome;
use crate::store::Store;
use crate::worker::{Handled, HandlerError, JobHandler, WorkerConfig};

/// Runs jobs from a [`Store`]'s queue through a [`JobHandler`]. Cheap to
/// clone; clones share the same state.
#[derive(Debug, Clone)]
pub struct Worker {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    handler: Arc<dyn JobHandler>,
    config: WorkerConfig,
    wake: Arc<Notify>,
    heartbeat: AtomicI64,
}

impl Worker {
    /// A worker over `store` running jobs through `handler`.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        handler: Arc<dyn JobHandler>,
        mut config: WorkerConfig,
    ) -> Self {
        config.concurrency = config.concurrency.max(1);
        config.owner = config.owner_name();
        Self {
            inner: Arc::new(Inner {
                store,
                clock,
                handler,
                config,
                wake: Arc::new(Notify::new()),
                heartbeat: AtomicI64::new(0),
            }),
        }
    }

    /// The same worker, woken by `wake` (e.g.
    /// [`crate::service::Service::jobs_enqueued`]) as well as by its own
    /// polling.
    pub fn with_wake(self, wake: Arc<Notify>) -> Self {
        let i = &self.inner;
        Self {
            inner: Arc::new(Inner {
                store: i.store.clone(),
                clock: i.clock.clone(),
                handler: i.handler.clone(),
                config: i.config.clone(),
                wake,
                heartbeat: AtomicI64::new(i.heartbeat.load(Ordering::Relaxed)),
            }),
        }
    }

    /// The worker's configuration.
    pub fn config(&self) -> &WorkerConfig {
        &self.inner.config
    }

    /// Tells an idle worker to look for work now (call after enqueuing).
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// Unix seconds of the last loop iteration of [`Worker::run`] (0 before
    /// the first), for readiness checks.
    pub fn heartbeat(&self) -> i64 {
        self.inner.heartbeat.load(Ordering::Relaxed)
    }

    fn lease(&self) -> LeaseSpec {
        LeaseSpec {
            owner: self.inner.config.owner.clone(),
            duration: self.inner.config.lease,
        }
    }

    /// Claims one job and runs it to the end; `None` when nothing is
    /// claimable now.
    ///
    /// # Errors
    /// Store failures while claiming.
    pub async fn run_one(&self) -> Result<Option<JobId>, StoreError> {
        let now = self.inner.clock.now();
        match self.inner.store.claim(&self.lease(), now).await? {
            Some(job) => {
                let id = job.id;
                execute(self.inner.clone(), job).await;
                Ok(Some(id))
            }
            None => Ok(None),
        }
    }

    /// Runs jobs, up to `concurrency` at once, until none is claimable;
    /// returns how many ran. For tests, benchmarks and one-shot use.
    ///
    /// # Errors
    /// Store failures while claiming.
    pub async fn drain(&self) -> Result<usize, StoreError> {
        let mut ran = 0;
        loop {
            let mut set = JoinSet::new();
            let mut failed = None;
            for claimed in self.claim_many(self.inner.config.concurrency).await {
                match claimed {
                    Ok(Some(job)) => {
                        set.spawn(execute(self.inner.clone(), job));
                    }
                    Ok(None) => {}
                    Err(e) => {
                        failed.get_or_insert(e);
                    }
                }
            }
            let claimed_none = set.is_empty();
            // Jobs already claimed run to the end even when another claim failed.
            while set.join_next().await.is_some() {
                ran += 1;
            }
            if let Some(e) = failed {
                return Err(e);
            }
            if claimed_none {
                return Ok(ran);
            }
        }
    }

    /// Sends `n` claims at once, so that a store which group-commits (the
    /// SQLite writer) makes them durable together instead of one sync each.
    async fn claim_many(&self, n: usize) -> Vec<Result<Option<Job>, StoreError>> {
        let lease = self.lease();
        let now = self.inner.clock.now();
        futures::future::join_all((0..n).map(|_| self.inner.store.claim(&lease, now))).await
    }

    /// Claims and runs jobs until `shutdown` resolves, then stops claiming
    /// and waits for running jobs up to `shutdown_grace`; jobs still running
    /// after that are abandoned and their leases expire (they are requeued
    /// by the next worker).
    ///
    /// # Errors
    /// None today: store failures are logged and retried after
    /// `poll_interval`.
    pub async fn run(&self, shutdown: impl Future<Output = ()> + Send) -> Result<(), StoreError> {
        let cfg = &self.inner.config;
        let permits = Arc::new(Semaphore::new(cfg.concurrency));
        let mut running = JoinSet::new();
        let mut last_reap: Option<tokio::time::Instant> = None;
        // Whether the last claims all found a job.
        let mut busy = false;
        tokio::pin!(shutdown);
        info!(owner = %cfg.owner, concurrency = cfg.concurrency, "worker started");
        loop {
            self.inner
                .heartbeat
                .store(self.inner.clock.now().unix_seconds(), Ordering::Relaxed);
            while running.try_join_next().is_some() {}
            if last_reap.is_none_or(|t| t.elapsed() >= cfg.reap_interval) {
                last_reap = Some(tokio::time::Instant::now());
                match self.inner.store.requeue_expired(self.inner.clock.now()).await {
                    Ok(0) => {}
                    Ok(n) => warn!(requeued = n, "requeued jobs whose worker stopped"),
                    Err(e) => error!(error = %e, error.chain = ?e, "requeueing expired jobs failed"),
                }
            }
            let permit = tokio::select! {
                _ = &mut shutdown => break,
                p = permits.clone().acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => break,
                },
            };
            // While the queue keeps giving jobs, claim for every free slot at
            // once (one group commit for all of them on a store that groups);
            // after an empty claim, poll with a single one.
            let mut slots = vec![permit];
            if busy {
                while let Ok(p) = permits.clone().try_acquire_owned() {
                    slots.push(p);
                }
            }
            let claims = self.claim_many(slots.len()).await;
            busy = true;
            for (permit, claimed) in slots.into_iter().zip(claims) {
                match claimed {
                    Ok(Some(job)) => {
                        let inner = self.inner.clone();
                        running.spawn(async move {
                            execute(inner.clone(), job).await;
                            drop(permit);
                            // A finished job may unblock the next job of its key.
                            inner.wake.notify_one();
                        });
                    }
                    Ok(None) => {
                        busy = false;
                        drop(permit);
                    }
                    Err(e) => {
                        busy = false;
                        drop(permit);
                        error!(error = %e, error.chain = ?e, "claiming a job failed");
                    }
                }
            }
            if busy {
                continue;
            }
            tokio::select! {
                _ = &mut shutdown => break,
                _ = self.inner.wake.notified() => {}
                _ = tokio::time::sleep(cfg.poll_interval) => {}
            }
        }
        info!(
            running = running.len(),
            "worker stopping: waiting for running jobs"
        );
        let drained = tokio::time::timeout(cfg.shutdown_grace, async {
            while running.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            warn!(
                abandoned = running.len(),
                "shutdown grace ran out; abandoned jobs are requeued when their lease expires"
            );
            running.abort_all();
        }
        Ok(())
    }
}

/// Runs one claimed job: handler under the time limit with lease renewal,
/// then records the outcome.
async fn execute(inner: Arc<Inner>, job: Job) {
    let span = tracing::info_span!(
        "job",
        job.id = %job.id,
        job.kind = %job.kind,
        job.key = job.key.as_deref().unwrap_or(""),
        job.attempt = job.attempts,
        job.outcome = tracing::field::Empty,
    );
    async move {
        let started = std::time::Instant::now();
        let renewer = spawn_renewer(inner.clone(), job.id);
        let handler = inner.handler.clone();
        let attempt = job.clone();
        let mut task = tokio::spawn(async move { handler.handle(&attempt).await });
        let result = match tokio::time::timeout(inner.config.time_limit, &mut task).await {
            Ok(Ok(r)) => r,
            Ok(Err(join)) => Err(HandlerError::retry(format!("the job's handler crashed: {join}"))),
            Err(_) => {
                task.abort();
                Err(HandlerError::retry(format!(
                    "timed out after {} s",
                    inner.config.time_limit.as_secs()
                )))
            }
        };
        renewer.abort();
        let elapsed_ms = started.elapsed().as_millis() as u64;
        let outcome = match &result {
            Ok(_) => "succeeded",
            Err(e) if e.retryable && job.attempts < job.max_attempts => "retrying",
            Err(_) => "dead",
        };
        tracing::Span::current().record("job.outcome", outcome);
        match &result {
            Ok(_) => info!(elapsed_ms, outcome = "succeeded", "job finished"),
            Err(e) if outcome == "retrying" => {
                warn!(elapsed_ms, outcome, attempt = job.attempts, error = %e, "job failed; it will be retried")
            }
            // Out of attempts, or not retryable: the dead letter, for good.
            Err(e) => error!(
                elapsed_ms,
                outcome,
                attempts = job.attempts,
                max_attempts = job.max_attempts,
                error = %e,
                "job failed for good and is dead; retry it with POST /jobs/<id>/retry once the cause is fixed"
            ),
        }
        record(&inner, &job, result).await;
    }
    .instrument(span)
    .await
}

fn spawn_renewer(inner: Arc<Inner>, id: JobId) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let every = (inner.config.lease / 3).max(std::time::Duration::from_secs(1));
        loop {
            tokio::time::sleep(every).await;
            let until = inner.clock.now().plus(inner.config.lease);
            match inner.store.renew(&id, &inner.config.owner, until).await {
                Ok(()) => {}
                Err(StoreError::LeaseLost { .. }) | Err(StoreError::JobNotFound(_)) => {
                    warn!(job.id = %id, "lease lost while running");
                    return;
                }
                Err(e) => warn!(job.id = %id, error = %e, "renewing the lease failed; will retry"),
            }
        }
    })
}

async fn record(inner: &Inner, job: &Job, result: Result<Handled, HandlerError>) {
    let now = inner.clock.now();
    let owner = inner.config.owner.clone();
    let (outcome, had_follow_up) = match result {
        Ok(h) => {
            let had = h.follow_up.as_ref().is_some_and(|b| !b.is_empty());
            (
                Outcome {
                    owner: owner.clone(),
                    now,
                    result: Ok(h.result),
                    follow_up: h.follow_up.unwrap_or_else(|| Batch::new(now)),
                },
                had,
            )
        }
        Err(e) => {
            let had = e.follow_up.as_ref().is_some_and(|b| !b.is_empty());
            (failure_outcome(inner, job, owner.clone(), now, e), had)
        }
    };
    match inner.store.finish(&job.id, outcome).await {
        Ok(()) => {}
        Err(StoreError::LeaseLost { .. }) => {
            warn!("the lease was lost before the job finished; its outcome is dropped (another attempt runs it)")
        }
        Err(e) if had_follow_up => {
            // The follow-up writes no longer apply (a record changed
            // meanwhile): record a retryable failure without them; the next
            // attempt recomputes them.
            warn!(error = %e, "the job's follow-up writes failed; retrying the job");
            let failure = HandlerError::retry(format!("follow-up writes failed: {e}"));
            let outcome = failure_outcome(inner, job, owner, now, failure);
            if let Err(e) = inner.store.finish(&job.id, outcome).await {
                error!(error = %e, error.chain = ?e, "recording the job's failure failed");
            }
        }
        Err(e) => error!(error = %e, error.chain = ?e, "recording the job's outcome failed"),
    }
}

fn failure_outcome(
    inner: &Inner,
    job: &Job,
    owner: String,
    now: crate::model::Timestamp,
    e: HandlerError,
) -> Outcome {
    let retry_at = e
        .retryable
        .then(|| now.plus(inner.config.backoff().delay(job.attempts, rand::random::<f64>())));
    Outcome {
        owner,
        now,
        result: Err(JobFailure {
            error: e.error,
            retry_at,
            result: e.result,
        }),
        follow_up: e.follow_up.unwrap_or_else(|| Batch::new(now)),
    }
}
