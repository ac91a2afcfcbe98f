//! `atlas serve`: the API, the worker and the scheduler in one process
//! (or the API alone with `--no-worker`), with the metrics listener when
//! `[metrics]` is enabled. Users sign in from the users file (and
//! `[http.users]`), then, when `[auth.ldap]` is configured, the LDAP
//! directory. The dashboard (`[ui]`, on by default) is served under
//! `<http.base_path>/ui/` on the API's listener.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use atlas_http::Authenticator;
use atlas_ldap::LdapAuthenticator;

use crate::cmd::observe;
use crate::config::AtlasConfig;
use crate::users::{UsersFile, FIRST_USER};
use crate::{prerequisites, wiring};

/// How often the LDAP directory is probed while nobody signs in.
const LDAP_PROBE_INTERVAL: Duration = Duration::from_secs(60);

/// Runs everything until Ctrl-C / SIGTERM, then finishes in-flight
/// requests and lets running jobs finish up to the worker's grace period.
///
/// # Errors
/// Configuration, store, key or listen-address problems at start-up.
pub async fn run(mut cfg: AtlasConfig, listen: Option<String>, with_worker: bool) -> anyhow::Result<()> {
    if let Some(l) = listen {
        cfg.http.listen = l
            .parse()
            .with_context(|| format!("--listen {l}: use an address like 127.0.0.1:8080"))?;
    }
    wiring::ensure_dir(&cfg.data_dir)?;
    let metrics = atlas_observe::Metrics::new();
    let store = wiring::metered(wiring::store(&cfg).await?, &metrics);
    let app = wiring::app(&cfg, store, wiring::secret_key(&cfg)?)?;
    prerequisites::warn_missing(&cfg.shell);
    let mut readiness = observe::readiness(&app, &cfg, with_worker);
    let _wake = if with_worker {
        wiring::wake_on_jobs(&cfg, &app)?
    } else {
        None
    };

    let users = UsersFile::at(cfg.users_file());
    if let Some(password) = users.ensure_first_user()? {
        println!("Created the first API user: {FIRST_USER} / {password}");
        println!(
            "(shown once; stored hashed in {}; change it with `atlas user passwd {FIRST_USER}`)",
            users.path().display()
        );
    }
    let mut known = users.load()?.users;
    known.extend(cfg.http.users.clone());
    let file = atlas_http::StaticUsers::new(known).context("a user's password hash is invalid")?;
    let auth: Arc<dyn Authenticator> = match &cfg.auth.ldap {
        None => Arc::new(file),
        Some(ldap) => {
            let directory = Arc::new(
                LdapAuthenticator::new(ldap)
                    .context("the [auth.ldap] configuration is invalid")?
                    .with_metrics(metrics.clone()),
            );
            let health = directory.health();
            readiness = readiness.advisory("ldap", move || health.problems());
            if let Err(e) = directory.probe().await {
                eprintln!(
                    "warning: {} does not answer ({}); directory users get 503 until it does                      (`atlas config check` tells more)",
                    e.backend, e.reason
                );
            }
            println!(
                "Users sign in from the users file, then the LDAP directory {}",
                directory.url()
            );
            let _probes = directory.clone().watch(LDAP_PROBE_INTERVAL);
            Arc::new(atlas_http::Chain::new(file, directory))
        }
    };
    let state = atlas_http::AppState::new(app.service().clone(), auth, cfg.http.clone())
        .with_metrics(metrics.clone())
        .with_readiness(readiness.clone());

    let listener = tokio::net::TcpListener::bind(&cfg.http.listen)
        .await
        .with_context(|| format!("cannot listen on {} (http.listen)", cfg.http.listen))?;
    let addr = listener.local_addr()?;
    let metrics_listener = observe::bind(&cfg).await?;
    println!(
        "Atlas is listening on http://{addr}/ (data in {}{})",
        cfg.data_dir.display(),
        if with_worker { "" } else { "; API only, no worker" }
    );
    if cfg.ui.enabled {
        println!("Dashboard on http://{addr}{}/ui/", cfg.http.base_path);
    }

    let stop = super::shutdown_signal();
    let served = observe::spawn(metrics_listener, metrics, &app, readiness, stop.clone());
    let background = tokio::spawn({
        let app = app.clone();
        let stop = stop.clone();
        async move {
            if with_worker {
                app.run(super::until(stop)).await
            } else {
                Ok(())
            }
        }
    });
    // The dashboard signs people in through the API's own gate.
    let gate = atlas_http::SignInGate::of(&state);
    let mut app = atlas_http::router(state);
    if cfg.ui.enabled {
        app = atlas_ui::mount(app, gate, &cfg.ui, &cfg.http.base_path);
    }
    atlas_http::serve_router(listener, app, super::until(stop))
        .await
        .context("the HTTP server failed")?;
    background.await.context("the worker task panicked")??;
    if let Some(task) = served {
        task.await
            .context("the metrics task panicked")?
            .context("the metrics server failed")?;
    }
    println!("Atlas stopped.");
    Ok(())
}
