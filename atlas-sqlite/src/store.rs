//! [`SqliteStore`]: opening (pragmas, migrations, functions), and the
//! [`Store`] implementation that routes reads to the reader pool and every
//! change through the group-committing writer thread.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use atlas_core::model::{Doc, Id, Resource, Timestamp};
use atlas_core::query::FindQuery;
use atlas_core::{
    Batch, Committed, FindPage, Job, JobAction, JobChange, JobId, JobPage, LeaseSpec, Outcome, Store,
    StoreError,
};
use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::apply;
use crate::checkpoint::WalLimit;
use crate::config::{SqliteConfig, Synchronous, INLINE_FIND_ROWS};
use crate::durability::{Durability, Watermark};
use crate::error::{Error, Result};
use crate::functions::{self, Residuals};
use crate::migrations;
use crate::prepare::Prepared;
use crate::queue::{self, ActOnJob, Claim, Finish, Renew, RequeueExpired};
use crate::read::{self, Readers};
use crate::shape::ShapeCache;
use crate::writer_thread::{Writer, WriterStats};

/// The schema version this build of `atlas-sqlite` writes
/// (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = migrations::LATEST;

/// Prepared statements kept per connection (`prepare_cached`).
const STATEMENT_CACHE: usize = 256;

/// The SQLite [`Store`]: durable, shareable (clones share one database and
/// one writer thread), and safe to open from several processes (they
/// serialise on SQLite's write lock, waiting up to `busy_timeout_ms`).
///
/// # Contracts
/// - A `commit` (and every job-queue change) is answered only after its
///   transaction committed and, with the default `synchronous = full`, the
///   WAL holding it was fsynced; reads never return this store's writes
///   before that fsync.
/// - Concurrent `commit`s are grouped into one transaction, each batch in
///   its own savepoint: a failing batch fails alone.
/// - `find` returns exactly what `atlas_core::query::select` returns over
///   the same records (see `translate.rs` for how).
/// - Point reads (`get`, `job`) run on the calling task when a reader
///   connection is free (they take microseconds); so do finds, up to a
///   small budget of work (`inline_find_steps`), past which they run again
///   on the blocking pool; `history` runs on the blocking pool; writes run
///   on the writer thread.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    // Field order matters for drop: the writer finishes queued work first.
    writer: Writer,
    readers: Readers,
    residuals: Arc<Residuals>,
    shapes: ShapeCache,
    watermark: Arc<Watermark>,
    config: SqliteConfig,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.config.path)
            .field("synchronous", &self.inner.config.synchronous)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating and migrating as needed) the database `config`
    /// describes.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the file cannot be opened, is not a
    /// database, or was written by a newer Atlas (the message names both
    /// schema versions).
    pub async fn open(config: SqliteConfig) -> Result<SqliteStore, StoreError> {
        tokio::task::spawn_blocking(move || Self::open_blocking(config))
            .await
            .map_err(Error::from)?
    }

    /// [`SqliteStore::open`] with the defaults for the file at `path`.
    ///
    /// # Errors
    /// As [`SqliteStore::open`].
    pub async fn open_path(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        Self::open(SqliteConfig::at(path.as_ref())).await
    }

    /// A fresh, empty in-memory store (tests, throw-away runs).
    ///
    /// # Errors
    /// As [`SqliteStore::open`].
    pub async fn open_in_memory() -> Result<SqliteStore, StoreError> {
        Self::open(SqliteConfig::in_memory()).await
    }

    /// [`SqliteStore::open`] for callers outside an async runtime. It
    /// blocks while migrating.
    ///
    /// # Errors
    /// As [`SqliteStore::open`].
    pub fn open_blocking(config: SqliteConfig) -> Result<SqliteStore, StoreError> {
        Ok(Self::open_inner(config)?)
    }

    fn open_inner(config: SqliteConfig) -> Result<SqliteStore> {
        let residuals = Arc::new(Residuals::default());
        let (writer_conn, readers, checkpointer, durability) = if config.is_in_memory() {
            let mut conn = Connection::open_in_memory()?;
            setup(&conn, &config, &residuals)?;
            migrations::migrate(&mut conn)?;
            let conn = Arc::new(Mutex::new(conn));
            let readers = Readers::new(Arc::clone(&conn), Vec::new());
            (conn, readers, None, Durability::Immediate)
        } else {
            let path = &config.path;
            let open = |flags: OpenFlags| {
                Connection::open_with_flags(path, flags).map_err(|source| Error::Open {
                    path: path.display().to_string(),
                    source,
                })
            };
            let mut conn = open(OpenFlags::default())?;
            conn.busy_timeout(config.busy_timeout())?;
            let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(Error::NoWal {
                    path: path.display().to_string(),
                    mode,
                });
            }
            setup(&conn, &config, &residuals)?;
            migrations::migrate(&mut conn)?;
            let mut wal = path.clone().into_os_string();
            wal.push("-wal");
            let wal = PathBuf::from(wal);
            let durability = if config.synchronous == Synchronous::Full {
                // The sync thread fsyncs the WAL after each group (see durability.rs).
                conn.pragma_update(None, "synchronous", "NORMAL")?;
                Durability::Pipelined { wal: wal.clone() }
            } else {
                Durability::Immediate
            };
            let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI;
            let reader = || -> Result<read::Conn> {
                let r = open(flags)?;
                setup(&r, &config, &residuals)?;
                r.pragma_update(None, "query_only", true)?;
                Ok(Arc::new(Mutex::new(r)))
            };
            let first = reader()?;
            let others = (1..config.readers).map(|_| reader()).collect::<Result<_>>()?;
            let readers = Readers::new(first, others);
            // Checkpoints run on their own connection, off the writer
            // thread; the writer restarts a WAL they cannot keep short.
            let limit = WalLimit {
                wal,
                bytes: u64::from(config.checkpoint_kib) * 1024,
                busy: config.busy_timeout(),
            };
            limit.configure(&conn)?;
            let cp = open(flags)?;
            cp.busy_timeout(config.busy_timeout())?;
            cp.pragma_update(None, "synchronous", "NORMAL")?;
            (Arc::new(Mutex::new(conn)), readers, Some((cp, limit)), durability)
        };
        let watermark = Watermark::new();
        let writer = Writer::spawn(
            writer_conn,
            checkpointer,
            durability,
            Arc::clone(&watermark),
            config.max_group,
        )?;
        tracing::debug!(path = %config.path.display(), "sqlite store open");
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                writer,
                readers,
                residuals,
                shapes: ShapeCache::default(),
                watermark,
                config,
            }),
        })
    }

    /// The configuration the store was opened with.
    pub fn config(&self) -> &SqliteConfig {
        &self.inner.config
    }

    /// How many transactions the writer committed and how many requests
    /// they carried (their ratio is the group-commit factor).
    pub fn writer_stats(&self) -> WriterStats {
        self.inner.writer.stats()
    }

    /// Runs `PRAGMA integrity_check` and checks every cached count against
    /// the rows it counts; returns the problems found (empty when the
    /// database is sound).
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the check cannot run.
    pub async fn integrity_check(&self) -> Result<Vec<String>, StoreError> {
        self.read(|conn, _, _| {
            let tx = conn.transaction()?;
            let mut stmt = tx.prepare("PRAGMA integrity_check")?;
            let mut lines = stmt
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            drop(stmt);
            if lines == ["ok"] {
                lines.clear();
            }
            lines.extend(migrations::count_mismatches(&tx)?);
            tx.commit()?;
            Ok(lines)
        })
        .await
    }

    /// The query plan SQLite chooses for `find(res, q)`'s count (or the
    /// lookup of its cached total) and page queries (`EXPLAIN QUERY PLAN`
    /// detail lines), to check that hot queries use their indexes.
    ///
    /// # Errors
    /// [`StoreError::Backend`].
    pub async fn explain_find(&self, res: Resource, q: &FindQuery) -> Result<Vec<String>, StoreError> {
        let q = q.clone();
        self.read(move |conn, residuals, shapes| read::explain(conn, residuals, shapes, res, &q))
            .await
    }

    /// A point lookup: microseconds of work, so it runs on the calling
    /// task when a reader connection is free, and on the blocking pool only
    /// when all are busy.
    async fn lookup<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let r = match self.inner.readers.try_with(f) {
            Ok(r) => r,
            Err(f) => {
                let inner = Arc::clone(&self.inner);
                tokio::task::spawn_blocking(move || inner.readers.with(f))
                    .await
                    .map_err(Error::from)?
            }
        };
        self.inner.watermark.wait_durable().await;
        Ok(r?)
    }

    /// A read that is usually small (a find), tried on the calling task
    /// when a reader connection is free, within the inline budget
    /// (`inline_find_steps`, [`INLINE_FIND_ROWS`]), and returned once
    /// durable like every read. `None` when it could not run or went past
    /// the budget: run it on the blocking pool then.
    async fn try_inline<T>(
        &self,
        f: impl FnOnce(&mut Connection, &Arc<Residuals>, &ShapeCache, usize) -> Result<T>,
    ) -> Result<Option<T>, StoreError> {
        let inner = &self.inner;
        let steps = inner.config.inline_find_steps;
        if steps == 0 {
            return Ok(None);
        }
        let run = |c: &mut Connection| {
            read::within_budget(c, steps, |c| {
                f(c, &inner.residuals, &inner.shapes, INLINE_FIND_ROWS)
            })
        };
        let Ok(found) = inner.readers.try_with(run) else {
            return Ok(None);
        };
        let found = found?;
        if found.is_some() {
            inner.watermark.wait_durable().await;
        }
        Ok(found)
    }

    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection, &Arc<Residuals>, &ShapeCache) -> Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let inner = Arc::clone(&self.inner);
        let r = tokio::task::spawn_blocking(move || {
            inner.readers.with(|c| f(c, &inner.residuals, &inner.shapes))
        })
        .await
        .map_err(Error::from)?;
        // Never hand out writes that are committed but not yet on disk.
        self.inner.watermark.wait_durable().await;
        Ok(r?)
    }
}

fn setup(conn: &Connection, config: &SqliteConfig, residuals: &Arc<Residuals>) -> Result<()> {
    conn.busy_timeout(if config.is_in_memory() {
        Duration::ZERO
    } else {
        config.busy_timeout()
    })?;
    conn.pragma_update(None, "synchronous", config.synchronous.pragma())?;
    conn.pragma_update(None, "cache_size", -i64::from(config.cache_kib))?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    if !config.is_in_memory() {
        // `PRAGMA mmap_size` answers with the size it settled on.
        let _: Option<i64> = conn
            .query_row(
                &format!("PRAGMA mmap_size = {}", i64::from(config.mmap_mib) * 1024 * 1024),
                [],
                |r| r.get(0),
            )
            .optional()?;
    }
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    functions::register(conn, residuals)
}

#[async_trait]
impl Store for SqliteStore {
    #[tracing::instrument(skip_all, fields(res = %res, id = %id))]
    async fn get(&self, res: Resource, id: &Id) -> Result<Option<Doc>, StoreError> {
        let id = *id;
        self.lookup(move |c| apply::load(c, res, &id)).await
    }

    #[tracing::instrument(skip_all, fields(res = %res))]
    async fn find(&self, res: Resource, q: &FindQuery) -> Result<FindPage, StoreError> {
        if let Some(page) = self
            .try_inline(|c, r, s, rows| read::find(c, r, s, res, q, rows))
            .await?
        {
            return Ok(page);
        }
        let q = q.clone();
        self.read(move |c, r, s| read::find(c, r, s, res, &q, usize::MAX))
            .await
    }

    #[tracing::instrument(skip_all, fields(res = %res, id = %id))]
    async fn history(&self, res: Resource, id: &Id) -> Result<Vec<Doc>, StoreError> {
        let id = *id;
        self.read(move |c, _, _| read::history(c, res, &id)).await
    }

    #[tracing::instrument(skip_all, fields(writes = batch.writes.len()))]
    async fn commit(&self, batch: Batch) -> Result<Committed, StoreError> {
        let batch = Prepared::new(batch)?;
        self.inner.writer.call(batch).await
    }

    #[tracing::instrument(skip_all, fields(owner = %lease.owner))]
    async fn claim(&self, lease: &LeaseSpec, now: Timestamp) -> Result<Option<Job>, StoreError> {
        let lease = lease.clone();
        self.inner.writer.call(Claim { lease, now }).await
    }

    #[tracing::instrument(skip_all, fields(job.id = %job, owner = %owner))]
    async fn renew(&self, job: &JobId, owner: &str, until: Timestamp) -> Result<(), StoreError> {
        let (job, owner) = (*job, owner.to_owned());
        self.inner.writer.call(Renew { job, owner, until }).await
    }

    #[tracing::instrument(skip_all, fields(job.id = %job, owner = %outcome.owner))]
    async fn finish(&self, job: &JobId, mut outcome: Outcome) -> Result<(), StoreError> {
        let follow_up = std::mem::replace(&mut outcome.follow_up, Batch::new(outcome.now));
        let follow_up = Prepared::new(follow_up)?;
        let job = *job;
        self.inner
            .writer
            .call(Finish {
                job,
                outcome,
                follow_up,
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    async fn requeue_expired(&self, now: Timestamp) -> Result<u64, StoreError> {
        self.inner.writer.call(RequeueExpired { now }).await
    }

    #[tracing::instrument(skip_all, fields(job.id = %id))]
    async fn job(&self, id: &JobId) -> Result<Option<Job>, StoreError> {
        let id = *id;
        self.lookup(move |c| queue::load_job(c, &id)).await
    }

    #[tracing::instrument(skip_all)]
    async fn find_jobs(&self, q: &FindQuery) -> Result<JobPage, StoreError> {
        if let Some(page) = self
            .try_inline(|c, r, s, rows| read::find_jobs(c, r, s, q, rows))
            .await?
        {
            return Ok(page);
        }
        let q = q.clone();
        self.read(move |c, r, s| read::find_jobs(c, r, s, &q, usize::MAX))
            .await
    }

    #[tracing::instrument(skip_all, fields(job.id = %id))]
    async fn act_on_job(
        &self,
        id: &JobId,
        action: &JobAction,
        now: Timestamp,
    ) -> Result<JobChange, StoreError> {
        let (job, action) = (*id, action.clone());
        self.inner.writer.call(ActOnJob { job, action, now }).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use atlas_core::model::Etag;
    use atlas_core::query::{Filter, Paging};
    use serde_json::json;

    #[test]
    fn opening_a_version_1_file_migrates_it_and_its_records_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        let mut c = Connection::open(&path).unwrap();
        migrations::migrate_to(&mut c, 1).unwrap();
        c.execute(
            "INSERT INTO instance(id, etag, created, updated, version, deleted, body)
             VALUES ('6b063bb73e47cec0540baa24', 'e', 0, 0, 1, 0, jsonb(?1))",
            [json!({"sid": "p1old000001", "status": "installed", "code": {"package": ["pk"]}}).to_string()],
        )
        .unwrap();
        drop(c);

        let store = SqliteStore::open_blocking(SqliteConfig::at(&path)).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let by_pkg = rt
            .block_on(store.find(
                Resource::Instance,
                &FindQuery::all_matching(Filter::eq("code.package", "pk")),
            ))
            .unwrap();
        assert_eq!(by_pkg.total, 1);
        let by_status = rt
            .block_on(store.find(
                Resource::Instance,
                &FindQuery::all_matching(Filter::eq("status", "installed")),
            ))
            .unwrap();
        assert_eq!(by_status.total, 1);
        let counted = rt
            .block_on(store.find(
                Resource::Instance,
                &FindQuery::count_of(Filter::eq("status", "installed")),
            ))
            .unwrap();
        assert_eq!(counted.total, 1, "the migrated row is counted");
        drop(store);
        let c = Connection::open(&path).unwrap();
        assert_eq!(migrations::user_version(&c).unwrap(), SCHEMA_VERSION);
    }

    /// `find`'s total when it has to be counted (a page past the first
    /// match: the cached total when the filter is one the counts answer),
    /// and the number of matches (a page holding them all).
    async fn totals(store: &SqliteStore, filter: &Filter, show_deleted: bool) -> (u64, u64) {
        let counted = FindQuery {
            paging: Paging {
                page: 2,
                max_results: 1,
            },
            show_deleted,
            ..FindQuery::count_of(filter.clone())
        };
        let all = FindQuery {
            show_deleted,
            ..FindQuery::all_matching(filter.clone())
        };
        let total = store.find(Resource::Instance, &counted).await.unwrap().total;
        let matches = store.find(Resource::Instance, &all).await.unwrap();
        assert_eq!(matches.total, matches.items.len() as u64);
        (total, matches.total)
    }

    async fn assert_totals(store: &SqliteStore, step: &str) {
        let filters = [
            Filter::All,
            Filter::eq("status", "pending"),
            Filter::eq("status", "installed"),
            Filter::eq("status", "never stored"),
            Filter::eq("type", "express"),
            Filter::eq("type", "custom"),
            Filter::and(vec![
                Filter::eq("status", "pending"),
                Filter::eq("type", "express"),
            ]),
        ];
        for f in &filters {
            for show_deleted in [false, true] {
                let (total, matches) = totals(store, f, show_deleted).await;
                assert_eq!(total, matches, "{f:?} (show_deleted {show_deleted}) after {step}");
            }
        }
        assert_eq!(
            store.integrity_check().await.unwrap(),
            Vec::<String>::new(),
            "after {step}"
        );
    }

    async fn cached_totals_follow_every_write(store: SqliteStore) {
        let t = Timestamp::from_unix(1_795_564_800);
        let body = |v: serde_json::Value| v.as_object().cloned().unwrap();
        let ids: Vec<Id> = (0..6).map(|_| Id::generate(t)).collect();
        let mut b = Batch::new(t);
        for (n, id) in ids.iter().enumerate() {
            let status = if n < 4 { "pending" } else { "installed" };
            let doc = match n {
                0..=2 => json!({"status": status, "type": "express"}),
                3 => json!({"status": status}),
                _ => json!({"status": status, "type": "custom"}),
            };
            b.insert(Resource::Instance, *id, body(doc));
        }
        store.commit(b).await.unwrap();
        assert_totals(&store, "inserts").await;
        let pending = FindQuery::count_of(Filter::eq("status", "pending"));
        let plan = store.explain_find(Resource::Instance, &pending).await.unwrap();
        assert!(plan[0].contains("value_counts"), "{plan:?}");
        assert_eq!(store.find(Resource::Instance, &pending).await.unwrap().total, 4);

        let mut b = Batch::new(t);
        b.update(
            Resource::Instance,
            ids[0],
            body(json!({"status": "installed"})),
            None,
        );
        b.replace(
            Resource::Instance,
            ids[4],
            body(json!({"status": "pending", "type": "express"})),
            None,
        );
        store.commit(b).await.unwrap();
        assert_totals(&store, "status updates").await;

        let mut b = Batch::new(t);
        b.delete(Resource::Instance, ids[1], None);
        b.delete(Resource::Instance, ids[5], None);
        store.commit(b).await.unwrap();
        let mut b = Batch::new(t);
        b.delete(Resource::Instance, ids[1], None);
        store.commit(b).await.unwrap();
        assert_totals(&store, "soft deletes").await;

        // A batch that fails after counted writes leaves no trace.
        let mut b = Batch::new(t);
        b.insert(
            Resource::Instance,
            Id::generate(t),
            body(json!({"status": "pending"})),
        );
        b.update(
            Resource::Instance,
            ids[2],
            body(json!({"status": "installed"})),
            None,
        );
        b.delete(Resource::Instance, ids[3], None);
        b.update(
            Resource::Instance,
            ids[3],
            body(json!({"status": "down"})),
            Some(Etag::from_client("stale")),
        );
        assert!(store.commit(b).await.is_err());
        assert_totals(&store, "a failed batch").await;
        assert_eq!(store.find(Resource::Instance, &pending).await.unwrap().total, 3);
    }

    #[test]
    fn cached_totals_equal_counted_ones_after_every_write_in_memory_and_on_disk() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        rt.block_on(async {
            cached_totals_follow_every_write(SqliteStore::open_in_memory().await.unwrap()).await;
            cached_totals_follow_every_write(SqliteStore::open_path(dir.path().join("c.db")).await.unwrap())
                .await;
        });
    }

    #[test]
    fn debug_shows_the_path_and_durability() {
        let store = SqliteStore::open_blocking(SqliteConfig::in_memory()).unwrap();
        let s = format!("{store:?}");
        assert!(s.contains(":memory:") && s.contains("Full"), "{s}");
    }
}
