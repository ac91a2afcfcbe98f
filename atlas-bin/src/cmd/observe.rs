//! What `atlas serve` and `atlas worker` share for observability: the
//! `/readyz` checks of this process (store, worker loop, scheduler) and the
//! separate metrics listener (`[metrics]`: `/metrics`, `/healthz`,
//! `/readyz`).

use std::time::Duration;

use anyhow::Context;
use atlas_core::App;
use atlas_observe::{Metrics, MetricsState, Readiness};
use atlas_shell::FleetExecutor;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::AtlasConfig;

/// The readiness of a process running `app`: the store answers, the
/// worker loop beats and the scheduler (when enabled) ticks — when this
/// node runs them (`with_worker`; an API-only node does not) — and, for a
/// fleet with periodic host checks, a check found every host healthy
/// within three intervals (`hosts`).
pub(crate) fn readiness(app: &App, fleet: Option<&FleetExecutor>, with_worker: bool) -> Readiness {
    let svc = app.service();
    let r = Readiness::new(svc.store().clone(), svc.clock().clone());
    if !with_worker {
        return r;
    }
    let mut r = r.worker(app.worker());
    if let Some(scheduler) = app.scheduler() {
        r = r.scheduler(scheduler, app.tick());
    }
    if let Some(f) = fleet.filter(|f| f.config().ssh.health_check_secs > 0) {
        let ssh = &f.config().ssh;
        let max_age = Duration::from_secs(ssh.health_check_secs * 3 + ssh.connect_timeout_secs);
        let f = f.clone();
        r = r.heartbeat("hosts", max_age, move || f.last_all_healthy());
    }
    r
}

/// Checks every host of `fleet` every `[shell.ssh] health_check_secs`
/// until `stop`, logging each host's problems (the last state of each host
/// is kept by the fleet).
pub(crate) fn spawn_host_checks(
    fleet: Option<&FleetExecutor>,
    mut stop: watch::Receiver<bool>,
) -> Option<JoinHandle<()>> {
    let fleet = fleet?.clone();
    let every = fleet.config().ssh.health_check_secs;
    if every == 0 {
        return None;
    }
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(every));
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            for (host, problems) in fleet.check_hosts().await {
                for p in problems {
                    tracing::warn!(host = %host, problem = %p, "host check");
                }
            }
        }
    }))
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
