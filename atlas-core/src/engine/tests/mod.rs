//! Engine behaviour end to end: the service API plus a [`Worker`] running
//! the [`Engine`] over `MemoryStore`, a `RecordingExecutor`, a
//! `RecordingNotifier` and a `ManualClock`.

mod backup;
mod checks;
mod commands;
mod drift;
mod jobs;
mod lifecycle;
mod periodic;
mod rollout;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::batch::Batch;
use crate::clock::{Clock, ManualClock};
use crate::engine::Engine;
use crate::jobs::{Job, JobId, JobSpec, JobStatus};
use crate::model::{Body, Doc, Id, Instance, Resource, Status, Timestamp};
use crate::notify::{Notification, Notifier, RecordingNotifier};
use crate::query::{Filter, FindQuery};
use crate::scheduler::PeriodicTask;
use crate::secrets::generate_password;
use crate::service::{Actor, Service, ServiceConfig};
use crate::store::Store;
use crate::task::Task;
use crate::testing::fixtures::{self, InstanceBuilder};
use crate::testing::RecordingExecutor;
use crate::worker::{JobHandler, Worker, WorkerConfig};
use crate::{App, AppConfig, MemoryStore};

/// The time every test starts at.
pub(super) fn t0() -> Timestamp {
    fixtures::fixture_time()
}

pub(super) fn worker_config() -> WorkerConfig {
    WorkerConfig {
        owner: "engine-test".into(),
        concurrency: 4,
        lease: Duration::from_secs(60),
        time_limit: Duration::from_secs(600),
        backoff_base: Duration::from_secs(10),
        backoff_max: Duration::from_secs(40),
        poll_interval: Duration::from_millis(10),
        reap_interval: Duration::from_millis(10),
        shutdown_grace: Duration::from_secs(5),
    }
}

/// A service, engine and worker over fresh fakes.
pub(super) struct Harness {
    pub(super) svc: Service,
    pub(super) store: Arc<dyn Store>,
    pub(super) clock: ManualClock,
    pub(super) exec: RecordingExecutor,
    pub(super) notes: RecordingNotifier,
    pub(super) engine: Engine,
    pub(super) worker: Worker,
}

impl Harness {
    pub(super) fn new() -> Self {
        Self::build(ServiceConfig::default(), RecordingExecutor::new())
    }

    pub(super) fn with_exec(exec: RecordingExecutor) -> Self {
        Self::build(ServiceConfig::default(), exec)
    }

    pub(super) fn with_config(cfg: ServiceConfig) -> Self {
        Self::build(cfg, RecordingExecutor::new())
    }

    /// A harness with `cfg`, except that deploys do not top the pool up:
    /// the tests drive the pool through the periodic task itself (see
    /// [`Harness::with_deploy_top_up`] for the default behaviour).
    pub(super) fn build(mut cfg: ServiceConfig, exec: RecordingExecutor) -> Self {
        cfg.pool_top_up_on_deploy = false;
        let notes = RecordingNotifier::default();
        Self::build_with_notifier(cfg, exec, notes.clone(), Arc::new(notes))
    }

    /// A harness with the default configuration: deploying a current core
    /// or profile tops the pool up.
    pub(super) fn with_deploy_top_up() -> Self {
        let notes = RecordingNotifier::default();
        Self::build_with_notifier(
            ServiceConfig::default(),
            RecordingExecutor::new(),
            notes.clone(),
            Arc::new(notes),
        )
    }

    pub(super) fn build_with_notifier(
        cfg: ServiceConfig,
        exec: RecordingExecutor,
        notes: RecordingNotifier,
        notifier: Arc<dyn Notifier>,
    ) -> Self {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let clock = ManualClock::at(t0());
        let mut config = AppConfig {
            service: cfg,
            worker: worker_config(),
            ..AppConfig::default()
        };
        config.scheduler.enabled = false;
        let app = App::builder(store.clone())
            .executor(Arc::new(exec.clone()))
            .notifier(notifier)
            .clock(Arc::new(clock.clone()))
            .config(config)
            .build()
            .expect("the harness app");
        let (svc, engine, worker) = (app.service().clone(), app.engine().clone(), app.worker().clone());
        Self {
            svc,
            store,
            clock,
            exec,
            notes,
            engine,
            worker,
        }
    }

    /// A worker over the same store and clock running `handler`.
    pub(super) fn worker_with(&self, handler: Arc<dyn JobHandler>) -> Worker {
        Worker::new(
            self.store.clone(),
            Arc::new(self.clock.clone()),
            handler,
            worker_config(),
        )
    }

    pub(super) fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Runs every job claimable now.
    pub(super) async fn drain(&self) -> usize {
        self.worker.drain().await.unwrap()
    }

    /// Runs jobs until none is queued, moving the clock over retry delays.
    pub(super) async fn drain_all(&self) -> usize {
        let mut ran = 0;
        for _ in 0..100 {
            ran += self.drain().await;
            let q = FindQuery::all_matching(Filter::eq("status", "queued"));
            let queued = self.store.find_jobs(&q).await.unwrap().items;
            if queued.is_empty() {
                return ran;
            }
            // Queued jobs that are due wait behind a later-due job of their key.
            match queued.iter().map(|j| j.run_at).filter(|t| *t > self.now()).min() {
                Some(next) => self.clock.set(next),
                None => break,
            }
        }
        let all = self
            .store
            .find_jobs(&FindQuery::all_matching(Filter::All))
            .await
            .unwrap()
            .items;
        let summary: Vec<String> = all
            .iter()
            .map(|j| format!("{} {} {} {:?}", j.kind, j.status, j.attempts, j.last_error))
            .collect();
        panic!("jobs stay queued: {summary:#?}");
    }

    pub(super) async fn post(&self, res: Resource, body: Value) -> Doc {
        let mut docs = self.svc.create(res, &Actor("alice".into()), body).await.unwrap();
        docs.remove(0)
    }

    pub(super) async fn patch(&self, res: Resource, id: &Id, patch: Value) -> Doc {
        let cur = self.svc.get(res, &id.to_string()).await.unwrap();
        self.svc
            .update(
                res,
                &id.to_string(),
                Some(&cur.etag),
                &Actor("alice".into()),
                patch,
            )
            .await
            .unwrap()
    }

    pub(super) async fn delete(&self, res: Resource, id: &Id) {
        let cur = self.svc.get(res, &id.to_string()).await.unwrap();
        self.svc
            .delete(res, &id.to_string(), Some(&cur.etag), &Actor("alice".into()))
            .await
            .unwrap();
    }

    /// The stored record (deleted ones too, hidden fields included).
    pub(super) async fn raw(&self, res: Resource, id: &Id) -> Doc {
        self.store.get(res, id).await.unwrap().unwrap()
    }

    pub(super) async fn instance(&self, id: &Id) -> Instance {
        Instance::from_doc(&self.raw(Resource::Instance, id).await).unwrap()
    }

    pub(super) async fn status(&self, id: &Id) -> Status {
        self.instance(id).await.status
    }

    pub(super) async fn jobs_of(&self, kind: &str) -> Vec<Job> {
        let q = FindQuery::all_matching(Filter::eq("kind", kind));
        self.store.find_jobs(&q).await.unwrap().items
    }

    pub(super) async fn job(&self, id: &JobId) -> Job {
        self.store.job(id).await.unwrap().unwrap()
    }

    pub(super) async fn enqueue(&self, spec: JobSpec) -> JobId {
        let mut b = Batch::new(self.now());
        b.enqueue(spec);
        self.store.commit(b).await.unwrap().jobs().next().unwrap()
    }

    /// Enqueues `task` as the scheduler would, runs everything, returns the
    /// periodic job.
    pub(super) async fn run_periodic(&self, task: PeriodicTask) -> Job {
        let id = self.enqueue(Task::Periodic { task }.spec(self.now())).await;
        self.drain_all().await;
        self.job(&id).await
    }

    /// Current core `drupal` and profile `express` posted through the
    /// service, their deploy jobs run.
    pub(super) async fn seed_code(&self) -> (Id, Id) {
        let core = self
            .post(
                Resource::Code,
                Value::Object(fixtures::code().core("drupal", "7.42").current().build()),
            )
            .await;
        let profile = self
            .post(
                Resource::Code,
                Value::Object(fixtures::code().profile("express", "2.8").current().build()),
            )
            .await;
        self.drain().await;
        (core.id, profile.id)
    }

    /// Inserts a record directly (bypassing the service), at the clock's now.
    pub(super) async fn insert(&self, res: Resource, body: Body) -> Id {
        let id = Id::generate(self.now());
        let mut b = Batch::new(self.now());
        b.insert(res, id, body);
        self.store.commit(b).await.unwrap();
        id
    }

    /// Inserts an instance from `builder` with the given code and a sealed
    /// database password.
    pub(super) async fn seed_instance(&self, code: (Id, Id), builder: InstanceBuilder) -> Id {
        let mut body = builder.core(code.0).profile(code.1).build();
        body.insert(
            "db_key".into(),
            json!(self.svc.secret_key().seal(&generate_password())),
        );
        self.insert(Resource::Instance, body).await
    }

    pub(super) fn notes_titled(&self, title: &str) -> Vec<Notification> {
        self.notes
            .sent()
            .into_iter()
            .filter(|n| n.title == title)
            .collect()
    }
}

pub(super) fn field<'a>(n: &'a Notification, name: &str) -> Option<&'a str> {
    n.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

pub(super) fn obj(v: Value) -> Body {
    v.as_object().cloned().unwrap_or_default()
}
