//! Builds Atlas from configuration: the only place that chooses the
//! `Store`, `Executor`, `Clock` and `Notifier` implementations and wires
//! them into an [`App`] (`atlas serve` and `atlas worker` share it).

use std::sync::Arc;

use anyhow::Context;
use atlas_core::{App, Clock, Executor, MemoryStore, Notifier, SecretKey, Store, SystemClock};
use atlas_sqlite::SqliteStore;

use crate::config::{AtlasConfig, Backend};

/// Creates `dir` (and parents) if needed.
pub fn ensure_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
}

/// Opens the configured store (migrating a SQLite database as needed).
///
/// # Errors
/// An unusable database; a backend this build does not include.
pub async fn store(cfg: &AtlasConfig) -> anyhow::Result<Arc<dyn Store>> {
    match cfg.store.backend {
        Backend::Sqlite => {
            if let Some(dir) = cfg.store.sqlite.path.parent() {
                ensure_dir(dir)?;
            }
            if !cfg.store.sqlite.is_in_memory() {
                owner_only(&cfg.store.sqlite.path)?;
            }
            let s = SqliteStore::open(cfg.store.sqlite.clone())
                .await
                .with_context(|| format!("opening the database {}", cfg.store.sqlite.path.display()))?;
            Ok(Arc::new(s))
        }
        Backend::Memory => Ok(Arc::new(MemoryStore::new())),
        Backend::Postgres => Ok(Arc::new(postgres(cfg).await?)),
    }
}

/// Opens (and migrates) the configured PostgreSQL store.
///
/// # Errors
/// An unreadable password, an unreachable server, a newer schema.
pub async fn postgres(cfg: &AtlasConfig) -> anyhow::Result<atlas_postgres::PgStore> {
    let pg = cfg.store.postgres.store_config()?;
    let shown = atlas_postgres::config::redact(&pg.url);
    atlas_postgres::PgStore::open(pg)
        .await
        .with_context(|| format!("opening the PostgreSQL store {shown} (store.postgres.url)"))
}

/// On PostgreSQL, wakes `app`'s worker whenever any node makes a job
/// claimable (`LISTEN/NOTIFY`); `None` on other backends, whose jobs are
/// only enqueued by this process (which wakes its worker itself).
///
/// # Errors
/// An unusable `[store.postgres]` setting.
pub fn wake_on_jobs(cfg: &AtlasConfig, app: &App) -> anyhow::Result<Option<atlas_postgres::JobListener>> {
    if cfg.store.backend != Backend::Postgres {
        return Ok(None);
    }
    let store = atlas_postgres::PgStore::connect(cfg.store.postgres.store_config()?)?;
    let worker = app.worker().clone();
    Ok(Some(store.listen_for_jobs(move || worker.wake())?))
}

/// Makes the database file readable and writable by its owner only (0600),
/// creating it empty when absent, so SQLite, which gives its `-wal` and
/// `-shm` files the database's mode, creates those 0600 too. The records
/// hold sealed database passwords and the job results command output.
///
/// # Errors
/// A file that cannot be created or whose mode cannot be changed.
pub fn owner_only(path: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating the database {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("making the database {} private (mode 0600)", path.display()))
}

/// Reads the secrets key, generating the key file (mode 0600) when absent.
///
/// # Errors
/// An unreadable or malformed key file.
pub fn secret_key(cfg: &AtlasConfig) -> anyhow::Result<SecretKey> {
    let path = cfg.key_file();
    match std::fs::read_to_string(&path) {
        Ok(text) => SecretKey::parse(&text).with_context(|| format!("key file {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            if let Some(dir) = path.parent() {
                ensure_dir(dir)?;
            }
            let (key, text) = SecretKey::generate();
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .with_context(|| format!("creating key file {}", path.display()))?;
            f.write_all(format!("{text}\n").as_bytes())?;
            f.sync_all()?;
            tracing::info!(path = %path.display(), "generated a new secrets key file");
            Ok(key)
        }
        Err(e) => Err(e).with_context(|| format!("reading key file {}", path.display())),
    }
}

/// The executor: this host alone (its roots created) when no
/// `[[shell.hosts]]` are configured, else the fleet (the roots of its
/// `local` hosts created).
///
/// # Errors
/// Invalid shell configuration; roots that cannot be created.
pub fn executor(cfg: &AtlasConfig) -> anyhow::Result<Arc<dyn Executor>> {
    let shell = &cfg.shell;
    let mut local = Vec::new();
    if shell.hosts.is_empty() {
        local.push(shell.clone());
    } else {
        local.extend(
            shell
                .hosts
                .iter()
                .filter(|h| h.is_local())
                .map(|h| h.effective(shell)),
        );
    }
    for c in &local {
        for root in [
            &c.code_root,
            &c.instances_code_root,
            &c.instances_web_root,
            &c.files_root,
            &c.backup_root,
        ] {
            ensure_dir(root)?;
        }
    }
    if shell.hosts.is_empty() {
        let exec =
            atlas_shell::ShellExecutor::new(shell.clone()).context("the [shell] configuration is invalid")?;
        return Ok(Arc::new(exec));
    }
    let fleet =
        atlas_shell::FleetExecutor::new(shell.clone()).context("the [shell] configuration is invalid")?;
    Ok(Arc::new(fleet))
}

/// The wall clock.
pub fn clock() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

/// The notifier of the `[notify]` section: every configured channel (Slack,
/// e-mail), or none.
///
/// # Errors
/// An unusable `[notify]` setting.
pub fn notifier(cfg: &AtlasConfig) -> anyhow::Result<Arc<dyn Notifier>> {
    cfg.notify
        .build()
        .context("the [notify] configuration is invalid")
}

/// `store`, its operations and job outcomes recorded into `metrics`.
pub fn metered(store: Arc<dyn Store>, metrics: &atlas_observe::Metrics) -> Arc<dyn Store> {
    atlas_observe::MeteredStore::shared(store, metrics.clone())
}

/// Atlas over `store`: the service, and the worker and scheduler with the
/// configured executor and notifier.
///
/// # Errors
/// An invalid `[shell]`, `[notify]` or `[scheduler]` setting; roots that
/// cannot be created.
pub fn app(cfg: &AtlasConfig, store: Arc<dyn Store>, key: SecretKey) -> anyhow::Result<App> {
    let app = App::builder(store)
        .executor(executor(cfg)?)
        .notifier(notifier(cfg)?)
        .clock(clock())
        .secret_key(key)
        .config(cfg.app_config())
        .build()
        .context("the [scheduler] configuration is invalid")?;
    Ok(app)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(p: &std::path::Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[tokio::test]
    async fn the_database_and_its_wal_are_private_to_the_owner() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = AtlasConfig {
            data_dir: dir.path().to_path_buf(),
            ..AtlasConfig::default()
        }
        .resolved();
        let _store = store(&cfg).await.unwrap();
        let db = &cfg.store.sqlite.path;
        assert_eq!(mode(db), 0o600);
        let wal = db.with_extension("db-wal");
        if wal.exists() {
            assert_eq!(mode(&wal), 0o600);
        }
    }

    #[tokio::test]
    async fn an_existing_world_readable_database_is_made_private() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = AtlasConfig {
            data_dir: dir.path().to_path_buf(),
            ..AtlasConfig::default()
        }
        .resolved();
        drop(store(&cfg).await.unwrap());
        let db = &cfg.store.sqlite.path;
        std::fs::set_permissions(db, std::fs::Permissions::from_mode(0o664)).unwrap();
        drop(store(&cfg).await.unwrap());
        assert_eq!(mode(db), 0o600);
    }
}
