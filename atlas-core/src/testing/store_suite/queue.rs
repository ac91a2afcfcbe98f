//! The job queue: jobs commit with their batch, each job is claimed by
//! exactly one claimer, jobs sharing a key run one at a time and in order,
//! and `find_jobs` filters, sorts and pages like the reference evaluator.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use crate::batch::Batch;
use crate::jobs::{Job, JobId, JobSpec, JobStatus};
use crate::model::Resource;
use crate::query::{select, Filter, FindQuery, Op, Paging};
use crate::store::Store;
use crate::testing::fixtures;

use super::{
    all_jobs, at, body, claim, commit_ok, current, enqueue, field, find_job_ids, id, j, job, lease, query,
    sorted, succeeded,
};

/// Jobs enqueued in a batch appear with it — queued, zero attempts, stamped
/// with the batch's time — and vanish with a batch that fails.
pub async fn enqueued_jobs_commit_with_their_batch(store: Arc<dyn Store>) {
    let s = &*store;
    let mut batch = Batch::new(at(10));
    batch
        .insert(
            Resource::Instance,
            id(1),
            fixtures::instance().sid("p1jobs000001").build(),
        )
        .enqueue(
            JobSpec::new("provision", json!({"instance": id(1).to_string()}), at(10))
                .keyed(id(1).to_string()),
        );
    let c = commit_ok(s, batch).await;
    let job_id = c.jobs().next().expect("job id returned");
    let jb = job(s, &job_id).await;
    assert_eq!(
        (jb.kind.as_str(), jb.status, jb.attempts),
        ("provision", JobStatus::Queued, 0)
    );
    assert_eq!((jb.created, jb.updated, jb.run_at), (at(10), at(10), at(10)));
    assert_eq!(jb.key, Some(id(1).to_string()));
    assert_eq!(jb.payload, json!({"instance": id(1).to_string()}));
    assert_eq!(jb.max_attempts, crate::jobs::DEFAULT_MAX_ATTEMPTS);
    assert_eq!(jb.lease_owner, None);

    let inst = current(s, Resource::Instance, &id(1)).await;
    let mut failing = Batch::new(at(11));
    failing
        .enqueue(JobSpec::new("install", json!({}), at(11)))
        .update(
            Resource::Instance,
            inst.id,
            body(json!({"status": "installing"})),
            Some(inst.etag.clone()),
        )
        .enqueue(JobSpec::new("clear_caches", json!({}), at(11)))
        .insert(
            Resource::Instance,
            id(2),
            fixtures::instance().sid("p1jobs000001").build(),
        );
    let err = s.commit(failing).await.expect_err("sid clash");
    assert_eq!(err.write_index(), Some(3));
    let jobs = all_jobs(s).await;
    assert_eq!(jobs.iter().map(|j| j.id).collect::<Vec<_>>(), [job_id]);
    assert_eq!(s.job(&JobId(id(77))).await.expect("job"), None);
}

/// Eight concurrent claimers drain 500 jobs: every job is claimed exactly
/// once.
pub async fn claim_hands_each_job_to_exactly_one_of_eight_claimers(store: Arc<dyn Store>) {
    const JOBS: usize = 500;
    for chunk in 0..5 {
        let mut batch = Batch::new(at(chunk));
        for n in 0..JOBS / 5 {
            batch.enqueue(JobSpec::new("drush_cron", json!({"n": n}), at(chunk)));
        }
        commit_ok(&*store, batch).await;
    }
    let mut tasks = Vec::new();
    for w in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let owner = format!("worker-{w}");
            let mut mine = Vec::new();
            while let Some(jb) = store.claim(&lease(&owner, 300), at(100)).await.expect("claim") {
                assert!(jb.leased_to(&owner));
                assert_eq!(jb.attempts, 1);
                mine.push(jb.id);
                store
                    .finish(&jb.id, succeeded(&owner, at(101), Batch::new(at(101))))
                    .await
                    .expect("finish");
            }
            mine
        }));
    }
    let mut claimed = Vec::new();
    for t in tasks {
        claimed.extend(t.await.expect("claimer task"));
    }
    let distinct: BTreeSet<_> = claimed.iter().copied().collect();
    assert_eq!(claimed.len(), JOBS, "each job claimed once in all");
    assert_eq!(distinct.len(), JOBS, "no job claimed twice");
    let done = find_job_ids(&*store, &query(Filter::eq("status", "succeeded"))).await;
    assert_eq!(done.1, JOBS as u64);
    assert!(all_jobs(&*store).await.iter().all(|j| j.attempts == 1));
}

/// Jobs sharing a key run one at a time and in creation order, while jobs
/// of other keys (and unkeyed ones) run alongside; under eight concurrent
/// claimers no two jobs of a key are ever running at once.
pub async fn jobs_with_the_same_key_never_run_at_once_and_run_in_order(store: Arc<dyn Store>) {
    let s = &*store;
    // Deterministic part.
    let a1 = enqueue(s, JobSpec::new("provision", json!({}), at(0)).keyed("i1"), at(0)).await;
    let a2 = enqueue(s, JobSpec::new("install", json!({}), at(0)).keyed("i1"), at(1)).await;
    let b1 = enqueue(s, JobSpec::new("provision", json!({}), at(0)).keyed("i2"), at(2)).await;
    let c1 = enqueue(s, JobSpec::new("clear_apc", json!({}), at(0)), at(3)).await;
    let mut got = Vec::new();
    while let Some(jb) = claim(s, "w", 60, at(10)).await {
        got.push(jb.id);
    }
    assert_eq!(got, [a1, b1, c1]);
    s.finish(&a1, succeeded("w", at(11), Batch::new(at(11))))
        .await
        .expect("finish a1");
    assert_eq!(claim(s, "w", 60, at(12)).await.map(|j| j.id), Some(a2));
    for jid in [a2, b1, c1] {
        s.finish(&jid, succeeded("w", at(13), Batch::new(at(13))))
            .await
            .expect("finish");
    }

    // Concurrent part: 3 keys × 15 jobs, 8 claimers.
    const KEYS: usize = 3;
    const PER_KEY: usize = 15;
    for n in 0..PER_KEY {
        for k in 0..KEYS {
            let spec = JobSpec::new("switch_code", json!({"seq": n}), at(20)).keyed(format!("key-{k}"));
            enqueue(s, spec, at(20 + n as i64)).await;
        }
    }
    let running: Arc<Mutex<HashMap<String, bool>>> = Arc::default();
    let order: Arc<Mutex<HashMap<String, Vec<u64>>>> = Arc::default();
    let done = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for w in 0..8 {
        let (store, running, order, done) = (store.clone(), running.clone(), order.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let owner = format!("w{w}");
            while done.load(Ordering::SeqCst) < KEYS * PER_KEY {
                let Some(jb) = store.claim(&lease(&owner, 600), at(100)).await.expect("claim") else {
                    tokio::task::yield_now().await;
                    continue;
                };
                let key = jb.key.clone().expect("keyed");
                {
                    let mut r = running.lock().expect("lock");
                    let busy = r.entry(key.clone()).or_insert(false);
                    assert!(!*busy, "two jobs of {key} running at once");
                    *busy = true;
                }
                order
                    .lock()
                    .expect("lock")
                    .entry(key.clone())
                    .or_default()
                    .push(jb.payload["seq"].as_u64().unwrap_or(u64::MAX));
                tokio::task::yield_now().await;
                running.lock().expect("lock").insert(key, false);
                store
                    .finish(&jb.id, succeeded(&owner, at(101), Batch::new(at(101))))
                    .await
                    .expect("finish");
                done.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    let all = async {
        for t in tasks {
            t.await.expect("claimer task");
        }
    };
    tokio::time::timeout(Duration::from_secs(60), all)
        .await
        .expect("claimers finish");
    let order = order.lock().expect("lock");
    for k in 0..KEYS {
        let seqs = &order[&format!("key-{k}")];
        assert_eq!(
            *seqs,
            (0..PER_KEY as u64).collect::<Vec<_>>(),
            "key-{k} ran in creation order"
        );
    }
}

/// `find_jobs` filters, sorts and pages jobs as the reference evaluator does
/// over [`Job::to_json`], e.g. by `status` and `kind`.
pub async fn find_jobs_filters_by_status_and_kind(store: Arc<dyn Store>) {
    let s = &*store;
    let mut ids = Vec::new();
    for (n, kind) in [
        "deploy_code",
        "deploy_code",
        "provision",
        "provision",
        "provision",
    ]
    .into_iter()
    .enumerate()
    {
        let n = n as i64;
        ids.push(enqueue(s, JobSpec::new(kind, json!({"n": n}), at(n)), at(n)).await);
    }
    let running = claim(s, "w", 60, at(10)).await.expect("claimable");
    assert_eq!(running.id, ids[0]);

    let cases = [
        (Filter::eq("status", "running"), vec![ids[0]]),
        (Filter::eq("kind", "provision"), vec![ids[2], ids[3], ids[4]]),
        (
            Filter::and(vec![
                Filter::eq("kind", "deploy_code"),
                Filter::eq("status", "queued"),
            ]),
            vec![ids[1]],
        ),
        (Filter::eq("lease_owner", "w"), vec![ids[0]]),
        (field("payload.n", Op::Gte(j(json!(3)))), vec![ids[3], ids[4]]),
        (Filter::All, ids.clone()),
    ];
    let all: Vec<Job> = {
        let mut v = Vec::new();
        for jid in &ids {
            v.push(job(s, jid).await);
        }
        v
    };
    for (filter, want) in cases {
        let q = query(filter);
        let got = find_job_ids(s, &q).await;
        assert_eq!(got, (want.clone(), want.len() as u64), "{q:?}");
        assert_eq!(got, select(all.iter().map(|jb| (jb.id, jb.to_json())), &q));
    }
    let paged = FindQuery {
        paging: Paging {
            page: 1,
            max_results: 2,
        },
        ..sorted(Filter::All, &[("kind", true), ("run_at", true)])
    };
    assert_eq!(find_job_ids(s, &paged).await, (vec![ids[4], ids[3]], 5));
}
