//! Instance jobs: provision (`pending` → `available` only when every step
//! succeeded), the lifecycle work (`install_assign`, `launch`, `take_down`,
//! `restore`) settling the in-flight status, code switches, settings
//! rewrites, and removal from the servers with the statistics records.

use rand::Rng;
use serde_json::json;
use tracing::info;

use super::resolve::{self, ResolveError};
use super::{exec_err, is_final, notices, skipped, store_err, view_err, Engine, JobResult};
use crate::batch::Batch;
use crate::executor::InstanceSpec;
use crate::jobs::Job;
use crate::lifecycle::{Transition, Work, PROVISION};
use crate::model::{BackupKind, Body, Doc, Etag, Id, Instance, Resource, RouteStatus, Statistics, Status};
use crate::query::{Filter, FindQuery};
use crate::store::StoreExt;
use crate::task::{PreUpdate, Task};
use crate::worker::{Handled, HandlerError};

impl Engine {
    /// The live instance `id` as a document and view, `None` when it is
    /// gone (never existed or soft-deleted).
    pub(super) async fn live_instance(&self, id: &Id) -> Result<Option<(Doc, Instance)>, HandlerError> {
        match self
            .store()
            .get_live(Resource::Instance, id)
            .await
            .map_err(store_err)?
        {
            Some(doc) => {
                let inst = Instance::from_doc(&doc).map_err(view_err)?;
                Ok(Some((doc, inst)))
            }
            None => Ok(None),
        }
    }

    pub(super) async fn spec(
        &self,
        inst: &Instance,
        status: crate::model::Status,
    ) -> Result<InstanceSpec, HandlerError> {
        resolve::instance_spec(self.svc(), inst, status)
            .await
            .map_err(ResolveError::into_handler)
    }

    /// `provision`: database, directories, code links, settings, web
    /// symlink, then the site install on one server. Only full success
    /// stores `available`; a failure leaves the instance `pending` (retried,
    /// then cleaned up by the stuck-pending task).
    pub(super) async fn provision(&self, job: &Job, id: Id) -> JobResult {
        let Some((doc, inst)) = self.live_instance(&id).await? else {
            return Err(HandlerError::fatal(format!(
                "instance {id} is gone: there is nothing to provision"
            )));
        };
        if inst.status != PROVISION.from {
            return Ok(skipped(
                job,
                format!(
                    "instance '{}' is '{}': already provisioned",
                    inst.sid, inst.status
                ),
            ));
        }
        let spec = match self.spec(&inst, PROVISION.settles).await {
            Ok(s) => s,
            Err(e) => return Err(self.provision_failure(job, &inst, e).await),
        };
        let steps = async {
            self.exec()
                .provision(&spec)
                .await
                .map_err(|e| exec_err("provision", e))?;
            match inst.restore_from {
                // The backup's database and files replace a fresh install.
                Some(backup) => self.restore_into_new(&spec, backup).await,
                None => self
                    .exec()
                    .install(&spec)
                    .await
                    .map_err(|e| exec_err("install", e)),
            }
        };
        if let Err(e) = steps.await {
            return Err(self.provision_failure(job, &inst, e).await);
        }
        let now = self.now();
        let mut batch = Batch::new(now);
        let mut settle = PROVISION.settle_patch(now);
        clear_last_error(&doc, &mut settle);
        batch.update(Resource::Instance, id, settle, Some(doc.etag.clone()));
        let seconds = inst.dates.created.map(|c| now.since(c).as_secs());
        info!(sid = %inst.sid, seconds, "instance provisioned");
        self.notify(notices::provision_succeeded(self.config(), &spec, seconds))
            .await;
        let result =
            json!({ "sid": inst.sid.as_str(), "status": PROVISION.settles.as_str(), "seconds": seconds });
        Ok(Handled::with_follow_up(result, batch))
    }

    async fn provision_failure(&self, job: &Job, inst: &Instance, e: HandlerError) -> HandlerError {
        if !is_final(job, &e) {
            return e;
        }
        let n = notices::provision_failed(self.config(), &inst.id, &inst.sid, job.attempts, &e.error);
        self.notify(n).await;
        let record = failed_for_good(job, &inst.id, Body::new(), None, &e.error, self.now());
        e.with_follow_up(record)
    }

    /// Lifecycle work: carries out `work` for an instance in its in-flight
    /// status and settles it (status + date stamp; for a launch also the
    /// route activations and the update group).
    pub(super) async fn lifecycle(&self, job: &Job, work: Work, id: Id, from: Option<Status>) -> JobResult {
        let Some((doc, inst)) = self.live_instance(&id).await? else {
            return Ok(skipped(
                job,
                format!("instance {id} is gone; no {work} work to do"),
            ));
        };
        if inst.status != work.in_flight() {
            return Ok(skipped(
                job,
                format!(
                    "instance '{}' is '{}', not '{}': its {work} work is done",
                    inst.sid,
                    inst.status,
                    work.in_flight()
                ),
            ));
        }
        let now = self.now();
        let mut batch = Batch::new(now);
        let mut patch = settle_patch(work, now);
        let outcome = self.carry_out(work, &inst, &mut batch, &mut patch).await;
        let what = format!("{work} work done");
        let settles = work.settles();
        match outcome {
            Ok(activated) => {
                clear_last_error(&doc, &mut patch);
                batch.update(Resource::Instance, id, patch, Some(doc.etag.clone()));
                let n =
                    notices::instance_updated(self.config(), &id, &inst.sid, &what, settles.as_str(), None);
                self.notify(n).await;
                let result = json!({ "sid": inst.sid.as_str(), "status": settles.as_str(), "routes_activated": activated });
                Ok(Handled::with_follow_up(result, batch))
            }
            Err(mut e) => {
                if is_final(job, &e) {
                    // Out of attempts: put the instance back where the
                    // request found it, so it is not stuck in an in-flight
                    // status that refuses every request.
                    let stays = from.unwrap_or(inst.status);
                    let mut p = Body::new();
                    if let Some(from) = from {
                        p.insert("status".into(), json!(from.as_str()));
                    }
                    let record = failed_for_good(job, &id, p, Some(doc.etag.clone()), &e.error, now);
                    e = e.with_follow_up(record);
                    let what = format!("{work} work failed; the instance is '{stays}'");
                    let n = notices::instance_updated(
                        self.config(),
                        &id,
                        &inst.sid,
                        &what,
                        stays.as_str(),
                        Some(&e.error),
                    );
                    self.notify(n).await;
                }
                Err(e)
            }
        }
    }

    /// The executor calls of `work`; returns how many routes a launch
    /// activates (their writes go into `batch`).
    async fn carry_out(
        &self,
        work: Work,
        inst: &Instance,
        batch: &mut Batch,
        patch: &mut Body,
    ) -> Result<usize, HandlerError> {
        let mut spec = self.spec(inst, work.settles()).await?;
        let exec = self.exec();
        match work {
            Work::Assign => {
                exec.write_settings(&spec)
                    .await
                    .map_err(|e| exec_err("write_settings", e))?;
                exec.clear_caches(&spec)
                    .await
                    .map_err(|e| exec_err("clear_caches", e))?;
                Ok(0)
            }
            Work::Launch => {
                let to_activate = self.routes_to_activate(inst).await?;
                for r in spec.routes.iter_mut() {
                    if to_activate.iter().any(|(id, _)| *id == r.id) {
                        r.route_status = RouteStatus::Active;
                    }
                }
                exec.write_settings(&spec)
                    .await
                    .map_err(|e| exec_err("write_settings", e))?;
                exec.launch(&spec).await.map_err(|e| exec_err("launch", e))?;
                let activated: Vec<_> = spec
                    .routes
                    .iter()
                    .filter(|r| to_activate.iter().any(|(id, _)| *id == r.id))
                    .cloned()
                    .collect();
                let map = resolve::route_map(self.svc(), &activated)
                    .await
                    .map_err(ResolveError::into_handler)?;
                exec.publish_routes(&map)
                    .await
                    .map_err(|e| exec_err("publish_routes", e))?;
                for (route, etag) in &to_activate {
                    let mut p = Body::new();
                    p.insert("route_status".into(), json!(RouteStatus::Active.as_str()));
                    batch.update(Resource::Route, *route, p, Some(etag.clone()));
                }
                if inst.update_group.is_none() {
                    patch.insert("update_group".into(), json!(rand::thread_rng().gen_range(0..=2)));
                }
                // A publication racing this launch may have read the routes
                // before the activations commit: republish after them.
                batch.enqueue(Task::PublishRoutes {}.spec(batch.now));
                Ok(to_activate.len())
            }
            Work::TakeDown => {
                exec.take_down(&spec)
                    .await
                    .map_err(|e| exec_err("take_down", e))?;
                Ok(0)
            }
            Work::Restore => {
                // `restore` runs the database updates itself.
                exec.restore(&spec).await.map_err(|e| exec_err("restore", e))?;
                Ok(0)
            }
        }
    }

    /// The instance's inactive routes with `active_on_launch`, with their etags.
    async fn routes_to_activate(&self, inst: &Instance) -> Result<Vec<(Id, Etag)>, HandlerError> {
        let q = FindQuery::all_matching(Filter::eq("instance_id", inst.id.to_string()));
        let page = self.store().find(Resource::Route, &q).await.map_err(store_err)?;
        let mut out = Vec::new();
        for doc in &page.items {
            let route = crate::model::Route::from_doc(doc).map_err(view_err)?;
            if route.active_on_launch && !route.is_active() {
                out.push((doc.id, doc.etag.clone()));
            }
        }
        Ok(out)
    }

    /// `instance_switch_code`: take the `pre_update` backup when one is
    /// asked for, then re-link core/profile/packages (full closure),
    /// rebuild the registry, update the database.
    pub(super) async fn switch_code(&self, job: &Job, id: Id, backup: Option<PreUpdate>) -> JobResult {
        self.instance_operation(job, id, Operation::SwitchCode, backup)
            .await
    }

    /// `instance_write_settings`: rewrite the settings files.
    pub(super) async fn write_settings(&self, job: &Job, id: Id) -> JobResult {
        self.instance_operation(job, id, Operation::WriteSettings, None)
            .await
    }

    /// Takes the `pre_update` backup of `inst` as it ran before its code
    /// changed (`backup.previous`, still what the servers link).
    pub(super) async fn pre_update_backup(
        &self,
        inst: &Instance,
        backup: PreUpdate,
    ) -> Result<Option<Batch>, HandlerError> {
        let mut before = inst.clone();
        before.code = backup.previous;
        let spec = self.spec(&before, inst.status).await.map_err(|e| HandlerError {
            error: format!(
                "the pre_update backup of instance '{}' cannot resolve the code it ran, so its code was not switched: {}",
                inst.sid, e.error
            ),
            ..e
        })?;
        self.pre_backup(&before, &spec, backup.id, BackupKind::PreUpdate)
            .await
    }

    async fn run_operation(&self, op: Operation, spec: &InstanceSpec) -> Result<(), HandlerError> {
        let exec = self.exec();
        match op {
            Operation::SwitchCode => {
                // One step: re-link, registry rebuild, database updates.
                exec.switch_code(spec)
                    .await
                    .map_err(|e| exec_err("switch_code", e))
            }
            Operation::WriteSettings => exec
                .write_settings(spec)
                .await
                .map_err(|e| exec_err("write_settings", e)),
        }
    }

    /// Runs `op` for a live, provisioned instance in its current status,
    /// after the `pre_update` backup when `backup` asks for one.
    async fn instance_operation(
        &self,
        job: &Job,
        id: Id,
        op: Operation,
        backup: Option<PreUpdate>,
    ) -> JobResult {
        let what = op.done();
        let Some((_, inst)) = self.live_instance(&id).await? else {
            return Ok(skipped(job, format!("instance {id} is gone")));
        };
        if inst.status == PROVISION.from {
            return Ok(skipped(
                job,
                format!(
                    "instance '{}' is pending: its provision uses the record as it is",
                    inst.sid
                ),
            ));
        }
        let spec = self.spec(&inst, inst.status).await?;
        // The backup's record is kept whatever happens to the operation.
        let mut recorded = None;
        let outcome = async {
            if let Some(b) = backup {
                recorded = self.pre_update_backup(&inst, b).await?;
            }
            self.run_operation(op, &spec).await
        }
        .await;
        match outcome {
            Ok(()) => {
                let n = notices::instance_updated(
                    self.config(),
                    &id,
                    &inst.sid,
                    what,
                    inst.status.as_str(),
                    None,
                );
                self.notify(n).await;
                let result = json!({ "sid": inst.sid.as_str(), "status": inst.status.as_str() });
                Ok(match recorded {
                    Some(batch) => Handled::with_follow_up(result, batch),
                    None => Handled::result(result),
                })
            }
            Err(e) => {
                if !is_final(job, &e) {
                    return Err(match recorded {
                        Some(batch) => e.with_follow_up(batch),
                        None => e,
                    });
                }
                let n = notices::instance_updated(
                    self.config(),
                    &id,
                    &inst.sid,
                    &format!("{} failed", job.kind),
                    inst.status.as_str(),
                    Some(&e.error),
                );
                self.notify(n).await;
                let mut follow_up = recorded.unwrap_or_else(|| Batch::new(self.now()));
                failed_for_good_into(&mut follow_up, job, &id, Body::new(), None, &e.error);
                Err(e.with_follow_up(follow_up))
            }
        }
    }

    /// `instance_remove`: takes the `pre_delete` backup (`backup`, one
    /// chosen now for jobs queued without it), then removes a deleted
    /// instance from the servers and deletes its statistics records. A
    /// failed backup fails the job with nothing removed.
    pub(super) async fn remove_instance(&self, job: &Job, id: Id, backup: Option<Id>) -> JobResult {
        let doc = self
            .store()
            .get(Resource::Instance, &id)
            .await
            .map_err(store_err)?
            .ok_or_else(|| {
                HandlerError::fatal(format!(
                    "instance {id} does not exist: there is nothing to remove"
                ))
            })?;
        if !doc.deleted {
            return Err(HandlerError::fatal(format!(
                "instance {id} is not deleted: only a DELETE removes an instance from the servers"
            )));
        }
        let inst = Instance::from_doc(&doc).map_err(view_err)?;
        let spec = self.spec(&inst, inst.status).await?;
        let backup = backup.unwrap_or_else(|| Id::generate(self.now()));
        let recorded = self
            .pre_backup(&inst, &spec, backup, BackupKind::PreDelete)
            .await?;
        if let Err(mut e) = self
            .exec()
            .remove_instance(&spec)
            .await
            .map_err(|e| exec_err("remove_instance", e))
        {
            if let Some(b) = recorded {
                // Keep the backup's record whatever happens to the removal.
                e = e.with_follow_up(b);
            }
            if is_final(job, &e) {
                let n = notices::instance_removed(
                    self.config(),
                    &id,
                    &inst.sid,
                    inst.modified_by.as_deref(),
                    Some(&e.error),
                );
                self.notify(n).await;
            }
            return Err(e);
        }
        let now = self.now();
        let mut batch = recorded.unwrap_or_else(|| Batch::new(now));
        let stats = self.statistics_of(&inst).await?;
        for s in &stats {
            batch.delete(Resource::Statistics, *s, None);
        }
        let n = notices::instance_removed(self.config(), &id, &inst.sid, inst.modified_by.as_deref(), None);
        self.notify(n).await;
        let ids: Vec<String> = stats.iter().map(Id::to_string).collect();
        let backed_up = (inst.status != PROVISION.from).then(|| backup.to_string());
        Ok(Handled::with_follow_up(
            json!({ "sid": inst.sid.as_str(), "statistics_deleted": ids, "pre_delete_backup": backed_up }),
            batch,
        ))
    }

    /// The live statistics records of `inst`: the one it names and any that
    /// name it.
    async fn statistics_of(&self, inst: &Instance) -> Result<Vec<Id>, HandlerError> {
        let mut ids = Vec::new();
        if let Some(sid) = inst.statistics {
            if self
                .store()
                .get_live(Resource::Statistics, &sid)
                .await
                .map_err(store_err)?
                .is_some()
            {
                ids.push(sid);
            }
        }
        let q = FindQuery::all_matching(Filter::eq("instance", inst.id.to_string()));
        for doc in self
            .store()
            .find(Resource::Statistics, &q)
            .await
            .map_err(store_err)?
            .items
        {
            let s = Statistics::from_doc(&doc).map_err(view_err)?;
            if !ids.contains(&s.id) {
                ids.push(s.id);
            }
        }
        Ok(ids)
    }
}

/// An operation on one instance outside the lifecycle.
#[derive(Debug, Clone, Copy)]
enum Operation {
    SwitchCode,
    WriteSettings,
}

impl Operation {
    fn done(self) -> &'static str {
        match self {
            Operation::SwitchCode => "code switched, registry rebuilt, database updated",
            Operation::WriteSettings => "settings rewritten",
        }
    }
}

/// The patch stored when `work` succeeds at `now` (status and date stamp),
/// as the lifecycle defines it.
fn settle_patch(work: Work, now: crate::model::Timestamp) -> Body {
    Transition {
        from: work.in_flight(),
        requested: work.in_flight(),
        set_now: work.in_flight(),
        work,
        settles: work.settles(),
        stamp: work.stamp(),
    }
    .settle_patch(now)
}

/// The follow-up of work on `instance` that failed for good: `patch` (a
/// status to go back to, say) plus `last_error` naming the job and its
/// error, so an operator sees on the instance why it is stuck. The patch
/// merges; `expect` guards it when it also moves the status back.
pub(super) fn failed_for_good(
    job: &Job,
    instance: &Id,
    patch: Body,
    expect: Option<Etag>,
    error: &str,
    now: crate::model::Timestamp,
) -> Batch {
    let mut batch = Batch::new(now);
    failed_for_good_into(&mut batch, job, instance, patch, expect, error);
    batch
}

/// [`failed_for_good`]'s write, added to `batch` (dated with its time).
pub(super) fn failed_for_good_into(
    batch: &mut Batch,
    job: &Job,
    instance: &Id,
    mut patch: Body,
    expect: Option<Etag>,
    error: &str,
) {
    let now = batch.now;
    patch.insert(
        "last_error".into(),
        json!({ "job": job.id.to_string(), "kind": job.kind, "error": error, "at": now.to_string() }),
    );
    batch.update(Resource::Instance, *instance, patch, expect);
}

/// Clears a stale `last_error` of `doc` in `patch` (work succeeded).
pub(super) fn clear_last_error(doc: &Doc, patch: &mut Body) {
    if doc.body.get("last_error").is_some_and(|v| !v.is_null()) {
        patch.insert("last_error".into(), serde_json::Value::Null);
    }
}
