//! Scheduler behaviour under `ManualClock` against `MemoryStore`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use crate::clock::{Clock, ManualClock};
use crate::jobs::{Job, JobStatus};
use crate::model::Timestamp;
use crate::query::{Filter, FindQuery, Paging};
use crate::scheduler::{PeriodicTask, Schedule, Scheduler};
use crate::store::Store;
use crate::worker::{Handled, HandlerError, JobHandler, Worker, WorkerConfig};
use crate::MemoryStore;

fn t0() -> Timestamp {
    Timestamp::parse("2026-11-25 00:00:00 GMT").unwrap()
}

#[derive(Debug)]
struct Done;

#[async_trait]
impl JobHandler for Done {
    async fn handle(&self, _job: &Job) -> Result<Handled, HandlerError> {
        Ok(Handled::result(Value::Null))
    }
}

async fn runs_of(store: &Arc<dyn Store>, task: PeriodicTask) -> u64 {
    let q = FindQuery {
        filter: Filter::eq("key", task.job_key()),
        paging: Paging {
            page: 1,
            max_results: 1,
        },
        ..FindQuery::default()
    };
    store.find_jobs(&q).await.unwrap().total
}

fn setup() -> (Arc<dyn Store>, ManualClock, Scheduler, Worker) {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let clock = ManualClock::at(t0());
    let s = Scheduler::new(store.clone(), Arc::new(clock.clone()), Schedule::default());
    let w = Worker::new(
        store.clone(),
        Arc::new(clock.clone()),
        Arc::new(Done),
        WorkerConfig::default(),
    );
    (store, clock, s, w)
}

#[tokio::test]
async fn over_48_simulated_hours_each_task_fires_the_right_number_of_times() {
    let (store, clock, s, w) = setup();
    // Every default schedule ticks on a 5-minute boundary, so 5-minute
    // steps see every tick.
    for _ in 0..(48 * 12) {
        clock.advance(Duration::from_secs(300));
        s.tick().await.unwrap();
        w.drain().await.unwrap();
    }
    let expected = [
        (PeriodicTask::PoolTopUp, 576),
        (PeriodicTask::DeleteStuckPending, 576),
        (PeriodicTask::CronLaunched, 48),
        (PeriodicTask::RemoveOrphanStatistics, 48),
        (PeriodicTask::CronClassesBundle, 24),
        (PeriodicTask::TakeDownOldInstalled, 24),
        (PeriodicTask::CronInstalled, 16),
        (PeriodicTask::ReplaceAvailable, 2),
        (PeriodicTask::VerifyStatistics, 2),
        (PeriodicTask::BackupLaunched, 2),
    ];
    for (task, n) in expected {
        assert_eq!(runs_of(&store, task).await, n, "{task}");
    }
}

#[tokio::test]
async fn a_task_still_running_is_not_started_twice() {
    let (store, clock, s, _w) = setup();
    clock.advance(Duration::from_secs(300));
    assert!(s.tick().await.unwrap().contains(&PeriodicTask::PoolTopUp));
    // Nobody works the queue: the first run is still queued at the next tick.
    clock.advance(Duration::from_secs(300));
    assert!(!s.tick().await.unwrap().contains(&PeriodicTask::PoolTopUp));
    assert_eq!(runs_of(&store, PeriodicTask::PoolTopUp).await, 1);
}

#[tokio::test]
async fn after_downtime_a_missed_task_runs_once_and_restarts_remember_last_runs() {
    let (store, clock, s, w) = setup();
    clock.advance(Duration::from_secs(300));
    s.tick().await.unwrap();
    w.drain().await.unwrap();
    // The process is down for 6 hours; a new scheduler starts.
    clock.advance(Duration::from_secs(6 * 3600));
    let restarted = Scheduler::new(store.clone(), Arc::new(clock.clone()), Schedule::default());
    let started = restarted.tick().await.unwrap();
    assert_eq!(
        started.iter().filter(|t| **t == PeriodicTask::PoolTopUp).count(),
        1
    );
    assert_eq!(runs_of(&store, PeriodicTask::PoolTopUp).await, 2);
    w.drain().await.unwrap();
    assert!(
        restarted.tick().await.unwrap().is_empty(),
        "nothing is due twice in the same minute"
    );
}

#[tokio::test]
async fn last_run_of_each_task_is_readable() {
    let (_store, clock, s, w) = setup();
    clock.advance(Duration::from_secs(3600));
    s.tick().await.unwrap();
    w.drain().await.unwrap();
    let status = s.status().await.unwrap();
    assert_eq!(status.len(), PeriodicTask::ALL.len());
    let pool = status.iter().find(|t| t.task == PeriodicTask::PoolTopUp).unwrap();
    let last = pool.last.as_ref().expect("pool top-up ran");
    assert_eq!(last.status, JobStatus::Succeeded);
    assert_eq!(last.created, clock.now());
    assert_eq!(pool.schedule, "0 */5 * * * *");
    assert_eq!(pool.next, Some(clock.now().plus(Duration::from_secs(300))));
    let daily = status
        .iter()
        .find(|t| t.task == PeriodicTask::ReplaceAvailable)
        .unwrap();
    assert!(daily.last.is_none());
}

#[test]
fn custom_schedules_override_defaults() {
    let mut o = BTreeMap::new();
    o.insert(PeriodicTask::PoolTopUp, "*/1 * * * *".to_owned());
    let s = Schedule::new(&o).unwrap();
    let due = s.due(t0().plus(Duration::from_secs(60)), &BTreeMap::new(), t0());
    assert_eq!(due, vec![PeriodicTask::PoolTopUp]);
}
