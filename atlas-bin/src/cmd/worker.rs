//! `atlas worker`: the worker and the scheduler, without the API (with the
//! metrics listener when `[metrics]` is enabled).

use std::sync::Arc;
use std::time::Duration;

use atlas_core::Engine;
use atlas_core::Scheduler;
use atlas_core::Worker;
use tokio::sync::watch;

use anyhow::Context;

use crate::cmd::observe;
use crate::config::AtlasConfig;
use crate::wiring;

/// The background half of Atlas, ready to run.
pub(crate) struct Background {
    pub(crate) worker: Worker,
    pub(crate) scheduler: Option<(Scheduler, Duration)>,
}

impl Background {
    /// Builds the worker (and scheduler, when enabled) for `svc`.
    pub(crate) fn build(cfg: &AtlasConfig, svc: &atlas_core::Service) -> anyhow::Result<Self> {
        let executor = wiring::executor(cfg)?;
        let engine = Engine::new(svc.clone(), executor, wiring::notifier(cfg)?);
        let worker = Worker::new(
            svc.store().clone(),
            svc.clock().clone(),
            Arc::new(engine),
            cfg.worker.clone(),
        )
        .with_wake(svc.jobs_enqueued());
        let scheduler = if cfg.scheduler.enabled {
            let s = Scheduler::new(
                svc.store().clone(),
                svc.clock().clone(),
                cfg.scheduler.schedule()?,
            );
            Some((s, Duration::from_secs(cfg.scheduler.tick_secs.max(1))))
        } else {
            None
        };
        Ok(Self { worker, scheduler })
    }

    /// Runs until `stop` says shut down; running jobs get the worker's
    /// shutdown grace.
    pub(crate) async fn run(self, stop: watch::Receiver<bool>) -> anyhow::Result<()> {
        let sched = self.scheduler.map(|(s, every)| {
            let stop = stop.clone();
            tokio::spawn(async move { s.run(every, super::until(stop)).await })
        });
        self.worker.run(super::until(stop)).await?;
        if let Some(h) = sched {
            let _ = h.await;
        }
        Ok(())
    }
}

/// Runs the worker and scheduler until Ctrl-C / SIGTERM.
///
/// # Errors
/// Configuration, store or key problems at start-up.
pub async fn run(cfg: AtlasConfig) -> anyhow::Result<()> {
    wiring::ensure_dir(&cfg.data_dir)?;
    let metrics = atlas_observe::Metrics::new();
    let store = wiring::metered(wiring::store(&cfg).await?, &metrics);
    let key = wiring::secret_key(&cfg)?;
    let svc = wiring::service(&cfg, store, key);
    let bg = Background::build(&cfg, &svc)?;
    let metrics_listener = observe::bind(&cfg).await?;
    println!(
        "atlas worker running (data in {}); Ctrl-C stops it",
        cfg.data_dir.display()
    );
    let stop = super::shutdown_signal();
    let readiness = observe::readiness(&svc, &bg);
    let served = observe::spawn(metrics_listener, metrics, &svc, &bg, readiness, stop.clone());
    bg.run(stop).await?;
    if let Some(task) = served {
        task.await.context("the metrics task panicked")??;
    }
    Ok(())
}
