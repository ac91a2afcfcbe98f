//! The periodic backup tasks. `check_backups` (see [`BackupCheck`]) finds
//! the instances whose backups are overdue and notifies the newly overdue.
//! `backup_launched` records a `scheduled` backup of
//! every instance in [`ServiceConfig::backup_statuses`] (each taken by its
//! own `backup_take` job), then prunes each such instance's complete
//! scheduled backups per [`ServiceConfig::backup_retention`]. A backup
//! recorded in this run counts from the next run on; manual and
//! `pre_delete` backups are never pruned. Creations and deletions go
//! through the service like any client's (a deletion queues the removal of
//! the parts).
//!
//! [`ServiceConfig::backup_statuses`]: crate::service::ServiceConfig::backup_statuses
//! [`ServiceConfig::backup_retention`]: crate::service::ServiceConfig::backup_retention

use serde_json::json;

use super::notices;
use super::periodic::{status_in, unless_changed};
use super::{store_err, view_err, Engine, JobResult};
use crate::backup_check::BackupCheck;
use crate::model::{Backup, BackupKind, BackupState, Doc, Id, Instance, Resource, Timestamp};
use crate::query::{Filter, FindQuery};
use crate::service::Actor;
use crate::worker::{Handled, HandlerError};

impl Engine {
    /// `backup_launched`: back up, then prune.
    pub(super) async fn backup_launched(&self) -> JobResult {
        let statuses = self.config().backup_statuses.clone();
        let retention = self.config().backup_retention();
        let mut backed_up = Vec::new();
        let mut pruned = Vec::new();
        for (doc, inst) in self.instances_where(status_in(statuses)).await? {
            let body = json!({ "instance": doc.id.to_string(), "kind": BackupKind::Scheduled.as_str() });
            let r = self.svc().create(Resource::Backup, &Actor::system(), body).await;
            if unless_changed(r, &inst)?.is_some() {
                backed_up.push(inst.sid.to_string());
            }
            let scheduled = self.complete_scheduled_backups(&doc.id).await?;
            let dates: Vec<(Id, Timestamp)> = scheduled.iter().map(|(d, at)| (d.id, *at)).collect();
            for id in retention.to_prune(&dates) {
                let Some((backup, _)) = scheduled.iter().find(|(d, _)| d.id == id) else {
                    continue;
                };
                if self.delete_backup(backup, &inst).await? {
                    pruned.push(id.to_string());
                }
            }
        }
        Ok(Handled::result(
            json!({ "backed_up": backed_up, "pruned": pruned }),
        ))
    }

    /// `check_backups`: every instance in the backed-up statuses against
    /// every live backup record; notifies the instances overdue since the
    /// previous check.
    pub(super) async fn check_backups(&self) -> JobResult {
        let previous = BackupCheck::latest(self.store()).await.map_err(store_err)?;
        let statuses = self.config().backup_statuses.clone();
        let instances: Vec<Instance> = self
            .instances_where(status_in(statuses))
            .await?
            .into_iter()
            .map(|(_, i)| i)
            .collect();
        let page = self
            .store()
            .find(Resource::Backup, &FindQuery::all_matching(Filter::All))
            .await
            .map_err(store_err)?;
        let backups = page
            .items
            .iter()
            .map(Backup::from_doc)
            .collect::<Result<Vec<_>, _>>()
            .map_err(view_err)?;
        let check = BackupCheck::compute(self.now(), self.config().backup_max_age, &instances, &backups);
        let new: Vec<&str> = check
            .newly_stale(previous.as_ref())
            .into_iter()
            .map(|i| i.sid.as_str())
            .collect();
        if !new.is_empty() {
            self.notify(notices::backups_overdue(self.config(), &new)).await;
        }
        Ok(Handled::result(check.job_result()))
    }

    /// The live, complete `scheduled` backups of `instance`, with when each
    /// finished (its record's creation when unset).
    async fn complete_scheduled_backups(&self, instance: &Id) -> Result<Vec<(Doc, Timestamp)>, HandlerError> {
        let filter = Filter::and(vec![
            Filter::eq("instance", instance.to_string()),
            Filter::eq("kind", BackupKind::Scheduled.as_str()),
            Filter::eq("state", BackupState::Complete.as_str()),
        ]);
        let page = self
            .store()
            .find(Resource::Backup, &FindQuery::all_matching(filter))
            .await
            .map_err(store_err)?;
        page.items
            .into_iter()
            .map(|d| {
                let b = Backup::from_doc(&d).map_err(view_err)?;
                let at = b.finished.unwrap_or(d.created);
                Ok((d, at))
            })
            .collect()
    }

    /// Deletes a pruned backup through the service; `false` when it
    /// changed or went away meanwhile (the next run looks again).
    async fn delete_backup(&self, doc: &Doc, inst: &Instance) -> Result<bool, HandlerError> {
        let r = self
            .svc()
            .delete(
                Resource::Backup,
                &doc.id.to_string(),
                Some(&doc.etag),
                &Actor::system(),
            )
            .await;
        Ok(unless_changed(r, inst)?.is_some())
    }
}
