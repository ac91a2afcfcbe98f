//! The single writer thread: [`Writer`], the handle callers send their
//! changes through, and the thread's loop.
//!
//! Every change (batches and job-queue operations) is a request sent to
//! one thread that owns the write connection. The thread takes the first
//! waiting request plus every other request already queued (up to
//! `max_group`) and commits them as one group (`group_commit.rs`). While
//! one group is being made durable (`durability.rs`) the next requests
//! queue up and form the next group, so one fsync serves many callers.
//! Between groups the thread nudges the checkpointer and keeps the WAL
//! short (`checkpoint.rs`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use atlas_core::StoreError;
use rusqlite::Connection;

use crate::checkpoint::{Checkpointer, WalBound, WalLimit};
use crate::durability::{Durability, Release, Sink, Watermark};
use crate::error::{Error, Result};
use crate::group_commit::commit_group;
use crate::request::{Call, Change, Queued};

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
    tx: Option<Sender<Box<dyn Queued>>>,
    thread: Option<JoinHandle<()>>,
    counters: Arc<Counters>,
}

impl Writer {
    /// Starts the threads. `conn` is shared with in-memory readers, hence
    /// the mutex, locked for one group at a time; `checkpointer` is a second
    /// connection to the same file, checkpointing in the background, and
    /// the WAL's limit, which the writer enforces between groups (see
    /// `checkpoint.rs`).
    ///
    /// # Errors
    /// [`Error::Thread`] when the writer or sync thread cannot start.
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
        let sink = Sink::start(durability, Arc::clone(&watermark))?;
        let thread = std::thread::Builder::new()
            .name("atlas-sqlite-writer".into())
            .spawn(move || {
                // However this thread ends, nobody keeps waiting on it.
                let _release = Release(watermark);
                let mut checkpoints = checkpointer
                    .map(|(c, limit)| (Checkpointer::start(c, limit.clone()), WalBound::new(limit)));
                run(&conn, &rx, max_group.max(1), &sink, checkpoints.as_mut(), &c);
                sink.stop();
                if let Some((cp, _)) = checkpoints {
                    cp.stop();
                }
            })
            .map_err(|source| Error::Thread {
                name: "writer",
                source,
            })?;
        Ok(Writer {
            tx: Some(tx),
            thread: Some(thread),
            counters,
        })
    }

    /// Runs `change` in the writer and waits for its (durable) result.
    ///
    /// # Errors
    /// The change's own errors, the transaction's, and
    /// [`Error::WriterGone`].
    pub(crate) async fn call<C: Change>(&self, change: C) -> Result<C::Answer, StoreError> {
        let (call, answer) = Call::new(change);
        let tx = self.tx.as_ref().ok_or(Error::WriterGone)?;
        tx.send(Box::new(call)).map_err(|_| Error::WriterGone)?;
        answer.await.map_err(|_| Error::WriterGone)?
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

/// The writer thread's loop: one group per turn, until every handle is
/// gone.
fn run(
    conn: &Mutex<Connection>,
    rx: &Receiver<Box<dyn Queued>>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::functions::{self, Residuals};
    use crate::migrations;
    use crate::prepare::Prepared;
    use atlas_core::model::{Id, Resource, Timestamp};
    use atlas_core::Batch;
    use serde_json::json;

    fn db() -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        functions::register(&c, &Arc::new(Residuals::default())).unwrap();
        migrations::migrate(&mut c).unwrap();
        c
    }

    fn insert(id: Id, sid: &str) -> Prepared {
        let mut b = Batch::new(Timestamp::from_unix(100));
        b.insert(
            Resource::Instance,
            id,
            json!({"sid": sid, "path": sid}).as_object().cloned().unwrap(),
        );
        Prepared::new(b).unwrap()
    }

    fn count(c: &Connection, sql: &str) -> i64 {
        c.query_row(sql, [], |r| r.get(0)).unwrap()
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
            assert!(t.await.unwrap().is_ok());
        }
        drop(writer);
        let c = conn.lock().unwrap();
        assert_eq!(count(&c, "SELECT count(*) FROM instance"), 40);
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
        assert!(r.is_ok());
        // Answered means synced: the watermark already covers the commit.
        assert!(wm.all_durable());
        assert_eq!(
            writer.stats(),
            WriterStats {
                groups: 1,
                requests: 1
            }
        );
    }
}
