//! `atlas routes check`: compares the route map on each load balancer
//! (the `lb` hosts, or this machine's `route_map.path` without them) with
//! the map the records render to, prints every difference and fails when
//! any load balancer differs or cannot be read. It changes nothing.

use anyhow::{bail, Context};
use atlas_core::App;

use crate::config::AtlasConfig;
use crate::wiring;

/// Prints each load balancer's differences; an error when any differs.
///
/// # Errors
/// An unusable configuration or store; records that cannot be read; a
/// load balancer whose map differs or cannot be read.
pub async fn check(cfg: AtlasConfig) -> anyhow::Result<()> {
    let store = wiring::store(&cfg).await?;
    // No secret is read: the route map holds none, so a fresh key will do.
    let app = App::builder(store)
        .executor(wiring::executor(&cfg)?)
        .clock(wiring::clock())
        .config(cfg.app_config())
        .build()
        .context("the [scheduler] configuration is invalid")?;
    let checks = app.engine().check_routes().await?;
    let mut differing = 0;
    for c in &checks {
        if let Some(e) = &c.error {
            println!("{}: cannot read the route map: {e}", c.host);
        } else if c.differences.is_empty() {
            println!("{}: route map matches the records", c.host);
        } else {
            println!("{}: {} difference(s)", c.host, c.differences.len());
            for d in &c.differences {
                println!("  {d}");
            }
        }
        if c.differs() {
            differing += 1;
        }
    }
    if checks.is_empty() {
        println!("no load balancer to compare");
    }
    if differing > 0 {
        bail!(
            "{differing} of {} load balancer(s) differ from the records; the next route publication \
             (any route change) rewrites their maps",
            checks.len()
        );
    }
    Ok(())
}
