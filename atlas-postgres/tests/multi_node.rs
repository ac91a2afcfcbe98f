//! The job queue shared by several nodes: two stores (two pools, as two
//! processes would have) on one schema. Claims hand each job to exactly one
//! claimer, jobs of one key never run at once, a lease that ran out is
//! taken over by the other node, and `LISTEN/NOTIFY` wakes the other node
//! when jobs are enqueued.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use atlas_core::model::Timestamp;
use atlas_core::{Batch, JobSpec, JobStatus, LeaseSpec, Outcome, Store, StoreError};
use atlas_postgres::testing::TestSchema;
use atlas_postgres::PgStore;
use serde_json::json;

const T0: i64 = 1_795_564_800;

fn at(secs: i64) -> Timestamp {
    Timestamp::from_unix(T0 + secs)
}

fn lease(owner: &str, secs: u64) -> LeaseSpec {
    LeaseSpec {
        owner: owner.to_owned(),
        duration: Duration::from_secs(secs),
    }
}

fn done(owner: &str, now: Timestamp) -> Outcome {
    Outcome {
        owner: owner.to_owned(),
        now,
        result: Ok(json!({})),
        follow_up: Batch::new(now),
    }
}

async fn two_nodes() -> Option<(TestSchema, PgStore, PgStore)> {
    let schema = TestSchema::create().await?;
    let a = schema.store().await;
    let b = schema.store().await;
    Some((schema, a, b))
}

async fn enqueue_many(store: &PgStore, specs: Vec<JobSpec>) {
    for chunk in specs.chunks(100) {
        let mut b = Batch::new(at(0));
        for s in chunk {
            b.enqueue(s.clone());
        }
        store.commit(b).await.expect("enqueue");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_claimers_on_two_nodes_get_each_job_exactly_once() {
    let Some((_schema, a, b)) = two_nodes().await else {
        return;
    };
    let specs = (0..200)
        .map(|n| JobSpec::new("x", json!({"n": n}), at(0)))
        .collect();
    enqueue_many(&a, specs).await;
    let claimed = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for w in 0..8 {
        let store = if w % 2 == 0 { a.clone() } else { b.clone() };
        let claimed = claimed.clone();
        tasks.push(tokio::spawn(async move {
            let owner = format!("w{w}");
            while let Some(job) = store.claim(&lease(&owner, 60), at(1)).await.expect("claim") {
                claimed.lock().unwrap().push(job.id);
                store.finish(&job.id, done(&owner, at(2))).await.expect("finish");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let claimed = claimed.lock().unwrap();
    let distinct: HashSet<_> = claimed.iter().collect();
    assert_eq!(claimed.len(), 200, "every job claimed once");
    assert_eq!(distinct.len(), 200, "no job claimed twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_jobs_over_eight_keys_never_overlap_within_a_key_across_nodes() {
    let Some((_schema, a, b)) = two_nodes().await else {
        return;
    };
    let specs = (0..1000)
        .map(|n| JobSpec::new("x", json!({"n": n}), at(0)).keyed(format!("k{}", n % 8)))
        .collect();
    enqueue_many(&a, specs).await;
    let running: Arc<Mutex<HashSet<String>>> = Arc::default();
    let order: Arc<Mutex<HashMap<String, Vec<i64>>>> = Arc::default();
    let mut tasks = Vec::new();
    for w in 0..8 {
        let store = if w % 2 == 0 { a.clone() } else { b.clone() };
        let (running, order) = (running.clone(), order.clone());
        tasks.push(tokio::spawn(async move {
            let owner = format!("w{w}");
            let mut idle = 0;
            while idle < 20 {
                let Some(job) = store.claim(&lease(&owner, 60), at(1)).await.expect("claim") else {
                    idle += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                };
                idle = 0;
                let key = job.key.clone().expect("keyed");
                assert!(
                    running.lock().unwrap().insert(key.clone()),
                    "two jobs of {key} run at once"
                );
                order
                    .lock()
                    .unwrap()
                    .entry(key.clone())
                    .or_default()
                    .push(job.payload["n"].as_i64().unwrap());
                tokio::task::yield_now().await;
                running.lock().unwrap().remove(&key);
                store.finish(&job.id, done(&owner, at(2))).await.expect("finish");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let order = order.lock().unwrap();
    assert_eq!(order.values().map(Vec::len).sum::<usize>(), 1000);
    for (key, ns) in order.iter() {
        let mut sorted = ns.clone();
        sorted.sort_unstable();
        assert_eq!(ns, &sorted, "the jobs of {key} ran in creation order");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_other_node_takes_over_a_job_whose_lease_expired() {
    let Some((_schema, a, b)) = two_nodes().await else {
        return;
    };
    let mut batch = Batch::new(at(0));
    batch.enqueue(JobSpec::new("x", json!({}), at(0)).keyed("instance:1"));
    a.commit(batch).await.unwrap();
    let job = a
        .claim(&lease("node-a", 30), at(1))
        .await
        .unwrap()
        .expect("claimed");
    assert!(
        b.claim(&lease("node-b", 30), at(10)).await.unwrap().is_none(),
        "still leased"
    );
    assert_eq!(b.requeue_expired(at(20)).await.unwrap(), 0, "lease not over yet");
    assert_eq!(b.requeue_expired(at(31)).await.unwrap(), 1);
    let again = b
        .claim(&lease("node-b", 30), at(32))
        .await
        .unwrap()
        .expect("taken over");
    assert_eq!((again.id, again.attempts), (job.id, 2));
    let late = a.finish(&job.id, done("node-a", at(33))).await;
    assert!(matches!(late, Err(StoreError::LeaseLost { .. })), "{late:?}");
    b.finish(&job.id, done("node-b", at(34))).await.unwrap();
    assert_eq!(
        a.job(&job.id).await.unwrap().unwrap().status,
        JobStatus::Succeeded
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_on_one_node_wakes_the_listening_other_node() {
    let Some((_schema, a, b)) = two_nodes().await else {
        return;
    };
    let woken = Arc::new(tokio::sync::Notify::new());
    let w = woken.clone();
    let _listener = b.listen_for_jobs(move || w.notify_one()).unwrap();
    // The first wake-up follows the LISTEN itself.
    tokio::time::timeout(Duration::from_secs(10), woken.notified())
        .await
        .expect("listening");
    let mut batch = Batch::new(at(0));
    batch.enqueue(JobSpec::new("x", json!({}), at(0)));
    a.commit(batch).await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), woken.notified())
        .await
        .expect("woken by the commit on the other node");
    // A batch without jobs wakes nobody.
    let mut quiet = Batch::new(at(1));
    quiet.insert(
        atlas_core::model::Resource::Site,
        atlas_core::model::Id::generate(at(1)),
        json!({}).as_object().cloned().unwrap(),
    );
    a.commit(quiet).await.unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(500), woken.notified())
            .await
            .is_err(),
        "no wake-up without jobs"
    );
}
