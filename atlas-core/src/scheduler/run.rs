//! [`Scheduler`]: turns due periodic tasks into queued jobs. The job queue
//! is its memory: the last run of a task is its newest `periodic` job, so
//! restarts neither lose nor repeat runs.
//!
//! Several processes may share one store (nodes on PostgreSQL): each tick
//! first takes or renews the scheduler role ([`Store::lead`]) for three
//! ticks. Only the holder enqueues, so a task fires once per due time
//! however many nodes run; when the holder dies, another node takes over
//! once its time has run out. A scheduler that was not leading (or whose
//! hold lapsed) reloads the last runs from the queue before enqueueing.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use tokio::sync::Mutex;
use tracing::{error, info};

use crate::batch::Batch;
use crate::clock::Clock;
use crate::error::StoreError;
use crate::jobs::{Job, JobStatus};
use crate::model::{Id, Timestamp};
use crate::query::{Filter, FindQuery, Op, Operand};
use crate::scheduler::{PeriodicTask, Schedule};
use crate::store::{Store, SCHEDULER_ROLE};
use crate::task::Task;

/// One task's schedule and last run, as `/jobs`-style readers show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskStatus {
    /// The task.
    pub task: PeriodicTask,
    /// Its cron expression.
    pub schedule: String,
    /// Its next tick after now.
    pub next: Option<Timestamp>,
    /// Its newest job (the last run), if any.
    pub last: Option<Job>,
}

/// Enqueues periodic task jobs when they are due.
#[derive(Debug, Clone)]
pub struct Scheduler {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    schedule: Schedule,
    since: Timestamp,
    last: Arc<Mutex<Memory>>,
    heartbeat: Arc<AtomicI64>,
    owner: String,
    hold: Duration,
}

/// What a scheduler remembers between ticks.
#[derive(Debug, Default)]
struct Memory {
    /// Each task's last run, loaded from the queue while leading.
    last: Option<BTreeMap<PeriodicTask, Timestamp>>,
    /// Until when this scheduler holds the scheduler role.
    held_until: Option<Timestamp>,
}

fn key_filter(task: PeriodicTask) -> Filter {
    Filter::Field {
        path: "key".into(),
        op: Op::Eq(Operand::Json(Value::String(task.job_key()))),
    }
}

impl Scheduler {
    /// A scheduler over `store`; tasks that never ran count from now. It
    /// holds the scheduler role for 90 s at a time under a fresh owner name
    /// (see [`Scheduler::with_leadership`]).
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, schedule: Schedule) -> Self {
        let since = clock.now();
        Self {
            store,
            clock,
            schedule,
            since,
            last: Arc::new(Mutex::new(Memory::default())),
            heartbeat: Arc::new(AtomicI64::new(0)),
            owner: format!("scheduler-{}", Id::generate(since)),
            hold: Duration::from_secs(90),
        }
    }

    /// The same scheduler, taking the scheduler role as `owner` (unique per
    /// process) for `hold` at a time; renewing every tick, so `hold` should
    /// be a few ticks. Another node takes over `hold` after this one's last
    /// tick.
    pub fn with_leadership(mut self, owner: impl Into<String>, hold: Duration) -> Self {
        self.owner = owner.into();
        self.hold = hold;
        self
    }

    /// The name this scheduler holds the scheduler role under.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// The schedule.
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// Unix seconds of the last tick (0 before the first), for readiness.
    pub fn heartbeat(&self) -> i64 {
        self.heartbeat.load(Ordering::Relaxed)
    }

    async fn newest_job(&self, task: PeriodicTask) -> Result<Option<Job>, StoreError> {
        let q = FindQuery::newest_job(key_filter(task));
        Ok(self.store.find_jobs(&q).await?.items.into_iter().next())
    }

    /// Each task's schedule, next tick and last run.
    ///
    /// # Errors
    /// Store failures.
    pub async fn status(&self) -> Result<Vec<TaskStatus>, StoreError> {
        let now = self.clock.now();
        let mut out = Vec::new();
        for task in PeriodicTask::ALL {
            out.push(TaskStatus {
                task,
                schedule: self.schedule.expression(task).to_owned(),
                next: self.schedule.next_after(task, now),
                last: self.newest_job(task).await?,
            });
        }
        Ok(out)
    }

    /// Enqueues every task due now and returns them. A task whose previous
    /// run is still queued or running is not started twice (that tick is
    /// skipped). Does nothing while another process holds the scheduler
    /// role.
    ///
    /// # Errors
    /// Store failures; nothing is enqueued for the task that failed.
    pub async fn tick(&self) -> Result<Vec<PeriodicTask>, StoreError> {
        let now = self.clock.now();
        self.heartbeat.store(now.unix_seconds(), Ordering::Relaxed);
        let mut memory = self.last.lock().await;
        let until = now.plus(self.hold);
        if !self.store.lead(SCHEDULER_ROLE, &self.owner, now, until).await? {
            // Another node schedules; forget what we knew of the runs.
            *memory = Memory::default();
            return Ok(Vec::new());
        }
        if memory.held_until.is_none_or(|held| held < now) {
            // Newly leading, or our hold lapsed: another node may have run
            // tasks meanwhile, so the queue is read again.
            memory.last = None;
        }
        memory.held_until = Some(until);
        let guard = &mut memory.last;
        if guard.is_none() {
            let mut last = BTreeMap::new();
            for task in PeriodicTask::ALL {
                if let Some(job) = self.newest_job(task).await? {
                    last.insert(task, job.created);
                }
            }
            *guard = Some(last);
        }
        let last = guard.get_or_insert_with(BTreeMap::new);
        let mut started = Vec::new();
        for task in self.schedule.due(now, last, self.since) {
            last.insert(task, now);
            let busy = self
                .newest_job(task)
                .await?
                .is_some_and(|j| matches!(j.status, JobStatus::Queued | JobStatus::Running));
            if busy {
                info!(task = %task, "periodic task still running; skipping this tick");
                continue;
            }
            let mut batch = Batch::new(now);
            batch.enqueue(Task::Periodic { task }.spec(now));
            self.store.commit(batch).await?;
            started.push(task);
        }
        Ok(started)
    }

    /// Ticks every `every` until `shutdown` resolves; failures are logged
    /// and retried on the next tick.
    pub async fn run(&self, every: Duration, shutdown: impl Future<Output = ()> + Send) {
        tokio::pin!(shutdown);
        loop {
            match self.tick().await {
                Ok(started) if !started.is_empty() => info!(tasks = ?started, "periodic tasks enqueued"),
                Ok(_) => {}
                Err(e) => error!(error = %e, error.chain = ?e, "scheduler tick failed"),
            }
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(every) => {}
            }
        }
    }
}
