//! One scheduler across nodes: two schedulers (two stores, as two
//! processes) tick over a simulated day on one schema, and every periodic
//! task fires once per due time; when the leading node stops, the other
//! takes over once the lead has run out, without repeating a run.

use std::sync::Arc;
use std::time::Duration;

use atlas_core::model::Timestamp;
use atlas_core::query::{Filter, FindQuery, Paging};
use atlas_core::testing::ManualClock;
use atlas_core::{Batch, Clock, LeaseSpec, Outcome, PeriodicTask, Schedule, Scheduler, Store};
use atlas_postgres::testing::TestSchema;
use atlas_postgres::PgStore;
use serde_json::json;

fn t0() -> Timestamp {
    Timestamp::parse("2026-11-25 00:00:00 GMT").unwrap()
}

async fn runs_of(store: &PgStore, task: PeriodicTask) -> u64 {
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

/// Runs every claimable job to success.
async fn drain(store: &PgStore, now: Timestamp) {
    let lease = LeaseSpec {
        owner: "drain".into(),
        duration: Duration::from_secs(60),
    };
    while let Some(job) = store.claim(&lease, now).await.unwrap() {
        let outcome = Outcome {
            owner: "drain".into(),
            now,
            result: Ok(json!({})),
            follow_up: Batch::new(now),
        };
        store.finish(&job.id, outcome).await.unwrap();
    }
}

fn scheduler(store: &PgStore, clock: &ManualClock, node: &str) -> Scheduler {
    Scheduler::new(
        Arc::new(store.clone()),
        Arc::new(clock.clone()),
        Schedule::default(),
    )
    .with_leadership(node, Duration::from_secs(90))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_a_simulated_day_two_nodes_fire_each_task_once_per_due_time() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let (a, b) = (schema.store().await, schema.store().await);
    let clock = ManualClock::at(t0());
    let (sa, sb) = (scheduler(&a, &clock, "node-a"), scheduler(&b, &clock, "node-b"));
    // Both nodes tick every 30 simulated seconds, in turn and at once.
    for step in 0..(24 * 120) {
        clock.advance(Duration::from_secs(30));
        if step % 2 == 0 {
            let (ra, rb) = tokio::join!(sa.tick(), sb.tick());
            ra.unwrap();
            rb.unwrap();
        } else {
            sb.tick().await.unwrap();
            sa.tick().await.unwrap();
        }
        drain(&a, clock.now()).await;
    }
    let expected = [
        (PeriodicTask::PoolTopUp, 288),
        (PeriodicTask::DeleteStuckPending, 288),
        (PeriodicTask::CronLaunched, 24),
        (PeriodicTask::RemoveOrphanStatistics, 24),
        (PeriodicTask::CronClassesBundle, 12),
        (PeriodicTask::TakeDownOldInstalled, 12),
        (PeriodicTask::CronInstalled, 8),
        (PeriodicTask::ReplaceAvailable, 1),
        (PeriodicTask::VerifyStatistics, 1),
    ];
    for (task, n) in expected {
        assert_eq!(runs_of(&a, task).await, n, "{task}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_leading_node_stops_the_other_takes_over_without_repeating_a_run() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let (a, b) = (schema.store().await, schema.store().await);
    let clock = ManualClock::at(t0());
    let (sa, sb) = (scheduler(&a, &clock, "node-a"), scheduler(&b, &clock, "node-b"));
    // Node A leads for the first 10 minutes; B's ticks do nothing.
    for _ in 0..20 {
        clock.advance(Duration::from_secs(30));
        sa.tick().await.unwrap();
        assert!(
            sb.tick().await.unwrap().is_empty(),
            "B does not schedule while A leads"
        );
        drain(&a, clock.now()).await;
    }
    assert_eq!(runs_of(&a, PeriodicTask::PoolTopUp).await, 2);
    // A dies. B takes over once A's 90 s hold has run out (A's last tick
    // was at 10:00; B's tick at 11:30 still finds A holding, at 12:00 not).
    for _ in 0..40 {
        clock.advance(Duration::from_secs(30));
        sb.tick().await.unwrap();
        drain(&b, clock.now()).await;
    }
    // 30 minutes in all, a 5-minute task: 6 runs, none repeated.
    assert_eq!(runs_of(&b, PeriodicTask::PoolTopUp).await, 6);
}
