//! The engine: the job handlers behind every job kind the service and the
//! scheduler enqueue. [`Engine`] implements [`JobHandler`] and dispatches on
//! the job's decoded [`Task`] with one exhaustive `match`.
//!
//! # Layout
//! - `resolve.rs`: executor specs from records.
//! - `instance.rs`: provision, lifecycle work (`install_assign`, `launch`,
//!   `take_down`, `restore`), code switch, settings rewrite, removal.
//! - `backup.rs`: take, restore and remove backups; the `pre_delete`
//!   backup of an instance removal.
//! - `rollout.rs`: rollout steps (fold a wave, apply the policy, plan the
//!   next) and the switch of one instance of a wave.
//! - `code.rs`: deploy / update / remove code items.
//! - `routes.rs`: route map publication.
//! - `commands.rs`: command items (hooks, fan-out, one instance's run),
//!   `drush cron`.
//! - `periodic.rs`: the periodic tasks; `checks.rs`: the host and
//!   route map checks among them; `periodic_backup.rs`: the periodic
//!   backup with its pruning.
//! - `drift.rs`: verify and heal an instance, and the periodic
//!   verification fan-out.
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

mod backup;
mod checks;
mod code;
mod commands;
mod drift;
mod instance;
mod notices;
mod periodic;
mod periodic_backup;
mod resolve;
mod rollout;
mod routes;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::json;
use tracing::{info, warn};

use crate::error::{ExecError, StoreError};
use crate::executor::Executor;
use crate::jobs::Job;
use crate::lifecycle::Work;
use crate::model::{Timestamp, ViewError};
use crate::notify::{Notification, Notifier};
use crate::service::{Service, ServiceConfig};
use crate::store::Store;
use crate::task::Task;
use crate::worker::{Handled, HandlerError, JobHandler};

pub use checks::RouteCheckError;

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
        // A job that does not decode can never succeed: no retry.
        let task = Task::from_job(job).map_err(|e| HandlerError::fatal(e.to_string()))?;
        match task {
            Task::Provision { instance } => self.provision(job, instance).await,
            Task::Assign { instance, from } => self.lifecycle(job, Work::Assign, instance, from).await,
            Task::Launch { instance, from } => self.lifecycle(job, Work::Launch, instance, from).await,
            Task::TakeDown { instance, from } => self.lifecycle(job, Work::TakeDown, instance, from).await,
            Task::Restore { instance, from } => self.lifecycle(job, Work::Restore, instance, from).await,
            Task::SwitchCode { instance, backup } => self.switch_code(job, instance, backup).await,
            Task::WriteSettings { instance } => self.write_settings(job, instance).await,
            Task::VerifyInstance { instance } => self.verify_instance(job, instance, false).await,
            Task::HealInstance { instance } => self.verify_instance(job, instance, true).await,
            Task::RemoveInstance { instance, backup } => self.remove_instance(job, instance, backup).await,
            Task::BackupTake { backup, instance } => self.backup_take(job, backup, instance).await,
            Task::BackupRestore { backup, instance } => self.backup_restore(job, backup, instance).await,
            Task::BackupRemove {
                backup,
                instance: _,
                artifact,
            } => self.backup_remove(backup, artifact).await,
            Task::DeployCode { code } => self.deploy_code(job, code).await,
            Task::UpdateCode { code, previous } => self.update_code(job, code, previous).await,
            Task::RemoveCode { code } => self.remove_code(job, code).await,
            Task::PublishRoutes {} => self.publish_routes().await,
            Task::RunCommand {
                command,
                requested_by,
            } => self.run_command(job, command, requested_by).await,
            Task::CommandInstance {
                command,
                instance,
                run: _,
                operation,
                requested_by: _,
            } => self.command_instance(command, instance, operation).await,
            Task::DrushCron { instance } => self.drush_cron(job, instance).await,
            Task::RolloutStep { rollout } => self.rollout_step(job, rollout).await,
            Task::RolloutInstance {
                rollout,
                instance,
                wave,
            } => self.rollout_instance(job, rollout, instance, wave).await,
            Task::Periodic { task } => self.periodic(task).await,
        }
    }
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
