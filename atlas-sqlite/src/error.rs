//! The crate's private error type and its mapping into the core
//! [`StoreError`]: domain failures (preconditions, unique clashes, missing
//! targets, lost leases) pass through unchanged, everything else (stored
//! rows that do not decode, SQLite, transactions, threads, I/O) becomes
//! [`StoreError::Backend`] with backend `"sqlite"` and this error as its
//! source, the cause chain kept below it. Each variant is one kind of
//! failure: [`Error::Corrupt`] is only for stored data that does not decode.

use std::sync::Arc;

use atlas_core::{BoxError, StoreError};

/// The backend name in the core errors this crate returns.
const BACKEND: &str = "sqlite";

/// Everything the SQLite store can fail with internally.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// A domain failure to hand to the caller as is.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An SQLite statement failed.
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// A stored row holds a value Atlas never writes.
    #[error(
        "{what} in the database does not decode ({source}): the database was changed outside \
         Atlas or is damaged; run `atlas migrate` to check its integrity, or restore a backup"
    )]
    Corrupt {
        /// What was read, for people (`the body of record '…'`, `a job`).
        what: String,
        /// Why it does not decode.
        #[source]
        source: BoxError,
    },
    /// A document could not be turned into the JSON text to store.
    #[error("cannot encode {what} as JSON: {source}")]
    Encode {
        /// What was encoded (`a record body`, `a job`).
        what: &'static str,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The database was written by a newer Atlas.
    #[error(
        "database schema version {found} is newer than the {supported} this Atlas supports; \
         run a newer Atlas or point it at another database"
    )]
    NewerSchema {
        /// `PRAGMA user_version` of the file.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// The database's schema version is one no Atlas writes (negative).
    #[error(
        "database schema version {found} was not written by Atlas; \
         point Atlas at its own database file"
    )]
    UnknownSchema {
        /// `PRAGMA user_version` of the file.
        found: i64,
    },
    /// The file could not be opened.
    #[error("cannot open the database '{path}': {source}")]
    Open {
        /// The file.
        path: String,
        /// Why.
        source: rusqlite::Error,
    },
    /// SQLite would not put the database in WAL mode.
    #[error(
        "cannot switch the database '{path}' to WAL mode (SQLite kept journal mode '{mode}'); \
         put it on a local file system, and make sure no other program holds it in exclusive mode"
    )]
    NoWal {
        /// The file.
        path: String,
        /// The journal mode SQLite reported instead.
        mode: String,
    },
    /// A thread of the store could not be started.
    #[error("cannot start the sqlite {name} thread: {source}; the system is short of threads or memory")]
    Thread {
        /// Which thread (`writer`, `sync`).
        name: &'static str,
        /// Why.
        source: std::io::Error,
    },
    /// The writer thread is gone (the store is shutting down, or it panicked).
    #[error(
        "the sqlite writer thread has stopped (the store is shutting down, or the thread panicked: \
         see the log); restart Atlas"
    )]
    WriterGone,
    /// The transaction of the change's group did not commit; nothing of the
    /// change was written. Shared by every change of the group it hit.
    #[error("the transaction failed ({step}), nothing of this change was written: {source}")]
    Transaction {
        /// Where it failed.
        step: TxStep,
        /// Why.
        #[source]
        source: Arc<Error>,
    },
    /// The change was committed, but the WAL holding it could not be synced
    /// to disk. Shared by every change of the groups it hit.
    #[error(
        "the change was committed but may not be on disk, a crash could still lose it \
         (check the disk holding the database): {source}"
    )]
    NotDurable {
        /// Why.
        #[source]
        source: Arc<Error>,
    },
    /// `fsync` of the WAL file failed.
    #[error("cannot sync '{wal}' to disk: {source}")]
    Sync {
        /// The `-wal` file.
        wal: String,
        /// Why.
        source: std::io::Error,
    },
    /// The thread that syncs committed groups to disk is gone.
    #[error("the sqlite sync thread has stopped")]
    SyncGone,
    /// SQLite rolled a transaction back on its own, without an error.
    #[error("SQLite rolled the transaction back")]
    RolledBack,
    /// A find tried on the calling task read more rows than its inline
    /// budget allows; the store runs it again on the blocking pool, so
    /// callers never see this.
    #[error("the find went past its inline budget")]
    OverBudget,
    /// A blocking task panicked or was cancelled.
    #[error("a blocking sqlite task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// Where a group's transaction failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TxStep {
    /// `BEGIN`.
    Begin,
    /// Rolling back a first run of the group, to run it again with one
    /// savepoint per change.
    Rollback,
    /// A statement failed so badly that SQLite rolled the whole
    /// transaction back (I/O error, disk full, …).
    Aborted,
    /// `COMMIT` (and the shape-catalog update just before it).
    Commit,
}

impl std::fmt::Display for TxStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TxStep::Begin => "it could not begin",
            TxStep::Rollback => "a failed run could not be rolled back",
            TxStep::Aborted => "SQLite rolled it back",
            TxStep::Commit => "it could not commit",
        })
    }
}

impl Error {
    /// A [`Error::Corrupt`] about `what`.
    pub(crate) fn corrupt(what: impl Into<String>, source: impl Into<BoxError>) -> Error {
        Error::Corrupt {
            what: what.into(),
            source: source.into(),
        }
    }

    /// The [`Error::Transaction`] that `cause`, shared by a group, gives
    /// each of its changes.
    pub(crate) fn transaction(step: TxStep, cause: &Arc<Error>) -> StoreError {
        Error::Transaction {
            step,
            source: Arc::clone(cause),
        }
        .into()
    }
}

impl From<Error> for StoreError {
    fn from(e: Error) -> Self {
        match e {
            Error::Store(e) => e,
            other => StoreError::backend(BACKEND, other),
        }
    }
}

/// Shorthand for results of this crate's internals.
pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use atlas_core::model::{Id, Resource, Timestamp};
    use std::error::Error as _;

    #[test]
    fn domain_errors_pass_through_unchanged() {
        let id = Id::generate(Timestamp::from_unix(0));
        let e: StoreError = Error::Store(StoreError::not_found(Resource::Code, &id)).into();
        assert!(matches!(e, StoreError::NotFound { .. }));
    }

    #[test]
    fn other_errors_become_sqlite_backend_errors() {
        let e: StoreError = Error::NewerSchema {
            found: 9,
            supported: 2,
        }
        .into();
        match e {
            StoreError::Backend { backend, source } => {
                assert_eq!(backend, "sqlite");
                let msg = source.to_string();
                assert!(msg.contains('9') && msg.contains('2'), "{msg}");
            }
            other => panic!("expected a backend error, got {other:?}"),
        }
    }

    #[test]
    fn rows_that_do_not_decode_name_what_and_what_to_do_and_keep_the_cause() {
        let e: StoreError = Error::corrupt("a record id", "'nope' is not an id").into();
        let StoreError::Backend { backend, source } = &e else {
            panic!("expected a backend error, got {e:?}")
        };
        assert_eq!(*backend, "sqlite");
        assert!(matches!(
            source.downcast_ref::<Error>(),
            Some(Error::Corrupt { .. })
        ));
        let msg = e.to_string();
        assert!(
            msg.contains("a record id in the database does not decode ('nope' is not an id)")
                && msg.contains("atlas migrate"),
            "{msg}"
        );
        let cause = source.source().map(ToString::to_string);
        assert_eq!(cause.as_deref(), Some("'nope' is not an id"));
    }

    #[test]
    fn a_failed_transaction_keeps_its_cause_as_the_source() {
        let cause = Arc::new(Error::Sqlite(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            None,
        )));
        let e = Error::transaction(TxStep::Commit, &cause);
        let msg = e.to_string();
        assert!(
            msg.contains("could not commit") && msg.contains("nothing"),
            "{msg}"
        );
        // StoreError::Backend → Error::Transaction → the SQLite error.
        let transaction = e.source().unwrap();
        let sqlite = transaction.source().unwrap();
        assert!(sqlite.to_string().contains("full"), "{sqlite}");
    }
}
