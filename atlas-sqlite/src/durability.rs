//! When committed groups count as on disk, and who waits for it.
//!
//! # Durability ([`Durability`])
//! - `Pipelined` (the default, `synchronous = full` in the config): the
//!   connection runs with SQLite's `synchronous = NORMAL` (WAL frames are
//!   written at `COMMIT` but not fsynced) and the *sync thread* ([`Sink`])
//!   fsyncs the WAL file after each group, then answers the group's
//!   callers. The writer goes on with the next group meanwhile, so the
//!   fsync no longer stalls it. An answer therefore still means "on disk":
//!   the fsync covers every frame written before it, and SQLite's
//!   checkpoints (run by the checkpointer thread, `checkpoint.rs`) fsync
//!   the WAL before copying it and the database after. Readers wait for the
//!   same fsync before returning what they read ([`Watermark`]), so nobody
//!   is shown data that a power loss could still take back.
//! - `Immediate`: SQLite syncs (or not) inside `COMMIT` as its own
//!   `synchronous` setting says, and callers are answered right after it
//!   (in-memory databases, and the `extra`, `normal` and `off` settings).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::sync::watch;

use crate::error::{Error, Result};
use crate::group_commit::Done;

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
    /// A watermark with nothing committed.
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

    /// Counts a group about to commit; returns its number.
    pub(crate) fn next(&self) -> u64 {
        self.committed.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Marks every group up to number `seq` durable.
    pub(crate) fn mark_durable(&self, seq: u64) {
        self.durable.send_if_modified(|d| {
            let moved = seq > *d;
            *d = (*d).max(seq);
            moved
        });
    }

    /// Whether every group counted so far is durable.
    #[cfg(test)]
    pub(crate) fn all_durable(&self) -> bool {
        *self.durable.borrow() == self.committed.load(Ordering::SeqCst)
    }
}

/// Marks everything committed so far durable when dropped: a writer or
/// sync thread that ends (or panics) must not leave readers waiting.
#[derive(Debug)]
pub(crate) struct Release(pub(crate) Arc<Watermark>);

impl Drop for Release {
    fn drop(&mut self) {
        self.0.mark_durable(self.0.committed.load(Ordering::SeqCst));
    }
}

/// Where finished groups go: answered at once, or through the sync thread.
#[derive(Debug)]
pub(crate) struct Sink {
    watermark: Arc<Watermark>,
    sync: Option<(Sender<Done>, JoinHandle<()>)>,
}

impl Sink {
    /// Starts the sync thread that `durability` needs, if any.
    ///
    /// # Errors
    /// [`Error::Thread`] when the sync thread cannot start.
    pub(crate) fn start(durability: Durability, watermark: Arc<Watermark>) -> Result<Sink> {
        let sync = match durability {
            Durability::Immediate => None,
            Durability::Pipelined { wal } => {
                let (tx, rx) = mpsc::channel::<Done>();
                let w = Arc::clone(&watermark);
                let handle = std::thread::Builder::new()
                    .name("atlas-sqlite-sync".into())
                    .spawn(move || {
                        let _release = Release(Arc::clone(&w));
                        sync_loop(&wal, &rx, &w);
                    })
                    .map_err(|source| Error::Thread { name: "sync", source })?;
                Some((tx, handle))
            }
        };
        Ok(Sink { watermark, sync })
    }

    /// The watermark groups are counted on.
    pub(crate) fn watermark(&self) -> &Watermark {
        &self.watermark
    }

    /// Answers `done` once it is durable.
    pub(crate) fn deliver(&self, done: Done) {
        match &self.sync {
            Some((tx, _)) => {
                if let Err(mpsc::SendError(done)) = tx.send(done) {
                    self.watermark.mark_durable(done.seq());
                    done.answer(Some(&Arc::new(Error::SyncGone)));
                }
            }
            None => {
                self.watermark.mark_durable(done.seq());
                done.answer(None);
            }
        }
    }

    /// Stops the sync thread once it answered every group delivered.
    pub(crate) fn stop(self) {
        if let Some((tx, handle)) = self.sync {
            drop(tx);
            if handle.join().is_err() {
                tracing::error!("the sqlite sync thread panicked");
            }
        }
    }
}

/// fsyncs the WAL for every batch of finished groups, then answers them.
fn sync_loop(wal: &Path, rx: &Receiver<Done>, watermark: &Watermark) {
    while let Ok(first) = rx.recv() {
        let mut groups = vec![first];
        groups.extend(rx.try_iter());
        let failure = if groups.iter().any(Done::wrote) {
            sync_file(wal).err().map(|source| {
                tracing::error!(error = %source, wal = %wal.display(), "fsync of the WAL failed");
                Arc::new(Error::Sync {
                    wal: wal.display().to_string(),
                    source,
                })
            })
        } else {
            None
        };
        let top = groups.iter().map(Done::seq).max().unwrap_or(0);
        watermark.mark_durable(top);
        for g in groups {
            g.answer(failure.as_ref());
        }
    }
}

fn sync_file(path: &Path) -> std::io::Result<()> {
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

    #[test]
    fn a_missing_wal_counts_as_synced() {
        let dir = tempfile::tempdir().unwrap();
        assert!(sync_file(&dir.path().join("nope-wal")).is_ok());
    }
}
