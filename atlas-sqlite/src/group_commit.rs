//! Group commit: the requests the writer thread took from its queue run in
//! **one** transaction, each change inside its own `SAVEPOINT` when one of
//! them fails, so a request that fails is rolled back alone and gets its
//! error while the others commit together. The answers wait in [`Done`]
//! until the group is durable (`durability.rs`).

use std::sync::Arc;

use rusqlite::Connection;

use crate::durability::Watermark;
use crate::error::{Error, Result, TxStep};
use crate::request::{Answer, Queued, Run, Uncommitted};
use crate::shape::ShapeDelta;

/// A committed (or failed) group, waiting to be answered.
#[derive(Debug)]
pub(crate) struct Done {
    seq: u64,
    wrote: bool,
    answers: Vec<Box<dyn Answer>>,
}

impl Done {
    /// Every request of `group` fails with `cause`, before anything was
    /// written.
    fn failed(group: Vec<Box<dyn Queued>>, step: TxStep, cause: Error) -> Done {
        tracing::error!(error = %cause, requests = group.len(), "sqlite group commit failed");
        let cause = Arc::new(cause);
        Done {
            seq: 0,
            wrote: false,
            answers: group
                .into_iter()
                .map(|r| r.fail(Error::transaction(step, &cause)))
                .collect(),
        }
    }

    /// The group's number on the [`Watermark`] (0 when it never reached
    /// `COMMIT`).
    pub(crate) fn seq(&self) -> u64 {
        self.seq
    }

    /// Whether the group wrote anything (so it needs a sync).
    pub(crate) fn wrote(&self) -> bool {
        self.wrote
    }

    /// Answers every caller; those whose change was committed get
    /// `not_durable` instead of their result when it is set.
    pub(crate) fn answer(self, not_durable: Option<&Arc<Error>>) {
        for a in self.answers {
            a.send(not_durable);
        }
    }
}

/// Commits `group` in one transaction; returns the answers (to send once
/// the group is durable).
///
/// The group first runs without savepoints, which is what nearly every
/// group needs: a savepoint makes SQLite copy each page a request touches
/// before changing it. When a request fails, the whole transaction is
/// rolled back and the group runs again with one savepoint per request,
/// so the failing one is rolled back alone and the others commit.
pub(crate) fn commit_group(
    conn: &mut Connection,
    group: Vec<Box<dyn Queued>>,
    watermark: &Watermark,
) -> Done {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        return Done::failed(group, TxStep::Begin, e.into());
    }
    let mut shape = ShapeDelta::default();
    let mut ran = Vec::with_capacity(group.len());
    let mut queued = group.into_iter();
    while let Some(req) = queued.next() {
        match req.run(conn, &mut shape) {
            Ok(r) => ran.push(r),
            Err((failed, _)) => {
                let group: Vec<_> = ran
                    .into_iter()
                    .map(|r| r.requeue())
                    .chain(std::iter::once(failed))
                    .chain(queued)
                    .collect();
                if !conn.is_autocommit() {
                    if let Err(e) = conn.execute_batch("ROLLBACK") {
                        return Done::failed(group, TxStep::Rollback, e.into());
                    }
                }
                return commit_with_savepoints(conn, group, watermark);
            }
        }
    }
    finish_group(conn, ran.into_iter().map(Ok).collect(), shape, None, watermark)
}

/// [`commit_group`] with one savepoint per request.
fn commit_with_savepoints(conn: &mut Connection, group: Vec<Box<dyn Queued>>, watermark: &Watermark) -> Done {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        return Done::failed(group, TxStep::Begin, e.into());
    }
    let mut shape = ShapeDelta::default();
    let mut aborted: Option<Arc<Error>> = None;
    let mut runs = Vec::with_capacity(group.len());
    for req in group {
        if let Some(cause) = &aborted {
            runs.push(Err(req.fail(Error::transaction(TxStep::Aborted, cause))));
            continue;
        }
        let mut delta = ShapeDelta::default();
        let result = in_savepoint(conn, req, &mut delta);
        if conn.is_autocommit() {
            // SQLite rolled the whole transaction back (I/O error, …): this
            // request and every later one fail with its cause.
            let (req, cause) = match result {
                Ok(ran) => (ran.requeue(), Error::RolledBack),
                Err((req, e)) => (req, e),
            };
            let cause = Arc::new(cause);
            runs.push(Err(req.fail(Error::transaction(TxStep::Aborted, &cause))));
            aborted = Some(cause);
            continue;
        }
        runs.push(match result {
            Ok(ran) => {
                shape.merge(delta);
                Ok(ran)
            }
            Err((req, e)) => Err(req.fail(e.into())),
        });
    }
    finish_group(conn, runs, shape, aborted, watermark)
}

/// Commits the open transaction of a group that ran (`runs`, one per
/// request: ran, or failed alone) and pairs each caller with its answer.
fn finish_group(
    conn: &mut Connection,
    runs: Vec<Result<Box<dyn Uncommitted>, Box<dyn Answer>>>,
    shape: ShapeDelta,
    aborted: Option<Arc<Error>>,
    watermark: &Watermark,
) -> Done {
    let n = runs.len();
    // Counted before COMMIT: a reader that sees these writes waits for them.
    let seq = watermark.next();
    let outcome = match aborted {
        Some(cause) => Err((TxStep::Aborted, cause)),
        None => shape
            .flush(conn)
            .and_then(|()| Ok(conn.execute_batch("COMMIT")?))
            .map_err(|e| (TxStep::Commit, Arc::new(e))),
    };
    match outcome {
        Ok(()) => {
            let answers: Vec<_> = runs
                .into_iter()
                .map(|r| r.map_or_else(|failed| failed, |ran| ran.commit()))
                .collect();
            Done {
                seq,
                wrote: answers.iter().any(|a| a.wrote()),
                answers,
            }
        }
        Err((step, cause)) => {
            tracing::error!(error = %cause, requests = n, "sqlite group commit failed");
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            let answers = runs
                .into_iter()
                .map(|r| r.map_or_else(|failed| failed, |ran| ran.fail(Error::transaction(step, &cause))))
                .collect();
            Done {
                seq,
                wrote: false,
                answers,
            }
        }
    }
}

/// Runs `req` inside a savepoint, rolled back when it fails.
fn in_savepoint(conn: &Connection, req: Box<dyn Queued>, delta: &mut ShapeDelta) -> Run {
    if let Err(e) = execute(conn, "SAVEPOINT req") {
        return Err((req, e));
    }
    let result = req.run(conn, delta);
    if conn.is_autocommit() {
        return result;
    }
    let closed = match &result {
        Ok(_) => Ok(()),
        Err(_) => execute(conn, "ROLLBACK TO req"),
    }
    .and_then(|()| execute(conn, "RELEASE req"));
    match (result, closed) {
        (result, Ok(())) => result,
        (Ok(ran), Err(e)) => Err((ran.requeue(), e)),
        (Err((req, _)), Err(e)) => Err((req, e)),
    }
}

/// Runs one cached statement without parameters.
fn execute(conn: &Connection, sql: &str) -> Result<()> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::functions::{self, Residuals};
    use crate::migrations;
    use crate::prepare::Prepared;
    use crate::queue::Claim;
    use crate::request::{Call, Change};
    use atlas_core::model::{Id, Resource, Timestamp};
    use atlas_core::StoreError;
    use atlas_core::{Batch, Written};
    use atlas_core::{JobSpec, LeaseSpec};
    use serde_json::json;
    use tokio::sync::oneshot;

    fn db() -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        functions::register(&c, &Arc::new(Residuals::default())).unwrap();
        migrations::migrate(&mut c).unwrap();
        c
    }

    type Answered<C> = oneshot::Receiver<std::result::Result<<C as Change>::Answer, StoreError>>;

    fn request<C: Change>(change: C) -> (Box<dyn Queued>, Answered<C>) {
        let (call, rx) = Call::new(change);
        (Box::new(call), rx)
    }

    fn insert(id: Id, sid: &str) -> Prepared {
        let mut b = Batch::new(Timestamp::from_unix(100));
        b.insert(
            Resource::Instance,
            id,
            json!({"sid": sid, "path": sid}).as_object().cloned().unwrap(),
        );
        Prepared::new(b).unwrap()
    }

    fn count(c: &Connection, sql: &str) -> i64 {
        c.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    #[test]
    fn a_failing_batch_in_a_group_is_rolled_back_alone_and_gets_its_error() {
        let mut c = db();
        let t = Timestamp::from_unix(100);
        let (a, b, d) = (Id::generate(t), Id::generate(t), Id::generate(t));
        let (r1, rx1) = request(insert(a, "p1first0001"));
        // Second batch: a good insert, then a clash with the first batch's sid.
        let mut bad = Batch::new(t);
        bad.insert(
            Resource::Instance,
            b,
            json!({"sid": "p1other0001"}).as_object().cloned().unwrap(),
        );
        bad.insert(
            Resource::Instance,
            d,
            json!({"sid": "p1first0001"}).as_object().cloned().unwrap(),
        );
        let (r2, rx2) = request(Prepared::new(bad).unwrap());
        let (r3, rx3) = request(insert(d, "p1third0001"));

        commit_group(&mut c, vec![r1, r2, r3], &Watermark::new()).answer(None);

        assert!(rx1.blocking_recv().unwrap().is_ok());
        match rx2.blocking_recv().unwrap() {
            Err(StoreError::Unique { write, field, .. }) => {
                assert_eq!(write, 1);
                assert_eq!(field, "sid");
            }
            other => panic!("expected a unique error, got {other:?}"),
        }
        assert!(rx3.blocking_recv().unwrap().is_ok());
        assert_eq!(count(&c, "SELECT count(*) FROM instance"), 2);
        assert_eq!(
            count(&c, &format!("SELECT count(*) FROM instance WHERE id = '{b}'")),
            0,
            "the failed batch's first write is rolled back too"
        );
        assert!(c.is_autocommit(), "the group's transaction is closed");
    }

    #[test]
    fn the_counts_of_a_failed_batch_are_rolled_back_with_it() {
        let mut c = db();
        let t = Timestamp::from_unix(100);
        let (a, b, d) = (Id::generate(t), Id::generate(t), Id::generate(t));
        let pending = |sid: &str| {
            json!({"sid": sid, "status": "pending"})
                .as_object()
                .cloned()
                .unwrap()
        };
        let mut first = Batch::new(t);
        first.insert(Resource::Instance, a, pending("p1first0001"));
        let (r1, rx1) = request(Prepared::new(first).unwrap());
        // Counted writes (an insert, a status change, a soft delete), then an
        // update of a missing record: the batch fails, its savepoint is
        // rolled back.
        let mut bad = Batch::new(t);
        bad.insert(Resource::Instance, b, pending("p1other0001"));
        bad.update(
            Resource::Instance,
            a,
            json!({"status": "installed"}).as_object().cloned().unwrap(),
            None,
        );
        bad.delete(Resource::Instance, a, None);
        bad.update(Resource::Instance, Id::generate(t), serde_json::Map::new(), None);
        let (r2, rx2) = request(Prepared::new(bad).unwrap());
        let mut third = Batch::new(t);
        third.insert(Resource::Instance, d, pending("p1third0001"));
        let (r3, rx3) = request(Prepared::new(third).unwrap());

        commit_group(&mut c, vec![r1, r2, r3], &Watermark::new()).answer(None);

        assert!(rx1.blocking_recv().unwrap().is_ok());
        assert!(matches!(
            rx2.blocking_recv().unwrap(),
            Err(StoreError::WriteTargetMissing { write: 3, .. })
        ));
        assert!(rx3.blocking_recv().unwrap().is_ok());
        let n = |field: &str, value: &str| {
            c.query_row(
                "SELECT ifnull(sum(n), 0) FROM value_counts WHERE tbl = 'instance' AND field = ?1 AND value = ?2",
                [field, value],
                |r| r.get::<_, i64>(0),
            )
            .unwrap()
        };
        assert_eq!(n("status", "pending"), 2, "a and d");
        assert_eq!(n("status", "installed"), 0);
        assert_eq!(n("", ""), 2);
        assert_eq!(
            n("status", "pending"),
            count(
                &c,
                "SELECT count(*) FROM instance WHERE deleted = 0 AND json_extract(body,'$.status') = 'pending'"
            )
        );
        assert!(migrations::count_mismatches(&c).unwrap().is_empty());
    }

    #[test]
    fn a_group_without_failures_commits_every_batch_with_its_results() {
        let mut c = db();
        let t = Timestamp::from_unix(100);
        let a = Id::generate(t);
        let (r1, rx1) = request(insert(a, "p1first0001"));
        // A later batch of the group sees the earlier one's write.
        let mut b = Batch::new(t);
        b.update(
            Resource::Instance,
            a,
            json!({"status": "x"}).as_object().cloned().unwrap(),
            None,
        );
        b.enqueue(JobSpec::new("provision", json!({}), t));
        let (r2, rx2) = request(Prepared::new(b).unwrap());
        commit_group(&mut c, vec![r1, r2], &Watermark::new()).answer(None);
        let first = rx1.blocking_recv().unwrap().unwrap();
        assert!(matches!(&first.results[..], [Written::Doc(d)] if d.id == a && d.version == 1));
        let second = rx2.blocking_recv().unwrap().unwrap();
        assert!(matches!(&second.results[0], Written::Doc(d) if d.version == 2 && d.body["status"] == "x"));
        assert!(matches!(&second.results[1], Written::Job(_)));
        assert_eq!(count(&c, "SELECT count(*) FROM jobs"), 1);
        assert_eq!(count(&c, "SELECT count(*) FROM history"), 1);
    }

    #[test]
    fn a_job_claimed_in_a_group_that_is_run_again_is_claimed_once() {
        let mut c = db();
        let t = Timestamp::from_unix(100);
        let mut b = Batch::new(t);
        b.enqueue(JobSpec::new("provision", json!({}), t));
        let (r, rx) = request(Prepared::new(b).unwrap());
        commit_group(&mut c, vec![r], &Watermark::new()).answer(None);
        assert!(rx.blocking_recv().unwrap().is_ok());

        let lease = LeaseSpec {
            owner: "w1".into(),
            duration: std::time::Duration::from_secs(60),
        };
        let (r1, rx1) = request(Claim { lease, now: t });
        let mut bad = Batch::new(t);
        bad.update(Resource::Site, Id::generate(t), serde_json::Map::new(), None);
        let (r2, rx2) = request(Prepared::new(bad).unwrap());
        commit_group(&mut c, vec![r1, r2], &Watermark::new()).answer(None);
        match rx1.blocking_recv().unwrap() {
            Ok(Some(job)) => assert_eq!(job.attempts, 1),
            other => panic!("{other:?}"),
        }
        assert!(rx2.blocking_recv().unwrap().is_err());
        let attempts: i64 = c
            .query_row(
                "SELECT json_extract(json(doc), '$.attempts') FROM jobs",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(attempts, 1);
    }

    #[test]
    fn shape_changes_of_a_failed_batch_are_not_recorded() {
        let mut c = db();
        let t = Timestamp::from_unix(100);
        let a = Id::generate(t);
        let mut bad = Batch::new(t);
        bad.insert(
            Resource::Site,
            a,
            json!({"tags": ["x"]}).as_object().cloned().unwrap(),
        );
        bad.update(Resource::Site, Id::generate(t), serde_json::Map::new(), None);
        let (r, rx) = request(Prepared::new(bad).unwrap());
        commit_group(&mut c, vec![r], &Watermark::new()).answer(None);
        assert!(matches!(
            rx.blocking_recv().unwrap(),
            Err(StoreError::WriteTargetMissing { write: 1, .. })
        ));
        assert_eq!(count(&c, "SELECT count(*) FROM shape WHERE arrays > 0"), 0);
    }

    #[test]
    fn a_group_that_cannot_begin_fails_every_request_with_the_cause_kept() {
        let mut c = db();
        c.execute_batch("BEGIN").unwrap(); // BEGIN IMMEDIATE inside it fails
        let t = Timestamp::from_unix(100);
        let (r1, rx1) = request(insert(Id::generate(t), "p1first0001"));
        let (r2, rx2) = request(Claim {
            lease: LeaseSpec {
                owner: "w1".into(),
                duration: std::time::Duration::from_secs(60),
            },
            now: t,
        });
        let done = commit_group(&mut c, vec![r1, r2], &Watermark::new());
        assert!(!done.wrote());
        done.answer(None);
        let e = rx1.blocking_recv().unwrap().unwrap_err();
        assert!(
            matches!(
                e,
                StoreError::Backend {
                    backend: "sqlite",
                    ..
                }
            ),
            "{e:?}"
        );
        let msg = e.to_string();
        assert!(
            msg.contains("could not begin") && msg.contains("nothing"),
            "{msg}"
        );
        let source = std::error::Error::source(&e).and_then(std::error::Error::source);
        assert!(
            source.is_some_and(|s| s.to_string().contains("within a transaction")),
            "{source:?}"
        );
        assert!(rx2.blocking_recv().unwrap().is_err());
    }
}
