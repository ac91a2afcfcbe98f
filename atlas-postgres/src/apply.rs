//! Applying a [`Batch`] inside a transaction: each record write locks its
//! row (`FOR UPDATE`), checks the etag, stamps the new version (the core's
//! [`Doc::compute_etag`]) and writes the current row and its history row in
//! one statement; each enqueue inserts a job. Unique keys are enforced by
//! the partial unique indexes; when one refuses a write, the batch is
//! applied again up to that write in a fresh transaction and the write's
//! keys are probed in schema order ([`probe_clash`]), so the error names
//! the same key the reference store names.

use crate::db::{self, Tx};
use atlas_core::model::{merge_patch, Doc, Etag, Id, Resource, Timestamp};
use atlas_core::schema::{unique_keys, unique_values};
use atlas_core::{write_target, Batch, Committed, Job, JobId, JobSpec, StoreError, Write, Written};
use deadpool_postgres::GenericClient;
use serde_json::Value;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::Statement;

use crate::error::{sqlstate, Error, Result};
use crate::rows::{self, body_json, secs, version, DOC_COLUMNS};
use crate::tables::{history_name, key_expr, path_literal, table_name, unique_key_by_index};

/// How applying a batch ended.
#[derive(Debug)]
pub(crate) enum Applied {
    /// Every write landed (by [`apply`]: the transaction is not committed
    /// yet; by [`commit_independent`] and the group commit: committed).
    Done {
        /// Per-write results.
        committed: Committed,
        /// Whether the batch enqueued jobs (workers are to be woken).
        enqueued: bool,
    },
    /// A unique index refused write `write`; the transaction is aborted.
    Clash {
        /// Index of the refused write.
        write: usize,
        /// The refusing constraint's name, when the server named it.
        constraint: Option<String>,
    },
}

/// Applies `batch` in `tx`. With `probe = Some(i)`, stops at write `i` and
/// reports which unique key it clashes on (as a [`StoreError::Unique`]),
/// or [`Applied::Clash`] again when none does any more.
pub(crate) async fn apply(tx: &Tx<'_>, batch: &Batch, probe: Option<usize>) -> Result<Applied> {
    let now = batch.now;
    let mut results = Vec::with_capacity(batch.writes.len());
    let mut enqueued = false;
    let mut next = 0;
    while next < batch.writes.len() {
        let write = next;
        let w = &batch.writes[write];
        next += 1;
        let probing = probe == Some(write);
        // A run of inserts and enqueues (no write reads a row) is sent
        // pipelined: one round trip instead of one per write.
        let run = independent_run(&batch.writes[write..], probe.map(|p| p.saturating_sub(write)));
        if run > 1 {
            next = write + run;
            enqueued |= enqueues(&batch.writes[write..next]);
            match pipelined(tx, &batch.writes[write..next], now).await? {
                Ok(written) => results.extend(written),
                Err((k, constraint)) => {
                    return Ok(Applied::Clash {
                        write: write + k,
                        constraint,
                    })
                }
            }
            continue;
        }
        let outcome = match w {
            Write::Insert { res, id, body } => {
                let doc = Doc::new(*id, body.clone(), now);
                if probing {
                    return probe_clash(tx, write, *res, &doc, true).await;
                }
                insert(tx, *res, &doc).await.map(|()| Written::Doc(doc))
            }
            Write::Update {
                res,
                id,
                patch: body,
                expect,
            }
            | Write::Replace {
                res,
                id,
                body,
                expect,
            } => {
                let mut doc = live_target(tx, write, *res, id, expect.as_ref()).await?;
                if matches!(w, Write::Update { .. }) {
                    merge_patch(&mut doc.body, body);
                } else {
                    doc.body = body.clone();
                }
                next_version(&mut doc, now);
                if probing {
                    return probe_clash(tx, write, *res, &doc, false).await;
                }
                store_version(tx, *res, &doc).await.map(|()| Written::Doc(doc))
            }
            Write::Delete { res, id, expect } => {
                let found = current(tx, *res, id).await?;
                if let Some(gone) = found.as_ref().filter(|d| d.deleted) {
                    results.push(Written::Doc(gone.clone()));
                    continue;
                }
                let mut doc = write_target(found, write, *res, id, expect.as_ref())?;
                doc.deleted = true;
                next_version(&mut doc, now);
                store_version(tx, *res, &doc).await.map(|()| Written::Doc(doc))
            }
            Write::Enqueue(spec) => {
                enqueued = true;
                enqueue(tx, spec, now).await.map(Written::Job)
            }
        };
        match outcome {
            Ok(w) => results.push(w),
            Err(Error::Db(e)) if sqlstate(&e) == Some(&SqlState::UNIQUE_VIOLATION) => {
                let constraint = e.as_db_error().and_then(|d| d.constraint()).map(str::to_owned);
                return Ok(Applied::Clash { write, constraint });
            }
            Err(e) => return Err(e),
        }
    }
    Ok(Applied::Done {
        committed: Committed { results },
        enqueued,
    })
}

/// How many writes from the start of `writes` are inserts and enqueues
/// (none reads a row, so they can be sent together), stopping before the
/// write being probed (`probe`, relative to the start).
fn independent_run(writes: &[Write], probe: Option<usize>) -> usize {
    writes
        .iter()
        .enumerate()
        .take_while(|(k, w)| Some(*k) != probe && matches!(w, Write::Insert { .. } | Write::Enqueue(_)))
        .count()
}

/// A statement of a pipelined run and its parameters.
pub(crate) type Params = Vec<Box<dyn ToSql + Sync + Send>>;

/// A row that an insert or an enqueue adds.
pub(crate) enum NewRow {
    /// The first version of a record of a resource.
    Record(Resource, Doc),
    /// A freshly queued job.
    Job(Job),
}

impl NewRow {
    /// What the write answers once the row landed.
    pub(crate) fn written(self) -> Written {
        match self {
            NewRow::Record(_, doc) => Written::Doc(doc),
            NewRow::Job(job) => Written::Job(job.id),
        }
    }
}

/// The rows the inserts and enqueues of `writes` add at `now`, in order.
///
/// # Errors
/// When a write is neither (only those are sent without reading first).
pub(crate) fn new_rows(writes: &[Write], now: Timestamp) -> Result<Vec<NewRow>> {
    writes
        .iter()
        .map(|w| match w {
            Write::Insert { res, id, body } => Ok(NewRow::Record(*res, Doc::new(*id, body.clone(), now))),
            Write::Enqueue(spec) => Ok(NewRow::Job(new_job(spec, now))),
            _ => Err(Error::Config(
                "only inserts and enqueues are sent without reading first".into(),
            )),
        })
        .collect()
}

/// A unique index refused write `k` of a run: its index and the refusing
/// constraint's name, when the server named it.
type RunClash = (usize, Option<String>);

/// Statements ready to send together: each prepared on the connection
/// that sends them, with its parameters.
#[derive(Default)]
pub(crate) struct Run {
    statements: Vec<Statement>,
    params: Vec<Params>,
}

impl Run {
    /// Adds a statement and its parameters.
    pub(crate) fn push(&mut self, statement: Statement, params: Params) {
        self.statements.push(statement);
        self.params.push(params);
    }

    /// Prepares the inserts and enqueues of `writes` on `client`; answers
    /// the run and what each write answers once it landed.
    async fn prepare<C: GenericClient>(
        client: &C,
        writes: &[Write],
        now: Timestamp,
    ) -> Result<(Self, Vec<Written>)> {
        let rows = new_rows(writes, now)?;
        let mut run = Run::default();
        for row in &rows {
            match row {
                NewRow::Record(res, doc) => {
                    let (id, etag, created, updated, ver, body) = doc_params(doc);
                    run.push(
                        client.prepare_cached(&insert_sql(*res)).await?,
                        vec![
                            Box::new(id),
                            Box::new(etag),
                            Box::new(created),
                            Box::new(updated),
                            Box::new(ver),
                            Box::new(doc.deleted),
                            Box::new(body),
                        ],
                    );
                }
                NewRow::Job(job) => run.push(client.prepare_cached(INSERT_JOB).await?, job_params(job)),
            }
        }
        Ok((run, rows.into_iter().map(NewRow::written).collect()))
    }

    /// The executes of the run on `client`, in order. Each sends its
    /// messages when first polled: polled together (`join_all` polls them
    /// in order), they are all submitted before any answer is awaited, and
    /// the server runs them in order.
    fn executes<'a, C: GenericClient>(
        &'a self,
        client: &'a C,
        args: &'a [Vec<&'a (dyn ToSql + Sync)>],
    ) -> impl std::future::Future<Output = Vec<std::result::Result<u64, tokio_postgres::Error>>> + 'a {
        futures::future::join_all(
            self.statements
                .iter()
                .zip(args)
                .map(move |(stmt, args)| client.execute(stmt, args)),
        )
    }

    /// The parameters as the driver takes them.
    fn args(&self) -> Vec<Vec<&(dyn ToSql + Sync)>> {
        self.params
            .iter()
            .map(|ps| ps.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect())
            .collect()
    }

    /// Runs the statements in a transaction of their own in one round
    /// trip: `BEGIN`, every statement and `COMMIT` are sent together. When
    /// a statement fails, the server refuses the ones after it and the
    /// `COMMIT` ends the transaction as a rollback, so nothing lands; a
    /// unique index's refusal of statement `k` is answered as
    /// `Ok(Err((k, constraint)))`.
    pub(crate) async fn commit(
        &self,
        client: &deadpool_postgres::Client,
    ) -> Result<std::result::Result<(), RunClash>> {
        let args = self.args();
        let (begun, answers, committed) = futures::join!(
            client.batch_execute("BEGIN"),
            self.executes(client, &args),
            client.batch_execute("COMMIT"),
        );
        begun?;
        if let Err(clash) = first_failure(answers)? {
            return Ok(Err(clash));
        }
        committed?;
        Ok(Ok(()))
    }
}

/// The first failure among a run's answers: a unique index's refusal as
/// `Ok(Err(clash))` (the writes after it failed only because the
/// transaction was aborted), any other error as `Err`.
fn first_failure(
    answers: Vec<std::result::Result<u64, tokio_postgres::Error>>,
) -> Result<std::result::Result<(), RunClash>> {
    for (k, answer) in answers.into_iter().enumerate() {
        if let Err(e) = answer {
            if sqlstate(&e) == Some(&SqlState::UNIQUE_VIOLATION) {
                let constraint = e.as_db_error().and_then(|d| d.constraint()).map(str::to_owned);
                return Ok(Err((k, constraint)));
            }
            return Err(e.into());
        }
    }
    Ok(Ok(()))
}

/// Sends the inserts and enqueues of `writes` pipelined in `tx` and
/// answers their results in order; `Err((k, constraint))` when a unique
/// index refused write `k` (the transaction is aborted then).
async fn pipelined(
    tx: &Tx<'_>,
    writes: &[Write],
    now: Timestamp,
) -> Result<std::result::Result<Vec<Written>, RunClash>> {
    let (run, written) = Run::prepare(tx, writes, now).await?;
    let args = run.args();
    let answers = run.executes(tx, &args).await;
    Ok(first_failure(answers)?.map(|()| written))
}

/// Whether `batch` is only inserts and enqueues, which
/// [`commit_independent`] commits in one round trip.
pub(crate) fn all_independent(batch: &Batch) -> bool {
    !batch.writes.is_empty() && independent_run(&batch.writes, None) == batch.writes.len()
}

/// Whether `writes` queue a job (workers are to be woken after the commit).
pub(crate) fn enqueues(writes: &[Write]) -> bool {
    writes.iter().any(|w| matches!(w, Write::Enqueue(_)))
}

/// Commits a batch of inserts and enqueues only (creating records, queueing
/// jobs: nothing to read first) in one round trip ([`Run::commit`]), and
/// [`Applied::Done`] means committed. A unique index's refusal is answered
/// as [`Applied::Clash`], for the caller to attribute in a fresh
/// transaction ([`apply`] with a probe); nothing of the batch landed then.
pub(crate) async fn commit_independent(client: &deadpool_postgres::Client, batch: &Batch) -> Result<Applied> {
    let (run, written) = Run::prepare(client, &batch.writes, batch.now).await?;
    if let Err((write, constraint)) = run.commit(client).await? {
        return Ok(Applied::Clash { write, constraint });
    }
    Ok(Applied::Done {
        committed: Committed { results: written },
        enqueued: enqueues(&batch.writes),
    })
}

/// The error for a clash the probe could not attribute: the key whose
/// index refused the write, or a backend error.
pub(crate) fn unattributed_clash(batch: &Batch, write: usize, constraint: Option<&str>) -> Error {
    let res = match batch.writes.get(write) {
        Some(Write::Insert { res, .. } | Write::Update { res, .. } | Write::Replace { res, .. }) => *res,
        _ => {
            return Error::Config(format!(
                "write #{write} was refused by a unique constraint that is not Atlas's"
            ))
        }
    };
    let field = match constraint {
        Some(c) if c.ends_with("_pkey") => "_id".to_owned(),
        Some(c) => unique_key_by_index(res, c).map_or_else(|| c.to_owned(), |k| k.field.to_owned()),
        None => "unknown".to_owned(),
    };
    StoreError::Unique {
        write,
        res,
        field,
        value: String::new(),
    }
    .into()
}

fn next_version(doc: &mut Doc, now: Timestamp) {
    doc.version += 1;
    doc.updated = now;
    doc.etag = doc.compute_etag();
}

/// The current version of a record, its row locked until the transaction ends.
pub(crate) async fn current(tx: &Tx<'_>, res: Resource, id: &Id) -> Result<Option<Doc>> {
    let sql = format!(
        "SELECT {DOC_COLUMNS} FROM {} WHERE id = $1 FOR UPDATE",
        table_name(res)
    );
    let id = id.to_string();
    match db::query_opt(tx, &sql, &[&id]).await? {
        Some(row) => rows::doc(&row).map(Some),
        None => Ok(None),
    }
}

/// The live current version of a write's target, its etag checked
/// ([`write_target`]).
async fn live_target(
    tx: &Tx<'_>,
    write: usize,
    res: Resource,
    id: &Id,
    expect: Option<&Etag>,
) -> Result<Doc> {
    Ok(write_target(current(tx, res, id).await?, write, res, id, expect)?)
}

pub(crate) fn doc_params(doc: &Doc) -> (String, String, i64, i64, i64, Value) {
    (
        doc.id.to_string(),
        doc.etag.to_string(),
        secs(doc.created),
        secs(doc.updated),
        version(doc.version),
        body_json(doc),
    )
}

/// The statement inserting a record of `res` and its first history row.
fn insert_sql(res: Resource) -> String {
    format!(
        "WITH h AS (INSERT INTO {h} (id, version, etag, created, updated, deleted, body) \
         VALUES ($1, $5, $2, $3, $4, $6, $7)) \
         INSERT INTO {t} (id, etag, created, updated, version, deleted, body) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        h = history_name(res),
        t = table_name(res),
    )
}

/// Inserts a new record and its first history row.
pub(crate) async fn insert(tx: &Tx<'_>, res: Resource, doc: &Doc) -> Result<()> {
    write_doc(tx, &insert_sql(res), doc).await
}

/// Writes a new version of an existing record and its history row.
async fn store_version(tx: &Tx<'_>, res: Resource, doc: &Doc) -> Result<()> {
    let sql = format!(
        "WITH h AS (INSERT INTO {h} (id, version, etag, created, updated, deleted, body) \
         VALUES ($1, $5, $2, $3, $4, $6, $7)) \
         UPDATE {t} SET etag = $2, created = $3, updated = $4, version = $5, deleted = $6, body = $7 \
         WHERE id = $1",
        h = history_name(res),
        t = table_name(res),
    );
    write_doc(tx, &sql, doc).await
}

/// Runs `sql` with the parameters of `doc`: `$1` id, `$2` etag, `$3`
/// created, `$4` updated, `$5` version, `$6` deleted, `$7` body.
async fn write_doc(tx: &Tx<'_>, sql: &str, doc: &Doc) -> Result<()> {
    let (id, etag, created, updated, ver, body) = doc_params(doc);
    db::execute(
        tx,
        sql,
        &[&id, &etag, &created, &updated, &ver, &doc.deleted, &body],
    )
    .await?;
    Ok(())
}

/// Inserts a freshly enqueued job.
async fn enqueue(tx: &Tx<'_>, spec: &JobSpec, now: Timestamp) -> Result<JobId> {
    let job = new_job(spec, now);
    insert_job(tx, &job).await?;
    Ok(job.id)
}

/// A freshly enqueued job of `spec`, queued at `now`.
fn new_job(spec: &JobSpec, now: Timestamp) -> Job {
    Job::from_spec(JobId(Id::generate(now)), spec.clone(), now)
}

/// Inserts a job as it is (enqueueing, or importing a queue).
pub(crate) async fn insert_job(tx: &Tx<'_>, job: &Job) -> Result<()> {
    let params = job_params(job);
    let args: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect();
    db::execute(tx, INSERT_JOB, &args).await?;
    Ok(())
}

const INSERT_JOB: &str = "INSERT INTO jobs (id, status, key, run_at, created, lease_until, doc) \
     VALUES ($1, $2, $3, $4, $5, $6, $7)";

fn job_params(job: &Job) -> Params {
    let (id, status, key, run_at, created, lease_until, doc) = job_values(job);
    vec![
        Box::new(id),
        Box::new(status),
        Box::new(key),
        Box::new(run_at),
        Box::new(created),
        Box::new(lease_until),
        Box::new(doc),
    ]
}

/// A job's column values, in the order of the jobs table's insert: id,
/// status, key, run_at, created, lease_until, doc.
pub(crate) type JobValues = (String, &'static str, Option<String>, i64, i64, Option<i64>, Value);

/// The column values of `job` as the jobs table stores them.
pub(crate) fn job_values(job: &Job) -> JobValues {
    (
        job.id.to_string(),
        job.status.as_str(),
        job.key.clone(),
        secs(job.run_at),
        secs(job.created),
        job.lease_until.map(secs),
        rows::job_json(job),
    )
}

/// Which unique key `doc` (about to be written as write `write`) clashes
/// on, in schema order, as the reference store reports it; `_id` first for
/// an insert.
async fn probe_clash(
    tx: &Tx<'_>,
    write: usize,
    res: Resource,
    doc: &Doc,
    is_insert: bool,
) -> Result<Applied> {
    let t = table_name(res);
    let id = doc.id.to_string();
    if is_insert {
        let sql = format!("SELECT 1 FROM {t} WHERE id = $1");
        if db::query_opt(tx, &sql, &[&id]).await?.is_some() {
            return Err(StoreError::Unique {
                write,
                res,
                field: "_id".into(),
                value: id,
            }
            .into());
        }
    }
    for key in unique_keys(res) {
        let Some(values) = unique_values(key, doc) else {
            continue;
        };
        let owned: Vec<Value> = values.as_slice().iter().map(|v| (*v).clone()).collect();
        let mut args: Vec<&(dyn ToSql + Sync)> = vec![&id];
        let mut sql = format!("SELECT 1 FROM {t} WHERE NOT deleted AND id <> $1");
        for (p, v) in key.paths.iter().zip(&owned) {
            args.push(v);
            sql.push_str(&format!(" AND {} = ${}", key_expr(p), args.len()));
        }
        if let Some(flag) = key.only_when_true {
            sql.push_str(&format!(" AND body #> {} = 'true'::jsonb", path_literal(flag)));
        }
        if db::query_opt(tx, &sql, &args).await?.is_some() {
            return Err(StoreError::Unique {
                write,
                res,
                field: key.field.to_owned(),
                value: values.to_string(),
            }
            .into());
        }
    }
    Ok(Applied::Clash {
        write,
        constraint: None,
    })
}
