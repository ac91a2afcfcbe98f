//! Group commit of creates: batches of inserts and enqueues only (every
//! record create, with its companion records and jobs) that arrive while
//! earlier ones are being committed share one transaction, and the rows of
//! a table are written by one statement (`INSERT … SELECT … FROM unnest`
//! of column arrays) whatever the group's size.
//!
//! Why: PostgreSQL's cost of a small create is mostly per statement and per
//! transaction (executor start and end, snapshot, commit record), not per
//! row. Measured with `pgbench` on this project's 2-core machine, the same
//! three-table create ran about 930 per second one per transaction and
//! about 4,500 per second sixteen per transaction.
//!
//! How: a caller queues its batch and waits for its answer or for one of
//! the store's commit slots ([`GroupCommit::new`]), whichever comes first.
//! The caller that takes a slot takes every queued batch (up to
//! [`MAX_GROUP`]) and commits them in a task of its own, so a caller that
//! goes away (a client that disconnects) never leaves the others without
//! an answer. A group is all or nothing; when it fails (one batch's unique
//! clash fails them all), each of its batches is committed again on its
//! own, which answers each its own outcome (the clash to the batch that
//! has it). When the connection fails once the group was sent, every batch
//! is answered that its outcome is unknown and none is committed again (the
//! group may have landed). A batch alone in its group is committed on its
//! own directly.
//! A batch whose caller went away before a group took it is dropped; once
//! in a group, it is committed with the others.

use std::sync::{Arc, Mutex, PoisonError};

use atlas_core::model::{Doc, Resource};
use atlas_core::{Batch, Committed};
use deadpool_postgres::Pool;
use serde_json::Value;
use tokio::sync::{oneshot, Semaphore};

use crate::apply::{
    commit_independent, doc_params, enqueues, job_values, new_rows, Applied, NewRow, Params, Run,
};
use crate::error::{Error, Result};
use crate::tables::{history_name, table_name};

/// The most batches committed in one group.
pub(crate) const MAX_GROUP: usize = 64;

/// The queue of batches waiting to be committed and the commit slots.
#[derive(Debug)]
pub(crate) struct GroupCommit {
    pool: Pool,
    queue: Mutex<Vec<Entry>>,
    slots: Arc<Semaphore>,
}

/// A queued batch and where its answer goes.
#[derive(Debug)]
struct Entry {
    batch: Batch,
    answer: oneshot::Sender<Result<Applied>>,
}

impl GroupCommit {
    /// Group commits on connections of `pool`, at most `slots` groups in
    /// flight at once (each holds one connection while it commits).
    pub(crate) fn new(pool: Pool, slots: usize) -> GroupCommit {
        GroupCommit {
            pool,
            queue: Mutex::new(Vec::new()),
            slots: Arc::new(Semaphore::new(slots.max(1))),
        }
    }

    /// The number of commit slots for a pool of `pool_size` connections:
    /// two (one group forms and is sent while the other waits for its
    /// disk flush), one on a pool of one. More groups in flight make them
    /// smaller: on the 2-core benchmark machine 8 slots committed about a
    /// quarter fewer creates per second than 2.
    pub(crate) fn slots_for(pool_size: usize) -> usize {
        pool_size.clamp(1, 2)
    }

    /// Commits `batch` (inserts and enqueues only), with whatever other
    /// batches are queued when a slot frees up. Answers as
    /// [`commit_independent`] does: [`Applied::Done`] once committed, or
    /// [`Applied::Clash`] when a unique index refused one of its writes
    /// (nothing of it landed then).
    pub(crate) async fn commit(&self, batch: &Batch) -> Result<Applied> {
        let (answer, mut answered) = oneshot::channel();
        self.lock().push(Entry {
            batch: batch.clone(),
            answer,
        });
        loop {
            tokio::select! {
                biased;
                result = &mut answered => return result.unwrap_or_else(|_| Err(interrupted())),
                slot = Arc::clone(&self.slots).acquire_owned() => {
                    let slot = slot.map_err(|_| interrupted())?;
                    let group: Vec<Entry> = {
                        let mut queue = self.lock();
                        // A batch whose caller went away before its group
                        // formed is dropped, not committed later.
                        queue.retain(|e| !e.answer.is_closed());
                        let n = queue.len().min(MAX_GROUP);
                        queue.drain(..n).collect()
                    };
                    if group.is_empty() {
                        // Another caller took this batch into its group.
                        drop(slot);
                        return answered.await.unwrap_or_else(|_| Err(interrupted()));
                    }
                    let pool = self.pool.clone();
                    tokio::spawn(async move {
                        commit_group(&pool, group).await;
                        drop(slot);
                    });
                }
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Entry>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The error for a batch whose group ended without answering it: the
/// runtime stopped while it was being committed.
fn interrupted() -> Error {
    Error::Config(
        "the commit was interrupted (the process is stopping); whether the write landed is unknown: \
         read the record back"
            .into(),
    )
}

/// Commits `group` together, or each of its batches on its own when the
/// group was rolled back or is one batch, and answers every batch.
async fn commit_group(pool: &Pool, group: Vec<Entry>) {
    if group.len() > 1 {
        match together(pool, &group).await {
            Ok(Some(answers)) => {
                for (entry, applied) in group.into_iter().zip(answers) {
                    let _ = entry.answer.send(Ok(applied));
                }
                return;
            }
            Ok(None) => {
                tracing::debug!(
                    batches = group.len(),
                    "a unique index refused a write of the group; committing its batches one by one"
                );
            }
            Err(e) if nothing_landed(&e) => {
                tracing::debug!(batches = group.len(), error = %e, "group commit failed; committing its batches one by one");
            }
            Err(e) => {
                // The connection failed with the transaction sent: it may
                // have committed, so committing again could write twice.
                let reason = e.to_string();
                for entry in group {
                    let _ = entry.answer.send(Err(Error::Config(format!(
                        "the connection to PostgreSQL failed while committing ({reason}); whether the \
                         write landed is unknown: read the record back before retrying"
                    ))));
                }
                return;
            }
        }
    }
    for entry in group {
        let applied = alone(pool, &entry.batch).await;
        let _ = entry.answer.send(applied);
    }
}

/// Whether the group's transaction certainly did not commit: it was not
/// sent (no connection was had, or a batch was not one to group), or the
/// server refused a statement (the transaction is then rolled back,
/// `COMMIT` included).
fn nothing_landed(e: &Error) -> bool {
    match e {
        Error::Pool(_) | Error::Config(_) => true,
        Error::Db(db) => db.as_db_error().is_some(),
        _ => false,
    }
}

/// Commits one batch in a transaction of its own.
async fn alone(pool: &Pool, batch: &Batch) -> Result<Applied> {
    let client = pool.get().await?;
    commit_independent(&client, batch).await
}

/// Commits the batches of `group` in one transaction, one statement per
/// table; answers each batch's [`Applied::Done`], or `None` when a unique
/// index refused a write (nothing landed then).
async fn together(pool: &Pool, group: &[Entry]) -> Result<Option<Vec<Applied>>> {
    let mut tables: Vec<(Resource, DocColumns)> = Vec::new();
    let mut jobs = JobColumns::default();
    let mut answers = Vec::with_capacity(group.len());
    for entry in group {
        let batch = &entry.batch;
        let rows = new_rows(&batch.writes, batch.now)?;
        for row in &rows {
            match row {
                NewRow::Record(res, doc) => {
                    let at = match tables.iter().position(|(r, _)| r == res) {
                        Some(at) => at,
                        None => {
                            tables.push((*res, DocColumns::default()));
                            tables.len() - 1
                        }
                    };
                    tables[at].1.push(doc);
                }
                NewRow::Job(job) => jobs.push(job),
            }
        }
        answers.push(Applied::Done {
            committed: Committed {
                results: rows.into_iter().map(NewRow::written).collect(),
            },
            enqueued: enqueues(&batch.writes),
        });
    }
    let client = pool.get().await?;
    let mut run = Run::default();
    for (res, columns) in tables {
        run.push(
            client.prepare_cached(&insert_rows_sql(res)).await?,
            columns.params(),
        );
    }
    if !jobs.id.is_empty() {
        run.push(client.prepare_cached(INSERT_JOB_ROWS).await?, jobs.params());
    }
    Ok(run.commit(&client).await?.ok().map(|()| answers))
}

/// The statement inserting rows of `res` (and their first history rows)
/// from column arrays: `$1` ids, `$2` etags, `$3` created, `$4` updated,
/// `$5` versions, `$6` deleted flags, `$7` bodies.
fn insert_rows_sql(res: Resource) -> String {
    format!(
        "WITH r AS MATERIALIZED (SELECT * FROM unnest($1::text[], $2::text[], $3::int8[], $4::int8[], \
         $5::int8[], $6::bool[], $7::jsonb[]) AS r (id, etag, created, updated, version, deleted, body)), \
         h AS (INSERT INTO {h} (id, version, etag, created, updated, deleted, body) \
         SELECT id, version, etag, created, updated, deleted, body FROM r) \
         INSERT INTO {t} (id, etag, created, updated, version, deleted, body) \
         SELECT id, etag, created, updated, version, deleted, body FROM r",
        h = history_name(res),
        t = table_name(res),
    )
}

/// The statement inserting jobs from column arrays, in array order.
const INSERT_JOB_ROWS: &str = "INSERT INTO jobs (id, status, key, run_at, created, lease_until, doc) \
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[], $5::int8[], $6::int8[], $7::jsonb[])";

/// New records of one table, column by column.
#[derive(Default)]
struct DocColumns {
    id: Vec<String>,
    etag: Vec<String>,
    created: Vec<i64>,
    updated: Vec<i64>,
    version: Vec<i64>,
    deleted: Vec<bool>,
    body: Vec<Value>,
}

impl DocColumns {
    fn push(&mut self, doc: &Doc) {
        let (id, etag, created, updated, version, body) = doc_params(doc);
        self.id.push(id);
        self.etag.push(etag);
        self.created.push(created);
        self.updated.push(updated);
        self.version.push(version);
        self.deleted.push(doc.deleted);
        self.body.push(body);
    }

    fn params(self) -> Params {
        vec![
            Box::new(self.id),
            Box::new(self.etag),
            Box::new(self.created),
            Box::new(self.updated),
            Box::new(self.version),
            Box::new(self.deleted),
            Box::new(self.body),
        ]
    }
}

/// New jobs, column by column.
#[derive(Default)]
struct JobColumns {
    id: Vec<String>,
    status: Vec<&'static str>,
    key: Vec<Option<String>>,
    run_at: Vec<i64>,
    created: Vec<i64>,
    lease_until: Vec<Option<i64>>,
    doc: Vec<Value>,
}

impl JobColumns {
    fn push(&mut self, job: &atlas_core::Job) {
        let (id, status, key, run_at, created, lease_until, doc) = job_values(job);
        self.id.push(id);
        self.status.push(status);
        self.key.push(key);
        self.run_at.push(run_at);
        self.created.push(created);
        self.lease_until.push(lease_until);
        self.doc.push(doc);
    }

    fn params(self) -> Params {
        vec![
            Box::new(self.id),
            Box::new(self.status),
            Box::new(self.key),
            Box::new(self.run_at),
            Box::new(self.created),
            Box::new(self.lease_until),
            Box::new(self.doc),
        ]
    }
}
