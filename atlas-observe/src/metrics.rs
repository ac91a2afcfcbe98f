//! [`Metrics`]: the Prometheus registry (`prometheus-client`) of an Atlas
//! process, what the API, the store decorator and the worker observe into
//! it, and the scrape-time gauges read from the store and the scheduler.
//!
//! # Metrics
//! | name | type | labels |
//! | --- | --- | --- |
//! | `atlas_http_requests_total` | counter | `method`, `route`, `status` |
//! | `atlas_http_request_duration_seconds` | histogram | `method`, `route`, `status` |
//! | `atlas_jobs_started_total` | counter | `kind` |
//! | `atlas_jobs_finished_total` | counter | `kind`, `outcome` (`succeeded`, `retried`, `dead`) |
//! | `atlas_job_duration_seconds` | histogram | `kind`, `outcome` |
//! | `atlas_jobs_requeued_total` | counter | (jobs of stopped workers) |
//! | `atlas_job_queue_depth` | gauge | `status` |
//! | `atlas_instances` | gauge | `status` |
//! | `atlas_task_last_run_timestamp_seconds` | gauge | `task` |
//! | `atlas_task_next_run_timestamp_seconds` | gauge | `task` |
//! | `atlas_task_last_outcome` | gauge (1 for the last run's status) | `task`, `status` |
//! | `atlas_store_operation_duration_seconds` | histogram | `operation`, `result` |
//! | `atlas_store_up` | gauge | (1 when the last scrape's queries answered) |
//! | `atlas_host_up` | gauge (1: reached by the newest host check) | `host` |
//! | `atlas_host_healthy` | gauge (1: reached, no problem) | `host` |
//! | `atlas_host_last_check_timestamp_seconds` | gauge | `host` |
//! | `atlas_backup_last_success_timestamp_seconds` | gauge | `sid` |
//! | `atlas_backup_overdue` | gauge (1: newest complete backup older than `backup_max_age`, or none) | `sid` |
//! | `atlas_backups` | gauge | `state` |
//! | `atlas_backup_bytes` | gauge | (bytes of the complete backups) |
//! | `atlas_backup_last_check_timestamp_seconds` | gauge | (0: no check yet) |
//! | `atlas_ldap_binds_total` | counter | `outcome` (`accepted`, `rejected`, `unavailable`) |
//! | `atlas_ldap_up` | gauge (1: the directory answered its last bind or probe) | `directory` (its URL) |
//! | `atlas_drifted_instances` | gauge (live instances whose newest verification found drift) | |
//! | `atlas_rollouts` | gauge | `state` |
//! | `atlas_rollout_instances` | gauge (each running, paused or halted rollout) | `rollout`, `state` (`done`, `failed`, `remaining`) |
//!
//! The HTTP families are fed by the API ([`Metrics::observe_request`], from
//! `atlas-http`'s request middleware). Job metrics are observed from
//! outside the worker, by [`crate::MeteredStore`]: a claim starts a job, a
//! finish ends it. Queue, instance and task gauges are computed when
//! scraped, with one cheap counting query per status; host gauges come
//! from the newest host check in the store (`check_hosts`), so every node
//! reports the same hosts, and a host no longer in that check disappears.
//! Backup gauges come the same way from the newest `check_backups` job.
//! The LDAP families are fed by the directory authenticator (`atlas-ldap`,
//! [`Metrics::ldap_bind`] and [`Metrics::ldap_up`]) and appear only when
//! `[auth.ldap]` is configured; sign-ins the API remembered or throttled
//! never reach the directory and are not counted.
//! `atlas_drifted_instances` is one counting query at scrape time over the
//! instances' `drift` (written by the verify and heal jobs), so a heal or a
//! clean verification lowers it at once.
//! Rollout gauges are read from the rollout records when scraped
//! ([`RolloutProgress`]): one counting query per active rollout for the
//! instances it still has to switch; a rollout that is no longer active
//! disappears from `atlas_rollout_instances`.
//!
//! # Contracts
//! - The caller of [`Metrics::observe_request`] passes a bounded route
//!   label (a route template, or `unmatched`), never raw client input;
//!   methods outside the usual set share the `other` label.
//! - A scrape whose store queries fail still answers, with
//!   `atlas_store_up 0` and the gauges of the last good scrape.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use atlas_core::model::{Resource, Status};
use atlas_core::query::{Filter, FindQuery, Op, Operand};
use atlas_core::rollout::RolloutProgress;
use atlas_core::{BackupCheck, HostCheck, Job, JobId, JobStatus, Outcome, Scheduler, Store};
use axum::http::{Method, StatusCode};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: &'static str,
    route: Cow<'static, str>,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    kind: String,
    outcome: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TaskLabels {
    task: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TaskStatusLabels {
    task: String,
    status: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HostLabels {
    host: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SidLabels {
    sid: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DirectoryLabels {
    directory: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RolloutLabels {
    rollout: String,
    state: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StoreLabels {
    operation: &'static str,
    result: &'static str,
}

type Timed<L> = Family<L, Histogram, fn() -> Histogram>;

fn http_buckets() -> Histogram {
    // 1 ms … ~16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

fn job_buckets() -> Histogram {
    // 50 ms … ~20 min (the default job time limit is 10 min).
    Histogram::new(exponential_buckets(0.05, 2.5, 12))
}

fn store_buckets() -> Histogram {
    // 50 µs … ~1.6 s.
    Histogram::new(exponential_buckets(0.000_05, 2.0, 16))
}

/// A job a claim started, until its finish.
#[derive(Debug)]
struct Running {
    kind: String,
    attempts: u32,
    max_attempts: u32,
    since: Instant,
}

/// The process's metrics. Cheap to clone; clones share the registry.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    http_duration: Timed<HttpLabels>,
    jobs_started: Family<KindLabels, Counter>,
    jobs_finished: Family<JobLabels, Counter>,
    job_duration: Timed<JobLabels>,
    jobs_requeued: Counter,
    queue_depth: Family<StatusLabels, Gauge>,
    instances: Family<StatusLabels, Gauge>,
    task_last_run: Family<TaskLabels, Gauge>,
    task_next_run: Family<TaskLabels, Gauge>,
    task_last_outcome: Family<TaskStatusLabels, Gauge>,
    store_duration: Timed<StoreLabels>,
    store_up: Gauge,
    host_up: Family<HostLabels, Gauge>,
    host_healthy: Family<HostLabels, Gauge>,
    host_last_check: Family<HostLabels, Gauge>,
    backup_last_success: Family<SidLabels, Gauge>,
    backup_overdue: Family<SidLabels, Gauge>,
    backups: Family<StateLabels, Gauge>,
    backup_bytes: Gauge,
    backup_last_check: Gauge,
    drifted_instances: Gauge,
    ldap_binds: Family<OutcomeLabels, Counter>,
    ldap_up: Family<DirectoryLabels, Gauge>,
    rollouts: Family<StateLabels, Gauge>,
    rollout_instances: Family<RolloutLabels, Gauge>,
    running: Mutex<HashMap<JobId, Running>>,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every Atlas metric registered.
    pub fn new() -> Self {
        let mut r = Registry::with_prefix("atlas");
        let http_requests = Family::<HttpLabels, Counter>::default();
        let http_duration: Timed<HttpLabels> = Family::new_with_constructor(http_buckets);
        let jobs_started = Family::<KindLabels, Counter>::default();
        let jobs_finished = Family::<JobLabels, Counter>::default();
        let job_duration: Timed<JobLabels> = Family::new_with_constructor(job_buckets);
        let jobs_requeued = Counter::default();
        let queue_depth = Family::<StatusLabels, Gauge>::default();
        let instances = Family::<StatusLabels, Gauge>::default();
        let task_last_run = Family::<TaskLabels, Gauge>::default();
        let task_next_run = Family::<TaskLabels, Gauge>::default();
        let task_last_outcome = Family::<TaskStatusLabels, Gauge>::default();
        let store_duration: Timed<StoreLabels> = Family::new_with_constructor(store_buckets);
        let store_up = Gauge::default();
        let host_up = Family::<HostLabels, Gauge>::default();
        let host_healthy = Family::<HostLabels, Gauge>::default();
        let host_last_check = Family::<HostLabels, Gauge>::default();
        let backup_last_success = Family::<SidLabels, Gauge>::default();
        let backup_overdue = Family::<SidLabels, Gauge>::default();
        let backups = Family::<StateLabels, Gauge>::default();
        let backup_bytes = Gauge::default();
        let backup_last_check = Gauge::default();
        let drifted_instances = Gauge::default();
        let ldap_binds = Family::<OutcomeLabels, Counter>::default();
        let ldap_up = Family::<DirectoryLabels, Gauge>::default();
        let rollouts = Family::<StateLabels, Gauge>::default();
        let rollout_instances = Family::<RolloutLabels, Gauge>::default();
        r.register(
            "build",
            "Atlas build information",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        r.register(
            "http_requests",
            "API requests by method, route template and status",
            http_requests.clone(),
        );
        r.register(
            "http_request_duration_seconds",
            "API request latency by method, route template and status",
            http_duration.clone(),
        );
        r.register(
            "jobs_started",
            "Job attempts started, by kind",
            jobs_started.clone(),
        );
        r.register(
            "jobs_finished",
            "Job attempts finished, by kind and outcome (succeeded, retried, dead)",
            jobs_finished.clone(),
        );
        r.register(
            "job_duration_seconds",
            "Job attempt duration by kind and outcome",
            job_duration.clone(),
        );
        r.register(
            "jobs_requeued",
            "Running jobs requeued (or dead-lettered) because their worker stopped",
            jobs_requeued.clone(),
        );
        r.register("job_queue_depth", "Jobs by status", queue_depth.clone());
        r.register("instances", "Live instances by status", instances.clone());
        r.register(
            "task_last_run_timestamp_seconds",
            "Unix time the periodic task last started (0: never)",
            task_last_run.clone(),
        );
        r.register(
            "task_next_run_timestamp_seconds",
            "Unix time of the periodic task's next scheduled run",
            task_next_run.clone(),
        );
        r.register(
            "task_last_outcome",
            "1 for the status of the periodic task's last run (queued, running, succeeded, dead)",
            task_last_outcome.clone(),
        );
        r.register(
            "store_operation_duration_seconds",
            "Store operation latency by operation and result",
            store_duration.clone(),
        );
        r.register(
            "store_up",
            "1 when the store answered the last scrape's queries",
            store_up.clone(),
        );
        r.register(
            "host_up",
            "1 when the newest host check reached the host",
            host_up.clone(),
        );
        r.register(
            "host_healthy",
            "1 when the newest host check reached the host and found no problem",
            host_healthy.clone(),
        );
        r.register(
            "host_last_check_timestamp_seconds",
            "Unix time of the newest host check",
            host_last_check.clone(),
        );
        r.register(
            "backup_last_success_timestamp_seconds",
            "Unix time the instance's newest complete backup finished (instances in backup_statuses with one)",
            backup_last_success.clone(),
        );
        r.register(
            "backup_overdue",
            "1 when the instance's newest complete backup is older than backup_max_age (or it has none)",
            backup_overdue.clone(),
        );
        r.register("backups", "Live backup records by state", backups.clone());
        r.register(
            "backup_bytes",
            "Bytes held by the complete backups",
            backup_bytes.clone(),
        );
        r.register(
            "backup_last_check_timestamp_seconds",
            "Unix time of the newest backup check (check_backups; 0: none yet)",
            backup_last_check.clone(),
        );
        r.register(
            "drifted_instances",
            "Live instances whose newest verification found drift (drift.count > 0)",
            drifted_instances.clone(),
        );
        r.register(
            "ldap_binds",
            "Sign-ins decided by the LDAP directory, by outcome (accepted, rejected, unavailable)",
            ldap_binds.clone(),
        );
        r.register(
            "ldap_up",
            "1 when the LDAP directory answered its last bind or probe",
            ldap_up.clone(),
        );
        r.register("rollouts", "Live rollout records by state", rollouts.clone());
        r.register(
            "rollout_instances",
            "Instances of each running, paused or halted rollout: done, failed, remaining",
            rollout_instances.clone(),
        );
        Self {
            inner: Arc::new(Inner {
                registry: r,
                http_requests,
                http_duration,
                jobs_started,
                jobs_finished,
                job_duration,
                jobs_requeued,
                queue_depth,
                instances,
                task_last_run,
                task_next_run,
                task_last_outcome,
                store_duration,
                store_up,
                host_up,
                host_healthy,
                host_last_check,
                backup_last_success,
                backup_overdue,
                backups,
                backup_bytes,
                backup_last_check,
                drifted_instances,
                ldap_binds,
                ldap_up,
                rollouts,
                rollout_instances,
                running: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Counts one API request.
    /// `route` is a bounded label (a route template, never raw client
    /// input); a `&'static str` one costs no allocation.
    pub fn observe_request(
        &self,
        method: &Method,
        route: impl Into<Cow<'static, str>>,
        status: StatusCode,
        elapsed: Duration,
    ) {
        let labels = HttpLabels {
            method: method_label(method),
            route: route.into(),
            status: status.as_u16(),
        };
        self.inner.http_requests.get_or_create(&labels).inc();
        self.inner
            .http_duration
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// Times one store operation.
    pub fn observe_store(&self, operation: &'static str, ok: bool, elapsed: Duration) {
        let labels = StoreLabels {
            operation,
            result: if ok { "ok" } else { "error" },
        };
        self.inner
            .store_duration
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// Counts one sign-in the LDAP directory was asked about, by
    /// `outcome`: `accepted`, `rejected` or `unavailable`.
    pub fn ldap_bind(&self, outcome: &'static str) {
        self.inner
            .ldap_binds
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// Whether the LDAP directory at `directory` (its URL, from the
    /// configuration) answered its last bind or probe.
    pub fn ldap_up(&self, directory: &str, up: bool) {
        self.inner
            .ldap_up
            .get_or_create(&DirectoryLabels {
                directory: directory.to_owned(),
            })
            .set(i64::from(up));
    }

    fn running(&self) -> std::sync::MutexGuard<'_, HashMap<JobId, Running>> {
        self.inner.running.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A job attempt started (a claim succeeded).
    pub fn job_started(&self, job: &Job) {
        self.inner
            .jobs_started
            .get_or_create(&KindLabels {
                kind: job.kind.clone(),
            })
            .inc();
        self.running().insert(
            job.id,
            Running {
                kind: job.kind.clone(),
                attempts: job.attempts,
                max_attempts: job.max_attempts,
                since: Instant::now(),
            },
        );
    }

    /// A job attempt's outcome was recorded. Attempts this process did not
    /// start are not counted.
    pub fn job_finished(&self, id: &JobId, outcome: &Outcome) {
        let Some(run) = self.running().remove(id) else {
            return;
        };
        let label = match &outcome.result {
            Ok(_) => "succeeded",
            Err(f) if f.retry_at.is_some() && run.attempts < run.max_attempts => "retried",
            Err(_) => "dead",
        };
        let labels = JobLabels {
            kind: run.kind,
            outcome: label.to_owned(),
        };
        self.inner.jobs_finished.get_or_create(&labels).inc();
        self.inner
            .job_duration
            .get_or_create(&labels)
            .observe(run.since.elapsed().as_secs_f64());
    }

    /// A job attempt ended without an outcome (its lease was lost).
    pub fn job_abandoned(&self, id: &JobId) {
        self.running().remove(id);
    }

    /// Jobs of stopped workers were requeued.
    pub fn jobs_requeued(&self, n: u64) {
        self.inner.jobs_requeued.inc_by(n);
    }

    /// Recomputes the gauges: jobs and live instances by status (one
    /// counting query each) and, with a scheduler, each periodic task's
    /// last and next run.
    pub async fn refresh(&self, store: &dyn Store, scheduler: Option<&Scheduler>) {
        let up = self.refresh_store(store, scheduler).await;
        self.inner.store_up.set(i64::from(up));
    }

    async fn refresh_store(&self, store: &dyn Store, scheduler: Option<&Scheduler>) -> bool {
        let count = |path: &str, value: &str| FindQuery::count_of(Filter::eq(path, value));
        for status in [
            JobStatus::Queued,
            JobStatus::Running,
            JobStatus::Succeeded,
            JobStatus::Dead,
        ] {
            match store.find_jobs(&count("status", status.as_str())).await {
                Ok(page) => set(&self.inner.queue_depth, status.as_str(), page.total),
                Err(e) => return scrape_failed(&e),
            }
        }
        for status in Status::ALL {
            match store
                .find(Resource::Instance, &count("status", status.as_str()))
                .await
            {
                Ok(page) => set(&self.inner.instances, status.as_str(), page.total),
                Err(e) => return scrape_failed(&e),
            }
        }
        let drifted = FindQuery::count_of(Filter::field(
            "drift.count",
            Op::Gt(Operand::Json(serde_json::json!(0))),
        ));
        match store.find(Resource::Instance, &drifted).await {
            Ok(page) => {
                let n = i64::try_from(page.total).unwrap_or(i64::MAX);
                self.inner.drifted_instances.set(n);
            }
            Err(e) => return scrape_failed(&e),
        }
        match HostCheck::latest(store).await {
            Ok(latest) => self.set_hosts(latest.as_ref()),
            Err(e) => return scrape_failed(&e),
        }
        match BackupCheck::latest(store).await {
            Ok(latest) => self.set_backups(latest.as_ref()),
            Err(e) => return scrape_failed(&e),
        }
        match RolloutProgress::gather(store).await {
            Ok(progress) => self.set_rollouts(&progress),
            Err(e) => return scrape_failed(&e),
        }
        let Some(scheduler) = scheduler else {
            return true;
        };
        let tasks = match scheduler.status().await {
            Ok(t) => t,
            Err(e) => return scrape_failed(&e),
        };
        for t in tasks {
            let task = t.task.name().to_owned();
            let last = t.last.as_ref();
            let started = last.map_or(0, |j| j.started.unwrap_or(j.created).unix_seconds());
            self.inner
                .task_last_run
                .get_or_create(&TaskLabels { task: task.clone() })
                .set(started);
            if let Some(next) = t.next {
                self.inner
                    .task_next_run
                    .get_or_create(&TaskLabels { task: task.clone() })
                    .set(next.unix_seconds());
            }
            for status in [
                JobStatus::Queued,
                JobStatus::Running,
                JobStatus::Succeeded,
                JobStatus::Dead,
            ] {
                let is = last.is_some_and(|j| j.status == status);
                self.inner
                    .task_last_outcome
                    .get_or_create(&TaskStatusLabels {
                        task: task.clone(),
                        status: status.as_str().to_owned(),
                    })
                    .set(i64::from(is));
            }
        }
        true
    }

    /// The host gauges of `check` (none before the first check).
    fn set_hosts(&self, check: Option<&HostCheck>) {
        let i = &self.inner;
        i.host_up.clear();
        i.host_healthy.clear();
        i.host_last_check.clear();
        let Some(check) = check else { return };
        for h in &check.hosts {
            let labels = HostLabels { host: h.host.clone() };
            i.host_up.get_or_create(&labels).set(i64::from(h.reachable));
            i.host_healthy.get_or_create(&labels).set(i64::from(h.healthy()));
            i.host_last_check
                .get_or_create(&labels)
                .set(check.checked_at.unix_seconds());
        }
    }

    /// The backup gauges of `check` (none before the first check); an
    /// instance no longer in the check disappears.
    fn set_backups(&self, check: Option<&BackupCheck>) {
        let i = &self.inner;
        i.backup_last_success.clear();
        i.backup_overdue.clear();
        i.backups.clear();
        let Some(check) = check else {
            i.backup_bytes.set(0);
            i.backup_last_check.set(0);
            return;
        };
        for inst in &check.instances {
            let labels = SidLabels {
                sid: inst.sid.clone(),
            };
            if let Some(at) = inst.last_success {
                i.backup_last_success
                    .get_or_create(&labels)
                    .set(at.unix_seconds());
            }
            i.backup_overdue.get_or_create(&labels).set(i64::from(inst.stale));
        }
        for (state, n) in &check.states {
            let labels = StateLabels { state: state.clone() };
            i.backups
                .get_or_create(&labels)
                .set(i64::try_from(*n).unwrap_or(i64::MAX));
        }
        i.backup_bytes.set(i64::try_from(check.bytes).unwrap_or(i64::MAX));
        i.backup_last_check.set(check.checked_at.unix_seconds());
    }

    /// The rollout gauges of `progress`: records by state, and done,
    /// failed and remaining instances of each active rollout (a rollout
    /// no longer active disappears).
    fn set_rollouts(&self, progress: &RolloutProgress) {
        let i = &self.inner;
        i.rollouts.clear();
        i.rollout_instances.clear();
        for (state, n) in &progress.states {
            let labels = StateLabels { state: state.clone() };
            i.rollouts
                .get_or_create(&labels)
                .set(i64::try_from(*n).unwrap_or(i64::MAX));
        }
        for r in &progress.active {
            for (state, n) in [("done", r.done), ("failed", r.failed), ("remaining", r.remaining)] {
                let labels = RolloutLabels {
                    rollout: r.rollout.to_string(),
                    state: state.to_owned(),
                };
                i.rollout_instances
                    .get_or_create(&labels)
                    .set(i64::try_from(n).unwrap_or(i64::MAX));
            }
        }
    }

    /// The registry in the text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.inner.registry) {
            tracing::error!(error = %e, "encoding the metrics failed");
        }
        out
    }

    /// [`Metrics::refresh`], then [`Metrics::encode`].
    pub async fn render(&self, store: &dyn Store, scheduler: Option<&Scheduler>) -> String {
        self.refresh(store, scheduler).await;
        self.encode()
    }
}

fn set(family: &Family<StatusLabels, Gauge>, status: &str, total: u64) {
    family
        .get_or_create(&StatusLabels {
            status: status.to_owned(),
        })
        .set(i64::try_from(total).unwrap_or(i64::MAX));
}

fn scrape_failed(e: &atlas_core::StoreError) -> bool {
    tracing::warn!(error = %e, error.chain = ?e, "metrics scrape: the store did not answer");
    false
}

/// A bounded method label.
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use atlas_core::model::{Id, Timestamp};
    use atlas_core::Batch;
    use atlas_core::{JobFailure, JobSpec, LeaseSpec};
    use serde_json::json;

    use super::*;

    fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        text.lines().find_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let (n, rest) = series.split_once('{').unwrap_or((series, "}"));
            if n != name {
                return None;
            }
            let all = labels.iter().all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")));
            all.then(|| value.parse().ok()).flatten()
        })
    }

    fn job(kind: &str, attempts: u32, max: u32) -> Job {
        let mut j = Job::from_spec(
            JobId(Id::from_bytes([3; 12])),
            JobSpec::new(kind, json!({}), Timestamp::from_unix(0)).max_attempts(max),
            Timestamp::from_unix(0),
        );
        for _ in 0..attempts {
            j.claim(
                &LeaseSpec {
                    owner: "w".into(),
                    duration: Duration::from_secs(60),
                },
                Timestamp::from_unix(0),
            );
        }
        j
    }

    fn failure(retry: bool) -> Outcome {
        Outcome {
            owner: "w".into(),
            now: Timestamp::from_unix(1),
            result: Err(JobFailure {
                error: "boom".into(),
                retry_at: retry.then(|| Timestamp::from_unix(10)),
                result: None,
            }),
            follow_up: Batch::new(Timestamp::from_unix(1)),
        }
    }

    #[test]
    fn ldap_families_show_only_once_a_directory_reports() {
        let m = Metrics::new();
        assert!(!m.encode().contains("atlas_ldap_up{"));
        m.ldap_bind("accepted");
        m.ldap_bind("accepted");
        m.ldap_bind("unavailable");
        m.ldap_up("ldap://127.0.0.1:389", false);
        let text = m.encode();
        assert_eq!(
            sample(&text, "atlas_ldap_binds_total", &[("outcome", "accepted")]),
            Some(2.0)
        );
        assert_eq!(
            sample(&text, "atlas_ldap_up", &[("directory", "ldap://127.0.0.1:389")]),
            Some(0.0)
        );
    }

    #[test]
    fn job_outcomes_are_labelled_succeeded_retried_or_dead() {
        let m = Metrics::new();
        let j = job("provision", 1, 3);
        m.job_started(&j);
        m.job_finished(&j.id, &failure(true));
        let j = job("provision", 3, 3);
        m.job_started(&j);
        m.job_finished(&j.id, &failure(true));
        let text = m.encode();
        assert_eq!(
            sample(
                &text,
                "atlas_jobs_finished_total",
                &[("kind", "provision"), ("outcome", "retried")]
            ),
            Some(1.0)
        );
        assert_eq!(
            sample(
                &text,
                "atlas_jobs_finished_total",
                &[("kind", "provision"), ("outcome", "dead")]
            ),
            Some(1.0)
        );
        assert_eq!(
            sample(&text, "atlas_jobs_started_total", &[("kind", "provision")]),
            Some(2.0)
        );
        assert_eq!(
            sample(
                &text,
                "atlas_job_duration_seconds_count",
                &[("kind", "provision"), ("outcome", "dead")]
            ),
            Some(1.0)
        );
    }

    #[test]
    fn a_finish_without_a_start_in_this_process_is_not_counted() {
        let m = Metrics::new();
        m.job_finished(&JobId(Id::from_bytes([9; 12])), &failure(false));
        assert!(!m.encode().contains("atlas_jobs_finished_total{"));
    }

    #[test]
    fn unusual_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::from_bytes(b"PROPFIND").unwrap()), "other");
    }

    #[tokio::test]
    async fn a_scrape_ends_with_eof_and_names_every_family() {
        use atlas_core::ManualClock;
        use atlas_core::MemoryStore;
        use atlas_core::Schedule;

        let m = Metrics::new();
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let clock = Arc::new(ManualClock::at(Timestamp::from_unix(1_700_000_000)));
        let scheduler = Scheduler::new(store.clone(), clock, Schedule::default());
        m.observe_request(&Method::GET, "/version", StatusCode::OK, Duration::from_millis(3));
        m.observe_store("get", true, Duration::from_micros(80));
        let j = job("provision", 1, 3);
        m.job_started(&j);
        m.job_finished(&j.id, &failure(false));

        let text = m.render(store.as_ref(), Some(&scheduler)).await;

        assert!(text.ends_with("# EOF\n"), "{text}");
        for family in [
            "atlas_http_requests",
            "atlas_http_request_duration_seconds",
            "atlas_jobs_started",
            "atlas_jobs_finished",
            "atlas_job_duration_seconds",
            "atlas_job_queue_depth",
            "atlas_instances",
            "atlas_task_last_run_timestamp_seconds",
            "atlas_task_next_run_timestamp_seconds",
            "atlas_task_last_outcome",
            "atlas_store_operation_duration_seconds",
            "atlas_store_up",
        ] {
            assert!(
                text.contains(&format!("# TYPE {family} ")),
                "{family} missing:\n{text}"
            );
        }
        assert_eq!(sample(&text, "atlas_store_up", &[]), Some(1.0));
        assert_eq!(
            sample(&text, "atlas_instances", &[("status", "take_down")]),
            Some(0.0)
        );
        assert_eq!(
            sample(
                &text,
                "atlas_task_last_run_timestamp_seconds",
                &[("task", "pool_top_up")]
            ),
            Some(0.0),
            "never ran"
        );
    }

    #[tokio::test]
    async fn every_host_of_the_newest_check_gets_its_gauges_and_hosts_it_dropped_disappear() {
        use atlas_core::testing::record_host_check;
        use atlas_core::{HostReport, MemoryStore};

        let report = |host: &str, reachable: bool, problems: Vec<String>| HostReport {
            host: host.into(),
            roles: vec!["web".into()],
            reachable,
            problems,
        };
        let m = Metrics::new();
        let store = MemoryStore::new();
        let text = m.render(&store, None).await;
        assert!(!text.contains("atlas_host_up{"), "no check yet: {text}");

        let first = [
            report("web1", true, Vec::new()),
            report("web2", false, vec!["cannot connect".into()]),
            report("old", true, Vec::new()),
        ];
        record_host_check(&store, Timestamp::from_unix(1_000), &first)
            .await
            .unwrap();
        let text = m.render(&store, None).await;
        assert_eq!(sample(&text, "atlas_host_up", &[("host", "web1")]), Some(1.0));
        assert_eq!(sample(&text, "atlas_host_up", &[("host", "web2")]), Some(0.0));
        assert_eq!(
            sample(&text, "atlas_host_healthy", &[("host", "web2")]),
            Some(0.0)
        );
        assert_eq!(
            sample(
                &text,
                "atlas_host_last_check_timestamp_seconds",
                &[("host", "web1")]
            ),
            Some(1_000.0)
        );

        let second = [
            report("web1", true, vec!["programs.drush 'drush' is not found".into()]),
            report("web2", true, Vec::new()),
        ];
        record_host_check(&store, Timestamp::from_unix(2_000), &second)
            .await
            .unwrap();
        let text = m.render(&store, None).await;
        assert_eq!(sample(&text, "atlas_host_up", &[("host", "web2")]), Some(1.0));
        assert_eq!(
            sample(&text, "atlas_host_healthy", &[("host", "web1")]),
            Some(0.0)
        );
        assert_eq!(
            sample(
                &text,
                "atlas_host_last_check_timestamp_seconds",
                &[("host", "web2")]
            ),
            Some(2_000.0)
        );
        assert_eq!(sample(&text, "atlas_host_up", &[("host", "old")]), None);
    }

    #[tokio::test]
    async fn rollouts_are_counted_by_state_and_active_ones_report_their_instances() {
        use atlas_core::model::Body;
        use atlas_core::MemoryStore;

        let m = Metrics::new();
        let store = MemoryStore::new();
        let text = m.render(&store, None).await;
        assert_eq!(
            sample(&text, "atlas_rollouts", &[("state", "running")]),
            Some(0.0)
        );

        let now = Timestamp::from_unix(1_000);
        let (from, to) = (Id::from_bytes([1; 12]), Id::from_bytes([2; 12]));
        let (running, done) = (Id::from_bytes([3; 12]), Id::from_bytes([4; 12]));
        let body = |v: serde_json::Value| -> Body { v.as_object().cloned().unwrap() };
        let mut b = Batch::new(now);
        for (n, profile) in [(5u8, from), (6, from), (7, from), (8, to)] {
            b.insert(
                Resource::Instance,
                Id::from_bytes([n; 12]),
                body(json!({"sid": format!("p1metric{n:04}"), "code": {"profile": profile.to_string()}})),
            );
        }
        b.insert(
            Resource::Rollout,
            running,
            body(json!({"from": from.to_string(), "to": to.to_string(), "state": "running", "done": 1,
                        "failed": [{"instance": Id::from_bytes([5; 12]).to_string(), "sid": "p1metric0005", "error": "boom"}]})),
        );
        b.insert(
            Resource::Rollout,
            done,
            body(json!({"from": from.to_string(), "to": to.to_string(), "state": "completed", "done": 4})),
        );
        store.commit(b).await.unwrap();

        let text = m.render(&store, None).await;
        assert_eq!(
            sample(&text, "atlas_rollouts", &[("state", "running")]),
            Some(1.0)
        );
        assert_eq!(
            sample(&text, "atlas_rollouts", &[("state", "completed")]),
            Some(1.0)
        );
        let of = |state: &str| {
            sample(
                &text,
                "atlas_rollout_instances",
                &[("rollout", &running.to_string()), ("state", state)],
            )
        };
        assert_eq!(of("done"), Some(1.0));
        assert_eq!(of("failed"), Some(1.0));
        assert_eq!(of("remaining"), Some(2.0), "three on `from`, one of them failed");
        assert!(
            !text.contains(&format!("rollout=\"{done}\"")),
            "a completed rollout has no instance gauges"
        );
    }

    #[tokio::test]
    async fn drifted_instances_counts_the_live_instances_whose_drift_has_findings() {
        use atlas_core::MemoryStore;

        let m = Metrics::new();
        let store = MemoryStore::new();
        let mut batch = Batch::new(Timestamp::from_unix(1_000));
        for (n, count) in [(1u8, Some(2)), (2, Some(0)), (3, None), (4, Some(1))] {
            let mut body = serde_json::json!({"sid": format!("p1drifted{n:03}"), "status": "launched"});
            if let Some(c) = count {
                body["drift"] = serde_json::json!({"count": c, "findings": []});
            }
            batch.insert(
                Resource::Instance,
                Id::from_bytes([n; 12]),
                body.as_object().cloned().unwrap(),
            );
        }
        store.commit(batch).await.unwrap();
        let text = m.render(&store, None).await;
        assert_eq!(sample(&text, "atlas_drifted_instances", &[]), Some(2.0));
    }

    #[tokio::test]
    async fn the_newest_backup_check_gives_each_instance_its_gauges_and_counts_backups_by_state() {
        use atlas_core::testing::record_backup_check;
        use atlas_core::{BackupCheck, InstanceBackups, MemoryStore};

        let m = Metrics::new();
        let store = MemoryStore::new();
        let text = m.render(&store, None).await;
        assert!(!text.contains("atlas_backup_overdue{"), "no check yet: {text}");
        assert_eq!(
            sample(&text, "atlas_backup_last_check_timestamp_seconds", &[]),
            Some(0.0)
        );

        let inst = |n: u8, sid: &str, last: Option<i64>, stale: bool| InstanceBackups {
            instance: Id::from_bytes([n; 12]),
            sid: sid.into(),
            last_success: last.map(Timestamp::from_unix),
            stale,
        };
        let check = BackupCheck {
            checked_at: Timestamp::from_unix(5_000),
            instances: vec![
                inst(1, "p1fresh00000", Some(4_000), false),
                inst(2, "p1neverbacked", None, true),
            ],
            states: [("complete".to_owned(), 3), ("failed".to_owned(), 1)]
                .into_iter()
                .collect(),
            bytes: 1_234,
        };
        record_backup_check(&store, &check).await.unwrap();
        let text = m.render(&store, None).await;
        assert_eq!(
            sample(
                &text,
                "atlas_backup_last_success_timestamp_seconds",
                &[("sid", "p1fresh00000")]
            ),
            Some(4_000.0)
        );
        assert_eq!(
            sample(
                &text,
                "atlas_backup_last_success_timestamp_seconds",
                &[("sid", "p1neverbacked")]
            ),
            None,
            "no success: no sample"
        );
        assert_eq!(
            sample(&text, "atlas_backup_overdue", &[("sid", "p1neverbacked")]),
            Some(1.0)
        );
        assert_eq!(
            sample(&text, "atlas_backup_overdue", &[("sid", "p1fresh00000")]),
            Some(0.0)
        );
        assert_eq!(sample(&text, "atlas_backups", &[("state", "failed")]), Some(1.0));
        assert_eq!(sample(&text, "atlas_backup_bytes", &[]), Some(1_234.0));
        assert_eq!(
            sample(&text, "atlas_backup_last_check_timestamp_seconds", &[]),
            Some(5_000.0)
        );
    }
}
