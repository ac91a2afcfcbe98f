//! [`JobHandler`]: what the worker calls to do one job, and what a handler
//! reports back.

use std::fmt;

use async_trait::async_trait;
use serde_json::Value;

use crate::batch::Batch;
use crate::jobs::Job;

/// A successful attempt: a result to keep on the job and the records it
/// changes (committed atomically with the job's success).
#[derive(Debug, Clone)]
pub struct Handled {
    /// Kept as the job's `result` (command output, durations, …).
    pub result: Value,
    /// Follow-up writes (`None`: nothing to write).
    pub follow_up: Option<Batch>,
}

impl Handled {
    /// Success with `result` and no follow-up writes.
    pub fn result(result: Value) -> Self {
        Self {
            result,
            follow_up: None,
        }
    }

    /// Success with `result` and follow-up writes.
    pub fn with_follow_up(result: Value, follow_up: Batch) -> Self {
        Self {
            result,
            follow_up: Some(follow_up),
        }
    }
}

/// A failed attempt.
#[derive(Debug, Clone)]
pub struct HandlerError {
    /// What went wrong, for people (kept as the job's `last_error`).
    pub error: String,
    /// Whether another attempt may succeed (a failing server) or not (the
    /// record is gone, the input is refused).
    pub retryable: bool,
    /// Partial output worth keeping.
    pub result: Option<Value>,
    /// Writes to commit with the failure (an error recorded on the
    /// instance, say).
    pub follow_up: Option<Batch>,
}

impl HandlerError {
    /// A failure worth retrying.
    pub fn retry(error: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            retryable: true,
            result: None,
            follow_up: None,
        }
    }

    /// A failure no retry can fix.
    pub fn fatal(error: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            retryable: false,
            result: None,
            follow_up: None,
        }
    }

    /// Adds writes committed with the failure.
    pub fn with_follow_up(mut self, batch: Batch) -> Self {
        self.follow_up = Some(batch);
        self
    }

    /// Adds partial output.
    pub fn with_result(mut self, result: Value) -> Self {
        self.result = Some(result);
        self
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.error)
    }
}

/// Does jobs. The engine's dispatcher implements it by job kind; tests
/// implement it directly.
#[async_trait]
pub trait JobHandler: Send + Sync + fmt::Debug + 'static {
    /// Runs one attempt of `job`.
    ///
    /// # Behavior
    /// Must be idempotent: an attempt may be repeated after a crash or a
    /// lost lease.
    ///
    /// # Errors
    /// [`HandlerError`] describing the failure and whether to retry.
    async fn handle(&self, job: &Job) -> Result<Handled, HandlerError>;
}
