//! [`SqliteConfig`]: where the database lives and how hard it works to keep
//! every acknowledged commit (the `[store.sqlite]` section of `atlas.toml`).

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How the SQLite store is opened.
///
/// Every field has a default, so an empty `[store.sqlite]` section opens
/// `atlas.db` in the working directory with full durability.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SqliteConfig {
    /// The database file (created when absent, with its `-wal` and `-shm`
    /// companions beside it). `:memory:` keeps everything in memory, for
    /// tests and throw-away runs.
    pub path: PathBuf,
    /// When a commit reaches the disk. `full`, the default, answers a caller
    /// only after its batch survives power loss (the WAL is fsynced once
    /// per group of batches, on a thread of its own, while the writer goes
    /// on with the next group); `normal` may lose the last commits on power
    /// loss (never on a process crash) but never corrupts the database.
    pub synchronous: Synchronous,
    /// How long a connection waits for a lock held by another process
    /// before failing with "database is locked", in milliseconds.
    pub busy_timeout_ms: u64,
    /// Reader connections serving `get`, `find` and `history` in parallel
    /// (at least 1; in-memory databases always use the writer's connection).
    pub readers: usize,
    /// The most batches the writer thread commits in one transaction (group
    /// commit). Batches that arrive while a transaction is being made
    /// durable are gathered into the next one, up to this many.
    pub max_group: usize,
    /// Page cache per connection, in KiB (`PRAGMA cache_size`; 4 MiB by
    /// default). Every connection (the writer and each reader) fills its
    /// own, so the process holds up to `(readers + 1) × cache_kib`; pages
    /// past it are read again from the operating system's file cache.
    pub cache_kib: u32,
    /// How much of the database file connections read through memory
    /// mapping, in MiB (`PRAGMA mmap_size`; 0, the default, turns it off).
    /// Mapped pages are read without a system call each, which helps point
    /// reads on a database much larger than the page cache when writes are
    /// rare; but SQLite unmaps the file whenever a reader sees a new write,
    /// so under a steady write load it costs more than it saves (the load
    /// benchmark's `POST /instance`: about 12,500 req/s unmapped, 10,500
    /// mapped; reads measured the same either way).
    pub mmap_mib: u32,
    /// WAL size, in KiB, past which a background thread checkpoints the WAL
    /// into the database. Under sustained writes the WAL cannot start over
    /// by itself; at twice this size the writer completes the checkpoint
    /// (pausing writes for a few milliseconds) so it does, and the file is
    /// cut back to this size. So the WAL stays within about twice this; a
    /// larger value means fewer such pauses (16 MiB: a few per second at
    /// 10,000 instance creations per second).
    pub checkpoint_kib: u32,
    /// How much work a `find` may do on the calling async task, in SQLite
    /// virtual-machine steps per statement (0: every find goes to the
    /// blocking thread pool). Most finds the service runs itself (the
    /// current code items, an instance's routes) read a few rows through
    /// an index and finish well within the default, skipping the hand-off
    /// to a blocking thread; a find that goes past it, or past
    /// [`INLINE_FIND_ROWS`] rows, is abandoned and run again on the
    /// blocking pool, so an async worker is never held for long.
    pub inline_find_steps: u32,
}

/// The most rows a find tried on the calling task may read before it is
/// handed to the blocking pool (see [`SqliteConfig::inline_find_steps`]).
pub const INLINE_FIND_ROWS: usize = 64;

impl Default for SqliteConfig {
    fn default() -> Self {
        Self {
            path: PathBuf::from("atlas.db"),
            synchronous: Synchronous::Full,
            busy_timeout_ms: 5_000,
            readers: 4,
            max_group: 256,
            cache_kib: 4 * 1024,
            mmap_mib: 0,
            checkpoint_kib: 16 * 1024,
            inline_find_steps: 5_000,
        }
    }
}

impl SqliteConfig {
    /// The defaults, with the database at `path`.
    pub fn at(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            ..Self::default()
        }
    }

    /// The defaults, in memory.
    pub fn in_memory() -> Self {
        Self::at(MEMORY_PATH)
    }

    /// Whether the database is kept in memory.
    pub fn is_in_memory(&self) -> bool {
        self.path.as_os_str() == MEMORY_PATH
    }

    /// `busy_timeout_ms` as a duration.
    pub(crate) fn busy_timeout(&self) -> Duration {
        Duration::from_millis(self.busy_timeout_ms)
    }
}

/// The `path` that keeps the database in memory.
pub const MEMORY_PATH: &str = ":memory:";

/// How durable a commit is before its caller is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    /// Every answered commit is on disk (the default). SQLite runs with
    /// `synchronous = NORMAL` and Atlas fsyncs the WAL itself after each
    /// group commit, before answering the group's callers and before
    /// readers are shown its writes.
    #[default]
    Full,
    /// SQLite's `synchronous = EXTRA`: SQLite fsyncs inside every `COMMIT`
    /// (no pipelining; slower, for file systems where that matters).
    Extra,
    /// SQLite's `synchronous = NORMAL` without the extra fsync: durable
    /// across process crashes, not across power loss.
    Normal,
    /// No fsync at all: for tests and bulk imports only.
    Off,
}

impl Synchronous {
    /// The value of SQLite's `synchronous` pragma for this setting.
    pub(crate) fn pragma(self) -> &'static str {
        match self {
            Synchronous::Full => "FULL",
            Synchronous::Extra => "EXTRA",
            Synchronous::Normal => "NORMAL",
            Synchronous::Off => "OFF",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_section_gives_full_durability_defaults() {
        let c: SqliteConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(c, SqliteConfig::default());
        assert_eq!(c.synchronous, Synchronous::Full);
        assert!(!c.is_in_memory());
    }

    #[test]
    fn unknown_fields_are_refused() {
        let e = serde_json::from_str::<SqliteConfig>(r#"{"pth": "x.db"}"#).unwrap_err();
        assert!(e.to_string().contains("unknown field"), "{e}");
    }

    #[test]
    fn synchronous_reads_lowercase_names() {
        let c: SqliteConfig = serde_json::from_str(r#"{"synchronous": "normal"}"#).unwrap();
        assert_eq!(c.synchronous, Synchronous::Normal);
        assert_eq!(c.synchronous.pragma(), "NORMAL");
    }

    #[test]
    fn memory_path_means_in_memory() {
        assert!(SqliteConfig::in_memory().is_in_memory());
    }
}
