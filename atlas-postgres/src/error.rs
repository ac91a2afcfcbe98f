//! The crate's private error type and its mapping into the core
//! [`StoreError`]: domain failures (preconditions, unique clashes, missing
//! targets, lost leases) pass through unchanged; everything else (the
//! database, the pool, rows that do not decode, a schema from a newer Atlas)
//! becomes [`StoreError::Backend`] with backend `"postgres"`.

use atlas_core::{BoxError, StoreError};

/// The backend name in the core errors this crate returns.
pub(crate) const BACKEND: &str = "postgres";

/// Everything the PostgreSQL store can fail with internally.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// A domain failure to hand to the caller as is.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A statement failed.
    #[error(transparent)]
    Db(#[from] tokio_postgres::Error),
    /// No connection could be taken from the pool.
    #[error("no PostgreSQL connection available: {}", pool_advice(.0))]
    Pool(#[from] deadpool_postgres::PoolError),
    /// A stored row holds a value Atlas never writes.
    #[error(
        "{what} in the database does not decode ({source}): the database was changed outside \
         Atlas or is damaged; restore a backup"
    )]
    Corrupt {
        /// What was read, for people.
        what: String,
        /// Why it does not decode.
        #[source]
        source: BoxError,
    },
    /// The database was migrated by a newer Atlas.
    #[error(
        "database schema version {found} is newer than the {supported} this Atlas supports; \
         run a newer Atlas or point `[store] url` at another database"
    )]
    NewerSchema {
        /// The version stored in the database.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// The configuration cannot be used.
    #[error("{0}")]
    Config(String),
}

impl From<Error> for StoreError {
    fn from(e: Error) -> Self {
        match e {
            Error::Store(s) => s,
            other => StoreError::backend(BACKEND, other),
        }
    }
}

/// Results of this crate's internals.
pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

/// A [`Error::Corrupt`] for `what`.
pub(crate) fn corrupt(what: impl Into<String>, source: impl Into<BoxError>) -> Error {
    Error::Corrupt {
        what: what.into(),
        source: source.into(),
    }
}

/// The SQLSTATE of a database error, if it is one.
pub(crate) fn sqlstate(e: &tokio_postgres::Error) -> Option<&tokio_postgres::error::SqlState> {
    e.code()
}

/// A pool error with its causes (the driver hides why a TLS handshake
/// failed in its source) and what to check.
fn pool_advice(e: &deadpool_postgres::PoolError) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    if text.contains("TLS") || text.contains("certificate") {
        text.push_str(
            "; check that the server speaks TLS, that its certificate names the URL's host, \
             and that `[store] ca_file` holds the CA that signed it",
        );
    } else {
        text.push_str("; check that the server is up and `[store] url` is right");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_schema_names_both_versions() {
        let e: StoreError = Error::NewerSchema {
            found: 7,
            supported: 1,
        }
        .into();
        let text = format!("{}", std::error::Error::source(&e).expect("source"));
        assert!(
            text.contains("version 7") && text.contains("the 1 this Atlas"),
            "{text}"
        );
    }
}
