//! Backup jobs: take a recorded backup (`pending` → `running` →
//! `complete` with its parts and code, or `failed` with the error), take
//! the `pre_delete`/`pre_update` backup a removal or code switch starts
//! with, restore a backup onto its instance, and remove a deleted backup's
//! parts.

use serde_json::{json, Value};
use tracing::info;

use super::instance::failed_for_good;
use super::{exec_err, is_final, skipped, store_err, view_err, Engine, JobResult};
use crate::batch::Batch;
use crate::executor::{BackupArtifact, InstanceSpec};
use crate::jobs::Job;
use crate::lifecycle::PROVISION;
use crate::model::{
    Backup, BackupCode, BackupKind, BackupState, Body, Doc, Id, Instance, InstanceCode, Resource, Timestamp,
};
use crate::service::gone_code_item;
use crate::store::StoreExt;
use crate::worker::{Handled, HandlerError};

impl Engine {
    /// The live backup `id`, `None` when it is gone.
    async fn live_backup(&self, id: &Id) -> Result<Option<(Doc, Backup)>, HandlerError> {
        match self
            .store()
            .get_live(Resource::Backup, id)
            .await
            .map_err(store_err)?
        {
            Some(doc) => {
                let b = Backup::from_doc(&doc).map_err(view_err)?;
                Ok(Some((doc, b)))
            }
            None => Ok(None),
        }
    }

    /// `backup_take`: takes a backup recorded by `POST /backup`.
    pub(super) async fn backup_take(&self, job: &Job, id: Id, instance: Id) -> JobResult {
        let Some((doc, backup)) = self.live_backup(&id).await? else {
            return Ok(skipped(job, format!("backup {id} is gone: nothing to take")));
        };
        if backup.state == BackupState::Complete {
            return Ok(skipped(job, format!("backup {id} is already complete")));
        }
        let taken = async {
            let Some((_, inst)) = self.live_instance(&instance).await? else {
                return Err(HandlerError::fatal(format!(
                    "instance {instance} is gone: backup {id} cannot be taken"
                )));
            };
            let spec = self.spec(&inst, inst.status).await?;
            let running = self.mark_running(&doc).await?;
            let (artifact, code) = self.take(&inst, &spec, &id).await?;
            Ok((running, artifact, code))
        };
        match taken.await {
            Ok((running, artifact, code)) => {
                let now = self.now();
                let mut batch = Batch::new(now);
                batch.update(
                    Resource::Backup,
                    id,
                    complete_patch(&artifact, &code, now),
                    Some(running.etag),
                );
                info!(backup = %id, size = artifact.size(), "backup taken");
                let result =
                    json!({ "backup": id.to_string(), "state": "complete", "size": artifact.size() });
                Ok(Handled::with_follow_up(result, batch))
            }
            Err(e) if is_final(job, &e) => {
                let now = self.now();
                let mut patch = Body::new();
                patch.insert("state".into(), json!(BackupState::Failed.as_str()));
                patch.insert("error".into(), json!(e.error));
                patch.insert("finished".into(), json!(now.to_string()));
                let mut batch = Batch::new(now);
                batch.update(Resource::Backup, id, patch, None);
                Err(e.with_follow_up(batch))
            }
            Err(e) => Err(e),
        }
    }

    /// Stores `running` on a backup before the executor starts; answers the
    /// record as written.
    async fn mark_running(&self, doc: &Doc) -> Result<Doc, HandlerError> {
        let mut patch = Body::new();
        patch.insert("state".into(), json!(BackupState::Running.as_str()));
        let mut batch = Batch::new(self.now());
        batch.update(Resource::Backup, doc.id, patch, Some(doc.etag.clone()));
        self.store().commit(batch).await.map_err(store_err)?;
        self.store()
            .get_live(Resource::Backup, &doc.id)
            .await
            .map_err(store_err)?
            .ok_or_else(|| HandlerError::retry(format!("backup {} vanished while it started", doc.id)))
    }

    /// Runs the executor's backup of `inst` into backup `id`; answers the
    /// stored parts and the code items the instance runs.
    async fn take(
        &self,
        inst: &Instance,
        spec: &InstanceSpec,
        id: &Id,
    ) -> Result<(BackupArtifact, Vec<BackupCode>), HandlerError> {
        let artifact = self
            .exec()
            .backup_instance(spec, id)
            .await
            .map_err(|e| exec_err("backup_instance", e))?;
        Ok((artifact, code_of(inst, spec)))
    }

    /// The backup a destructive job starts with (`kind`: `pre_delete`
    /// before a removal, `pre_update` before a code switch): reused when an
    /// earlier attempt already recorded it complete, else taken now of
    /// `inst` as `spec` resolves it. Answers the insert of its record when
    /// it was taken now (the caller commits it with the job's outcome,
    /// success or failure). A failed backup fails the job before the
    /// destructive step.
    pub(super) async fn pre_backup(
        &self,
        inst: &Instance,
        spec: &InstanceSpec,
        id: Id,
        kind: BackupKind,
    ) -> Result<Option<Batch>, HandlerError> {
        if inst.status == PROVISION.from {
            // Never provisioned: no database or files to keep.
            return Ok(None);
        }
        if let Some(doc) = self.store().get(Resource::Backup, &id).await.map_err(store_err)? {
            if Backup::from_doc(&doc).map_err(view_err)?.state == BackupState::Complete {
                return Ok(None);
            }
        }
        let kept = match kind {
            BackupKind::PreUpdate => "its code was not switched",
            _ => "nothing was removed",
        };
        let (artifact, code) = self.take(inst, spec, &id).await.map_err(|e| HandlerError {
            error: format!(
                "the {kind} backup of instance '{}' failed, so {kept}: {}",
                inst.sid, e.error
            ),
            ..e
        })?;
        let now = self.now();
        let mut body = complete_patch(&artifact, &code, now);
        body.insert("instance".into(), json!(inst.id.to_string()));
        body.insert("sid".into(), json!(inst.sid.as_str()));
        body.insert("kind".into(), json!(kind.as_str()));
        if let Some(by) = &inst.modified_by {
            body.insert("created_by".into(), json!(by));
        }
        let mut batch = Batch::new(now);
        batch.insert(Resource::Backup, id, body);
        info!(backup = %id, sid = %inst.sid, %kind, "backup taken before the change");
        Ok(Some(batch))
    }

    /// `backup_restore`: puts a complete backup back onto its instance.
    pub(super) async fn backup_restore(&self, job: &Job, id: Id, instance: Id) -> JobResult {
        let Some((_, backup)) = self.live_backup(&id).await? else {
            return Err(HandlerError::fatal(format!(
                "backup {id} is gone: there is nothing to restore"
            )));
        };
        let Some(artifact) = backup.restorable() else {
            return Err(HandlerError::fatal(backup.not_restorable().unwrap_or_default()));
        };
        let Some((doc, inst)) = self.live_instance(&instance).await? else {
            return Err(HandlerError::fatal(format!(
                "instance {instance} is gone: backup {id} cannot be restored onto it"
            )));
        };
        if inst.status == PROVISION.from {
            return Err(HandlerError::fatal(format!(
                "instance '{}' is pending: restore the backup once it is provisioned",
                inst.sid
            )));
        }
        let wanted = self.backup_code(&backup).await?;
        let outcome = self.restore_onto(&inst, &wanted, &artifact).await;
        match outcome {
            Ok(switched_to) => {
                let now = self.now();
                let mut patch = Body::new();
                let switched = switched_to.is_some();
                if let Some(code) = &switched_to {
                    patch.insert("code".into(), json!(code));
                }
                if doc.body.get("last_error").is_some_and(|v| !v.is_null()) {
                    patch.insert("last_error".into(), Value::Null);
                }
                let mut batch = Batch::new(now);
                if !patch.is_empty() {
                    batch.update(Resource::Instance, instance, patch, Some(doc.etag.clone()));
                }
                info!(backup = %id, sid = %inst.sid, switched, "backup restored");
                let result =
                    json!({ "backup": id.to_string(), "sid": inst.sid.as_str(), "code_switched": switched });
                Ok(Handled::with_follow_up(result, batch))
            }
            Err(e) if is_final(job, &e) => {
                let record = failed_for_good(job, &instance, Body::new(), None, &e.error, self.now());
                Err(e.with_follow_up(record))
            }
            Err(e) => Err(e),
        }
    }

    /// The instance code a backup ran, every item checked to still exist
    /// (a missing one fails the job before anything is touched).
    async fn backup_code(&self, backup: &Backup) -> Result<InstanceCode, HandlerError> {
        if let Some(item) = gone_code_item(self.store(), backup).await.map_err(store_err)? {
            return Err(HandlerError::fatal(format!(
                "{}; nothing was touched",
                item.gone(&backup.id)
            )));
        }
        Ok(backup.instance_code())
    }

    /// The restore step of provisioning an instance created with
    /// `restore_from`: loads backup `id` (complete, its code items still
    /// there) into the new instance and runs database updates.
    pub(super) async fn restore_into_new(&self, spec: &InstanceSpec, id: Id) -> Result<(), HandlerError> {
        let Some((_, backup)) = self.live_backup(&id).await? else {
            return Err(HandlerError::fatal(format!(
                "backup {id} is gone: instance '{}' cannot be restored from it; \
                 delete the instance and create it from another backup",
                spec.sid
            )));
        };
        let Some(artifact) = backup.restorable() else {
            return Err(HandlerError::fatal(backup.not_restorable().unwrap_or_default()));
        };
        self.backup_code(&backup).await?;
        let exec = self.exec();
        exec.restore_instance(spec, &artifact)
            .await
            .map_err(|e| exec_err("restore_instance", e))?;
        exec.update_database(spec)
            .await
            .map_err(|e| exec_err("update_database", e))?;
        info!(backup = %id, sid = %spec.sid, "new instance restored from a backup");
        Ok(())
    }

    /// Switches the instance to `wanted` when its code differs, restores
    /// the parts, runs database updates. Answers the code it switched to.
    async fn restore_onto(
        &self,
        inst: &Instance,
        wanted: &InstanceCode,
        artifact: &BackupArtifact,
    ) -> Result<Option<InstanceCode>, HandlerError> {
        let mut target = inst.clone();
        let switch = !same_code(&inst.code, wanted);
        if switch {
            target.code = InstanceCode {
                core: wanted.core.or(inst.code.core),
                profile: wanted.profile.or(inst.code.profile),
                package: wanted.package.clone(),
            };
        }
        let spec = self.spec(&target, inst.status).await?;
        let exec = self.exec();
        if switch {
            exec.switch_code(&spec)
                .await
                .map_err(|e| exec_err("switch_code", e))?;
        }
        if let Err(e) = exec.restore_instance(&spec, artifact).await {
            let e = exec_err("restore_instance", e);
            if switch {
                // The restore left the site as it was: so must its code.
                return Err(self.switch_back(inst, e).await);
            }
            return Err(e);
        }
        exec.update_database(&spec)
            .await
            .map_err(|e| exec_err("update_database", e))?;
        Ok(switch.then_some(target.code))
    }

    /// Links `inst`'s own code again after a failed restore switched it
    /// to the backup's; answers `failed`, extended when that fails too.
    async fn switch_back(&self, inst: &Instance, failed: HandlerError) -> HandlerError {
        let back = match self.spec(inst, inst.status).await {
            Ok(spec) => self
                .exec()
                .switch_code(&spec)
                .await
                .map_err(|e| exec_err("switch_code", e)),
            Err(e) => Err(e),
        };
        match back {
            Ok(()) => failed,
            Err(e) => HandlerError {
                error: format!(
                    "{}; switching instance '{}' back to its own code failed too ({}): \
                     its servers link the backup's code until the restore is retried",
                    failed.error, inst.sid, e.error
                ),
                ..failed
            },
        }
    }

    /// `backup_remove`: removes a deleted backup's stored parts.
    pub(super) async fn backup_remove(&self, id: Id, artifact: BackupArtifact) -> JobResult {
        self.exec()
            .remove_backup(&artifact)
            .await
            .map_err(|e| exec_err("remove_backup", e))?;
        info!(backup = %id, host = %artifact.host, dir = %artifact.dir, "backup parts removed");
        Ok(Handled::result(
            json!({ "backup": id.to_string(), "host": artifact.host, "dir": artifact.dir }),
        ))
    }
}

/// The code items `inst` runs (core, profile, its own packages), as the
/// spec resolved them.
fn code_of(inst: &Instance, spec: &InstanceSpec) -> Vec<BackupCode> {
    let item = |c: &crate::executor::CodeSpec| BackupCode {
        id: c.id,
        code_type: c.code_type,
        name: c.name.clone(),
        version: c.version.clone(),
        commit_hash: c.commit_hash.clone(),
    };
    let mut out = vec![item(&spec.core), item(&spec.profile)];
    out.extend(
        spec.packages
            .iter()
            .filter(|p| inst.code.package.contains(&p.id))
            .map(item),
    );
    out
}

/// The fields a taken backup stores: `complete`, when, where and what.
fn complete_patch(artifact: &BackupArtifact, code: &[BackupCode], now: Timestamp) -> Body {
    let mut p = Body::new();
    p.insert("state".into(), json!(BackupState::Complete.as_str()));
    p.insert("finished".into(), json!(now.to_string()));
    p.insert("size".into(), json!(artifact.size()));
    p.insert("host".into(), json!(artifact.host));
    p.insert("dir".into(), json!(artifact.dir));
    p.insert("parts".into(), json!(artifact.parts));
    p.insert("code".into(), json!(code));
    p.insert("error".into(), Value::Null);
    p
}

/// Whether two code selections name the same items (package order aside).
fn same_code(a: &InstanceCode, b: &InstanceCode) -> bool {
    let mut pa = a.package.clone();
    let mut pb = b.package.clone();
    pa.sort();
    pb.sort();
    a.core == b.core && a.profile == b.profile && pa == pb
}
