//! [`ServiceError`]: everything an API operation can refuse or fail with,
//! each naming the field or record and what to do. Front ends (the HTTP
//! layer) decide how each variant is answered; nothing here knows them.

use crate::error::StoreError;
use crate::model::Resource;
use crate::query::QueryError;
use crate::schema::Issues;
use crate::secrets::SecretError;

/// Validation failures of a write: one [`Issues`] per submitted document
/// (empty for the valid ones).
#[derive(Debug, Clone, PartialEq)]
pub struct Invalid {
    /// Per-document issues, in submission order.
    pub items: Vec<Issues>,
    /// Whether the request was a bulk (list) POST.
    pub bulk: bool,
}

impl Invalid {
    /// A single document's issues.
    pub fn single(issues: Issues) -> Self {
        Self {
            items: vec![issues],
            bulk: false,
        }
    }

    /// The issues of the first invalid document.
    pub fn first(&self) -> Option<&Issues> {
        self.items.iter().find(|i| !i.is_empty())
    }
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let bad = self.items.iter().filter(|i| !i.is_empty()).count();
        write!(f, "{bad} document(s) contain(s) error(s)")?;
        if let Some(first) = self.first() {
            write!(f, ": {first}")?;
        }
        Ok(())
    }
}

/// What an API operation can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The request itself is malformed (bad query, empty bulk, not an
    /// object).
    #[error("{0}")]
    BadRequest(String),
    /// A bulk create holds more documents than `[service] max_bulk_items`.
    #[error("a bulk insert may hold at most {max} documents, this one holds {got}: split it into smaller requests")]
    TooManyItems {
        /// The configured cap.
        max: usize,
        /// How many documents the request held.
        got: usize,
    },
    /// A bad `where`/`sort`/paging/projection parameter.
    #[error(transparent)]
    Query(#[from] QueryError),
    /// Documents failed validation.
    #[error("validation failed: {0}")]
    Invalid(Invalid),
    /// A write without `If-Match`.
    #[error("To edit a document its etag must be provided using the If-Match header")]
    PreconditionRequired,
    /// A write whose `If-Match` is not the current etag.
    #[error("Client and server etags don't match")]
    PreconditionFailed,
    /// No such (live) record.
    #[error("{res} '{id}' not found")]
    NotFound {
        /// Resource.
        res: Resource,
        /// The id or sid asked for.
        id: String,
    },
    /// No such job.
    #[error("job '{0}' not found")]
    JobNotFound(String),
    /// A rule refuses the change (code in use, refused transition, guard).
    #[error("{message}")]
    Conflict {
        /// The field or record concerned (`status`, `meta`, …).
        field: String,
        /// What blocks the change and what to do.
        message: String,
    },
    /// A stored secret cannot be opened (configuration problem).
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// The store failed (a server-side problem, not the client's).
    #[error(transparent)]
    Store(StoreError),
}

impl ServiceError {
    /// A [`ServiceError::Conflict`].
    pub fn conflict(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Conflict {
            field: field.into(),
            message: message.into(),
        }
    }

    /// A [`ServiceError::NotFound`].
    pub fn not_found(res: Resource, id: impl Into<String>) -> Self {
        Self::NotFound { res, id: id.into() }
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { res, id } => ServiceError::NotFound {
                res,
                id: id.to_string(),
            },
            StoreError::PreconditionFailed { .. } => ServiceError::PreconditionFailed,
            other => ServiceError::Store(other),
        }
    }
}
