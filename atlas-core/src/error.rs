//! Error enums of the core ports: [`StoreError`] for stores, [`ExecError`] for
//! executors. Service-level errors live beside the service.

use std::time::Duration;

use crate::jobs::JobId;
use crate::model::{Id, Resource};

/// Boxed source error of a backend.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What a [`crate::Store`] can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The record does not exist (or is soft-deleted, for writes).
    #[error("{res} '{id}' not found")]
    NotFound {
        /// Resource looked in.
        res: Resource,
        /// Id looked for.
        id: Id,
    },
    /// Write number `write` of a batch expected another etag.
    #[error("write #{write}: {res} '{id}' has etag '{found}', the write expected '{expected}'; reload it and retry")]
    PreconditionFailed {
        /// Index of the failing write in its batch.
        write: usize,
        /// Resource of the record.
        res: Resource,
        /// Id of the record.
        id: Id,
        /// The etag the write was conditioned on.
        expected: String,
        /// The etag the record has.
        found: String,
    },
    /// Write number `write` of a batch would break a unique constraint.
    #[error("write #{write}: {res} value of '{field}' is not unique ({value})")]
    Unique {
        /// Index of the failing write in its batch.
        write: usize,
        /// Resource of the record.
        res: Resource,
        /// Name of the unique constraint (the field, e.g. `sid`, or `meta`).
        field: String,
        /// The clashing value, rendered for people.
        value: String,
    },
    /// Write number `write` addressed a record that does not exist or is deleted.
    #[error("write #{write}: {res} '{id}' not found")]
    WriteTargetMissing {
        /// Index of the failing write in its batch.
        write: usize,
        /// Resource of the record.
        res: Resource,
        /// Id of the record.
        id: Id,
    },
    /// The job does not exist.
    #[error("job '{0}' not found")]
    JobNotFound(JobId),
    /// The caller no longer holds the job's lease (it expired and was
    /// requeued, or another worker owns it now).
    #[error("job '{job}' is not leased to '{owner}' any more")]
    LeaseLost {
        /// The job.
        job: JobId,
        /// The owner that tried to act on it.
        owner: String,
    },
    /// Anything else the backend failed with (I/O, corruption, …).
    #[error("{backend} store failed: {source}")]
    Backend {
        /// Backend name (`memory`, `sqlite`, …).
        backend: &'static str,
        /// The underlying error.
        #[source]
        source: BoxError,
    },
}

impl StoreError {
    /// A [`StoreError::NotFound`] for `res`/`id`.
    pub fn not_found(res: Resource, id: &Id) -> Self {
        Self::NotFound { res, id: *id }
    }

    /// A [`StoreError::Backend`] of `backend` caused by `source`.
    pub fn backend(backend: &'static str, source: impl Into<BoxError>) -> Self {
        Self::Backend {
            backend,
            source: source.into(),
        }
    }

    /// The index of the batch write this error is about, if any.
    pub fn write_index(&self) -> Option<usize> {
        match self {
            Self::PreconditionFailed { write, .. }
            | Self::Unique { write, .. }
            | Self::WriteTargetMissing { write, .. } => Some(*write),
            _ => None,
        }
    }
}

/// What an [`crate::Executor`] can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecError {
    /// A program ran and exited unsuccessfully.
    #[error("{program} failed ({}): {stderr}", exit_text(*.status))]
    Failed {
        /// The program (first argv element).
        program: String,
        /// Exit status; `None` when killed by a signal.
        status: Option<i32>,
        /// The tail of its standard error.
        stderr: String,
    },
    /// An operation ran past its time limit and was killed.
    #[error("timed out after {}", duration_text(*.0))]
    Timeout(Duration),
    /// The spec handed to the executor was refused before anything was
    /// touched (unsafe name, path escaping its root, …).
    #[error("refused {what}: {reason}")]
    Refused {
        /// What was refused (`sid`, `route source`, …).
        what: String,
        /// Why.
        reason: String,
    },
    /// File-system or process-spawn failure.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// How a program ended, for people: `exit status 3`, or
/// `killed by a signal`.
fn exit_text(status: Option<i32>) -> String {
    status.map_or_else(|| "killed by a signal".to_owned(), |s| format!("exit status {s}"))
}

/// A time limit for people: whole seconds (`600 s`), or milliseconds when
/// it is not a whole number of seconds (`250 ms`).
fn duration_text(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_program_names_its_exit_status_or_the_signal_in_plain_words() {
        let failed = |status| ExecError::Failed {
            program: "drush".into(),
            status,
            stderr: "boom".into(),
        };
        assert_eq!(failed(Some(3)).to_string(), "drush failed (exit status 3): boom");
        assert_eq!(
            failed(None).to_string(),
            "drush failed (killed by a signal): boom"
        );
    }

    #[test]
    fn a_timeout_names_its_limit_in_seconds_or_milliseconds() {
        assert_eq!(
            ExecError::Timeout(Duration::from_secs(600)).to_string(),
            "timed out after 600 s"
        );
        assert_eq!(
            ExecError::Timeout(Duration::from_millis(250)).to_string(),
            "timed out after 250 ms"
        );
    }
}
