//! What `atlas serve` and `atlas worker` share for observability: the
//! `/readyz` checks of this process (store, worker loop, scheduler, hosts,
//! prerequisites) and the separate metrics listener (`[metrics]`:
//! `/metrics`, `/healthz`, `/readyz`).

use anyhow::Context;
use atlas_core::App;
use atlas_observe::{Metrics, MetricsState, Readiness};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::AtlasConfig;
use crate::prerequisites;

/// The readiness of a process running `app` with `cfg`: the store
/// answers; the worker loop beats and the scheduler (when enabled) ticks,
/// when this node runs them (`with_worker`; an API-only node does not);
/// every host as the newest `check_hosts` run found it (not ready only
/// when no web host was reachable); and, degrading without making the
/// node unready, missing prerequisites of this machine.
pub(crate) fn readiness(app: &App, cfg: &AtlasConfig, with_worker: bool) -> Readiness {
    let svc = app.service();
    let shell = cfg.shell.clone();
    let mut r = Readiness::new(svc.store().clone(), svc.clock().clone())
        .hosts()
        .advisory("prerequisites", move || prerequisites::missing(&shell));
    if !with_worker {
        return r;
    }
    r = r.worker(app.worker());
    if let Some(scheduler) = app.scheduler() {
        r = r.scheduler(scheduler, app.tick());
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
    app: &App,
    readiness: Readiness,
    stop: watch::Receiver<bool>,
) -> Option<JoinHandle<std::io::Result<()>>> {
    let listener = listener?;
    if let Ok(addr) = listener.local_addr() {
        println!("Metrics on http://{addr}/metrics (health: /healthz, /readyz)");
    }
    let state = MetricsState {
        metrics,
        store: app.service().store().clone(),
        scheduler: app.scheduler().cloned(),
        readiness,
    };
    Some(tokio::spawn(atlas_observe::serve_metrics(
        listener,
        state,
        super::until(stop),
    )))
}
