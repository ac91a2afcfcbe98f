//! [`Batch`]: the unit of every write — an all-or-nothing list of record
//! [`Write`]s and job enqueues at one time `now` — and what committing it
//! produced ([`Committed`], one [`Written`] per write).

use crate::jobs::{JobId, JobSpec};
use crate::model::{Body, Doc, Etag, Id, Resource, Timestamp};

/// One write of a [`Batch`].
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// Creates a record at version 1.
    Insert {
        /// Resource.
        res: Resource,
        /// Id of the new record (the caller generates it).
        id: Id,
        /// User fields.
        body: Body,
    },
    /// Merges `patch` into a live record ([`crate::model::merge_patch`]).
    Update {
        /// Resource.
        res: Resource,
        /// Record.
        id: Id,
        /// Fields to merge (nested objects merge, the rest replace).
        patch: Body,
        /// Required current etag, if any.
        expect: Option<Etag>,
    },
    /// Replaces the body of a live record (`_created` kept).
    Replace {
        /// Resource.
        res: Resource,
        /// Record.
        id: Id,
        /// The new body.
        body: Body,
        /// Required current etag, if any.
        expect: Option<Etag>,
    },
    /// Soft-deletes a record: a new version with `_deleted: true`. Deleting
    /// a record that is already deleted changes nothing.
    Delete {
        /// Resource.
        res: Resource,
        /// Record.
        id: Id,
        /// Required current etag, if any.
        expect: Option<Etag>,
    },
    /// Enqueues a job.
    Enqueue(JobSpec),
}

/// Writes applied together, all or nothing, at `now`.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// The time stamped on every written version and job.
    pub now: Timestamp,
    /// The writes, applied in order (a later write sees earlier ones).
    pub writes: Vec<Write>,
}

impl Batch {
    /// An empty batch at `now`.
    pub fn new(now: Timestamp) -> Self {
        Self {
            now,
            writes: Vec::new(),
        }
    }

    /// Whether the batch has no writes.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }

    /// Appends a write.
    pub fn push(&mut self, w: Write) -> &mut Self {
        self.writes.push(w);
        self
    }

    /// Appends an insert.
    pub fn insert(&mut self, res: Resource, id: Id, body: Body) -> &mut Self {
        self.push(Write::Insert { res, id, body })
    }

    /// Appends an update.
    pub fn update(&mut self, res: Resource, id: Id, patch: Body, expect: Option<Etag>) -> &mut Self {
        self.push(Write::Update {
            res,
            id,
            patch,
            expect,
        })
    }

    /// Appends a replace.
    pub fn replace(&mut self, res: Resource, id: Id, body: Body, expect: Option<Etag>) -> &mut Self {
        self.push(Write::Replace {
            res,
            id,
            body,
            expect,
        })
    }

    /// Appends a soft delete.
    pub fn delete(&mut self, res: Resource, id: Id, expect: Option<Etag>) -> &mut Self {
        self.push(Write::Delete { res, id, expect })
    }

    /// Appends a job.
    pub fn enqueue(&mut self, job: JobSpec) -> &mut Self {
        self.push(Write::Enqueue(job))
    }
}

/// What one write of a committed batch produced.
#[derive(Debug, Clone, PartialEq)]
pub enum Written {
    /// The record as written (for a delete of a deleted record: as it was).
    Doc(Doc),
    /// The id of an enqueued job.
    Job(JobId),
}

/// The result of a committed batch: one [`Written`] per write, in order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Committed {
    /// Per-write results.
    pub results: Vec<Written>,
}

impl Committed {
    /// The records written, in order.
    pub fn docs(&self) -> impl Iterator<Item = &Doc> {
        self.results.iter().filter_map(|w| match w {
            Written::Doc(d) => Some(d),
            Written::Job(_) => None,
        })
    }

    /// The jobs enqueued, in order.
    pub fn jobs(&self) -> impl Iterator<Item = JobId> + '_ {
        self.results.iter().filter_map(|w| match w {
            Written::Job(j) => Some(*j),
            Written::Doc(_) => None,
        })
    }
}
