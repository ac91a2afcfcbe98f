//! [`PgStore`]: the pool, migrations on open, and the `Store` impl.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use atlas_core::model::{Doc, Id, Resource, Timestamp};
use atlas_core::query::{select, FindQuery};
use atlas_core::{
    Batch, Committed, FindPage, Job, JobAction, JobChange, JobId, JobPage, LeaseSpec, Outcome, Store,
    StoreError,
};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

use crate::apply::{all_independent, apply, unattributed_clash, Applied};
use crate::config::PgConfig;
use crate::db::Tx;
use crate::error::{Error, Result};
use crate::group::GroupCommit;
use crate::listen::JobListener;
use crate::tables::{history_name, table_name};
use crate::tls::Connector;
use crate::wake::Waker;
use crate::{leader, migrations, queue, rows, translate};

/// The newest schema version this build writes.
pub const SCHEMA_VERSION: i64 = migrations::LATEST;

/// The PostgreSQL store: records in `jsonb`, the job queue for workers on
/// many nodes. Cheap to clone; clones share the pool.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    config: Arc<PgConfig>,
    /// Wakes the workers of every node after commits that made jobs claimable.
    waker: Arc<Waker>,
    /// Commits concurrent creates together.
    group: Arc<GroupCommit>,
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects, creates the schema if needed and migrates it to
    /// [`SCHEMA_VERSION`].
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the server cannot be reached, the
    /// configuration is unusable, or the database is at a newer schema
    /// version than this Atlas knows (both versions named).
    pub async fn open(config: PgConfig) -> Result<PgStore, StoreError> {
        let store = Self::connect(config)?;
        store.migrate().await?;
        Ok(store)
    }

    /// A store over `config` without touching the database (no migration).
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the configuration is unusable.
    pub fn connect(config: PgConfig) -> Result<PgStore, StoreError> {
        let driver = config.driver()?;
        let manager_config = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = match config.connector()? {
            Connector::Plain => Manager::from_config(driver, NoTls, manager_config),
            Connector::Tls(tls) => Manager::from_config(driver, tls, manager_config),
        };
        let pool = Pool::builder(manager)
            .max_size(config.pool_size.max(1))
            .build()
            .map_err(|e| Error::Config(format!("cannot build the connection pool: {e}")))?;
        Ok(PgStore {
            waker: Arc::new(Waker::new(pool.clone(), config.channel().into())),
            group: Arc::new(GroupCommit::new(
                pool.clone(),
                GroupCommit::slots_for(config.pool_size),
            )),
            pool,
            config: Arc::new(config),
        })
    }

    /// Creates the schema when one is configured and brings the database to
    /// [`SCHEMA_VERSION`]; answers the version it is at.
    ///
    /// # Errors
    /// As [`PgStore::open`].
    pub async fn migrate(&self) -> Result<i64, StoreError> {
        self.migrate_to(SCHEMA_VERSION).await
    }

    /// Brings the database to `target` (for tests of later migrations).
    ///
    /// # Errors
    /// As [`PgStore::open`].
    pub async fn migrate_to(&self, target: i64) -> Result<i64, StoreError> {
        let mut client = self.pool.get().await.map_err(Error::from)?;
        if let Some(schema) = &self.config.schema {
            crate::config::check_schema(schema)?;
            client
                .batch_execute(&format!("SET client_min_messages = warning; CREATE SCHEMA IF NOT EXISTS {schema}; RESET client_min_messages"))
                .await
                .map_err(Error::from)?;
        }
        let client: &mut tokio_postgres::Client = &mut client;
        Ok(migrations::migrate_to(client, target).await?)
    }

    /// The schema version the database is at (0 when empty).
    ///
    /// # Errors
    /// [`StoreError::Backend`].
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        let client = self.pool.get().await.map_err(Error::from)?;
        Ok(migrations::version(&client).await?)
    }

    /// The configuration (its `Debug` hides the password).
    pub fn config(&self) -> &PgConfig {
        &self.config
    }

    /// Calls `wake` whenever another transaction (on any node) makes a job
    /// claimable: hand it `Worker::wake`. Runs until the listener is dropped.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the configuration is unusable.
    pub fn listen_for_jobs(
        &self,
        wake: impl Fn() + Send + Sync + 'static,
    ) -> Result<JobListener, StoreError> {
        Ok(JobListener::start(&self.config, Arc::new(wake))?)
    }

    /// `EXPLAIN` of the statement `find` runs for `q` on `res`, one line per
    /// plan line.
    ///
    /// # Errors
    /// [`StoreError::Backend`].
    pub async fn explain_find(&self, res: Resource, q: &FindQuery) -> Result<Vec<String>, StoreError> {
        let pre = translate::records(q);
        let sql = format!("EXPLAIN {}", select_docs(res, &pre));
        let client = self.pool.get().await.map_err(Error::from)?;
        let rows = client.query(&sql, &pre.args()).await.map_err(Error::from)?;
        Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
    }

    /// A pooled connection.
    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        Ok(self.pool.get().await.map_err(Error::from)?)
    }

    /// Runs one statement with parameters on a pooled connection.
    #[cfg_attr(not(feature = "testing"), allow(dead_code))]
    pub(crate) async fn execute(
        &self,
        sql: &str,
        args: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<u64, StoreError> {
        let client = self.pool.get().await.map_err(Error::from)?;
        Ok(client.execute(sql, args).await.map_err(Error::from)?)
    }

    /// Runs fixed statements (no parameters) on a pooled connection.
    #[cfg_attr(not(feature = "testing"), allow(dead_code))]
    pub(crate) async fn batch_execute(&self, sql: &str) -> Result<(), StoreError> {
        let client = self.pool.get().await.map_err(Error::from)?;
        client.batch_execute(sql).await.map_err(Error::from)?;
        Ok(())
    }

    /// Runs `f` in a transaction on a pooled connection and commits.
    async fn in_tx<T, F>(&self, f: F) -> Result<T>
    where
        F: for<'a> FnOnce(&'a Tx<'a>) -> futures::future::BoxFuture<'a, Result<T>>,
    {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let out = f(&tx).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// Applies `batch` (and, for `finish`, the job's new state) in one
    /// transaction, attributing a unique clash to its key.
    async fn commit_with(&self, batch: &Batch, finishing: Option<(&JobId, &Outcome)>) -> Result<Committed> {
        let mut probe = None;
        if finishing.is_none() && all_independent(batch) {
            match self.group.commit(batch).await? {
                Applied::Done { committed, enqueued } => {
                    if enqueued {
                        self.waker.wake();
                    }
                    return Ok(committed);
                }
                // Attributed below, in a fresh transaction stopping there.
                Applied::Clash { write, .. } => probe = Some(write),
            }
        }
        loop {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            let finished = match finishing {
                Some((id, outcome)) => {
                    let mut job = queue::leased(&tx, id, &outcome.owner).await?;
                    job.finish(outcome.now, &outcome.result);
                    Some(job)
                }
                None => None,
            };
            match apply(&tx, batch, probe).await? {
                Applied::Done { committed, enqueued } => {
                    let mut wake = enqueued;
                    if let Some(job) = &finished {
                        queue::save(&tx, job).await?;
                        wake |= job.status == atlas_core::JobStatus::Queued || job.key.is_some();
                    }
                    tx.commit().await?;
                    if wake {
                        self.waker.wake();
                    }
                    return Ok(committed);
                }
                Applied::Clash { write, constraint } => {
                    drop(tx);
                    if probe.is_some() {
                        return Err(unattributed_clash(batch, write, constraint.as_deref()));
                    }
                    probe = Some(write);
                }
            }
        }
    }

    /// The rows `sql` selects with the record id as its one parameter.
    async fn rows_by_id(&self, sql: &str, id: &Id) -> Result<Vec<tokio_postgres::Row>> {
        let id = id.to_string();
        let client = self.pool.get().await?;
        let stmt = client.prepare_cached(sql).await?;
        Ok(client.query(&stmt, &[&id]).await?)
    }
}

#[async_trait]
impl Store for PgStore {
    async fn get(&self, res: Resource, id: &Id) -> Result<Option<Doc>, StoreError> {
        let sql = format!(
            "SELECT {} FROM {} WHERE id = $1",
            rows::DOC_COLUMNS,
            table_name(res)
        );
        let found = self.rows_by_id(&sql, id).await?;
        Ok(found.first().map(rows::doc).transpose()?)
    }

    async fn find(&self, res: Resource, q: &FindQuery) -> Result<FindPage, StoreError> {
        let pre = translate::records(q);
        let sql = select_docs(res, &pre);
        let client = self.pool.get().await.map_err(Error::from)?;
        if let Some(order) = translate::records_order(q) {
            // Every record matches: count and page in SQL.
            let limit = i64::try_from(q.paging.max_results).unwrap_or(i64::MAX);
            let offset = i64::try_from(q.paging.offset()).unwrap_or(i64::MAX);
            let mut args = pre.args();
            args.push(&limit);
            args.push(&offset);
            let page_sql = format!("{sql}{order} LIMIT ${} OFFSET ${}", args.len() - 1, args.len());
            let stmt = client.prepare_cached(&page_sql).await.map_err(Error::from)?;
            let page = client.query(&stmt, &args).await.map_err(Error::from)?;
            let count_sql = format!("SELECT count(*) FROM {}{}", table_name(res), pre.where_sql());
            let total = page_total(&client, q, page.len(), &count_sql, &pre.args()).await?;
            drop(client);
            return Ok(FindPage {
                items: page.iter().map(rows::doc).collect::<Result<Vec<_>>>()?,
                total,
            });
        }
        let stmt = client.prepare_cached(&sql).await.map_err(Error::from)?;
        let found = client.query(&stmt, &pre.args()).await.map_err(Error::from)?;
        drop(client);
        let docs = found.iter().map(rows::doc).collect::<Result<Vec<_>>>()?;
        let (page, total) = select(
            docs.into_iter().map(|d| {
                let json = d.to_json();
                (d, json)
            }),
            q,
        );
        Ok(FindPage { items: page, total })
    }

    async fn history(&self, res: Resource, id: &Id) -> Result<Vec<Doc>, StoreError> {
        let sql = format!(
            "SELECT {} FROM {} WHERE id = $1 ORDER BY version",
            rows::DOC_COLUMNS,
            history_name(res)
        );
        let found = self.rows_by_id(&sql, id).await?;
        if found.is_empty() {
            return Err(StoreError::not_found(res, id));
        }
        Ok(found.iter().map(rows::doc).collect::<Result<Vec<_>>>()?)
    }

    async fn commit(&self, batch: Batch) -> Result<Committed, StoreError> {
        Ok(self.commit_with(&batch, None).await?)
    }

    async fn claim(&self, lease: &LeaseSpec, now: Timestamp) -> Result<Option<Job>, StoreError> {
        let lease = lease.clone();
        Ok(self
            .in_tx(move |tx| Box::pin(async move { queue::claim(tx, &lease, now).await }))
            .await?)
    }

    async fn renew(&self, job: &JobId, owner: &str, until: Timestamp) -> Result<(), StoreError> {
        let (job, owner) = (*job, owner.to_owned());
        Ok(self
            .in_tx(move |tx| {
                Box::pin(async move {
                    let mut j = queue::leased(tx, &job, &owner).await?;
                    j.lease_until = Some(until);
                    queue::save(tx, &j).await
                })
            })
            .await?)
    }

    async fn finish(&self, job: &JobId, outcome: Outcome) -> Result<(), StoreError> {
        self.commit_with(&outcome.follow_up, Some((job, &outcome)))
            .await?;
        Ok(())
    }

    async fn requeue_expired(&self, now: Timestamp) -> Result<u64, StoreError> {
        let (n, requeued) = self
            .in_tx(move |tx| Box::pin(async move { queue::requeue_expired(tx, now).await }))
            .await?;
        if requeued {
            self.waker.wake();
        }
        Ok(n)
    }

    async fn job(&self, id: &JobId) -> Result<Option<Job>, StoreError> {
        let client = self.pool.get().await.map_err(Error::from)?;
        let stmt = client
            .prepare_cached("SELECT doc FROM jobs WHERE id = $1")
            .await
            .map_err(Error::from)?;
        let row = client
            .query_opt(&stmt, &[&id.to_string()])
            .await
            .map_err(Error::from)?;
        Ok(row.as_ref().map(|r| rows::job(r, 0)).transpose()?)
    }

    async fn act_on_job(
        &self,
        id: &JobId,
        action: &JobAction,
        now: Timestamp,
    ) -> Result<JobChange, StoreError> {
        let (id, action) = (*id, action.clone());
        let change = self
            .in_tx(move |tx| Box::pin(async move { queue::act_on(tx, &id, &action, now).await }))
            .await?;
        if matches!(&change, JobChange::Applied(job) if job.status == atlas_core::JobStatus::Queued) {
            self.waker.wake();
        }
        Ok(change)
    }

    async fn lead(
        &self,
        role: &str,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StoreError> {
        let client = self.pool.get().await.map_err(Error::from)?;
        Ok(leader::lead(&client, role, owner, now, until).await?)
    }

    async fn find_jobs(&self, q: &FindQuery) -> Result<JobPage, StoreError> {
        let (pre, exact) = translate::jobs(q);
        let client = self.pool.get().await.map_err(Error::from)?;
        if let (true, Some(order)) = (exact, translate::jobs_order(q)) {
            // The filter and sort are the columns': count and page in SQL.
            let limit = i64::try_from(q.paging.max_results).unwrap_or(i64::MAX);
            let offset = i64::try_from(q.paging.offset()).unwrap_or(i64::MAX);
            let mut args = pre.args();
            args.push(&limit);
            args.push(&offset);
            let sql = format!(
                "SELECT doc FROM jobs{}{order} LIMIT ${} OFFSET ${}",
                pre.where_sql(),
                args.len() - 1,
                args.len()
            );
            let stmt = client.prepare_cached(&sql).await.map_err(Error::from)?;
            let page = client.query(&stmt, &args).await.map_err(Error::from)?;
            let count_sql = format!("SELECT count(*) FROM jobs{}", pre.where_sql());
            let total = page_total(&client, q, page.len(), &count_sql, &pre.args()).await?;
            let items = page.iter().map(|r| rows::job(r, 0)).collect::<Result<Vec<_>>>()?;
            return Ok(JobPage { items, total });
        }
        let sql = format!("SELECT doc FROM jobs{}", pre.where_sql());
        let stmt = client.prepare_cached(&sql).await.map_err(Error::from)?;
        let found = client.query(&stmt, &pre.args()).await.map_err(Error::from)?;
        drop(client);
        let jobs = found
            .iter()
            .map(|r| rows::job(r, 0))
            .collect::<Result<Vec<_>>>()?;
        let (items, total) = select(
            jobs.into_iter().map(|j| {
                let json = j.to_json();
                (j, json)
            }),
            q,
        );
        Ok(JobPage { items, total })
    }
}

/// The SELECT of the current records of `res` that `pre` keeps.
fn select_docs(res: Resource, pre: &translate::Prefilter) -> String {
    format!(
        "SELECT {} FROM {}{}",
        rows::DOC_COLUMNS,
        table_name(res),
        pre.where_sql()
    )
}

/// The total of a page of `got` rows of `q`: what the page tells
/// ([`FindQuery::total_from_page`]), else `count_sql`'s count.
async fn page_total(
    client: &deadpool_postgres::Client,
    q: &FindQuery,
    got: usize,
    count_sql: &str,
    args: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<u64> {
    if let Some(total) = q.total_from_page(u64::try_from(got).unwrap_or(u64::MAX)) {
        return Ok(total);
    }
    let stmt = client.prepare_cached(count_sql).await.map_err(Error::from)?;
    let total: i64 = client.query_one(&stmt, args).await.map_err(Error::from)?.get(0);
    Ok(u64::try_from(total).unwrap_or(0))
}
