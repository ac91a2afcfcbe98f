//! Finishing jobs: a failed attempt waits for its backoff time, a job out
//! of attempts is dead-lettered, a finish commits its follow-up batch
//! atomically, and an operator retries dead jobs and cancels queued ones.

use std::sync::Arc;

use serde_json::json;

use crate::batch::Batch;
use crate::error::StoreError;
use crate::jobs::{JobId, JobSpec, JobStatus};
use crate::model::{Doc, Resource};
use crate::query::Filter;
use crate::store::Store;
use crate::testing::fixtures;

use super::{at, body, claim, commit_ok, current, enqueue, failed, find_job_ids, id, job, query, succeeded};

/// A failed attempt with a retry time goes back to `queued` at that time:
/// it (and later jobs of its key) can't be claimed before, and can at it.
pub async fn failed_job_waits_for_its_backoff_time(store: Arc<dyn Store>) {
    let s = &*store;
    let jid = enqueue(
        s,
        JobSpec::new("provision", json!({}), at(0))
            .keyed("i1")
            .max_attempts(3),
        at(0),
    )
    .await;
    let next = enqueue(s, JobSpec::new("install", json!({}), at(0)).keyed("i1"), at(1)).await;
    claim(s, "w1", 60, at(2)).await.expect("claimable");
    s.finish(&jid, failed("w1", at(3), "mysql is down", Some(at(33))))
        .await
        .expect("finish");
    let jb = job(s, &jid).await;
    assert_eq!(
        (jb.status, jb.run_at, jb.attempts),
        (JobStatus::Queued, at(33), 1)
    );
    assert_eq!(
        (jb.last_error.as_deref(), jb.finished, jb.lease_owner),
        (Some("mysql is down"), None, None)
    );
    assert!(
        claim(s, "w2", 60, at(32)).await.is_none(),
        "neither the job nor the next of its key"
    );
    let again = claim(s, "w2", 60, at(33)).await.expect("due");
    assert_eq!((again.id, again.attempts), (jid, 2));
    s.finish(&jid, succeeded("w2", at(34), Batch::new(at(34))))
        .await
        .expect("finish");
    assert_eq!(claim(s, "w2", 60, at(35)).await.map(|j| j.id), Some(next));
}

/// A job is dead-lettered (`dead`, finished, last error kept) when it fails
/// its last allowed attempt, fails without a retry time, or loses its lease
/// on the last attempt; dead jobs are never claimed again.
pub async fn job_is_dead_lettered_after_max_attempts(store: Arc<dyn Store>) {
    let s = &*store;
    let a = enqueue(
        s,
        JobSpec::new("provision", json!({}), at(0)).max_attempts(2),
        at(0),
    )
    .await;
    claim(s, "w", 60, at(1)).await.expect("first attempt");
    s.finish(&a, failed("w", at(2), "first", Some(at(5))))
        .await
        .expect("finish");
    assert_eq!(job(s, &a).await.status, JobStatus::Queued);
    assert_eq!(claim(s, "w", 60, at(5)).await.map(|j| j.attempts), Some(2));
    s.finish(&a, failed("w", at(6), "second", Some(at(10))))
        .await
        .expect("finish");
    let dead = job(s, &a).await;
    assert_eq!(
        (dead.status, dead.attempts, dead.finished),
        (JobStatus::Dead, 2, Some(at(6)))
    );
    assert_eq!(dead.last_error.as_deref(), Some("second"));

    let b = enqueue(s, JobSpec::new("install", json!({}), at(20)), at(20)).await;
    claim(s, "w", 60, at(20)).await.expect("claimable");
    s.finish(&b, failed("w", at(21), "not retryable", None))
        .await
        .expect("finish");
    assert_eq!(job(s, &b).await.status, JobStatus::Dead);

    let c = enqueue(
        s,
        JobSpec::new("launch", json!({}), at(30)).max_attempts(1),
        at(30),
    )
    .await;
    claim(s, "w", 60, at(30)).await.expect("claimable");
    assert_eq!(s.requeue_expired(at(90)).await.expect("requeue"), 1);
    assert_eq!(job(s, &c).await.status, JobStatus::Dead);

    assert!(claim(s, "w", 60, at(1000)).await.is_none());
    let (dead_ids, total) = find_job_ids(s, &query(Filter::eq("status", "dead"))).await;
    assert_eq!((dead_ids, total), (vec![a, b, c], 3));
}

/// Finishing a job commits its follow-up batch with it; when the follow-up
/// fails, nothing changes: the job stays running and leased, and records and
/// jobs are as before.
pub async fn finish_commits_follow_up_atomically(store: Arc<dyn Store>) {
    let s = &*store;
    let mut batch = Batch::new(at(0));
    batch
        .insert(
            Resource::Instance,
            id(1),
            fixtures::instance().sid("p1follow0001").build(),
        )
        .insert(
            Resource::Instance,
            id(2),
            fixtures::instance().sid("p1follow0002").build(),
        )
        .enqueue(JobSpec::new("provision", json!({"n": 1}), at(0)).keyed("1"))
        .enqueue(JobSpec::new("provision", json!({"n": 2}), at(0)).keyed("2"));
    let c = commit_ok(s, batch).await;
    let docs: Vec<Doc> = c.docs().cloned().collect();
    let jobs: Vec<JobId> = c.jobs().collect();

    let first = claim(s, "w1", 60, at(1)).await.expect("claimable");
    assert_eq!(first.id, jobs[0]);
    let mut follow = Batch::new(at(2));
    follow
        .update(
            Resource::Instance,
            docs[0].id,
            body(json!({"status": "available"})),
            Some(docs[0].etag.clone()),
        )
        .enqueue(JobSpec::new("notify", json!({}), at(2)));
    s.finish(&jobs[0], succeeded("w1", at(2), follow))
        .await
        .expect("finish");
    let inst = current(s, Resource::Instance, &docs[0].id).await;
    assert_eq!((inst.version, inst.updated), (2, at(2)));
    assert_eq!(inst.body["status"], "available");
    assert_eq!(job(s, &jobs[0]).await.status, JobStatus::Succeeded);
    let notify = find_job_ids(s, &query(Filter::eq("kind", "notify"))).await;
    assert_eq!(notify.1, 1);

    let second = claim(s, "w1", 60, at(3)).await.expect("claimable");
    assert_eq!(second.id, jobs[1]);
    let mut bad = Batch::new(at(4));
    bad.update(
        Resource::Instance,
        docs[1].id,
        body(json!({"status": "available"})),
        Some(docs[1].etag.clone()),
    )
    .update(
        Resource::Instance,
        docs[1].id,
        body(json!({"tag": ["x"]})),
        Some(docs[1].etag.clone()),
    )
    .enqueue(JobSpec::new("notify", json!({}), at(4)));
    let err = s
        .finish(&jobs[1], succeeded("w1", at(4), bad))
        .await
        .expect_err("stale follow-up");
    assert!(
        matches!(err, StoreError::PreconditionFailed { write: 1, .. }),
        "{err:?}"
    );
    let still = job(s, &jobs[1]).await;
    assert_eq!(still, second);
    assert_eq!(current(s, Resource::Instance, &docs[1].id).await, docs[1]);
    assert_eq!(find_job_ids(s, &query(Filter::eq("kind", "notify"))).await.1, 1);
    s.finish(&jobs[1], failed("w1", at(5), "gave up", None))
        .await
        .expect("the lease is still held");
    assert_eq!(job(s, &jobs[1]).await.status, JobStatus::Dead);
}

/// An operator's actions: a queued job is cancelled (dead, the reason as
/// its last error, never claimed), a dead job is retried (queued, due now,
/// attempts back at 0, claimable again); a running job can be neither, and
/// an unknown job is missing.
pub async fn operators_retry_dead_jobs_and_cancel_queued_ones(store: Arc<dyn Store>) {
    use crate::jobs::{JobAction, JobChange};
    let s = &*store;
    let cancel = JobAction::Cancel {
        reason: "cancelled by alice".into(),
    };
    let a = enqueue(s, JobSpec::new("provision", json!({}), at(0)), at(0)).await;
    let JobChange::Applied(cancelled) = s.act_on_job(&a, &cancel, at(1)).await.expect("cancel") else {
        panic!("a queued job is cancelled");
    };
    assert_eq!(
        (
            cancelled.status,
            cancelled.finished,
            cancelled.last_error.as_deref()
        ),
        (JobStatus::Dead, Some(at(1)), Some("cancelled by alice"))
    );
    assert_eq!(job(s, &a).await, cancelled);
    assert!(
        claim(s, "w", 60, at(2)).await.is_none(),
        "a cancelled job is not claimed"
    );
    assert!(matches!(
        s.act_on_job(&a, &cancel, at(3)).await.expect("cancel"),
        JobChange::Refused(j) if j == cancelled
    ));

    let JobChange::Applied(retried) = s.act_on_job(&a, &JobAction::Retry, at(4)).await.expect("retry") else {
        panic!("a dead job is retried");
    };
    assert_eq!(
        (retried.status, retried.attempts, retried.run_at, retried.finished),
        (JobStatus::Queued, 0, at(4), None)
    );
    let running = claim(s, "w", 60, at(4)).await.expect("claimable again");
    assert_eq!((running.id, running.attempts), (a, 1));
    for action in [&JobAction::Retry, &cancel] {
        assert!(matches!(
            s.act_on_job(&a, action, at(5)).await.expect("act"),
            JobChange::Refused(j) if j.status == JobStatus::Running
        ));
    }
    let missing = JobId(id(99));
    assert_eq!(
        s.act_on_job(&missing, &JobAction::Retry, at(6))
            .await
            .expect("act"),
        JobChange::Missing
    );
}
