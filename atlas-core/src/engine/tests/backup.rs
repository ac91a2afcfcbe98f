//! Backup jobs end to end: taking a recorded backup, the `pre_delete`
//! backup of an instance removal, restoring onto the same instance
//! (switching its code back first when it changed), and removing parts.

use serde_json::json;

use super::Harness;
use crate::batch::Batch;
use crate::jobs::JobStatus;
use crate::model::{Backup, BackupKind, BackupState, CodeType, Id, Resource, Status};
use crate::query::{Filter, FindQuery};
use crate::service::Actor;
use crate::store::Store;
use crate::testing::fixtures;
use crate::testing::RecordingExecutor;

async fn launched(h: &Harness) -> (Id, (Id, Id)) {
    let code = h.seed_code().await;
    let id = h
        .seed_instance(code, fixtures::instance().status(Status::Launched))
        .await;
    (id, code)
}

async fn backup(h: &Harness, id: &Id) -> Backup {
    Backup::from_doc(&h.raw(Resource::Backup, id).await).unwrap()
}

async fn backups_of(h: &Harness, instance: &Id) -> Vec<Backup> {
    let q = FindQuery::all_matching(Filter::eq("instance", instance.to_string()));
    let page = h.store.find(Resource::Backup, &q).await.unwrap();
    page.items.iter().map(|d| Backup::from_doc(d).unwrap()).collect()
}

/// A backup posted and taken.
async fn taken(h: &Harness, instance: &Id) -> Id {
    let b = h
        .post(Resource::Backup, json!({"instance": instance.to_string()}))
        .await;
    h.drain_all().await;
    b.id
}

#[tokio::test]
async fn a_recorded_backup_is_taken_and_stores_its_parts_and_the_code_it_ran() {
    let h = Harness::new();
    let (id, (core, profile)) = launched(&h).await;
    h.exec.clear();
    let b = taken(&h, &id).await;
    let sid = h.instance(&id).await.sid;
    assert_eq!(h.exec.subjects_of("backup_instance"), [sid.as_str()]);
    let stored = backup(&h, &b).await;
    assert_eq!(stored.state, BackupState::Complete);
    assert_eq!(stored.host.as_deref(), Some("recording"));
    assert_eq!(stored.dir, Some(format!("{sid}/{b}")));
    assert_eq!(stored.parts.len(), 2);
    assert_eq!(stored.size, Some(0));
    assert!(stored.finished.is_some());
    let code: Vec<(Id, CodeType)> = stored.code.iter().map(|c| (c.id, c.code_type)).collect();
    assert_eq!(code, [(core, CodeType::Core), (profile, CodeType::Profile)]);
    assert!(stored.code.iter().all(|c| !c.commit_hash.is_empty()));
}

#[tokio::test]
async fn a_backup_that_keeps_failing_ends_failed_with_the_error() {
    let h = Harness::with_exec(RecordingExecutor::new().fail_from("backup_instance", 1));
    let (id, _) = launched(&h).await;
    let b = taken(&h, &id).await;
    let stored = backup(&h, &b).await;
    assert_eq!(stored.state, BackupState::Failed);
    assert!(
        stored
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("backup_instance failed"),
        "{:?}",
        stored.error
    );
    let job = &h.jobs_of("backup_take").await[0];
    assert_eq!(job.status, JobStatus::Dead);
}

#[tokio::test]
async fn restoring_onto_the_same_code_loads_the_parts_then_updates_the_database() {
    let h = Harness::new();
    let (id, _) = launched(&h).await;
    let b = taken(&h, &id).await;
    h.exec.clear();
    h.svc
        .restore_backup(&b.to_string(), &Actor("alice".into()))
        .await
        .unwrap();
    h.drain_all().await;
    assert_eq!(h.exec.operations(), ["restore_instance", "update_database"]);
    assert_eq!(h.status(&id).await, Status::Launched);
    let job = &h.jobs_of("backup_restore").await[0];
    assert_eq!(job.status, JobStatus::Succeeded);
}

#[tokio::test]
async fn restoring_after_a_code_change_switches_the_instance_back_to_the_backups_code_first() {
    let h = Harness::new();
    let (id, (core, _)) = launched(&h).await;
    let b = taken(&h, &id).await;
    let newer = h
        .post(
            Resource::Code,
            serde_json::Value::Object(fixtures::code().core("drupal", "7.43").build()),
        )
        .await;
    h.patch(
        Resource::Instance,
        &id,
        json!({"code": {"core": newer.id.to_string()}}),
    )
    .await;
    h.drain_all().await;
    assert_eq!(h.instance(&id).await.code.core, Some(newer.id));
    h.exec.clear();
    h.svc
        .restore_backup(&b.to_string(), &Actor("alice".into()))
        .await
        .unwrap();
    h.drain_all().await;
    assert_eq!(
        h.exec.operations(),
        ["switch_code", "restore_instance", "update_database"]
    );
    let spec = &h.exec.specs_of("restore_instance")[0];
    assert_eq!(spec.core.id, core);
    assert_eq!(h.instance(&id).await.code.core, Some(core));
}

#[tokio::test]
async fn a_restore_whose_code_item_is_gone_fails_naming_it_and_touches_nothing() {
    let h = Harness::new();
    let (id, (core, _)) = launched(&h).await;
    let b = taken(&h, &id).await;
    let mut batch = Batch::new(h.now());
    batch.delete(Resource::Code, core, None);
    h.store.commit(batch).await.unwrap();
    h.exec.clear();
    h.svc
        .restore_backup(&b.to_string(), &Actor("alice".into()))
        .await
        .unwrap();
    h.drain_all().await;
    let job = &h.jobs_of("backup_restore").await[0];
    assert_eq!(job.status, JobStatus::Dead);
    let error = job.last_error.clone().unwrap_or_default();
    assert!(
        error.contains("'drupal' 7.42") && error.contains(&core.to_string()),
        "{error}"
    );
    assert!(h.exec.operations().is_empty(), "{:?}", h.exec.operations());
}

#[tokio::test]
async fn deleting_an_instance_takes_a_pre_delete_backup_before_removing_it() {
    let h = Harness::new();
    let (id, _) = launched(&h).await;
    let cur = h.svc.get(Resource::Instance, &id.to_string()).await.unwrap();
    h.svc
        .delete_with(
            Resource::Instance,
            &id.to_string(),
            Some(&cur.etag),
            &Actor("alice".into()),
            true,
        )
        .await
        .unwrap();
    h.exec.clear();
    h.drain_all().await;
    let ops = h.exec.operations();
    let backup_at = ops.iter().position(|o| o == "backup_instance").unwrap();
    let remove_at = ops.iter().position(|o| o == "remove_instance").unwrap();
    assert!(backup_at < remove_at, "{ops:?}");
    let backups = backups_of(&h, &id).await;
    assert_eq!(backups.len(), 1);
    assert_eq!(backups[0].kind, BackupKind::PreDelete);
    assert_eq!(backups[0].state, BackupState::Complete);
    assert_eq!(backups[0].parts.len(), 2);
}

#[tokio::test]
async fn a_failing_pre_delete_backup_keeps_the_site_and_fails_the_removal() {
    let h = Harness::with_exec(RecordingExecutor::new().fail_from("backup_instance", 1));
    let code = h.seed_code().await;
    let id = h
        .seed_instance(code, fixtures::instance().status(Status::Installed))
        .await;
    h.delete(Resource::Instance, &id).await;
    h.drain_all().await;
    assert!(h.exec.subjects_of("remove_instance").is_empty());
    let job = &h.jobs_of("instance_remove").await[0];
    assert_eq!(job.status, JobStatus::Dead);
    let error = job.last_error.clone().unwrap_or_default();
    assert!(error.contains("nothing was removed"), "{error}");
    assert!(backups_of(&h, &id).await.is_empty());
}

#[tokio::test]
async fn a_removal_retried_after_the_backup_reuses_it() {
    let h = Harness::with_exec(RecordingExecutor::new().fail_on("remove_instance", 1));
    let code = h.seed_code().await;
    let id = h
        .seed_instance(code, fixtures::instance().status(Status::Installed))
        .await;
    h.delete(Resource::Instance, &id).await;
    h.drain_all().await;
    assert_eq!(h.exec.subjects_of("backup_instance").len(), 1);
    assert_eq!(h.exec.subjects_of("remove_instance").len(), 2);
    assert_eq!(backups_of(&h, &id).await.len(), 1);
}

#[tokio::test]
async fn a_pending_instance_is_removed_without_a_backup() {
    let h = Harness::new();
    let code = h.seed_code().await;
    let id = h
        .seed_instance(code, fixtures::instance().status(Status::Pending))
        .await;
    h.delete(Resource::Instance, &id).await;
    h.drain_all().await;
    assert!(h.exec.subjects_of("backup_instance").is_empty());
    assert_eq!(h.exec.subjects_of("remove_instance").len(), 1);
}

#[tokio::test]
async fn deleting_a_taken_backup_removes_its_parts() {
    let h = Harness::new();
    let (id, _) = launched(&h).await;
    let b = taken(&h, &id).await;
    let dir = backup(&h, &b).await.dir.unwrap();
    h.exec.clear();
    h.delete(Resource::Backup, &b).await;
    h.drain_all().await;
    assert_eq!(h.exec.subjects_of("remove_backup"), [dir]);
    assert!(h.raw(Resource::Backup, &b).await.deleted);
}

#[tokio::test]
async fn the_periodic_backup_backs_up_launched_instances_and_prunes_old_scheduled_backups() {
    let cfg = crate::service::ServiceConfig {
        backup_keep_daily: 2,
        backup_keep_weekly: 0,
        ..Default::default()
    };
    let h = Harness::with_config(cfg);
    let (id, _) = launched(&h).await;
    let core = h.instance(&id).await.code;
    let installed = h
        .seed_instance(
            (core.core.unwrap(), core.profile.unwrap()),
            fixtures::instance().status(Status::Installed),
        )
        .await;
    let old = |day: i64, kind: &str| {
        let finished = crate::model::Timestamp::from_unix(h.now().unix_seconds() - day * 86_400);
        super::obj(json!({
            "instance": id.to_string(), "kind": kind, "state": "complete",
            "finished": finished.to_string(), "host": "recording", "dir": format!("old/{kind}{day}"),
            "parts": [{"kind": "database", "file": "database.sql.gz", "size": 1, "sha256": "ab"}]
        }))
    };
    let mut scheduled = Vec::new();
    for day in [4, 3, 2, 1] {
        scheduled.push(h.insert(Resource::Backup, old(day, "scheduled")).await);
    }
    let manual = h.insert(Resource::Backup, old(9, "manual")).await;
    h.exec.clear();
    let job = h
        .run_periodic(crate::scheduler::PeriodicTask::BackupLaunched)
        .await;
    assert_eq!(job.status, JobStatus::Succeeded);
    let sid = h.instance(&id).await.sid;
    assert_eq!(h.exec.subjects_of("backup_instance"), [sid.as_str()]);
    assert!(
        backups_of(&h, &installed).await.is_empty(),
        "only launched instances"
    );
    // Days 4 and 3 pruned (their parts removed); days 2 and 1 and the
    // manual one kept, plus the new scheduled backup.
    let mut removed = h.exec.subjects_of("remove_backup");
    removed.sort();
    assert_eq!(removed, ["old/scheduled3", "old/scheduled4"]);
    for (i, b) in scheduled.iter().enumerate() {
        assert_eq!(h.raw(Resource::Backup, b).await.deleted, i < 2, "day {}", 4 - i);
    }
    assert!(!h.raw(Resource::Backup, &manual).await.deleted);
    let live = backups_of(&h, &id).await;
    assert_eq!(live.len(), 4);
    assert!(live.iter().any(|b| b.kind == BackupKind::Scheduled
        && b.state == BackupState::Complete
        && b.dir.as_deref().is_some_and(|d| d.starts_with(sid.as_str()))));
}
