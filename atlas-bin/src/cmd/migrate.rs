//! `atlas migrate`: opens (and so migrates) the database, then checks it:
//! SQLite's integrity check, or PostgreSQL's schema version. With
//! `--from sqlite:PATH` it first copies a SQLite database into the
//! configured (empty) PostgreSQL store: every record with all its versions,
//! and every job.

use anyhow::{bail, Context};
use atlas_core::model::Resource;
use atlas_core::query::{Filter, FindQuery, Paging};
use atlas_core::Store;
use atlas_sqlite::SqliteStore;

use crate::config::{AtlasConfig, Backend};
use crate::wiring;

/// Migrates and checks the configured database.
///
/// # Errors
/// A database that cannot be opened, is from a newer Atlas, or fails its
/// integrity check.
pub async fn run(cfg: AtlasConfig, from: Option<String>) -> anyhow::Result<()> {
    if let Some(from) = from {
        return copy_from_sqlite(&cfg, &from).await;
    }
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

/// Copies the SQLite database `from` (`sqlite:PATH`) into the configured,
/// empty PostgreSQL store.
async fn copy_from_sqlite(cfg: &AtlasConfig, from: &str) -> anyhow::Result<()> {
    let Some(path) = from.strip_prefix("sqlite:") else {
        bail!("--from {from}: give the source as sqlite:PATH (e.g. sqlite:atlas-data/atlas.db)");
    };
    if cfg.store.backend != Backend::Postgres {
        bail!("--from copies into PostgreSQL: set store.backend = \"postgres\" and [store.postgres] url");
    }
    if !std::path::Path::new(path).exists() {
        bail!("--from {from}: {path} does not exist");
    }
    let source = SqliteStore::open_path(path)
        .await
        .with_context(|| format!("opening the SQLite database {path}"))?;
    let target = wiring::postgres(cfg).await?;
    if !target.is_empty().await? {
        bail!(
            "the PostgreSQL store {} already holds records or jobs; copy into an empty database or schema",
            atlas_postgres::config::redact(&target.config().url)
        );
    }
    let all = FindQuery {
        filter: Filter::All,
        paging: Paging::all(),
        show_deleted: true,
        ..FindQuery::default()
    };
    let mut records = 0;
    for res in Resource::ALL {
        for doc in source.find(res, &all).await?.items {
            let versions = source.history(res, &doc.id).await?;
            target
                .import_record(res, &versions)
                .await
                .with_context(|| format!("copying {res} '{}'", doc.id))?;
            records += 1;
        }
    }
    let jobs = source.find_jobs(&all).await?.items;
    for job in &jobs {
        target
            .import_job(job)
            .await
            .with_context(|| format!("copying job '{}'", job.id))?;
    }
    println!(
        "copied {records} records (with their versions) and {} jobs from {path} into {}",
        jobs.len(),
        atlas_postgres::config::redact(&target.config().url)
    );
    Ok(())
}
