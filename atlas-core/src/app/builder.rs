//! [`AppBuilder`]: chooses an [`App`]'s ports (store, executor, notifier,
//! clock), its secrets key and its [`AppConfig`], then wires them.

use std::sync::Arc;

use crate::app::{App, AppConfig};
use crate::clock::{Clock, SystemClock};
use crate::engine::Engine;
use crate::executor::Executor;
use crate::notify::{Notifier, NullNotifier};
use crate::scheduler::{ScheduleError, Scheduler};
use crate::secrets::SecretKey;
use crate::service::Service;
use crate::store::Store;
use crate::worker::Worker;

/// Why an [`App`] cannot be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// No executor was given: the engine has nothing to act through.
    #[error(
        "no executor: call .executor(...) on the App builder (ShellExecutor acts on servers; \
         MockExecutor or RecordingExecutor from atlas_core::testing act on nothing)"
    )]
    NoExecutor,
    /// The scheduler's configuration does not parse.
    #[error("scheduler configuration: {0}")]
    Schedule(#[from] ScheduleError),
}

/// Wires an [`App`]. Only the store and the executor are required; the
/// rest default to no notifications, the wall clock, a generated key and
/// [`AppConfig::default`].
#[derive(Debug)]
#[must_use = "an AppBuilder does nothing until .build()"]
pub struct AppBuilder {
    store: Arc<dyn Store>,
    executor: Option<Arc<dyn Executor>>,
    notifier: Arc<dyn Notifier>,
    clock: Arc<dyn Clock>,
    key: Option<SecretKey>,
    config: AppConfig,
}

impl AppBuilder {
    pub(super) fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            executor: None,
            notifier: Arc::new(NullNotifier),
            clock: Arc::new(SystemClock),
            key: None,
            config: AppConfig::default(),
        }
    }

    /// What the engine acts on the servers through.
    pub fn executor(mut self, executor: Arc<dyn Executor>) -> Self {
        self.executor = Some(executor);
        self
    }

    /// Where notifications go (default: nowhere).
    pub fn notifier(mut self, notifier: Arc<dyn Notifier>) -> Self {
        self.notifier = notifier;
        self
    }

    /// The clock (default: the wall clock; tests pass a `ManualClock`).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The key that seals stored secrets (default: a new random key, so
    /// secrets do not outlive the process — pass the key file's key in
    /// production).
    pub fn secret_key(mut self, key: SecretKey) -> Self {
        self.key = Some(key);
        self
    }

    /// Service, worker and scheduler settings.
    pub fn config(mut self, config: AppConfig) -> Self {
        self.config = config;
        self
    }

    /// Wires the service, engine, worker (woken by the service's enqueues)
    /// and, when enabled, the scheduler.
    ///
    /// # Errors
    /// [`AppError::NoExecutor`]; [`AppError::Schedule`] for a bad
    /// scheduler configuration.
    pub fn build(self) -> Result<App, AppError> {
        let executor = self.executor.ok_or(AppError::NoExecutor)?;
        let key = self.key.unwrap_or_else(|| SecretKey::generate().0);
        let cfg = self.config;
        let scheduler_owner = format!("{}/scheduler", cfg.worker.owner_name());
        let service = Service::new(self.store.clone(), self.clock.clone(), key, cfg.service);
        let engine = Engine::new(service.clone(), executor, self.notifier);
        let worker = Worker::new(
            self.store.clone(),
            self.clock.clone(),
            Arc::new(engine.clone()),
            cfg.worker,
        )
        .with_wake(service.jobs_enqueued());
        let scheduler = if cfg.scheduler.enabled {
            // The role is held for three ticks: a node that dies is replaced
            // by another within three ticks of its last one.
            let hold = (cfg.scheduler.tick() * 3).max(std::time::Duration::from_secs(3));
            Some(
                Scheduler::new(self.store, self.clock, cfg.scheduler.schedule()?)
                    .with_leadership(scheduler_owner, hold),
            )
        } else {
            None
        };
        Ok(App {
            service,
            engine,
            worker,
            scheduler,
            tick: cfg.scheduler.tick(),
        })
    }
}
