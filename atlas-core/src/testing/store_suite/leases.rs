//! Leases: an expired lease is requeued and redelivered, only the holder
//! may finish or renew a job, and renewing moves the expiry.

use std::sync::Arc;

use serde_json::json;

use crate::batch::Batch;
use crate::error::StoreError;
use crate::jobs::{JobId, JobSpec, JobStatus};
use crate::store::Store;

use super::{at, claim, enqueue, id, job, succeeded};

/// A running job whose lease ran out is requeued by `requeue_expired` (not
/// before) and redelivered to another claimer; the old owner lost it.
pub async fn expired_lease_is_redelivered(store: Arc<dyn Store>) {
    let s = &*store;
    let jid = enqueue(s, JobSpec::new("provision", json!({}), at(0)), at(0)).await;
    let first = claim(s, "w1", 60, at(0)).await.expect("claimable");
    assert_eq!((first.id, first.lease_until), (jid, Some(at(60))));
    assert!(claim(s, "w2", 60, at(30)).await.is_none());
    assert_eq!(s.requeue_expired(at(59)).await.expect("requeue"), 0);
    assert_eq!(job(s, &jid).await.status, JobStatus::Running);
    assert_eq!(s.requeue_expired(at(60)).await.expect("requeue"), 1);
    let requeued = job(s, &jid).await;
    assert_eq!(
        (
            requeued.status,
            requeued.attempts,
            requeued.lease_owner.as_deref()
        ),
        (JobStatus::Queued, 1, None)
    );
    assert!(requeued.last_error.is_some());
    let second = claim(s, "w2", 60, at(61)).await.expect("redelivered");
    assert_eq!((second.id, second.attempts), (jid, 2));
    assert!(second.leased_to("w2"));
    let err = s
        .finish(&jid, succeeded("w1", at(62), Batch::new(at(62))))
        .await
        .expect_err("w1 lost it");
    assert!(
        matches!(&err, StoreError::LeaseLost { job, owner } if *job == jid && owner == "w1"),
        "{err:?}"
    );
    assert_eq!(s.requeue_expired(at(62)).await.expect("requeue"), 0);
}

/// Only the lease holder may finish a job: others get `LeaseLost` (the job
/// stays running), an unknown job is `JobNotFound`, and a finished job can't
/// be finished again.
pub async fn finish_requires_the_lease(store: Arc<dyn Store>) {
    let s = &*store;
    let jid = enqueue(s, JobSpec::new("install", json!({}), at(0)), at(0)).await;
    claim(s, "w1", 60, at(1)).await.expect("claimable");
    let err = s
        .finish(&jid, succeeded("w2", at(2), Batch::new(at(2))))
        .await
        .expect_err("not w2's");
    assert!(matches!(err, StoreError::LeaseLost { .. }), "{err:?}");
    assert!(job(s, &jid).await.leased_to("w1"));
    let unknown = JobId(id(999));
    let err = s
        .finish(&unknown, succeeded("w1", at(2), Batch::new(at(2))))
        .await
        .expect_err("unknown");
    assert!(
        matches!(err, StoreError::JobNotFound(j) if j == unknown),
        "{err:?}"
    );

    s.finish(&jid, succeeded("w1", at(3), Batch::new(at(3))))
        .await
        .expect("w1 finishes");
    let done = job(s, &jid).await;
    assert_eq!(
        (done.status, done.finished, done.updated),
        (JobStatus::Succeeded, Some(at(3)), at(3))
    );
    assert_eq!(done.result, Some(json!({"ok": true})));
    assert_eq!((done.lease_owner, done.lease_until), (None, None));
    let err = s
        .finish(&jid, succeeded("w1", at(4), Batch::new(at(4))))
        .await
        .expect_err("already done");
    assert!(matches!(err, StoreError::LeaseLost { .. }), "{err:?}");
    assert!(claim(s, "w1", 60, at(5)).await.is_none());
}

/// Renewing a lease moves its expiry: the job is not requeued before the new
/// time. Only the holder may renew; unknown jobs are `JobNotFound`.
pub async fn renew_extends_a_lease(store: Arc<dyn Store>) {
    let s = &*store;
    let jid = enqueue(s, JobSpec::new("install", json!({}), at(0)), at(0)).await;
    claim(s, "w1", 60, at(0)).await.expect("claimable");
    s.renew(&jid, "w1", at(120)).await.expect("renew");
    assert_eq!(job(s, &jid).await.lease_until, Some(at(120)));
    assert_eq!(s.requeue_expired(at(90)).await.expect("requeue"), 0);
    assert!(job(s, &jid).await.leased_to("w1"));
    let err = s.renew(&jid, "w2", at(500)).await.expect_err("not w2's");
    assert!(
        matches!(&err, StoreError::LeaseLost { owner, .. } if owner == "w2"),
        "{err:?}"
    );
    let err = s.renew(&JobId(id(5)), "w1", at(500)).await.expect_err("unknown");
    assert!(matches!(err, StoreError::JobNotFound(_)), "{err:?}");
    assert_eq!(s.requeue_expired(at(120)).await.expect("requeue"), 1);
    let err = s
        .renew(&jid, "w1", at(500))
        .await
        .expect_err("expired and requeued");
    assert!(matches!(err, StoreError::LeaseLost { .. }), "{err:?}");
}
