//! The engine: the job handlers behind every job kind the service and the
//! scheduler enqueue. [`Engine`] implements [`JobHandler`] and dispatches on
//! [`Job::kind`].
//!
//! # Layout
//! - `resolve.rs`: executor specs from records.
//! - `instance.rs`: provision, lifecycle work (`install_assign`, `launch`,
//!   `take_down`, `restore`), code switch, settings rewrite, removal.
//! - `code.rs`: deploy / update / remove code items.
//! - `routes.rs`: route map publication.
//! - `commands.rs`: command items (hooks, fan-out, one instance's run),
//!   `drush cron`.
//! - `periodic.rs`: the nine periodic tasks.
//! - `notices.rs`: notification texts.
//!
//! # Contracts
//! - Every handler re-reads the records it acts on when it runs and is
//!   idempotent: a repeated attempt converges.
//! - Record changes a job causes are returned as its follow-up batch, so
//!   they commit atomically with the job's outcome (a provision makes the
//!   instance `available` only when every step succeeded). Settle writes
//!   carry the etag read at the start of the attempt: if the record changed
//!   meanwhile the follow-up fails and the job is retried with fresh data.
//!   (Periodic tasks act through the [`Service`] like any client.)
//! - Lifecycle work whose instance is gone or no longer in the in-flight
//!   status succeeds without writes.
//! - A notification that cannot be delivered is logged, never fatal.

// Handlers return the worker's `HandlerError` by value, as `JobHandler`
// requires; its size is the worker's contract, not something to box here.
#![allow(clippy::result_large_err)]

mod code;
mod commands;
mod instance;
mod notices;
mod periodic;
mod resolve;
mod routes;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Value};
use tracing::{info, warn};

use crate::error::{ExecError, StoreError};
use crate::executor::Executor;
use crate::jobs::Job;
use crate::lifecycle::Work;
use crate::model::{Id, Timestamp, ViewError};
use crate::notify::{Notification, Notifier};
use crate::scheduler::PERIODIC_JOB_KIND;
use crate::service::plan::kinds;
use crate::service::{Service, ServiceConfig};
use crate::store::Store;
use crate::worker::{Handled, HandlerError, JobHandler};

/// What a handler returns.
type JobResult = Result<Handled, HandlerError>;

/// Runs every kind of job Atlas enqueues. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    svc: Service,
    exec: Arc<dyn Executor>,
    notifier: Arc<dyn Notifier>,
}

impl Engine {
    /// An engine reading and writing through `svc`, acting on servers
    /// through `executor` and telling people through `notifier`.
    pub fn new(svc: Service, executor: Arc<dyn Executor>, notifier: Arc<dyn Notifier>) -> Self {
        Self {
            inner: Arc::new(Inner {
                svc,
                exec: executor,
                notifier,
            }),
        }
    }

    /// The service the engine works through.
    pub fn service(&self) -> &Service {
        &self.inner.svc
    }

    fn svc(&self) -> &Service {
        &self.inner.svc
    }

    fn store(&self) -> &Arc<dyn Store> {
        self.inner.svc.store()
    }

    fn exec(&self) -> &dyn Executor {
        self.inner.exec.as_ref()
    }

    fn config(&self) -> &ServiceConfig {
        self.inner.svc.config()
    }

    fn now(&self) -> Timestamp {
        self.inner.svc.clock().now()
    }

    /// Delivers `n`; a failure is logged and otherwise ignored.
    async fn notify(&self, n: Notification) {
        if let Err(e) = self.inner.notifier.notify(&n).await {
            warn!(error = %e, title = %n.title, "notification not delivered");
        }
    }
}

#[async_trait]
impl JobHandler for Engine {
    async fn handle(&self, job: &Job) -> Result<Handled, HandlerError> {
        if let Some(work) = Work::from_job_kind(&job.kind) {
            return self.lifecycle(job, work).await;
        }
        match job.kind.as_str() {
            kinds::PROVISION => self.provision(job).await,
            kinds::SWITCH_CODE => self.switch_code(job).await,
            kinds::WRITE_SETTINGS => self.write_settings(job).await,
            kinds::REMOVE_INSTANCE => self.remove_instance(job).await,
            kinds::DEPLOY_CODE => self.deploy_code(job).await,
            kinds::UPDATE_CODE => self.update_code(job).await,
            kinds::REMOVE_CODE => self.remove_code(job).await,
            kinds::PUBLISH_ROUTES => self.publish_routes(job).await,
            kinds::RUN_COMMAND => self.run_command(job).await,
            kinds::COMMAND_INSTANCE => self.command_instance(job).await,
            kinds::DRUSH_CRON => self.drush_cron(job).await,
            PERIODIC_JOB_KIND => self.periodic(job).await,
            other => Err(HandlerError::fatal(format!(
                "unknown job kind '{other}': no handler exists for it (payload {})",
                job.payload
            ))),
        }
    }
}

/// The id in `job.payload[field]`; a job without it can never succeed.
fn payload_id(job: &Job, field: &str) -> Result<Id, HandlerError> {
    let raw = job.payload.get(field).and_then(Value::as_str).ok_or_else(|| {
        HandlerError::fatal(format!(
            "job payload has no '{field}' id (payload {})",
            job.payload
        ))
    })?;
    Id::parse(raw).map_err(|e| HandlerError::fatal(format!("job payload '{field}': {e}")))
}

/// A store failure: retry, it may pass.
fn store_err(e: StoreError) -> HandlerError {
    HandlerError::retry(format!("store failed: {e}"))
}

/// A record that does not read as its view: no retry fixes that.
fn view_err(e: ViewError) -> HandlerError {
    HandlerError::fatal(e.to_string())
}

/// An executor failure in `operation`: a refused spec is final, anything
/// else may pass on retry.
fn exec_err(operation: &str, e: ExecError) -> HandlerError {
    let msg = format!("{operation} failed: {e}");
    match e {
        ExecError::Refused { .. } => HandlerError::fatal(msg),
        _ => HandlerError::retry(msg),
    }
}

/// Whether this failure ends the job (no attempts left, or not retryable).
fn is_final(job: &Job, e: &HandlerError) -> bool {
    !e.retryable || job.attempts >= job.max_attempts
}

/// Success without writes, because there is nothing (left) to do.
fn skipped(job: &Job, reason: String) -> Handled {
    info!(job.id = %job.id, job.kind = %job.kind, reason = %reason, "nothing to do");
    Handled::result(json!({ "skipped": reason }))
}
