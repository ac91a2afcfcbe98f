//! Backup jobs end to end: taking a recorded backup, the `pre_delete`
//! backup of an instance removal, restoring onto the same instance
//! (switching its code back first when it changed), and removing parts.

use serde_json::json;

use super::Harness;
use crate::batch::Batch;
use crate::jobs::JobStatus;
use crate::model::{Backup, BackupKind, BackupState, CodeType, Id, Resource, Status};
use crate::query::{Filter, FindQuery};
use crate::service::{Actor, ServiceError};
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

/// A harness whose code switches take a `pre_update` backup.
fn pre_update(exec: RecordingExecutor) -> Harness {
    let cfg = crate::service::ServiceConfig {
        backup_pre_update: true,
        ..Default::default()
    };
    Harness::build(cfg, exec)
}

/// Moves `id` onto a newer core item; answers it.
async fn switch_core(h: &Harness, id: &Id) -> Id {
    let newer = h
        .post(
            Resource::Code,
            serde_json::Value::Object(fixtures::code().core("drupal", "7.43").build()),
        )
        .await;
    h.drain_all().await;
    h.exec.clear();
    h.patch(
        Resource::Instance,
        id,
        json!({"code": {"core": newer.id.to_string()}}),
    )
    .await;
    h.drain_all().await;
    newer.id
}

#[tokio::test]
async fn a_code_switch_takes_a_pre_update_backup_of_the_code_it_ran_when_configured() {
    let h = pre_update(RecordingExecutor::new());
    let (id, (core, _)) = launched(&h).await;
    let newer = switch_core(&h, &id).await;
    assert_eq!(h.exec.operations(), ["backup_instance", "switch_code"]);
    // The backup was taken of the site as it ran: with the old core.
    assert_eq!(h.exec.specs_of("backup_instance")[0].core.id, core);
    assert_eq!(h.exec.specs_of("switch_code")[0].core.id, newer);
    let backups = backups_of(&h, &id).await;
    assert_eq!(backups.len(), 1);
    assert_eq!(backups[0].kind, BackupKind::PreUpdate);
    assert_eq!(backups[0].state, BackupState::Complete);
    let recorded: Vec<Id> = backups[0].code.iter().map(|c| c.id).collect();
    assert!(
        recorded.contains(&core) && !recorded.contains(&newer),
        "{recorded:?}"
    );
}

#[tokio::test]
async fn without_the_setting_a_code_switch_takes_no_backup() {
    let h = Harness::new();
    let (id, _) = launched(&h).await;
    switch_core(&h, &id).await;
    assert_eq!(h.exec.operations(), ["switch_code"]);
    assert!(backups_of(&h, &id).await.is_empty());
}

#[tokio::test]
async fn a_failing_pre_update_backup_leaves_the_code_unswitched_and_says_why() {
    let h = pre_update(RecordingExecutor::new().fail_from("backup_instance", 1));
    let (id, _) = launched(&h).await;
    switch_core(&h, &id).await;
    assert!(h.exec.subjects_of("switch_code").is_empty());
    let job = &h.jobs_of("instance_switch_code").await[0];
    assert_eq!(job.status, JobStatus::Dead);
    let error = job.last_error.clone().unwrap_or_default();
    assert!(error.contains("pre_update backup"), "{error}");
    assert!(error.contains("its code was not switched"), "{error}");
    let raw = h.raw(Resource::Instance, &id).await;
    assert_eq!(raw.body["last_error"]["kind"], "instance_switch_code");
    assert!(backups_of(&h, &id).await.is_empty());
}

#[tokio::test]
async fn a_code_switch_retried_after_its_backup_reuses_it() {
    let h = pre_update(RecordingExecutor::new().fail_on("switch_code", 1));
    let (id, _) = launched(&h).await;
    switch_core(&h, &id).await;
    assert_eq!(h.exec.subjects_of("backup_instance").len(), 1);
    assert_eq!(h.exec.subjects_of("switch_code").len(), 2);
    assert_eq!(backups_of(&h, &id).await.len(), 1);
}

/// `POST /instance {"restore_from": backup, ...extra}` as alice.
async fn create_from(
    h: &Harness,
    backup: &Id,
    extra: serde_json::Value,
) -> Result<crate::model::Doc, ServiceError> {
    let mut body = json!({ "restore_from": backup.to_string() });
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().cloned().unwrap_or_default());
    let mut docs = h
        .svc
        .create(Resource::Instance, &Actor("alice".into()), body)
        .await?;
    Ok(docs.remove(0))
}

fn conflict_on(e: ServiceError) -> (String, String) {
    match e {
        ServiceError::Conflict { field, message } => (field, message),
        other => panic!("expected a conflict, got {other}"),
    }
}

#[tokio::test]
async fn an_instance_created_from_a_backup_runs_its_code_and_its_provision_loads_it_instead_of_installing() {
    let h = Harness::new();
    let (id, (core, profile)) = launched(&h).await;
    let b = taken(&h, &id).await;
    h.exec.clear();
    let created = create_from(&h, &b, json!({})).await.unwrap();
    h.drain_all().await;
    assert_eq!(
        h.exec.operations(),
        ["provision", "restore_instance", "update_database"]
    );
    let new = h.instance(&created.id).await;
    assert_eq!(new.status, Status::Available);
    assert_eq!(new.restore_from, Some(b));
    assert_eq!((new.code.core, new.code.profile), (Some(core), Some(profile)));
    let spec = &h.exec.specs_of("restore_instance")[0];
    assert_eq!(spec.sid, new.sid);
    assert_ne!(new.sid, h.instance(&id).await.sid);
}

#[tokio::test]
async fn creating_from_a_backup_that_is_not_complete_is_refused() {
    let h = Harness::with_exec(RecordingExecutor::new().fail_from("backup_instance", 1));
    let (id, _) = launched(&h).await;
    let b = taken(&h, &id).await;
    let (field, message) = conflict_on(create_from(&h, &b, json!({})).await.unwrap_err());
    assert_eq!(field, "restore_from");
    assert!(message.contains("'failed'"), "{message}");
}

#[tokio::test]
async fn creating_from_a_backup_with_code_of_its_own_is_refused() {
    let h = Harness::new();
    let (id, (core, _)) = launched(&h).await;
    let b = taken(&h, &id).await;
    let extra = json!({"code": {"core": core.to_string()}});
    let (field, message) = conflict_on(create_from(&h, &b, extra).await.unwrap_err());
    assert_eq!(field, "code");
    assert!(message.contains("leave out 'code'"), "{message}");
}

#[tokio::test]
async fn creating_from_a_backup_whose_code_item_is_gone_is_refused_naming_it() {
    let h = Harness::new();
    let (id, (core, _)) = launched(&h).await;
    let b = taken(&h, &id).await;
    let mut batch = Batch::new(h.now());
    batch.delete(Resource::Code, core, None);
    h.store.commit(batch).await.unwrap();
    let (field, message) = conflict_on(create_from(&h, &b, json!({})).await.unwrap_err());
    assert_eq!(field, "restore_from");
    assert!(
        message.contains("'drupal' 7.42") && message.contains(&core.to_string()),
        "{message}"
    );
}

#[tokio::test]
async fn a_provision_whose_backup_was_deleted_meanwhile_fails_for_good_saying_so() {
    let h = Harness::new();
    let (id, _) = launched(&h).await;
    let b = taken(&h, &id).await;
    let created = create_from(&h, &b, json!({})).await.unwrap();
    h.delete(Resource::Backup, &b).await;
    h.drain_all().await;
    let raw = h.raw(Resource::Instance, &created.id).await;
    assert_eq!(raw.body["status"], "pending");
    let error = raw.body["last_error"]["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(error.contains(&format!("backup {b} is gone")), "{error}");
}

#[tokio::test]
async fn the_backup_an_instance_was_created_from_cannot_change() {
    let h = Harness::new();
    let (id, _) = launched(&h).await;
    let b = taken(&h, &id).await;
    let other = taken(&h, &id).await;
    let created = create_from(&h, &b, json!({})).await.unwrap();
    h.drain_all().await;
    let cur = h
        .svc
        .get(Resource::Instance, &created.id.to_string())
        .await
        .unwrap();
    let e = h
        .svc
        .update(
            Resource::Instance,
            &created.id.to_string(),
            Some(&cur.etag),
            &Actor("alice".into()),
            json!({"restore_from": other.to_string()}),
        )
        .await
        .unwrap_err();
    assert_eq!(conflict_on(e).0, "restore_from");
}

#[tokio::test]
async fn check_backups_reports_overdue_instances_and_notifies_each_once_until_backed_up() {
    use crate::backup_check::BackupCheck;
    use crate::scheduler::PeriodicTask;
    let h = Harness::new();
    let (id, _) = launched(&h).await;
    let sid = h.instance(&id).await.sid;
    // Created at t0: within the grace period, nothing is overdue.
    let job = h.run_periodic(PeriodicTask::CheckBackups).await;
    assert_eq!(job.status, JobStatus::Succeeded);
    assert!(h.notes_titled("Backups Overdue").is_empty());

    h.clock.advance(std::time::Duration::from_secs(37 * 3600));
    h.run_periodic(PeriodicTask::CheckBackups).await;
    let notes = h.notes_titled("Backups Overdue");
    assert_eq!(notes.len(), 1);
    assert_eq!(super::field(&notes[0], "Instances"), Some(sid.as_str()));
    let check = BackupCheck::latest(h.store.as_ref()).await.unwrap().unwrap();
    assert_eq!(check.stale().count(), 1);

    // Still overdue: not notified again.
    h.clock.advance(std::time::Duration::from_secs(3600));
    h.run_periodic(PeriodicTask::CheckBackups).await;
    assert_eq!(h.notes_titled("Backups Overdue").len(), 1);

    let b = taken(&h, &id).await;
    h.clock.advance(std::time::Duration::from_secs(60));
    h.run_periodic(PeriodicTask::CheckBackups).await;
    let check = BackupCheck::latest(h.store.as_ref()).await.unwrap().unwrap();
    assert_eq!(check.stale().count(), 0);
    assert_eq!(check.instances[0].last_success, backup(&h, &b).await.finished);
    assert_eq!(check.states["complete"], 1);
}

#[tokio::test]
async fn a_restore_that_fails_after_switching_code_switches_the_instance_back() {
    let h = Harness::with_exec(RecordingExecutor::new().fail_from("restore_instance", 1));
    let (id, (core, _)) = launched(&h).await;
    let b = taken(&h, &id).await;
    let newer = switch_core(&h, &id).await;
    h.exec.clear();
    h.svc
        .restore_backup(&b.to_string(), &Actor("alice".into()))
        .await
        .unwrap();
    h.drain_all().await;
    let switched: Vec<Id> = h.exec.specs_of("switch_code").iter().map(|s| s.core.id).collect();
    // Every attempt: to the backup's core, then back to the instance's.
    assert!(!switched.is_empty() && switched.len() % 2 == 0, "{switched:?}");
    for pair in switched.chunks(2) {
        assert_eq!(pair, [core, newer]);
    }
    assert_eq!(h.instance(&id).await.code.core, Some(newer));
    let job = &h.jobs_of("backup_restore").await[0];
    assert_eq!(job.status, JobStatus::Dead);
}
