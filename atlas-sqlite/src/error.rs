//! The crate's private error type and its mapping into the core
//! [`StoreError`]: domain failures (preconditions, unique clashes, missing
//! targets, lost leases) pass through unchanged, everything else becomes
//! [`StoreError::Backend`] with backend `"sqlite"`.

use atlas_core::StoreError;

/// Everything the SQLite store can fail with internally.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// A domain failure to hand to the caller as is.
    #[error(transparent)]
    Store(StoreError),
    /// SQLite itself failed.
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// A stored body or job is not the JSON it should be.
    #[error("stored JSON is invalid: {0}")]
    Json(#[from] serde_json::Error),
    /// A stored row holds a value Atlas never writes.
    #[error("stored row is invalid: {0}")]
    Corrupt(String),
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
    /// The file could not be opened.
    #[error("cannot open the database '{path}': {source}")]
    Open {
        /// The file.
        path: String,
        /// Why.
        source: rusqlite::Error,
    },
    /// The writer thread is gone (the store is shutting down, or it panicked).
    #[error("the sqlite writer thread has stopped")]
    WriterGone,
    /// A find tried on the calling task read more rows than its inline
    /// budget allows; the store runs it again on the blocking pool, so
    /// callers never see this.
    #[error("the find went past its inline budget")]
    OverBudget,
    /// A blocking task panicked or was cancelled.
    #[error("a blocking sqlite task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        Error::Store(e)
    }
}

impl From<Error> for StoreError {
    fn from(e: Error) -> Self {
        match e {
            Error::Store(e) => e,
            other => StoreError::Backend {
                backend: "sqlite",
                source: Box::new(other),
            },
        }
    }
}

/// Shorthand for results of this crate's internals.
pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use atlas_core::model::{Id, Resource, Timestamp};

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
}
