//! Backup hooks: a new backup names a provisioned instance, starts
//! `pending` with the instance's sid and queues the job that takes it; its
//! instance never changes; deleting one queues the removal of its stored
//! parts. Also [`Service::restore_backup`], `POST /backup/<id>/restore`,
//! and the checks of an instance created with `restore_from`.

use serde_json::{json, Value};

use crate::batch::Batch;
use crate::error::StoreError;
use crate::jobs::JobId;
use crate::lifecycle::PROVISION;
use crate::model::{Backup, BackupCode, BackupState, Body, Doc, Id, Instance, Resource};
use crate::service::hooks::{view_error, Ctx};
use crate::service::plan::Plan;
use crate::service::{Actor, Service, ServiceError};
use crate::store::{Store, StoreExt};
use crate::task::Task;

/// The live instance `id` a backup names, refused when it cannot be backed
/// up (gone, or not provisioned yet).
async fn backed_up_instance(svc: &Service, id: &Id) -> Result<Instance, ServiceError> {
    let doc = svc
        .store()
        .get_live(Resource::Instance, id)
        .await?
        .ok_or_else(|| {
            ServiceError::conflict(
                "instance",
                format!("instance {id} does not exist (or is deleted): name a live instance"),
            )
        })?;
    let inst = Instance::from_doc(&doc).map_err(view_error)?;
    if inst.status == PROVISION.from {
        return Err(ServiceError::conflict(
            "instance",
            format!(
                "instance '{}' is still pending: it has nothing to back up until its provision succeeds",
                inst.sid
            ),
        ));
    }
    Ok(inst)
}

/// The first code item of `backup` that no longer exists (`None`: all
/// do): a restore of it is refused before anything is touched.
///
/// # Errors
/// The store's.
pub(crate) async fn gone_code_item<'a>(
    store: &dyn Store,
    backup: &'a Backup,
) -> Result<Option<&'a BackupCode>, StoreError> {
    for item in &backup.code {
        if store.get_live(Resource::Code, &item.id).await?.is_none() {
            return Ok(Some(item));
        }
    }
    Ok(None)
}

/// A new instance created with `restore_from`: the backup must be
/// complete and every code item it ran must still exist; the instance
/// runs that code (a `code` of its own is refused), and its provision
/// loads the backup.
pub(super) async fn restore_into_new(ctx: &Ctx<'_>, body: &mut Body) -> Result<(), ServiceError> {
    let id = body
        .get("restore_from")
        .and_then(Value::as_str)
        .and_then(|s| Id::parse(s).ok());
    // A malformed or unknown id is the validator's and the data relation
    // check's to report.
    let Some(id) = id else {
        return Ok(());
    };
    let Some(doc) = ctx.svc.store().get_live(Resource::Backup, &id).await? else {
        return Ok(());
    };
    let backup = Backup::from_doc(&doc).map_err(view_error)?;
    if let Some(why) = backup.not_restorable() {
        return Err(ServiceError::conflict("restore_from", why));
    }
    if body.contains_key("code") {
        return Err(ServiceError::conflict(
            "code",
            format!(
                "an instance restored from backup {id} runs the code that backup ran: leave out 'code' \
                 (change it once the instance is provisioned)"
            ),
        ));
    }
    if let Some(item) = gone_code_item(ctx.svc.store(), &backup).await? {
        return Err(ServiceError::conflict("restore_from", item.gone(&id)));
    }
    // Ids as strings, absent ones null: the `code` field's own form.
    body.insert("code".into(), json!(backup.instance_code()));
    Ok(())
}

pub(super) async fn before_create(
    ctx: &Ctx<'_>,
    id: &Id,
    body: &mut Body,
    plan: &mut Plan,
) -> Result<(), ServiceError> {
    let instance = body
        .get("instance")
        .and_then(Value::as_str)
        .and_then(|s| Id::parse(s).ok());
    // A missing or malformed instance is the validator's to report.
    let Some(instance) = instance else {
        return Ok(());
    };
    if ctx
        .svc
        .store()
        .get_live(Resource::Instance, &instance)
        .await?
        .is_none()
    {
        // The data relation check names the missing instance.
        return Ok(());
    }
    let inst = backed_up_instance(ctx.svc, &instance).await?;
    body.insert("sid".into(), json!(inst.sid.as_str()));
    body.insert("state".into(), json!(BackupState::Pending.as_str()));
    plan.task(
        &Task::BackupTake {
            backup: *id,
            instance,
        },
        ctx.now,
    );
    Ok(())
}

pub(super) fn before_update(ctx: &Ctx<'_>, old: &Doc, change: &Body) -> Result<(), ServiceError> {
    let after = ctx.after(old, change);
    if after.body.get("instance") != old.body.get("instance") {
        return Err(ServiceError::conflict(
            "instance",
            format!(
                "the instance of backup {} cannot change: take a new backup of the other instance",
                old.id
            ),
        ));
    }
    Ok(())
}

pub(super) fn before_delete(ctx: &Ctx<'_>, old: &Doc, plan: &mut Plan) -> Result<(), ServiceError> {
    let backup = Backup::from_doc(old).map_err(view_error)?;
    if let Some(artifact) = backup.artifact() {
        let task = Task::BackupRemove {
            backup: backup.id,
            instance: backup.instance,
            artifact,
        };
        plan.task(&task, ctx.now);
    }
    Ok(())
}

impl Service {
    /// Restores a complete backup onto its own instance (`POST
    /// /backup/<id>/restore`): queues the restore job and returns it. The
    /// job checks again, when it runs, that the backup's code items still
    /// exist.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] for an unknown backup;
    /// [`ServiceError::Conflict`] when the backup is not complete or its
    /// instance is gone or still pending; store failures.
    pub async fn restore_backup(&self, id: &str, actor: &Actor) -> Result<JobId, ServiceError> {
        let parsed = Self::parse_id(Resource::Backup, id)?;
        let doc = self
            .store()
            .get_live(Resource::Backup, &parsed)
            .await?
            .ok_or_else(|| ServiceError::not_found(Resource::Backup, id))?;
        let backup = Backup::from_doc(&doc).map_err(view_error)?;
        if let Some(why) = backup.not_restorable() {
            return Err(ServiceError::conflict("state", why));
        }
        backed_up_instance(self, &backup.instance).await?;
        let now = self.clock().now();
        let mut batch = Batch::new(now);
        batch.enqueue(
            Task::BackupRestore {
                backup: backup.id,
                instance: backup.instance,
            }
            .spec(now),
        );
        tracing::info!(backup = %backup.id, instance = %backup.instance, user = %actor, "backup restore queued");
        let committed = self.store().commit(batch).await?;
        self.jobs_enqueued().notify_one();
        let job = committed.jobs().next();
        job.ok_or_else(|| ServiceError::BadRequest("the restore could not be queued".into()))
    }
}
