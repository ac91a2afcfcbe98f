//! Batches prepared on the caller's task before they reach the writer
//! thread. Everything a write needs that does not depend on what is stored
//! is worked out here, in parallel with other callers, so the single
//! writer only runs SQL: a new record's version 1 (etag included), its
//! JSON text, shape and packages; a new job and its JSON.
//!
//! The writer borrows a [`Prepared`] batch while it runs it (so it can run
//! it again after rolling a group back) and hands it back with what it
//! [`Applied`]; [`Prepared::into_committed`] then gives the caller's
//! [`Committed`], moving the prepared documents into it.

use std::collections::BTreeSet;

use atlas_core::model::{Body, Doc, Etag, Id, Resource, Timestamp};
use atlas_core::{Batch, Committed, Job, JobId, Write, Written};

use crate::error::Result;
use crate::migrations::packages;
use crate::rows::to_json;
use crate::shape::{shape_of, Kind};

/// The (path, kind) pairs of a document (see `shape.rs`).
pub(crate) type Shape = BTreeSet<(String, Kind)>;

/// A batch ready for the writer.
#[derive(Debug)]
pub(crate) struct Prepared {
    /// The batch's time.
    pub(crate) now: Timestamp,
    /// Its writes, in order.
    pub(crate) steps: Vec<Step>,
}

/// One write of a prepared batch.
#[derive(Debug)]
pub(crate) enum Step {
    /// A new record.
    Insert(Box<NewRecord>),
    /// `Write::Update`: merged into the stored version by the writer.
    Update {
        res: Resource,
        id: Id,
        patch: Body,
        expect: Option<Etag>,
    },
    /// `Write::Replace`.
    Replace {
        res: Resource,
        id: Id,
        body: Body,
        expect: Option<Etag>,
    },
    /// `Write::Delete`.
    Delete {
        res: Resource,
        id: Id,
        expect: Option<Etag>,
    },
    /// A new job.
    Enqueue(Box<NewJob>),
}

/// A record's first version, ready to store.
#[derive(Debug)]
pub(crate) struct NewRecord {
    /// Its resource.
    pub(crate) res: Resource,
    /// Version 1, etag included.
    pub(crate) doc: Doc,
    /// The body as JSON text.
    pub(crate) json: String,
    /// The body's shape, for the catalog.
    pub(crate) shape: Shape,
    /// Instances only: the package ids for the side table.
    pub(crate) packages: BTreeSet<String>,
}

/// A queued job, ready to store.
#[derive(Debug)]
pub(crate) struct NewJob {
    pub(crate) job: Job,
    /// The job as JSON text.
    pub(crate) json: String,
    /// The job's shape, for the catalog.
    pub(crate) shape: Shape,
}

impl NewJob {
    /// Prepares `job`.
    pub(crate) fn new(job: Job) -> Result<NewJob> {
        let v = job.to_json();
        let shape = v.as_object().map(shape_of).unwrap_or_default();
        Ok(NewJob {
            json: to_json("a job", &v)?,
            job,
            shape,
        })
    }
}

/// What the writer did with one step.
#[derive(Debug)]
pub(crate) enum Applied {
    /// The prepared record was stored as is.
    Inserted,
    /// The prepared job was stored.
    Enqueued,
    /// The version written (or, deleting a deleted record, as it was).
    Doc(Doc),
}

impl Prepared {
    /// Prepares `batch`.
    pub(crate) fn new(batch: Batch) -> Result<Prepared> {
        let now = batch.now;
        let steps = batch
            .writes
            .into_iter()
            .map(|w| step(w, now))
            .collect::<Result<_>>()?;
        Ok(Prepared { now, steps })
    }

    /// The caller's result, given what the writer applied (one per step).
    pub(crate) fn into_committed(self, applied: Vec<Applied>) -> Committed {
        let results = self
            .steps
            .into_iter()
            .zip(applied)
            .map(|(step, applied)| match (step, applied) {
                (_, Applied::Doc(doc)) => Written::Doc(doc),
                (Step::Insert(rec), _) => Written::Doc(rec.doc),
                (Step::Enqueue(job), _) => Written::Job(job.job.id),
                (other, applied) => unreachable!("the writer answered {applied:?} to {other:?}"),
            })
            .collect();
        Committed { results }
    }
}

fn step(w: Write, now: Timestamp) -> Result<Step> {
    Ok(match w {
        Write::Insert { res, id, body } => {
            let doc = Doc::new(id, body, now);
            let packages = if res == Resource::Instance {
                packages(&doc.body)
            } else {
                BTreeSet::new()
            };
            Step::Insert(Box::new(NewRecord {
                res,
                json: to_json("a record body", &doc.body)?,
                shape: shape_of(&doc.body),
                packages,
                doc,
            }))
        }
        Write::Update {
            res,
            id,
            patch,
            expect,
        } => Step::Update {
            res,
            id,
            patch,
            expect,
        },
        Write::Replace {
            res,
            id,
            body,
            expect,
        } => Step::Replace {
            res,
            id,
            body,
            expect,
        },
        Write::Delete { res, id, expect } => Step::Delete { res, id, expect },
        Write::Enqueue(spec) => Step::Enqueue(Box::new(NewJob::new(Job::from_spec(
            JobId(Id::generate(now)),
            spec,
            now,
        ))?)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use atlas_core::JobSpec;
    use serde_json::json;

    #[test]
    fn inserts_and_jobs_are_prepared_and_come_back_as_written() {
        let now = Timestamp::from_unix(1_000);
        let id = Id::generate(now);
        let mut b = Batch::new(now);
        b.insert(
            Resource::Instance,
            id,
            json!({"sid": "p1abc", "code": {"package": ["k"]}})
                .as_object()
                .cloned()
                .unwrap(),
        );
        b.enqueue(JobSpec::new("provision", json!({}), now));
        let p = Prepared::new(b).unwrap();
        let Step::Insert(rec) = &p.steps[0] else {
            panic!("{:?}", p.steps[0])
        };
        assert_eq!(rec.doc.etag, Doc::new(id, rec.doc.body.clone(), now).etag);
        assert_eq!(rec.packages, BTreeSet::from(["k".to_owned()]));
        assert!(rec.shape.contains(&("code".to_owned(), Kind::Object)));
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&rec.json).unwrap()["sid"],
            "p1abc"
        );
        let Step::Enqueue(job) = &p.steps[1] else {
            panic!("{:?}", p.steps[1])
        };
        let job_id = job.job.id;
        let c = p.into_committed(vec![Applied::Inserted, Applied::Enqueued]);
        assert!(matches!(&c.results[0], Written::Doc(d) if d.id == id && d.version == 1));
        assert_eq!(c.results[1], Written::Job(job_id));
    }
}
