//! The single writer thread, its group commit, and the threads that make
//! commits durable and keep the WAL short.
//!
//! Every change (batches and job-queue operations) is a [`Request`] sent to
//! one thread that owns the write connection. The thread takes the first
//! waiting request plus every other request already queued (up to
//! `max_group`), and commits them in **one** transaction, each inside its
//! own `SAVEPOINT`: a request that fails is rolled back alone and gets its
//! error, the others commit together. While one group is being made
//! durable the next requests queue up and form the next group, so one fsync
//! serves many callers.
//!
//! # Durability ([`Durability`])
//! - `Pipelined` (the default, `synchronous = full` in the config): the
//!   connection runs with SQLite's `synchronous = NORMAL` (WAL frames are
//!   written at `COMMIT` but not fsynced) and a *sync thread* fsyncs the
//!   WAL file after each group, then answers the group's callers. The
//!   writer goes on with the next group meanwhile, so the fsync no longer
//!   stalls it. An answer therefore still means "on disk": the fsync covers
//!   every frame written before it, and SQLite's checkpoints (run by the
//!   *checkpointer thread*) fsync the WAL before copying it and the
//!   database after. Readers wait for the same fsync before returning what
//!   they read ([`Watermark`]), so nobody is shown data that a power loss
//!   could still take back.
//! - `Immediate`: SQLite syncs (or not) inside `COMMIT` as its own
//!   `synchronous` setting says, and callers are answered right after it
//!   (in-memory databases, and the `extra`, `normal` and `off` settings).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use atlas_core::jobs::{Job, JobId, LeaseSpec, Outcome};
use atlas_core::model::Timestamp;
use atlas_core::store::Committed;
use atlas_core::StoreError;
use rusqlite::Connection;
use tokio::sync::{oneshot, watch};

use crate::checkpoint::{Checkpointer, WalBound, WalLimit};
use crate::error::{Error, Result};
use crate::prepare::{Applied, Prepared};
use crate::shape::ShapeDelta;
use crate::write;

/// A change to make.
#[derive(Debug)]
pub(crate) enum Op {
    /// `Store::commit`.
    Commit(Prepared),
    /// `Store::claim`.
    Claim(LeaseSpec, Timestamp),
    /// `Store::renew`.
    Renew(JobId, String, Timestamp),
    /// `Store::finish`, the outcome's follow-up batch taken out and prepared.
    Finish(JobId, Outcome, Prepared),
    /// `Store::requeue_expired`.
    RequeueExpired(Timestamp),
}

/// What a change produced.
#[derive(Debug)]
pub(crate) enum Reply {
    /// The batch's results.
    Committed(Committed),
    /// The claimed job, if any.
    Claimed(Option<Box<Job>>),
    /// Done, nothing to report.
    Done,
    /// How many jobs changed.
    Count(u64),
}

type Answer = Result<Reply, StoreError>;

/// A change and where to send its result.
#[derive(Debug)]
pub(crate) struct Request {
    /// The change.
    pub(crate) op: Op,
    /// The caller.
    pub(crate) reply: oneshot::Sender<Answer>,
}

/// How committed groups become durable.
#[derive(Debug, Clone)]
pub(crate) enum Durability {
    /// SQLite's own `synchronous` setting decides, inside `COMMIT`.
    Immediate,
    /// A sync thread fsyncs this WAL file after each group.
    Pipelined {
        /// The `-wal` file.
        wal: PathBuf,
    },
}

/// Which committed groups are durable: `committed` counts groups that
/// reached `COMMIT` (counted just before it, so a reader that might see a
/// group's writes always counts it), `durable` is the highest group number
/// known to be on disk.
#[derive(Debug)]
pub(crate) struct Watermark {
    committed: AtomicU64,
    durable: watch::Sender<u64>,
}

impl Watermark {
    pub(crate) fn new() -> Arc<Watermark> {
        Arc::new(Watermark {
            committed: AtomicU64::new(0),
            durable: watch::Sender::new(0),
        })
    }

    /// Waits until every group that had started committing when this is
    /// called is durable (at once when nothing is pending).
    pub(crate) async fn wait_durable(&self) {
        let target = self.committed.load(Ordering::SeqCst);
        if *self.durable.borrow() >= target {
            return;
        }
        let mut rx = self.durable.subscribe();
        // The sender lives as long as `self`; an error cannot happen.
        let _ = rx.wait_for(|d| *d >= target).await;
    }

    fn next(&self) -> u64 {
        self.committed.fetch_add(1, Ordering::SeqCst) + 1
    }

    fn mark_durable(&self, seq: u64) {
        self.durable.send_if_modified(|d| {
            let moved = seq > *d;
            *d = (*d).max(seq);
            moved
        });
    }
}

/// Marks everything committed so far durable when dropped: a writer or
/// sync thread that ends (or panics) must not leave readers waiting.
struct Release(Arc<Watermark>);

impl Drop for Release {
    fn drop(&mut self) {
        self.0.mark_durable(self.0.committed.load(Ordering::SeqCst));
    }
}

/// Counters of the writer, for benchmarks and diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriterStats {
    /// Transactions committed (or attempted).
    pub groups: u64,
    /// Requests (batches and queue operations) handled.
    pub requests: u64,
}

#[derive(Debug, Default)]
struct Counters {
    groups: AtomicU64,
    requests: AtomicU64,
}

/// Handle on the writer thread; dropping it stops the threads after the
/// requests already sent have been answered.
#[derive(Debug)]
pub(crate) struct Writer {
    tx: Option<Sender<Request>>,
    thread: Option<JoinHandle<()>>,
    counters: Arc<Counters>,
}

impl Writer {
    /// Starts the threads. `conn` is shared with in-memory readers, hence
    /// the mutex, locked for one group at a time; `checkpointer` is a second
    /// connection to the same file, checkpointing in the background, and
    /// the WAL's limit, which the writer enforces between groups (see
    /// `checkpoint.rs`).
    pub(crate) fn spawn(
        conn: Arc<Mutex<Connection>>,
        checkpointer: Option<(Connection, WalLimit)>,
        durability: Durability,
        watermark: Arc<Watermark>,
        max_group: usize,
    ) -> Result<Writer> {
        let (tx, rx) = mpsc::channel();
        let counters = Arc::new(Counters::default());
        let c = Arc::clone(&counters);
        let thread = std::thread::Builder::new()
            .name("atlas-sqlite-writer".into())
            .spawn(move || {
                // However this thread ends, nobody keeps waiting on it.
                let _release = Release(Arc::clone(&watermark));
                let sink = Sink::start(durability, watermark);
                let mut checkpoints = checkpointer
                    .map(|(c, limit)| (Checkpointer::start(c, limit.clone()), WalBound::new(limit)));
                run(&conn, &rx, max_group.max(1), &sink, checkpoints.as_mut(), &c);
                sink.stop();
                if let Some((cp, _)) = checkpoints {
                    cp.stop();
                }
            })
            .map_err(|e| Error::Corrupt(format!("cannot start the writer thread: {e}")))?;
        Ok(Writer {
            tx: Some(tx),
            thread: Some(thread),
            counters,
        })
    }

    /// Runs `op` in the writer and waits for its (durable) result.
    pub(crate) async fn call(&self, op: Op) -> Answer {
        let (reply, rx) = oneshot::channel();
        let tx = self.tx.as_ref().ok_or(Error::WriterGone)?;
        tx.send(Request { op, reply }).map_err(|_| Error::WriterGone)?;
        rx.await.map_err(|_| Error::WriterGone)?
    }

    /// Counters so far.
    pub(crate) fn stats(&self) -> WriterStats {
        WriterStats {
            groups: self.counters.groups.load(Ordering::Relaxed),
            requests: self.counters.requests.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                tracing::error!("the sqlite writer thread panicked");
            }
        }
    }
}

fn run(
    conn: &Mutex<Connection>,
    rx: &Receiver<Request>,
    max_group: usize,
    sink: &Sink,
    mut checkpoints: Option<&mut (Checkpointer, WalBound)>,
    counters: &Counters,
) {
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        while group.len() < max_group {
            match rx.try_recv() {
                Ok(r) => group.push(r),
                Err(_) => break,
            }
        }
        counters.groups.fetch_add(1, Ordering::Relaxed);
        counters.requests.fetch_add(group.len() as u64, Ordering::Relaxed);
        let done = {
            let mut conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
            commit_group(&mut conn, group, sink.watermark())
        };
        sink.deliver(done);
        if let Some((cp, bound)) = checkpoints.as_deref_mut() {
            cp.nudge();
            bound.check(&conn.lock().unwrap_or_else(PoisonError::into_inner));
        }
    }
}

/// A committed (or failed) group, waiting to be answered.
#[derive(Debug)]
pub(crate) struct Done {
    seq: u64,
    wrote: bool,
    answers: Vec<(oneshot::Sender<Answer>, Answer)>,
}

impl Done {
    /// Every request of `group` failed before anything was written.
    fn failed(group: Vec<Request>, msg: &str) -> Done {
        Done {
            seq: 0,
            wrote: false,
            answers: group.into_iter().map(|r| (r.reply, Err(failed(msg)))).collect(),
        }
    }

    fn answer(self, sync: Option<&str>) {
        for (tx, r) in self.answers {
            let r = match (r, sync) {
                (Ok(_), Some(msg)) => Err(failed(&format!("the commit could not be made durable: {msg}"))),
                (r, _) => r,
            };
            let _ = tx.send(r);
        }
    }
}

/// Commits `group` in one transaction; returns the answers (to send once
/// the group is durable).
///
/// The group first runs without savepoints, which is what nearly every
/// group needs: a savepoint makes SQLite copy each page a request touches
/// before changing it. When a request fails, the whole transaction is
/// rolled back and the group runs again with one savepoint per request,
/// so the failing one is rolled back alone and the others commit.
pub(crate) fn commit_group(conn: &mut Connection, group: Vec<Request>, watermark: &Watermark) -> Done {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        return Done::failed(group, &e.to_string());
    }
    let mut shape = ShapeDelta::default();
    let mut runs = Vec::with_capacity(group.len());
    for req in &group {
        match execute(conn, &req.op, &mut shape) {
            Ok(ran) => runs.push(Ok(ran)),
            Err(_) => break,
        }
    }
    if runs.len() < group.len() {
        if !conn.is_autocommit() {
            if let Err(e) = conn.execute_batch("ROLLBACK") {
                return Done::failed(group, &e.to_string());
            }
        }
        return commit_with_savepoints(conn, group, watermark);
    }
    finish_group(conn, group, runs, shape, None, watermark)
}

/// [`commit_group`] with one savepoint per request.
fn commit_with_savepoints(conn: &mut Connection, group: Vec<Request>, watermark: &Watermark) -> Done {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        return Done::failed(group, &e.to_string());
    }
    let mut shape = ShapeDelta::default();
    let mut aborted = None;
    let mut runs = Vec::with_capacity(group.len());
    for req in &group {
        if aborted.is_some() {
            runs.push(Err(failed("an earlier request aborted the transaction")));
            continue;
        }
        let mut delta = ShapeDelta::default();
        let result = savepoint(conn, |c| execute(c, &req.op, &mut delta));
        if conn.is_autocommit() {
            // SQLite rolled the whole transaction back (I/O error, …).
            aborted = Some(match &result {
                Err(e) => e.to_string(),
                Ok(_) => "the transaction was rolled back".to_owned(),
            });
        }
        if result.is_ok() {
            shape.merge(delta);
        }
        runs.push(result.map_err(StoreError::from));
    }
    finish_group(conn, group, runs, shape, aborted, watermark)
}

/// Commits the open transaction of a group that ran (`runs`, one per
/// request) and pairs each caller with its answer.
fn finish_group(
    conn: &mut Connection,
    group: Vec<Request>,
    runs: Vec<Result<Ran, StoreError>>,
    shape: ShapeDelta,
    aborted: Option<String>,
    watermark: &Watermark,
) -> Done {
    let n = group.len();
    // Counted before COMMIT: a reader that sees these writes waits for them.
    let seq = watermark.next();
    let outcome = match aborted {
        Some(msg) => Err(msg),
        None => shape
            .flush(conn)
            .and_then(|()| Ok(conn.execute_batch("COMMIT")?))
            .map_err(|e| e.to_string()),
    };
    let answers = group
        .into_iter()
        .zip(runs)
        .map(|(req, ran)| (req.reply, req.op, ran));
    match outcome {
        Ok(()) => {
            let answers: Vec<_> = answers
                .map(|(tx, op, ran)| (tx, ran.map(|ran| reply(op, ran))))
                .collect();
            Done {
                seq,
                wrote: answers.iter().any(|(_, r)| r.is_ok()),
                answers,
            }
        }
        Err(msg) => {
            tracing::error!(error = %msg, requests = n, "sqlite group commit failed");
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            let answers = answers
                .map(|(tx, _, ran)| (tx, ran.and_then(|_| Err(failed(&msg)))))
                .collect();
            Done {
                seq,
                wrote: false,
                answers,
            }
        }
    }
}

fn failed(msg: &str) -> StoreError {
    Error::Corrupt(format!("the transaction failed and was rolled back: {msg}")).into()
}

/// Runs `f` inside a savepoint, rolled back when `f` fails.
fn savepoint<T>(conn: &Connection, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
    conn.prepare_cached("SAVEPOINT req")?.execute([])?;
    let result = f(conn);
    if conn.is_autocommit() {
        return result;
    }
    if result.is_err() {
        conn.prepare_cached("ROLLBACK TO req")?.execute([])?;
    }
    conn.prepare_cached("RELEASE req")?.execute([])?;
    result
}

/// What running an [`Op`] gave, before it becomes the [`Reply`].
#[derive(Debug)]
enum Ran {
    Applied(Vec<Applied>),
    Claimed(Option<Box<Job>>),
    Done,
    Count(u64),
}

/// Runs `op` (borrowed: a rolled-back group runs its ops again).
fn execute(conn: &Connection, op: &Op, delta: &mut ShapeDelta) -> Result<Ran> {
    Ok(match op {
        Op::Commit(batch) => Ran::Applied(write::apply_batch(conn, batch, delta)?),
        Op::Claim(lease, now) => Ran::Claimed(write::claim(conn, lease, *now, delta)?.map(Box::new)),
        Op::Renew(job, owner, until) => {
            write::renew(conn, job, owner, *until, delta)?;
            Ran::Done
        }
        Op::Finish(job, outcome, follow_up) => {
            write::finish(conn, job, outcome, follow_up, delta)?;
            Ran::Done
        }
        Op::RequeueExpired(now) => Ran::Count(write::requeue_expired(conn, *now, delta)?),
    })
}

/// The caller's answer for `op`, which ran as `ran`.
fn reply(op: Op, ran: Ran) -> Reply {
    match (op, ran) {
        (Op::Commit(batch), Ran::Applied(applied)) => Reply::Committed(batch.into_committed(applied)),
        (_, Ran::Applied(_)) | (_, Ran::Done) => Reply::Done,
        (_, Ran::Claimed(job)) => Reply::Claimed(job),
        (_, Ran::Count(n)) => Reply::Count(n),
    }
}

/// Where finished groups go: answered at once, or through the sync thread.
struct Sink {
    watermark: Arc<Watermark>,
    sync: Option<(Sender<Done>, JoinHandle<()>)>,
}

impl Sink {
    fn start(durability: Durability, watermark: Arc<Watermark>) -> Sink {
        let sync = match durability {
            Durability::Immediate => None,
            Durability::Pipelined { wal } => {
                let (tx, rx) = mpsc::channel::<Done>();
                let w = Arc::clone(&watermark);
                std::thread::Builder::new()
                    .name("atlas-sqlite-sync".into())
                    .spawn(move || {
                        let _release = Release(Arc::clone(&w));
                        sync_loop(&wal, &rx, &w);
                    })
                    .map(|h| (tx, h))
                    .map_err(|e| tracing::error!(error = %e, "cannot start the sync thread; syncing inline"))
                    .ok()
            }
        };
        Sink { watermark, sync }
    }

    fn watermark(&self) -> &Watermark {
        &self.watermark
    }

    fn deliver(&self, done: Done) {
        match &self.sync {
            Some((tx, _)) => {
                if let Err(mpsc::SendError(done)) = tx.send(done) {
                    self.watermark.mark_durable(done.seq);
                    done.answer(Some("the sync thread has stopped"));
                }
            }
            None => {
                self.watermark.mark_durable(done.seq);
                done.answer(None);
            }
        }
    }

    fn stop(self) {
        if let Some((tx, handle)) = self.sync {
            drop(tx);
            if handle.join().is_err() {
                tracing::error!("the sqlite sync thread panicked");
            }
        }
    }
}

/// fsyncs the WAL for every batch of finished groups, then answers them.
fn sync_loop(wal: &std::path::Path, rx: &Receiver<Done>, watermark: &Watermark) {
    while let Ok(first) = rx.recv() {
        let mut groups = vec![first];
        groups.extend(rx.try_iter());
        let failure = if groups.iter().any(|g| g.wrote) {
            sync_file(wal).err().map(|e| {
                tracing::error!(error = %e, wal = %wal.display(), "fsync of the WAL failed");
                e.to_string()
            })
        } else {
            None
        };
        let top = groups.iter().map(|g| g.seq).max().unwrap_or(0);
        watermark.mark_durable(top);
        for g in groups {
            g.answer(failure.as_deref());
        }
    }
}

fn sync_file(path: &std::path::Path) -> std::io::Result<()> {
    match std::fs::File::open(path) {
        Ok(f) => f.sync_data(),
        // No WAL: it was checkpointed into the (synced) database and removed.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::functions::{self, Residuals};
    use crate::migrations;
    use atlas_core::jobs::JobSpec;
    use atlas_core::model::{Id, Resource};
    use atlas_core::store::{Batch, Written};
    use serde_json::json;

    fn db() -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        functions::register(&c, &Arc::new(Residuals::default())).unwrap();
        migrations::migrate(&mut c).unwrap();
        c
    }

    fn request(op: Op) -> (Request, oneshot::Receiver<Result<Reply, StoreError>>) {
        let (reply, rx) = oneshot::channel();
        (Request { op, reply }, rx)
    }

    fn insert(id: Id, sid: &str) -> Op {
        let mut b = Batch::new(Timestamp::from_unix(100));
        b.insert(
            Resource::Instance,
            id,
            json!({"sid": sid, "path": sid}).as_object().cloned().unwrap(),
        );
        commit(b)
    }

    fn commit(b: Batch) -> Op {
        Op::Commit(Prepared::new(b).unwrap())
    }

    fn count(c: &Connection, sql: &str) -> i64 {
        c.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    #[test]
    fn a_failing_batch_in_a_group_is_rolled_back_alone_and_gets_its_error() {
        let mut c = db();
        let t = Timestamp::from_unix(100);
        let (a, b, d) = (Id::generate(t), Id::generate(t), Id::generate(t));
        let (r1, rx1) = request(insert(a, "p1first0001"));
        // Second batch: a good insert, then a clash with the first batch's sid.
        let mut bad = Batch::new(t);
        bad.insert(
            Resource::Instance,
            b,
            json!({"sid": "p1other0001"}).as_object().cloned().unwrap(),
        );
        bad.insert(
            Resource::Instance,
            d,
            json!({"sid": "p1first0001"}).as_object().cloned().unwrap(),
        );
        let (r2, rx2) = request(commit(bad));
        let (r3, rx3) = request(insert(d, "p1third0001"));

        commit_group(&mut c, vec![r1, r2, r3], &Watermark::new()).answer(None);

        assert!(matches!(rx1.blocking_recv().unwrap(), Ok(Reply::Committed(_))));
        match rx2.blocking_recv().unwrap() {
            Err(StoreError::Unique { write, field, .. }) => {
                assert_eq!(write, 1);
                assert_eq!(field, "sid");
            }
            other => panic!("expected a unique error, got {other:?}"),
        }
        assert!(matches!(rx3.blocking_recv().unwrap(), Ok(Reply::Committed(_))));
        assert_eq!(count(&c, "SELECT count(*) FROM instance"), 2);
        assert_eq!(
            count(&c, &format!("SELECT count(*) FROM instance WHERE id = '{b}'")),
            0,
            "the failed batch's first write is rolled back too"
        );
        assert!(c.is_autocommit(), "the group's transaction is closed");
    }

    #[test]
    fn a_group_without_failures_commits_every_batch_with_its_results() {
        let mut c = db();
        let t = Timestamp::from_unix(100);
        let a = Id::generate(t);
        let (r1, rx1) = request(insert(a, "p1first0001"));
        // A later batch of the group sees the earlier one's write.
        let mut b = Batch::new(t);
        b.update(
            Resource::Instance,
            a,
            json!({"status": "x"}).as_object().cloned().unwrap(),
            None,
        );
        b.enqueue(JobSpec::new("provision", json!({}), t));
        let (r2, rx2) = request(commit(b));
        commit_group(&mut c, vec![r1, r2], &Watermark::new()).answer(None);
        match rx1.blocking_recv().unwrap() {
            Ok(Reply::Committed(c)) => {
                assert!(matches!(&c.results[..], [Written::Doc(d)] if d.id == a && d.version == 1))
            }
            other => panic!("{other:?}"),
        }
        match rx2.blocking_recv().unwrap() {
            Ok(Reply::Committed(c)) => {
                assert!(
                    matches!(&c.results[0], Written::Doc(d) if d.version == 2 && d.body["status"] == "x")
                );
                assert!(matches!(&c.results[1], Written::Job(_)));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(count(&c, "SELECT count(*) FROM jobs"), 1);
        assert_eq!(count(&c, "SELECT count(*) FROM history"), 1);
    }

    #[test]
    fn a_job_claimed_in_a_group_that_is_run_again_is_claimed_once() {
        let mut c = db();
        let t = Timestamp::from_unix(100);
        let mut b = Batch::new(t);
        b.enqueue(JobSpec::new("provision", json!({}), t));
        let (r, rx) = request(commit(b));
        commit_group(&mut c, vec![r], &Watermark::new()).answer(None);
        assert!(rx.blocking_recv().unwrap().is_ok());

        let lease = LeaseSpec {
            owner: "w1".into(),
            duration: std::time::Duration::from_secs(60),
        };
        let (r1, rx1) = request(Op::Claim(lease, t));
        let mut bad = Batch::new(t);
        bad.update(Resource::Site, Id::generate(t), serde_json::Map::new(), None);
        let (r2, rx2) = request(commit(bad));
        commit_group(&mut c, vec![r1, r2], &Watermark::new()).answer(None);
        match rx1.blocking_recv().unwrap() {
            Ok(Reply::Claimed(Some(job))) => assert_eq!(job.attempts, 1),
            other => panic!("{other:?}"),
        }
        assert!(rx2.blocking_recv().unwrap().is_err());
        let attempts: i64 = c
            .query_row(
                "SELECT json_extract(json(doc), '$.attempts') FROM jobs",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(attempts, 1);
    }

    #[test]
    fn shape_changes_of_a_failed_batch_are_not_recorded() {
        let mut c = db();
        let t = Timestamp::from_unix(100);
        let a = Id::generate(t);
        let mut bad = Batch::new(t);
        bad.insert(
            Resource::Site,
            a,
            json!({"tags": ["x"]}).as_object().cloned().unwrap(),
        );
        bad.update(Resource::Site, Id::generate(t), serde_json::Map::new(), None);
        let (r, rx) = request(commit(bad));
        commit_group(&mut c, vec![r], &Watermark::new()).answer(None);
        assert!(matches!(
            rx.blocking_recv().unwrap(),
            Err(StoreError::WriteTargetMissing { write: 1, .. })
        ));
        assert_eq!(count(&c, "SELECT count(*) FROM shape WHERE arrays > 0"), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_writer_thread_answers_every_caller_and_stops_when_dropped() {
        let conn = Arc::new(Mutex::new(db()));
        let writer = Arc::new(
            Writer::spawn(
                Arc::clone(&conn),
                None,
                Durability::Immediate,
                Watermark::new(),
                8,
            )
            .unwrap(),
        );
        let mut tasks = Vec::new();
        for n in 0..40 {
            let w = Arc::clone(&writer);
            tasks.push(tokio::spawn(async move {
                let id = Id::generate(Timestamp::from_unix(100));
                w.call(insert(id, &format!("p1writer{n:04}"))).await
            }));
        }
        for t in tasks {
            assert!(matches!(t.await.unwrap(), Ok(Reply::Committed(_))));
        }
        drop(writer);
        let c = conn.lock().unwrap();
        assert_eq!(count(&c, "SELECT count(*) FROM instance"), 40);
    }

    #[tokio::test]
    async fn readers_wait_until_every_started_commit_is_durable() {
        let w = Watermark::new();
        w.wait_durable().await; // nothing pending: returns at once
        let seq = w.next();
        let waiter = {
            let w = Arc::clone(&w);
            tokio::spawn(async move { w.wait_durable().await })
        };
        tokio::task::yield_now().await;
        assert!(
            !waiter.is_finished(),
            "a reader must not pass a commit that is not durable"
        );
        w.mark_durable(seq);
        waiter.await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pipelined_commits_are_answered_after_the_wal_sync() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.db");
        let mut c = Connection::open(&path).unwrap();
        let _: String = c
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .unwrap();
        functions::register(&c, &Arc::new(Residuals::default())).unwrap();
        migrations::migrate(&mut c).unwrap();
        c.pragma_update(None, "synchronous", "NORMAL").unwrap();
        let wm = Watermark::new();
        let mut wal = path.clone().into_os_string();
        wal.push("-wal");
        let writer = Writer::spawn(
            Arc::new(Mutex::new(c)),
            Some((
                Connection::open(&path).unwrap(),
                WalLimit {
                    wal: wal.clone().into(),
                    bytes: 1 << 20,
                    busy: std::time::Duration::from_secs(5),
                },
            )),
            Durability::Pipelined { wal: wal.into() },
            Arc::clone(&wm),
            16,
        )
        .unwrap();
        let r = writer
            .call(insert(Id::generate(Timestamp::from_unix(100)), "p1piped0001"))
            .await;
        assert!(matches!(r, Ok(Reply::Committed(_))));
        // Answered means synced: the watermark already covers the commit.
        assert_eq!(*wm.durable.borrow(), wm.committed.load(Ordering::SeqCst));
        assert_eq!(
            writer.stats(),
            WriterStats {
                groups: 1,
                requests: 1
            }
        );
    }

    #[test]
    fn a_missing_wal_counts_as_synced() {
        let dir = tempfile::tempdir().unwrap();
        assert!(sync_file(&dir.path().join("nope-wal")).is_ok());
    }
}
