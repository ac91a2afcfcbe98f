//! `atlas migrate`: opens (and so migrates) the database, then checks it:
//! SQLite's integrity check, or PostgreSQL's schema version.

use anyhow::bail;
use atlas_sqlite::SqliteStore;

use crate::config::{AtlasConfig, Backend};
use crate::wiring;

/// Migrates and checks the configured database.
///
/// # Errors
/// A database that cannot be opened, is from a newer Atlas, or fails its
/// integrity check.
pub async fn run(cfg: AtlasConfig) -> anyhow::Result<()> {
    match cfg.store.backend {
        Backend::Sqlite => sqlite(&cfg).await,
        Backend::Postgres => {
            let store = wiring::postgres(&cfg).await?;
            let version = store.schema_version().await?;
            println!(
                "PostgreSQL database {} is at schema version {version}, up to date",
                atlas_postgres::config::redact(&store.config().url)
            );
            Ok(())
        }
        Backend::Memory => {
            bail!("atlas migrate works on a database; store.backend is \"memory\", which keeps nothing")
        }
    }
}

async fn sqlite(cfg: &AtlasConfig) -> anyhow::Result<()> {
    if let Some(dir) = cfg.store.sqlite.path.parent() {
        wiring::ensure_dir(dir)?;
    }
    let store = SqliteStore::open(cfg.store.sqlite.clone()).await?;
    let problems = store.integrity_check().await?;
    if !(problems.is_empty() || problems == ["ok"]) {
        bail!(
            "integrity check of {} failed: {}",
            cfg.store.sqlite.path.display(),
            problems.join("; ")
        );
    }
    println!(
        "database {} is up to date and intact",
        cfg.store.sqlite.path.display()
    );
    Ok(())
}
