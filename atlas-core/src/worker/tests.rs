//! Worker behaviour against `MemoryStore` and a scripted handler.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Value};

use crate::batch::Batch;
use crate::clock::{Clock, ManualClock};
use crate::jobs::{Job, JobId, JobSpec, JobStatus, LeaseSpec};
use crate::model::{Id, Resource, Timestamp};
use crate::store::{Store, StoreExt};
use crate::worker::{Handled, HandlerError, JobHandler, Worker, WorkerConfig};
use crate::MemoryStore;

fn t0() -> Timestamp {
    Timestamp::parse("2026-11-25 00:00:00 GMT").unwrap()
}

/// What the scripted handler does for a job kind.
#[derive(Debug, Clone)]
enum Script {
    Succeed,
    FailRetryable,
    FailFatal,
    Sleep(Duration),
    Panic,
    SucceedWithFollowUp(Batch),
}

#[derive(Debug, Default)]
struct Scripted {
    scripts: Mutex<HashMap<String, Script>>,
    calls: AtomicUsize,
    running_by_key: Mutex<HashMap<String, usize>>,
    max_parallel_per_key: AtomicUsize,
}

impl Scripted {
    fn with(kind: &str, s: Script) -> Arc<Self> {
        let h = Arc::new(Self::default());
        h.scripts.lock().unwrap().insert(kind.into(), s);
        h
    }
}

#[async_trait]
impl JobHandler for Scripted {
    async fn handle(&self, job: &Job) -> Result<Handled, HandlerError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let key = job.key.clone().unwrap_or_default();
        {
            let mut r = self.running_by_key.lock().unwrap();
            let n = r.entry(key.clone()).or_default();
            *n += 1;
            self.max_parallel_per_key.fetch_max(*n, Ordering::SeqCst);
        }
        let script = self
            .scripts
            .lock()
            .unwrap()
            .get(&job.kind)
            .cloned()
            .unwrap_or(Script::Succeed);
        let out = match script {
            Script::Succeed => Ok(Handled::result(json!({"ok": true}))),
            Script::FailRetryable => Err(HandlerError::retry("server unreachable")),
            Script::FailFatal => Err(HandlerError::fatal("record is gone")),
            Script::Sleep(d) => {
                tokio::time::sleep(d).await;
                Ok(Handled::result(Value::Null))
            }
            Script::Panic => panic!("handler bug"),
            Script::SucceedWithFollowUp(b) => Ok(Handled::with_follow_up(json!({}), b)),
        };
        *self.running_by_key.lock().unwrap().get_mut(&key).unwrap() -= 1;
        out
    }
}

fn config() -> WorkerConfig {
    WorkerConfig {
        owner: "w-test".into(),
        concurrency: 4,
        lease: Duration::from_secs(60),
        time_limit: Duration::from_secs(600),
        backoff_base: Duration::from_secs(10),
        backoff_max: Duration::from_secs(100),
        poll_interval: Duration::from_millis(10),
        reap_interval: Duration::from_millis(10),
        shutdown_grace: Duration::from_secs(5),
    }
}

async fn enqueue(store: &Arc<dyn Store>, spec: JobSpec) -> JobId {
    let mut b = Batch::new(t0());
    b.enqueue(spec);
    store.commit(b).await.unwrap().jobs().next().unwrap()
}

fn setup(handler: Arc<Scripted>) -> (Arc<dyn Store>, ManualClock, Worker) {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let clock = ManualClock::at(t0());
    let w = Worker::new(store.clone(), Arc::new(clock.clone()), handler, config());
    (store, clock, w)
}

#[tokio::test]
async fn successful_job_is_recorded_with_its_result() {
    let (store, _clock, w) = setup(Scripted::with("x", Script::Succeed));
    let id = enqueue(&store, JobSpec::new("x", json!({}), t0())).await;
    assert_eq!(w.run_one().await.unwrap(), Some(id));
    let job = store.job(&id).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Succeeded);
    assert_eq!(job.result, Some(json!({"ok": true})));
    assert_eq!(w.run_one().await.unwrap(), None);
}

#[tokio::test]
async fn failed_job_waits_for_backoff_then_is_dead_lettered_after_its_budget() {
    let (store, clock, w) = setup(Scripted::with("x", Script::FailRetryable));
    let id = enqueue(&store, JobSpec::new("x", json!({}), t0()).max_attempts(3)).await;
    w.run_one().await.unwrap();
    let job = store.job(&id).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Queued);
    assert_eq!(job.last_error.as_deref(), Some("server unreachable"));
    // First retry waits between base/2 and base.
    assert!(
        job.run_at >= t0().plus(Duration::from_secs(5)) && job.run_at <= t0().plus(Duration::from_secs(10))
    );
    assert_eq!(
        w.run_one().await.unwrap(),
        None,
        "not claimable before its backoff ends"
    );
    clock.advance(Duration::from_secs(10));
    w.run_one().await.unwrap();
    clock.advance(Duration::from_secs(20));
    w.run_one().await.unwrap();
    let job = store.job(&id).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Dead);
    assert_eq!(job.attempts, 3);
    assert_eq!(job.last_error.as_deref(), Some("server unreachable"));
}

#[tokio::test]
async fn fatal_failure_is_dead_lettered_at_once() {
    let (store, _clock, w) = setup(Scripted::with("x", Script::FailFatal));
    let id = enqueue(&store, JobSpec::new("x", json!({}), t0())).await;
    w.run_one().await.unwrap();
    let job = store.job(&id).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Dead);
    assert_eq!(job.attempts, 1);
}

#[tokio::test(start_paused = true)]
async fn job_running_past_the_time_limit_fails_as_a_timeout() {
    let handler = Scripted::with("slow", Script::Sleep(Duration::from_secs(3600)));
    let (store, _clock, w) = setup(handler);
    let id = enqueue(&store, JobSpec::new("slow", json!({}), t0())).await;
    w.run_one().await.unwrap();
    let job = store.job(&id).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Queued);
    assert_eq!(job.last_error.as_deref(), Some("timed out after 600 s"));
}

#[tokio::test]
async fn panicking_handler_counts_as_a_failed_attempt() {
    let (store, _clock, w) = setup(Scripted::with("x", Script::Panic));
    let id = enqueue(&store, JobSpec::new("x", json!({}), t0())).await;
    w.run_one().await.unwrap();
    let job = store.job(&id).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Queued);
    assert!(job.last_error.unwrap().contains("crashed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn jobs_sharing_a_key_never_run_at_once() {
    let handler = Scripted::with("x", Script::Sleep(Duration::from_millis(5)));
    let (store, _clock, w) = setup(handler.clone());
    for i in 0..24 {
        enqueue(
            &store,
            JobSpec::new("x", json!({ "i": i }), t0()).keyed(format!("instance-{}", i % 3)),
        )
        .await;
    }
    let ran = w.drain().await.unwrap();
    assert_eq!(ran, 24);
    assert_eq!(handler.max_parallel_per_key.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_loop_processes_jobs_and_stops_on_shutdown() {
    let handler = Scripted::with("x", Script::Succeed);
    let (store, _clock, w) = setup(handler.clone());
    for _ in 0..10 {
        enqueue(&store, JobSpec::new("x", json!({}), t0())).await;
    }
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let runner = tokio::spawn({
        let w = w.clone();
        async move { w.run(async { rx.await.unwrap_or(()) }).await }
    });
    for _ in 0..500 {
        if handler.calls.load(Ordering::SeqCst) == 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tx.send(()).unwrap();
    runner.await.unwrap().unwrap();
    let page = store
        .find_jobs(&crate::query::FindQuery::default())
        .await
        .unwrap();
    assert!(page.items.iter().all(|j| j.status == JobStatus::Succeeded));
    assert!(w.heartbeat() > 0);
}

#[tokio::test]
async fn job_of_a_dead_worker_is_requeued_when_its_lease_expires_and_rerun() {
    let (store, clock, w) = setup(Scripted::with("x", Script::Succeed));
    let id = enqueue(&store, JobSpec::new("x", json!({}), t0())).await;
    let dead = LeaseSpec {
        owner: "crashed-worker".into(),
        duration: Duration::from_secs(60),
    };
    store.claim(&dead, clock.now()).await.unwrap().unwrap();
    assert_eq!(w.run_one().await.unwrap(), None);
    clock.advance(Duration::from_secs(61));
    assert_eq!(store.requeue_expired(clock.now()).await.unwrap(), 1);
    assert_eq!(w.run_one().await.unwrap(), Some(id));
    let job = store.job(&id).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Succeeded);
    assert_eq!(job.attempts, 2);
}

#[tokio::test]
async fn follow_up_writes_commit_with_success_and_a_stale_follow_up_means_retry() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let id = Id::generate(t0());
    let mut b = Batch::new(t0());
    b.insert(
        Resource::Site,
        id,
        json!({"site_type": "express"}).as_object().unwrap().clone(),
    );
    let doc = store.commit(b).await.unwrap().docs().next().unwrap().clone();

    let mut good = Batch::new(t0());
    good.update(
        Resource::Site,
        id,
        json!({"tag": ["a"]}).as_object().unwrap().clone(),
        Some(doc.etag.clone()),
    );
    let handler = Scripted::with("good", Script::SucceedWithFollowUp(good));
    let mut stale = Batch::new(t0());
    stale.update(
        Resource::Site,
        id,
        json!({"tag": ["b"]}).as_object().unwrap().clone(),
        Some(doc.etag.clone()),
    );
    handler
        .scripts
        .lock()
        .unwrap()
        .insert("stale".into(), Script::SucceedWithFollowUp(stale));
    let clock = ManualClock::at(t0());
    let w = Worker::new(store.clone(), Arc::new(clock), handler, config());

    let ok = enqueue(&store, JobSpec::new("good", json!({}), t0())).await;
    w.run_one().await.unwrap();
    assert_eq!(
        store.job(&ok).await.unwrap().unwrap().status,
        JobStatus::Succeeded
    );
    assert_eq!(
        store.require(Resource::Site, &id).await.unwrap().body["tag"],
        json!(["a"])
    );

    let retry = enqueue(&store, JobSpec::new("stale", json!({}), t0())).await;
    w.run_one().await.unwrap();
    let job = store.job(&retry).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Queued);
    assert!(job.last_error.unwrap().starts_with("follow-up writes failed"));
    assert_eq!(
        store.require(Resource::Site, &id).await.unwrap().body["tag"],
        json!(["a"])
    );
}

/// A `MemoryStore` that counts claims in flight at once (each claim yields
/// once before it runs, so claims sent together overlap).
#[derive(Debug, Default)]
struct ClaimProbe {
    inner: MemoryStore,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    claims: AtomicUsize,
}

impl ClaimProbe {
    fn reset(&self) {
        self.max_in_flight.store(0, Ordering::SeqCst);
        self.claims.store(0, Ordering::SeqCst);
    }
}

#[async_trait]
impl Store for ClaimProbe {
    async fn get(&self, res: Resource, id: &Id) -> Result<Option<crate::model::Doc>, crate::StoreError> {
        self.inner.get(res, id).await
    }
    async fn find(
        &self,
        res: Resource,
        q: &crate::query::FindQuery,
    ) -> Result<crate::store::FindPage, crate::StoreError> {
        self.inner.find(res, q).await
    }
    async fn history(&self, res: Resource, id: &Id) -> Result<Vec<crate::model::Doc>, crate::StoreError> {
        self.inner.history(res, id).await
    }
    async fn commit(&self, batch: Batch) -> Result<crate::batch::Committed, crate::StoreError> {
        self.inner.commit(batch).await
    }
    async fn claim(&self, lease: &LeaseSpec, now: Timestamp) -> Result<Option<Job>, crate::StoreError> {
        self.claims.fetch_add(1, Ordering::SeqCst);
        let n = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(n, Ordering::SeqCst);
        tokio::task::yield_now().await;
        let r = self.inner.claim(lease, now).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        r
    }
    async fn renew(&self, job: &JobId, owner: &str, until: Timestamp) -> Result<(), crate::StoreError> {
        self.inner.renew(job, owner, until).await
    }
    async fn finish(&self, job: &JobId, outcome: crate::store::Outcome) -> Result<(), crate::StoreError> {
        self.inner.finish(job, outcome).await
    }
    async fn requeue_expired(&self, now: Timestamp) -> Result<u64, crate::StoreError> {
        self.inner.requeue_expired(now).await
    }
    async fn job(&self, id: &JobId) -> Result<Option<Job>, crate::StoreError> {
        self.inner.job(id).await
    }
    async fn find_jobs(
        &self,
        q: &crate::query::FindQuery,
    ) -> Result<crate::store::JobPage, crate::StoreError> {
        self.inner.find_jobs(q).await
    }

    async fn act_on_job(
        &self,
        id: &JobId,
        action: &crate::JobAction,
        now: Timestamp,
    ) -> Result<crate::JobChange, crate::StoreError> {
        self.inner.act_on_job(id, action, now).await
    }
}

fn probed(handler: Arc<Scripted>) -> (Arc<ClaimProbe>, Arc<dyn Store>, Worker) {
    let probe = Arc::new(ClaimProbe::default());
    let store: Arc<dyn Store> = probe.clone();
    let w = Worker::new(store.clone(), Arc::new(ManualClock::at(t0())), handler, config());
    (probe, store, w)
}

async fn all_succeeded(store: &Arc<dyn Store>) -> bool {
    let page = store
        .find_jobs(&crate::query::FindQuery::default())
        .await
        .unwrap();
    page.items.iter().all(|j| j.status == JobStatus::Succeeded)
}

#[tokio::test]
async fn drain_sends_the_claims_of_a_round_together() {
    let handler = Scripted::with("x", Script::Succeed);
    let (probe, store, w) = probed(handler.clone());
    for i in 0..10 {
        enqueue(&store, JobSpec::new("x", json!({ "i": i }), t0())).await;
    }
    assert_eq!(w.drain().await.unwrap(), 10);
    assert_eq!(handler.calls.load(Ordering::SeqCst), 10);
    assert!(all_succeeded(&store).await);
    // concurrency 4: every round's four claims were in flight at once.
    assert_eq!(probe.max_in_flight.load(Ordering::SeqCst), 4);
    // Rounds of 4, 4, 2 (+ 2 empty claims), then one empty round.
    assert_eq!(probe.claims.load(Ordering::SeqCst), 16);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_loop_claims_free_slots_together_while_busy_and_polls_singly_when_idle() {
    let handler = Scripted::with("x", Script::Sleep(Duration::from_millis(2)));
    let (probe, store, w) = probed(handler.clone());
    for i in 0..20 {
        enqueue(&store, JobSpec::new("x", json!({ "i": i }), t0())).await;
    }
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let runner = tokio::spawn({
        let w = w.clone();
        async move { w.run(async { rx.await.unwrap_or(()) }).await }
    });
    for _ in 0..500 {
        if all_succeeded(&store).await && handler.calls.load(Ordering::SeqCst) == 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(handler.calls.load(Ordering::SeqCst), 20);
    assert!(all_succeeded(&store).await);
    assert!(
        probe.max_in_flight.load(Ordering::SeqCst) > 1,
        "claims for free slots went out together"
    );
    // Idle: poll_interval is 10 ms, so several polls happen; each is alone.
    probe.reset();
    tokio::time::sleep(Duration::from_millis(100)).await;
    tx.send(()).unwrap();
    runner.await.unwrap().unwrap();
    assert!(probe.claims.load(Ordering::SeqCst) >= 2);
    assert_eq!(probe.max_in_flight.load(Ordering::SeqCst), 1);
    assert_eq!(handler.calls.load(Ordering::SeqCst), 20);
}
