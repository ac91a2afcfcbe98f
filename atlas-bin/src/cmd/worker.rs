//! `atlas worker`: the worker and the scheduler, without the API (with the
//! metrics listener when `[metrics]` is enabled).

use anyhow::Context;

use crate::cmd::observe;
use crate::config::AtlasConfig;
use crate::{prerequisites, wiring};

/// Runs the worker and scheduler until Ctrl-C / SIGTERM.
///
/// # Errors
/// Configuration, store or key problems at start-up.
pub async fn run(cfg: AtlasConfig) -> anyhow::Result<()> {
    wiring::ensure_dir(&cfg.data_dir)?;
    let metrics = atlas_observe::Metrics::new();
    let store = wiring::metered(wiring::store(&cfg).await?, &metrics);
    let app = wiring::app(&cfg, store, wiring::secret_key(&cfg)?)?;
    prerequisites::warn_missing(&cfg.shell);
    let _wake = wiring::wake_on_jobs(&cfg, &app)?;
    let metrics_listener = observe::bind(&cfg).await?;
    println!(
        "atlas worker running (data in {}); Ctrl-C stops it",
        cfg.data_dir.display()
    );
    let stop = super::shutdown_signal();
    let readiness = observe::readiness(&app, &cfg, true);
    let served = observe::spawn(metrics_listener, metrics, &app, readiness, stop.clone());
    app.run(super::until(stop)).await?;
    if let Some(task) = served {
        task.await.context("the metrics task panicked")??;
    }
    Ok(())
}
