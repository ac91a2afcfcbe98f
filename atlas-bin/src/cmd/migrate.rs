//! `atlas migrate`: opens (and so migrates) the database, then checks its
//! integrity.

use anyhow::bail;
use atlas_sqlite::SqliteStore;

use crate::config::{AtlasConfig, Backend};
use crate::wiring;

/// Migrates and checks the configured SQLite database.
///
/// # Errors
/// A database that cannot be opened or fails its integrity check.
pub async fn run(cfg: AtlasConfig) -> anyhow::Result<()> {
    if cfg.store.backend != Backend::Sqlite {
        bail!(
            "atlas migrate works on the sqlite store; store.backend is {:?}",
            cfg.store.backend
        );
    }
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
