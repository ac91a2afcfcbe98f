//! Keeping the WAL short: the background checkpoint thread, and the
//! writer's own restart of a WAL that the background could not keep short.
//!
//! A `PASSIVE` checkpoint copies WAL frames into the database without
//! waiting for anyone; SQLite then starts the WAL over from its beginning
//! when a write transaction begins on a WAL that is completely copied and
//! that no reader still reads from. A writer that is never idle (group
//! commits back to back) and readers that always hold a snapshot make that
//! moment rare, and the WAL grew without bound under sustained load (to
//! hundreds of MiB in the load benchmark). So:
//!
//! - the [`Checkpointer`] thread copies frames in the background once the
//!   WAL file is past `checkpoint_kib`, so the writer rarely copies any;
//! - past twice that, the writer ([`WalBound`]) runs a `RESTART`
//!   checkpoint between two groups: it copies the few frames left and waits
//!   (briefly) until no reader reads the WAL, so the next group starts it
//!   over; SQLite then cuts the file back to `journal_size_limit`
//!   (`checkpoint_kib`), set on the writer connection.

use std::path::PathBuf;
use std::sync::mpsc::{self, SyncSender};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use crate::error::Result;

/// Where the WAL is and how long it may grow.
#[derive(Debug, Clone)]
pub(crate) struct WalLimit {
    /// The `-wal` file.
    pub(crate) wal: PathBuf,
    /// `checkpoint_kib`, in bytes.
    pub(crate) bytes: u64,
    /// The writer connection's busy timeout, restored after a restart.
    pub(crate) busy: Duration,
}

impl WalLimit {
    fn size(&self) -> u64 {
        std::fs::metadata(&self.wal).map_or(0, |m| m.len())
    }

    /// Sets the writer connection up: it checkpoints only when told to,
    /// and SQLite cuts a restarted WAL file back to `checkpoint_kib`.
    pub(crate) fn configure(&self, conn: &Connection) -> Result<()> {
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        conn.pragma_update(
            None,
            "journal_size_limit",
            i64::try_from(self.bytes).unwrap_or(i64::MAX),
        )?;
        Ok(())
    }
}

/// Pause between two looks at the WAL size.
const CHECKPOINT_PAUSE: Duration = Duration::from_millis(5);

/// The longest the writer waits for readers of old WAL frames to finish
/// before it gives up on a restart (and tries again later).
pub(crate) const RESTART_WAIT: Duration = Duration::from_millis(20);

/// Runs `PRAGMA wal_checkpoint(PASSIVE)` on its own connection when nudged
/// (after each group) and the WAL file is past `checkpoint_kib`.
#[derive(Debug)]
pub(crate) struct Checkpointer {
    tx: SyncSender<()>,
    handle: JoinHandle<()>,
}

impl Checkpointer {
    /// Starts the thread on `conn`, a connection of its own to the file.
    pub(crate) fn start(conn: Connection, limit: WalLimit) -> Checkpointer {
        let (tx, rx) = mpsc::sync_channel::<()>(1);
        let handle = std::thread::Builder::new()
            .name("atlas-sqlite-checkpoint".into())
            .spawn(move || {
                while rx.recv().is_ok() {
                    if limit.size() > limit.bytes {
                        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                            tracing::warn!(error = %e, "sqlite checkpoint failed; will retry");
                        }
                    }
                    std::thread::sleep(CHECKPOINT_PAUSE);
                }
            });
        match handle {
            Ok(handle) => Checkpointer { tx, handle },
            Err(e) => {
                tracing::error!(error = %e, "cannot start the checkpoint thread");
                // A thread that ends at once: commits still work, and the
                // writer's restarts still keep the WAL bounded.
                let handle = std::thread::spawn(|| {});
                Checkpointer { tx, handle }
            }
        }
    }

    /// Asks for a look at the WAL size (a no-op when one is pending).
    pub(crate) fn nudge(&self) {
        let _ = self.tx.try_send(());
    }

    /// Stops the thread and waits for it.
    pub(crate) fn stop(self) {
        drop(self.tx);
        let _ = self.handle.join();
    }
}

/// What [`WalBound::check`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Restart {
    /// The WAL is within bounds.
    NotNeeded,
    /// Checkpointed completely; the next write starts the WAL over.
    Done,
    /// A reader still needed old frames; tried again once the WAL grows
    /// by another `checkpoint_kib`.
    Busy,
}

/// The writer's side: restarts the WAL once it is past twice the limit.
#[derive(Debug)]
pub(crate) struct WalBound {
    limit: WalLimit,
    /// WAL file size past which the next restart is tried.
    next_try: u64,
}

impl WalBound {
    /// The bound of the WAL `limit` describes.
    pub(crate) fn new(limit: WalLimit) -> WalBound {
        let next_try = 2 * limit.bytes;
        WalBound { limit, next_try }
    }

    /// Between two groups, on the writer connection: restarts the WAL
    /// when it has grown past the bound.
    pub(crate) fn check(&mut self, conn: &Connection) -> Restart {
        let size = self.limit.size();
        if size <= self.next_try {
            return Restart::NotNeeded;
        }
        let outcome = restart(conn, &self.limit);
        self.next_try = match outcome {
            Restart::Busy => size + self.limit.bytes,
            _ => 2 * self.limit.bytes,
        };
        outcome
    }
}

fn restart(conn: &Connection, limit: &WalLimit) -> Restart {
    let run = || -> Result<bool> {
        conn.busy_timeout(RESTART_WAIT)?;
        // (busy, frames in the WAL, frames copied): busy = 1 when a reader
        // kept it from finishing within the wait.
        let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| r.get(0))?;
        Ok(busy == 0)
    };
    let outcome = match run() {
        Ok(true) => Restart::Done,
        Ok(false) => Restart::Busy,
        Err(e) => {
            tracing::warn!(error = %e, "sqlite WAL restart failed; will retry");
            Restart::Busy
        }
    };
    if let Err(e) = conn.busy_timeout(limit.busy) {
        tracing::warn!(error = %e, "cannot restore the writer's busy timeout");
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Db {
        _dir: tempfile::TempDir,
        path: PathBuf,
        writer: Connection,
        bound: WalBound,
    }

    /// A WAL database with one table, and the bound of the writer.
    fn db(bytes: u64) -> Db {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let writer = Connection::open(&path).unwrap();
        writer
            .query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
            .unwrap();
        writer.execute_batch("CREATE TABLE t(x BLOB)").unwrap();
        let mut wal = path.clone().into_os_string();
        wal.push("-wal");
        let bound = WalBound::new(WalLimit {
            wal: wal.into(),
            bytes,
            busy: Duration::from_secs(5),
        });
        bound.limit.configure(&writer).unwrap();
        Db {
            _dir: dir,
            path,
            writer,
            bound,
        }
    }

    fn write(db: &Db, kib: usize) {
        db.writer
            .execute("INSERT INTO t VALUES (zeroblob(?1))", [kib * 1024])
            .unwrap();
    }

    #[test]
    fn a_short_wal_is_left_alone() {
        let mut db = db(64 * 1024);
        write(&db, 4);
        assert_eq!(db.bound.check(&db.writer), Restart::NotNeeded);
    }

    #[test]
    fn a_wal_past_twice_the_limit_starts_over_and_is_cut_back() {
        let mut db = db(64 * 1024);
        for _ in 0..20 {
            write(&db, 16);
        }
        assert!(db.bound.limit.size() > 2 * 64 * 1024);
        assert_eq!(db.bound.check(&db.writer), Restart::Done);
        // The next write starts the WAL over; the file is cut back.
        write(&db, 1);
        assert!(db.bound.limit.size() <= 64 * 1024, "{}", db.bound.limit.size());
        assert_eq!(db.bound.check(&db.writer), Restart::NotNeeded);
    }

    #[test]
    fn a_reader_of_old_frames_defers_the_restart_until_it_is_done() {
        let mut db = db(64 * 1024);
        write(&db, 1);
        let reader = Connection::open(&db.path).unwrap();
        reader.execute_batch("BEGIN").unwrap();
        let _: i64 = reader
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        for _ in 0..20 {
            write(&db, 16);
        }
        assert_eq!(db.bound.check(&db.writer), Restart::Busy);
        // Not tried again until the WAL grew by another limit.
        assert_eq!(db.bound.check(&db.writer), Restart::NotNeeded);
        reader.execute_batch("COMMIT").unwrap();
        for _ in 0..5 {
            write(&db, 16);
        }
        assert_eq!(db.bound.check(&db.writer), Restart::Done);
        write(&db, 1);
        assert!(db.bound.limit.size() <= 64 * 1024, "{}", db.bound.limit.size());
    }
}
