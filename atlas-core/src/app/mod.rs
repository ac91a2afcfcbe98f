//! [`App`]: Atlas wired together — the [`Service`] clients call, the
//! [`Engine`] that runs every [`Task`](crate::Task), the [`Worker`] that
//! claims jobs and the [`Scheduler`] that queues periodic tasks — built
//! once by [`AppBuilder`] for every embedder: the `atlas` binary, the
//! examples, the HTTP tests and the benchmarks.
//!
//! ```no_run
//! use std::sync::Arc;
//! use atlas_core::{App, Executor, MemoryStore};
//!
//! # async fn demo(executor: Arc<dyn Executor>) -> Result<(), Box<dyn std::error::Error>> {
//! // `executor`: a ShellExecutor on servers, a MockExecutor in tests.
//! let app = App::builder(Arc::new(MemoryStore::new()))
//!     .executor(executor)
//!     .build()?;
//! // app.service() for requests; app.drain().await? runs queued jobs;
//! // app.run(shutdown).await? runs the worker and scheduler until shutdown.
//! # Ok(()) }
//! ```
//!
//! # Contracts
//! - The worker is woken whenever the service commits jobs, besides its
//!   own polling.
//! - [`App::run`] returns after `shutdown` resolves and running jobs had
//!   their grace period; the scheduler stops with it.
//! - Without [`AppBuilder::secret_key`], a fresh key is generated: secrets
//!   sealed with it are unreadable by any later process. Production
//!   wiring always passes the key from its key file.

mod builder;
mod config;

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;

pub use builder::{AppBuilder, AppError};
pub use config::{AppConfig, SchedulerConfig};

use crate::batch::Batch;
use crate::engine::Engine;
use crate::error::StoreError;
use crate::scheduler::{PeriodicTask, Scheduler};
use crate::service::Service;
use crate::task::Task;
use crate::worker::Worker;

/// Atlas wired together. Cheap to clone; clones share everything.
#[derive(Debug, Clone)]
pub struct App {
    service: Service,
    engine: Engine,
    worker: Worker,
    scheduler: Option<Scheduler>,
    tick: Duration,
}

impl App {
    /// Starts wiring an app over `store`; see [`AppBuilder`] for the rest.
    pub fn builder(store: std::sync::Arc<dyn crate::store::Store>) -> AppBuilder {
        AppBuilder::new(store)
    }

    /// The service: every create, read, update and delete, with the rules
    /// the HTTP API applies.
    pub fn service(&self) -> &Service {
        &self.service
    }

    /// The engine that runs each job.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The worker (for readiness checks, or to run single jobs).
    pub fn worker(&self) -> &Worker {
        &self.worker
    }

    /// The scheduler, when periodic tasks are enabled.
    pub fn scheduler(&self) -> Option<&Scheduler> {
        self.scheduler.as_ref()
    }

    /// How often the scheduler looks for due tasks.
    pub fn tick(&self) -> Duration {
        self.tick
    }

    /// A node that runs the periodic tasks tops the pool up when it starts
    /// rather than at the next tick (with `pool_top_up_on_deploy`); a
    /// failure is logged and left to the tick.
    async fn top_up_at_start(&self) {
        if self.scheduler.is_none() || !self.service.config().pool_top_up_on_deploy {
            return;
        }
        let now = self.service.clock().now();
        let mut batch = Batch::new(now);
        batch.enqueue(
            Task::Periodic {
                task: PeriodicTask::PoolTopUp,
            }
            .spec(now),
        );
        match self.service.store().commit(batch).await {
            Ok(_) => self.service.jobs_enqueued().notify_one(),
            Err(e) => {
                tracing::warn!(error = %e, "could not queue the pool top-up at start; the next tick does it")
            }
        }
    }

    /// Runs queued jobs until none is claimable now (follow-up jobs
    /// included); returns how many ran. For tests, examples and one-shot
    /// tools: a job waiting for a retry time that has not come stays
    /// queued.
    ///
    /// # Errors
    /// Store failures while claiming.
    pub async fn drain(&self) -> Result<usize, StoreError> {
        self.worker.drain().await
    }

    /// Runs the worker and (when enabled) the scheduler until `shutdown`
    /// resolves; then stops claiming, gives running jobs the worker's
    /// shutdown grace, and returns.
    ///
    /// # Errors
    /// Store failures the worker cannot recover from.
    pub async fn run(&self, shutdown: impl Future<Output = ()> + Send) -> Result<(), StoreError> {
        self.top_up_at_start().await;
        let (stop, stopped) = watch::channel(false);
        let until_stopped = |mut rx: watch::Receiver<bool>| async move {
            // An error means the sender is gone: stop as well.
            let _ = rx.wait_for(|s| *s).await;
        };
        let work = async {
            let worker = async {
                let r = self.worker.run(until_stopped(stopped.clone())).await;
                // The worker only ends on shutdown or failure: either way
                // the scheduler stops with it.
                let _ = stop.send(true);
                r
            };
            let scheduler = async {
                if let Some(s) = &self.scheduler {
                    s.run(self.tick, until_stopped(stopped.clone())).await;
                }
            };
            tokio::join!(worker, scheduler).0
        };
        tokio::pin!(work, shutdown);
        tokio::select! {
            r = &mut work => r,
            () = &mut shutdown => {
                let _ = stop.send(true);
                work.await
            }
        }
    }
}

#[cfg(test)]
mod tests;
