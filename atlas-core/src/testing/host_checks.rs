//! [`record_host_check`] and [`record_backup_check`]: put a finished
//! `check_hosts` or `check_backups` job in a store, as a worker running the
//! periodic task would leave it, for tests of what reads checks back
//! (`/readyz`, `/metrics`).

use std::time::Duration;

use serde_json::Value;

use crate::backup_check::BackupCheck;
use crate::batch::Batch;
use crate::error::StoreError;
use crate::executor::HostReport;
use crate::host_check::HostCheck;
use crate::jobs::LeaseSpec;
use crate::model::Timestamp;
use crate::scheduler::PeriodicTask;
use crate::store::{Outcome, Store};
use crate::task::Task;

/// Enqueues, claims and finishes a `check_hosts` job at `at` whose result
/// reports `hosts`.
///
/// # Errors
/// The store's.
///
/// # Panics
/// When another job is claimable before it (use a store without queued
/// work).
pub async fn record_host_check(
    store: &dyn Store,
    at: Timestamp,
    hosts: &[HostReport],
) -> Result<(), StoreError> {
    record_periodic(store, at, PeriodicTask::CheckHosts, HostCheck::job_result(hosts)).await
}

/// Enqueues, claims and finishes a `check_backups` job at
/// `check.checked_at` whose result is `check`.
///
/// # Errors
/// The store's.
///
/// # Panics
/// As [`record_host_check`].
pub async fn record_backup_check(store: &dyn Store, check: &BackupCheck) -> Result<(), StoreError> {
    record_periodic(
        store,
        check.checked_at,
        PeriodicTask::CheckBackups,
        check.job_result(),
    )
    .await
}

async fn record_periodic(
    store: &dyn Store,
    at: Timestamp,
    task: PeriodicTask,
    result: Value,
) -> Result<(), StoreError> {
    let mut b = Batch::new(at);
    b.enqueue(Task::Periodic { task }.spec(at));
    store.commit(b).await?;
    let lease = LeaseSpec {
        owner: "periodic-check-fixture".into(),
        duration: Duration::from_secs(60),
    };
    let job = store
        .claim(&lease, at)
        .await?
        .expect("the check job is claimable");
    assert_eq!(job.kind, "periodic", "another job was claimable first");
    store
        .finish(
            &job.id,
            Outcome {
                owner: lease.owner,
                now: at,
                result: Ok(result),
                follow_up: Batch::new(at),
            },
        )
        .await
}
