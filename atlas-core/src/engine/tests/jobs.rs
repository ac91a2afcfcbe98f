//! The engine under the worker's failure modes: failing steps and retries,
//! a worker dying mid-run, concurrent jobs of one instance, unknown kinds
//! and undeliverable notifications.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use async_trait::async_trait;
use serde_json::json;

use super::*;
use crate::executor::Executor;
use crate::jobs::LeaseSpec;
use crate::notify::{Level, NotifyError};
use crate::worker::{Handled, HandlerError};

#[tokio::test]
async fn provision_whose_install_step_fails_is_never_available_is_retried_and_finally_cleaned_up() {
    // provision (step 1) succeeds, the site install (last step) always fails.
    let h = Harness::with_exec(RecordingExecutor::new().fail_from("install", 1));
    h.seed_code().await;
    let inst = h.post(Resource::Instance, json!({})).await;
    let id = inst.id;
    let sid = inst.str_field("sid").unwrap().to_owned();
    let stats = h.instance(&id).await.statistics.unwrap();

    h.drain().await;
    let provision = h.jobs_of("provision").await.remove(0);
    assert_eq!(provision.status, JobStatus::Queued, "a failed step is retried");
    assert!(provision
        .last_error
        .as_deref()
        .unwrap()
        .contains("install failed"));
    assert_eq!(h.status(&id).await, Status::Pending);

    h.clock.advance(Duration::from_secs(10));
    h.drain().await;
    assert_eq!(h.exec.subjects_of("install").len(), 2);
    assert_eq!(h.status(&id).await, Status::Pending);

    h.clock.advance(Duration::from_secs(16 * 60));
    let stuck = h.run_periodic(PeriodicTask::DeleteStuckPending).await;
    assert_eq!(stuck.result.unwrap()["deleted"], json!([sid.clone()]));

    let history = h.store.history(Resource::Instance, &id).await.unwrap();
    assert!(
        history.iter().all(|d| d.str_field("status") == Some("pending")),
        "never available"
    );
    assert!(h.raw(Resource::Instance, &id).await.deleted);
    assert_eq!(h.exec.subjects_of("remove_instance"), [sid]);
    assert!(h.raw(Resource::Statistics, &stats).await.deleted);
    let provision = h.jobs_of("provision").await.remove(0);
    assert_eq!(provision.status, JobStatus::Dead);
    assert!(provision.last_error.unwrap().contains("gone"));
}

#[tokio::test]
async fn provision_that_fails_on_every_attempt_stays_pending_and_notifies_once_on_the_last() {
    let h = Harness::with_exec(RecordingExecutor::new().fail_from("provision", 1));
    h.seed_code().await;
    let inst = h.post(Resource::Instance, json!({})).await;
    h.drain_all().await;
    let job = h.jobs_of("provision").await.remove(0);
    assert_eq!(job.status, JobStatus::Dead);
    assert_eq!(job.attempts, crate::jobs::DEFAULT_MAX_ATTEMPTS);
    assert!(job.last_error.unwrap().contains("provision failed"));
    assert_eq!(h.status(&inst.id).await, Status::Pending);
    assert!(h.exec.subjects_of("install").is_empty());
    let failed = h.notes_titled("Instance provision - Error");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].level, Level::Error);
    assert!(field(&failed[0], "Error message")
        .unwrap()
        .contains("injected failure"));
}

#[tokio::test]
async fn job_whose_worker_died_mid_run_is_rerun_after_the_lease_expires_and_converges() {
    let h = Harness::new();
    h.seed_code().await;
    let inst = h.post(Resource::Instance, json!({})).await;
    let sid = inst.str_field("sid").unwrap().to_owned();

    // Another worker claims the provision, runs its first step and dies.
    let dead = LeaseSpec {
        owner: "crashed-worker".into(),
        duration: Duration::from_secs(60),
    };
    let claimed = h.store.claim(&dead, h.now()).await.unwrap().unwrap();
    assert_eq!(claimed.kind, "provision");
    let view = h.instance(&inst.id).await;
    let spec = crate::engine::resolve::instance_spec(&h.svc, &view, Status::Available)
        .await
        .unwrap();
    h.exec.provision(&spec).await.unwrap();
    assert_eq!(h.drain().await, 0, "the job is leased to the dead worker");

    h.clock.advance(Duration::from_secs(61));
    assert_eq!(h.store.requeue_expired(h.now()).await.unwrap(), 1);
    assert_eq!(h.drain().await, 1);

    let job = h.job(&claimed.id).await;
    assert_eq!(job.status, JobStatus::Succeeded);
    assert_eq!(job.attempts, 2);
    assert_eq!(h.status(&inst.id).await, Status::Available);
    assert_eq!(
        h.exec.subjects_of("provision"),
        [sid.clone(), sid.clone()],
        "the rerun repeats the idempotent step"
    );
    assert_eq!(h.exec.subjects_of("install"), [sid]);
}

/// Runs the engine, counting the jobs of each key running at once.
#[derive(Debug)]
struct Overlap {
    engine: Engine,
    running: Mutex<HashMap<String, usize>>,
    max: AtomicUsize,
    total_max: AtomicUsize,
    total: AtomicUsize,
}

#[async_trait]
impl JobHandler for Overlap {
    async fn handle(&self, job: &Job) -> Result<Handled, HandlerError> {
        let key = job.key.clone().unwrap_or_default();
        {
            let mut r = self.running.lock().unwrap();
            let n = r.entry(key.clone()).or_default();
            *n += 1;
            self.max.fetch_max(*n, Ordering::SeqCst);
        }
        let all = self.total.fetch_add(1, Ordering::SeqCst) + 1;
        self.total_max.fetch_max(all, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(20)).await;
        let out = self.engine.handle(job).await;
        self.total.fetch_sub(1, Ordering::SeqCst);
        *self.running.lock().unwrap().get_mut(&key).unwrap() -= 1;
        out
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_updates_of_one_instance_never_run_their_jobs_at_once() {
    let h = Harness::new();
    let code = h.seed_code().await;
    let module = h
        .post(
            Resource::Code,
            json!(fixtures::code().module("cu_block", "1.0").build()),
        )
        .await;
    h.drain().await;
    let a = h
        .seed_instance(code, fixtures::instance().status(Status::Installed))
        .await;
    let b = h
        .seed_instance(code, fixtures::instance().status(Status::Installed))
        .await;
    for id in [a, b] {
        h.patch(
            Resource::Instance,
            &id,
            json!({"settings": {"page_cache_maximum_age": 60}}),
        )
        .await;
        h.patch(
            Resource::Instance,
            &id,
            json!({"code": {"package": [module.id.to_string()]}}),
        )
        .await;
    }
    h.exec.clear();
    let overlap = Arc::new(Overlap {
        engine: h.engine.clone(),
        running: Mutex::new(HashMap::new()),
        max: AtomicUsize::new(0),
        total_max: AtomicUsize::new(0),
        total: AtomicUsize::new(0),
    });
    let ran = h.worker_with(overlap.clone()).drain().await.unwrap();
    assert_eq!(ran, 4);
    assert_eq!(
        overlap.max.load(Ordering::SeqCst),
        1,
        "one instance's jobs never overlap"
    );
    assert!(
        overlap.total_max.load(Ordering::SeqCst) >= 2,
        "different instances do run at once"
    );
    let a_sid = h.instance(&a).await.sid.to_string();
    let a_ops: Vec<String> = h
        .exec
        .calls()
        .into_iter()
        .filter(|(_, s)| *s == a_sid)
        .map(|(op, _)| op)
        .collect();
    assert_eq!(a_ops, ["write_settings", "switch_code"], "in request order");
}

#[tokio::test]
async fn unknown_job_kind_fails_for_good_naming_the_kind() {
    let h = Harness::new();
    let id = h
        .enqueue(JobSpec::new("reticulate_splines", json!({}), h.now()))
        .await;
    h.drain().await;
    let job = h.job(&id).await;
    assert_eq!(job.status, JobStatus::Dead);
    assert_eq!(job.attempts, 1);
    assert!(job
        .last_error
        .unwrap()
        .contains("unknown job kind 'reticulate_splines'"));
}

#[tokio::test]
async fn job_without_its_payload_id_fails_for_good() {
    let h = Harness::new();
    let id = h
        .enqueue(JobSpec::new(
            "instance_write_settings",
            json!({"instance": "nope"}),
            h.now(),
        ))
        .await;
    h.drain().await;
    let job = h.job(&id).await;
    assert_eq!(job.status, JobStatus::Dead);
    assert!(job.last_error.unwrap().contains("payload 'instance'"));
}

#[derive(Debug)]
struct Unreachable;

#[async_trait]
impl Notifier for Unreachable {
    async fn notify(&self, _n: &Notification) -> Result<(), NotifyError> {
        Err(NotifyError {
            channel: "slack",
            reason: "connection refused".into(),
        })
    }
}

#[tokio::test]
async fn undeliverable_notifications_never_fail_a_job() {
    let h = Harness::build_with_notifier(
        ServiceConfig::default(),
        RecordingExecutor::new(),
        RecordingNotifier::default(),
        Arc::new(Unreachable),
    );
    h.seed_code().await;
    let inst = h.post(Resource::Instance, json!({})).await;
    h.drain().await;
    assert_eq!(h.status(&inst.id).await, Status::Available);
    assert!(h
        .jobs_of("code_deploy")
        .await
        .iter()
        .all(|j| j.status == JobStatus::Succeeded));
}
