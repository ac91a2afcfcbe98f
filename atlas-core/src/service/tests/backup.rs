//! The `backup` resource: recording a backup queues the job that takes it;
//! Atlas' fields are read-only; the instance never changes; deleting one
//! queues the removal of its parts; restores and instance deletes.

use serde_json::json;

use super::{alice, assert_not_found, conflict, issues_at, Env};
use crate::model::{Resource, Status};
use crate::task::{instance_key, Task};

#[tokio::test]
async fn recording_a_backup_stores_it_pending_with_the_sid_and_queues_the_take_on_the_instance_key() {
    let env = Env::new();
    let inst = env.instance_in(Status::Installed).await;
    let b = env
        .create(Resource::Backup, json!({"instance": inst.id.to_string()}))
        .await;
    let stored = env.stored(Resource::Backup, &b.id).await;
    assert_eq!(stored.str_field("state"), Some("pending"));
    assert_eq!(stored.str_field("kind"), Some("manual"));
    assert_eq!(stored.str_field("sid"), inst.str_field("sid"));
    let jobs = env.jobs_of("backup_take").await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        Task::from_job(&jobs[0]).unwrap(),
        Task::BackupTake {
            backup: b.id,
            instance: inst.id
        }
    );
    assert_eq!(jobs[0].key, Some(instance_key(&inst.id)));
}

#[tokio::test]
async fn clients_cannot_set_the_fields_atlas_sets() {
    let env = Env::new();
    let inst = env.instance_in(Status::Installed).await;
    for field in ["state", "size", "host", "parts", "error"] {
        let mut body = json!({"instance": inst.id.to_string()});
        body[field] = json!("x");
        let e = env.create_err(Resource::Backup, body).await;
        assert_eq!(issues_at(e, field), ["field is read-only"], "{field}");
    }
}

#[tokio::test]
async fn a_backup_of_a_pending_or_missing_instance_is_refused_naming_why() {
    let env = Env::new();
    env.current_code().await;
    let pending = env.instance().await;
    let (field, msg) = conflict(
        env.create_err(Resource::Backup, json!({"instance": pending.id.to_string()}))
            .await,
    );
    assert_eq!(field, "instance");
    assert!(msg.contains("still pending"), "{msg}");
    assert!(env.jobs_of("backup_take").await.is_empty());
}

#[tokio::test]
async fn the_instance_of_a_backup_cannot_change() {
    let env = Env::new();
    let inst = env.instance_in(Status::Installed).await;
    let other = env.instance_in(Status::Installed).await;
    let b = env
        .create(Resource::Backup, json!({"instance": inst.id.to_string()}))
        .await;
    let (field, msg) = conflict(
        env.patch(Resource::Backup, &b, json!({"instance": other.id.to_string()}))
            .await
            .unwrap_err(),
    );
    assert_eq!(field, "instance");
    assert!(msg.contains("cannot change"), "{msg}");
}

#[tokio::test]
async fn deleting_a_backup_with_parts_queues_their_removal_and_one_without_parts_does_not() {
    let env = Env::new();
    let inst = env.instance_in(Status::Installed).await;
    let empty = env
        .create(Resource::Backup, json!({"instance": inst.id.to_string()}))
        .await;
    env.delete(Resource::Backup, &empty).await.unwrap();
    assert!(env.jobs_of("backup_remove").await.is_empty());

    let taken = env
        .create(Resource::Backup, json!({"instance": inst.id.to_string()}))
        .await;
    let taken = env
        .force(
            Resource::Backup,
            &taken.id,
            json!({"state": "complete", "host": "local", "dir": "d/x",
                   "parts": [{"kind": "database", "file": "database.sql.gz", "size": 3, "sha256": "ab"}]}),
        )
        .await;
    env.delete(Resource::Backup, &taken).await.unwrap();
    let removes = env.jobs_of("backup_remove").await;
    assert_eq!(removes.len(), 1);
    let Task::BackupRemove { backup, artifact, .. } = Task::from_job(&removes[0]).unwrap() else {
        panic!("not a backup_remove")
    };
    assert_eq!(backup, taken.id);
    assert_eq!((artifact.host.as_str(), artifact.dir.as_str()), ("local", "d/x"));
}

#[tokio::test]
async fn only_a_complete_backup_is_restored_and_the_restore_is_queued_on_the_instance_key() {
    let env = Env::new();
    let inst = env.instance_in(Status::Launched).await;
    let b = env
        .create(Resource::Backup, json!({"instance": inst.id.to_string()}))
        .await;
    let (field, msg) = conflict(
        env.svc
            .restore_backup(&b.id.to_string(), &alice())
            .await
            .unwrap_err(),
    );
    assert_eq!(field, "state");
    assert!(msg.contains("only a complete backup"), "{msg}");

    env.force(
        Resource::Backup,
        &b.id,
        json!({"state": "complete", "host": "local", "dir": "d/x",
               "parts": [{"kind": "database", "file": "database.sql.gz", "size": 3, "sha256": "ab"}]}),
    )
    .await;
    let job = env.svc.restore_backup(&b.id.to_string(), &alice()).await.unwrap();
    let restores = env.jobs_of("backup_restore").await;
    assert_eq!(restores.len(), 1);
    assert_eq!(restores[0].id, job);
    assert_eq!(restores[0].key, Some(instance_key(&inst.id)));
    assert_not_found(
        env.svc
            .restore_backup("5f0c8a1b2c3d4e5f60718296", &alice())
            .await
            .unwrap_err(),
    );
}

#[tokio::test]
async fn deleting_a_launched_instance_needs_force() {
    let env = Env::new();
    let inst = env.instance_in(Status::Launched).await;
    let (field, msg) = conflict(env.delete(Resource::Instance, &inst).await.unwrap_err());
    assert_eq!(field, "status");
    assert!(msg.contains("?force=true"), "{msg}");
    assert!(!env.stored(Resource::Instance, &inst.id).await.deleted);
    assert!(env.jobs_of("instance_remove").await.is_empty());

    env.delete_forced(Resource::Instance, &inst).await.unwrap();
    assert!(env.stored(Resource::Instance, &inst.id).await.deleted);
    assert_eq!(env.jobs_of("instance_remove").await.len(), 1);
}

#[tokio::test]
async fn an_installed_instance_is_deleted_without_force() {
    let env = Env::new();
    let inst = env.instance_in(Status::Installed).await;
    env.delete(Resource::Instance, &inst).await.unwrap();
    assert!(env.stored(Resource::Instance, &inst.id).await.deleted);
}
