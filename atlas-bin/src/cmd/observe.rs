//! What `atlas serve` and `atlas worker` share for observability: the
//! `/readyz` checks of this process (store, worker loop, scheduler) and the
//! separate metrics listener (`[metrics]`: `/metrics`, `/healthz`,
//! `/readyz`).

use anyhow::Context;
use atlas_core::Service;
use atlas_observe::{Metrics, MetricsState, Readiness};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::cmd::worker::Background;
use crate::config::AtlasConfig;

/// The readiness of a process running `bg`: the store answers, the worker
/// loop beats, and the scheduler (when enabled) ticks.
pub(crate) fn readiness(svc: &Service, bg: &Background) -> Readiness {
    let mut r = Readiness::new(svc.store().clone(), svc.clock().clone()).worker(&bg.worker);
    if let Some((scheduler, every)) = &bg.scheduler {
        r = r.scheduler(scheduler, *every);
    }
    r
}

/// Binds the metrics listener when `[metrics] enabled`.
///
/// # Errors
/// The address cannot be listened on.
pub(crate) async fn bind(cfg: &AtlasConfig) -> anyhow::Result<Option<TcpListener>> {
    if !cfg.metrics.enabled {
        return Ok(None);
    }
    let listener = TcpListener::bind(cfg.metrics.listen).await.with_context(|| {
        format!(
            "cannot listen on {} (metrics.listen; another atlas process on this host needs its own \
             address, or set metrics.enabled = false)",
            cfg.metrics.listen
        )
    })?;
    Ok(Some(listener))
}

/// Serves metrics on `listener` (if any) until `stop`, printing where.
pub(crate) fn spawn(
    listener: Option<TcpListener>,
    metrics: Metrics,
    svc: &Service,
    bg: &Background,
    readiness: Readiness,
    stop: watch::Receiver<bool>,
) -> Option<JoinHandle<std::io::Result<()>>> {
    let listener = listener?;
    if let Ok(addr) = listener.local_addr() {
        println!("Metrics on http://{addr}/metrics (health: /healthz, /readyz)");
    }
    let state = MetricsState {
        metrics,
        store: svc.store().clone(),
        scheduler: bg.scheduler.as_ref().map(|(s, _)| s.clone()),
        readiness,
    };
    Some(tokio::spawn(atlas_observe::serve_metrics(
        listener,
        state,
        super::until(stop),
    )))
}
