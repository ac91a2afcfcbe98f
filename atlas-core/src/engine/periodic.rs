//! The periodic tasks (docs/architecture.md "Periodic tasks"), run as `periodic` jobs
//! (`{"task": "<name>"}`). Each returns a JSON summary as its job result.
//!
//! - pool top-up: create `pending` instances until `pending` + `available`
//!   reach [`crate::service::ServiceConfig::pool_target`] (no current
//!   core/profile yet: a note, not an error);
//! - stuck `pending` instances older than `stuck_pending_after` are deleted
//!   through the service (which plans their removal and statistics
//!   deletion);
//! - three `drush cron` fan-outs, selecting instances with or without the
//!   classes bundle **by package name** (every code item of that name
//!   counts), never on `pending`/`available`;
//! - statistics whose instance is missing or deleted are deleted;
//! - outside production, `installed` instances older than
//!   `take_down_installed_after` are taken down;
//! - every `available` instance is deleted (the pool top-up refills);
//! - statistics not updated within `statistics_stale_after` (of live
//!   instances) are reported in one warning;
//! - the host check and the route map check (`checks.rs`).
//! - the periodic backup (`periodic_backup.rs`).
//! - the verification fan-out (`drift.rs`).
//!
//! Instance creations, deletions and status changes go through the
//! [`crate::service::Service`] like any client's; fan-out jobs and statistics
//! deletions are the job's follow-up batch.

use std::collections::{HashMap, HashSet};

use serde_json::json;
use tracing::{info, warn};

use super::{notices, store_err, view_err, Engine, JobResult};
use crate::batch::Batch;
use crate::lifecycle;
use crate::model::{Environment, Id, Instance, InstanceType, Resource, Sid, Status, Timestamp};
use crate::query::{Filter, FindQuery, Op, Operand};
use crate::scheduler::PeriodicTask;
use crate::service::{Actor, ServiceError};
use crate::task::Task;
use crate::worker::{Handled, HandlerError};

/// Which instances a `drush cron` fan-out selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CronSet {
    /// `launched` express instances without the classes bundle.
    LaunchedExpress,
    /// Instances with the classes bundle, in any status cron runs in.
    ClassesBundle,
    /// `installed` instances without the classes bundle.
    Installed,
}

pub(super) fn status_in(statuses: impl IntoIterator<Item = Status>) -> Filter {
    Filter::field(
        "status",
        Op::In(
            statuses
                .into_iter()
                .map(|s| Operand::Json(json!(s.as_str())))
                .collect(),
        ),
    )
}

/// A service failure: the next attempt (or tick) may do better.
fn service_err(e: ServiceError) -> HandlerError {
    HandlerError::retry(format!("service failed: {e}"))
}

/// The result of a write to `inst` the task read earlier: `None` when the
/// instance changed or went away meanwhile (logged; the next run looks
/// again), a handler error for any other failure.
pub(super) fn unless_changed<T>(
    r: Result<T, ServiceError>,
    inst: &Instance,
) -> Result<Option<T>, HandlerError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(
            e @ (ServiceError::PreconditionFailed
            | ServiceError::NotFound { .. }
            | ServiceError::Conflict { .. }),
        ) => {
            warn!(sid = %inst.sid, error = %e, "instance changed meanwhile; left for the next run");
            Ok(None)
        }
        Err(e) => Err(service_err(e)),
    }
}

/// When an instance was created: `dates.created`, else the record's `_created`.
fn created_at(inst: &Instance, record_created: Timestamp) -> Timestamp {
    inst.dates.created.unwrap_or(record_created)
}

impl Engine {
    /// `periodic`: runs `task`.
    pub(super) async fn periodic(&self, task: PeriodicTask) -> JobResult {
        let handled = match task {
            PeriodicTask::PoolTopUp => self.pool_top_up().await?,
            PeriodicTask::DeleteStuckPending => self.delete_stuck_pending().await?,
            PeriodicTask::CronLaunched => self.cron_fan_out(CronSet::LaunchedExpress).await?,
            PeriodicTask::RemoveOrphanStatistics => self.remove_orphan_statistics().await?,
            PeriodicTask::CronClassesBundle => self.cron_fan_out(CronSet::ClassesBundle).await?,
            PeriodicTask::TakeDownOldInstalled => self.take_down_old_installed().await?,
            PeriodicTask::CronInstalled => self.cron_fan_out(CronSet::Installed).await?,
            PeriodicTask::ReplaceAvailable => self.replace_available().await?,
            PeriodicTask::VerifyStatistics => self.verify_statistics().await?,
            PeriodicTask::CheckHosts => self.check_hosts().await?,
            PeriodicTask::CheckRoutes => self.check_routes_task().await?,
            PeriodicTask::BackupLaunched => self.backup_launched().await?,
            PeriodicTask::CheckBackups => self.check_backups().await?,
            PeriodicTask::VerifyInstances => self.verify_instances().await?,
        };
        info!(task = %task, result = %handled.result, "periodic task done");
        Ok(handled)
    }

    pub(super) async fn instances_where(
        &self,
        filter: Filter,
    ) -> Result<Vec<(crate::model::Doc, Instance)>, HandlerError> {
        let page = self
            .store()
            .find(Resource::Instance, &FindQuery::all_matching(filter))
            .await
            .map_err(store_err)?;
        page.items
            .into_iter()
            .map(|d| Instance::from_doc(&d).map(|i| (d, i)).map_err(view_err))
            .collect()
    }

    /// Deletes `doc` through the service; `false` when it changed or went
    /// away meanwhile (the next tick looks again).
    async fn delete_instance(&self, doc: &crate::model::Doc, inst: &Instance) -> Result<bool, HandlerError> {
        let r = self
            .svc()
            .delete(
                Resource::Instance,
                &doc.id.to_string(),
                Some(&doc.etag),
                &Actor::system(),
            )
            .await;
        Ok(unless_changed(r, inst)?.is_some())
    }

    /// Keeps `pending` + `available` at the pool target.
    async fn pool_top_up(&self) -> JobResult {
        let target = self.config().pool_target();
        let pool = self
            .instances_where(status_in([Status::Pending, Status::Available]))
            .await?;
        let counted = u32::try_from(pool.len()).unwrap_or(u32::MAX);
        let mut created: Vec<String> = Vec::new();
        let mut note: Option<String> = None;
        for _ in counted..target {
            match self
                .svc()
                .create(
                    Resource::Instance,
                    &Actor::system(),
                    json!({ "status": "pending" }),
                )
                .await
            {
                Ok(docs) => created.extend(docs.iter().filter_map(|d| d.str_field("sid").map(str::to_owned))),
                Err(ServiceError::Conflict { field, message }) if field == "code" => {
                    info!(reason = %message, "pool top-up cannot create instances yet");
                    note = Some(message);
                    break;
                }
                Err(e) => return Err(service_err(e)),
            }
        }
        let mut result = json!({ "target": target, "counted": counted, "created": created });
        if let Some(n) = note {
            result["note"] = json!(n);
        }
        Ok(Handled::result(result))
    }

    /// Deletes `pending` instances stuck longer than `stuck_pending_after`.
    async fn delete_stuck_pending(&self) -> JobResult {
        let now = self.now();
        let limit = self.config().stuck_pending_after;
        let mut deleted = Vec::new();
        for (doc, inst) in self
            .instances_where(Filter::eq("status", Status::Pending.as_str()))
            .await?
        {
            if now.since(created_at(&inst, doc.created)) > limit && self.delete_instance(&doc, &inst).await? {
                deleted.push(inst.sid.to_string());
            }
        }
        Ok(Handled::result(json!({ "deleted": deleted })))
    }

    /// Ids of every live code item named like the classes bundle.
    async fn classes_bundle_ids(&self) -> Result<Vec<Operand>, HandlerError> {
        let q = FindQuery::all_matching(Filter::eq("meta.name", self.config().classes_bundle.clone()));
        let page = self.store().find(Resource::Code, &q).await.map_err(store_err)?;
        Ok(page
            .items
            .iter()
            .map(|d| Operand::Json(json!(d.id.to_string())))
            .collect())
    }

    /// One `drush_cron` job (single attempt) per selected instance.
    async fn cron_fan_out(&self, set: CronSet) -> JobResult {
        let bundle = self.classes_bundle_ids().await?;
        let with = Filter::field("code.package", Op::In(bundle.clone()));
        let without = Filter::field("code.package", Op::Nin(bundle));
        let filter = match set {
            CronSet::LaunchedExpress => Filter::and(vec![
                Filter::eq("status", Status::Launched.as_str()),
                Filter::eq("type", InstanceType::Express.as_str()),
                without,
            ]),
            CronSet::ClassesBundle => Filter::and(vec![
                status_in(Status::ALL.iter().copied().filter(|s| lifecycle::cron_runs(*s))),
                with,
            ]),
            CronSet::Installed => {
                Filter::and(vec![Filter::eq("status", Status::Installed.as_str()), without])
            }
        };
        let now = self.now();
        let mut batch = Batch::new(now);
        let mut sids = Vec::new();
        for (_, inst) in self.instances_where(filter).await? {
            if !lifecycle::cron_runs(inst.status) {
                continue;
            }
            batch.enqueue(Task::DrushCron { instance: inst.id }.spec(now));
            sids.push(inst.sid.to_string());
        }
        Ok(Handled::with_follow_up(
            json!({ "instances": sids.len(), "sids": sids }),
            batch,
        ))
    }

    /// Ids of every live instance, with their sids.
    async fn live_instance_sids(&self) -> Result<HashMap<Id, Sid>, HandlerError> {
        Ok(self
            .instances_where(Filter::All)
            .await?
            .into_iter()
            .map(|(d, i)| (d.id, i.sid))
            .collect())
    }

    /// Deletes statistics whose instance is missing or deleted.
    async fn remove_orphan_statistics(&self) -> JobResult {
        let live: HashSet<Id> = self.live_instance_sids().await?.into_keys().collect();
        let page = self
            .store()
            .find(Resource::Statistics, &FindQuery::all_matching(Filter::All))
            .await
            .map_err(store_err)?;
        let mut batch = Batch::new(self.now());
        let mut deleted = Vec::new();
        for doc in &page.items {
            let owner = doc.str_field("instance").and_then(|s| Id::parse(s).ok());
            if !owner.is_some_and(|i| live.contains(&i)) {
                batch.delete(Resource::Statistics, doc.id, None);
                deleted.push(doc.id.to_string());
            }
        }
        Ok(Handled::with_follow_up(json!({ "deleted": deleted }), batch))
    }

    /// Outside production: takes down `installed` instances older than
    /// `take_down_installed_after`.
    async fn take_down_old_installed(&self) -> JobResult {
        if self.config().environment == Environment::Production {
            return Ok(Handled::result(json!({
                "skipped": "environment is production: installed instances are never taken down automatically"
            })));
        }
        let now = self.now();
        let limit = self.config().take_down_installed_after;
        let mut taken_down = Vec::new();
        for (doc, inst) in self
            .instances_where(Filter::eq("status", Status::Installed.as_str()))
            .await?
        {
            if now.since(created_at(&inst, doc.created)) <= limit {
                continue;
            }
            let patch = json!({ "status": Status::TakeDown.as_str() });
            let r = self
                .svc()
                .update(
                    Resource::Instance,
                    &doc.id.to_string(),
                    Some(&doc.etag),
                    &Actor::system(),
                    patch,
                )
                .await;
            if unless_changed(r, &inst)?.is_some() {
                taken_down.push(inst.sid.to_string());
            }
        }
        Ok(Handled::result(json!({ "taken_down": taken_down })))
    }

    /// Deletes every `available` instance; the pool top-up replaces them.
    async fn replace_available(&self) -> JobResult {
        let mut deleted = Vec::new();
        for (doc, inst) in self
            .instances_where(Filter::eq("status", Status::Available.as_str()))
            .await?
        {
            if self.delete_instance(&doc, &inst).await? {
                deleted.push(inst.sid.to_string());
            }
        }
        Ok(Handled::result(json!({ "deleted": deleted })))
    }

    /// Reports statistics of live instances not updated within
    /// `statistics_stale_after`, in one warning.
    async fn verify_statistics(&self) -> JobResult {
        let now = self.now();
        let limit = self.config().statistics_stale_after;
        let live = self.live_instance_sids().await?;
        let page = self
            .store()
            .find(Resource::Statistics, &FindQuery::all_matching(Filter::All))
            .await
            .map_err(store_err)?;
        let mut outdated: Vec<Sid> = Vec::new();
        for doc in &page.items {
            let Some(owner) = doc.str_field("instance").and_then(|s| Id::parse(s).ok()) else {
                continue;
            };
            if let Some(sid) = live.get(&owner) {
                if now.since(doc.updated) > limit {
                    outdated.push(sid.clone());
                }
            }
        }
        outdated.sort();
        if !outdated.is_empty() {
            self.notify(notices::outdated_statistics(self.config(), &outdated))
                .await;
        }
        let sids: Vec<&str> = outdated.iter().map(Sid::as_str).collect();
        Ok(Handled::result(json!({ "outdated": sids })))
    }
}
