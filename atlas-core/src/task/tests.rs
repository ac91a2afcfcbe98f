//! The stored form of every task kind, pinned: these are the kinds and
//! payloads earlier versions wrote, and they must keep decoding (and
//! encode back byte for byte).

use serde_json::{json, Value};

use super::*;
use crate::model::{CodeType, InstanceCode};

const I: &str = "5f0c8a1b2c3d4e5f60718293";
const C: &str = "5f0c8a1b2c3d4e5f60718294";
const R: &str = "5f0c8a1b2c3d4e5f60718295";
const B: &str = "5f0c8a1b2c3d4e5f60718296";

fn id(s: &str) -> Id {
    Id::parse(s).unwrap()
}

fn spec_json() -> Value {
    json!({
        "id": C, "name": "express", "version": "2.2.5", "code_type": "profile",
        "git_url": "https://example.invalid/express.git",
        "commit_hash": "5d9b5e2b7f3c1a0e4d6f8a9b0c1d2e3f4a5b6c7d", "is_current": true
    })
}

fn code_spec() -> CodeSpec {
    CodeSpec {
        id: id(C),
        name: "express".into(),
        version: "2.2.5".into(),
        code_type: CodeType::Profile,
        git_url: "https://example.invalid/express.git".into(),
        commit_hash: "5d9b5e2b7f3c1a0e4d6f8a9b0c1d2e3f4a5b6c7d".into(),
        is_current: true,
    }
}

fn artifact_json() -> Value {
    json!({
        "host": "local", "dir": format!("p1abcdefgh/{B}"),
        "parts": [{"kind": "database", "file": "database.sql.gz", "size": 10, "sha256": "ab"}]
    })
}

fn artifact() -> BackupArtifact {
    BackupArtifact {
        host: "local".into(),
        dir: format!("p1abcdefgh/{B}"),
        parts: vec![crate::executor::BackupPart {
            kind: crate::executor::BackupPartKind::Database,
            file: "database.sql.gz".into(),
            size: 10,
            sha256: "ab".into(),
        }],
    }
}

/// Every kind as stored today, with the task it decodes to.
fn stored() -> Vec<(&'static str, Value, Task)> {
    vec![
        (
            "provision",
            json!({"instance": I}),
            Task::Provision { instance: id(I) },
        ),
        (
            "install_assign",
            json!({"instance": I, "from": "available"}),
            Task::Assign {
                instance: id(I),
                from: Some(Status::Available),
            },
        ),
        (
            "launch",
            json!({"instance": I, "from": "installed"}),
            Task::Launch {
                instance: id(I),
                from: Some(Status::Installed),
            },
        ),
        (
            "take_down",
            json!({"instance": I, "from": "launched"}),
            Task::TakeDown {
                instance: id(I),
                from: Some(Status::Launched),
            },
        ),
        (
            "restore",
            json!({"instance": I, "from": "down"}),
            Task::Restore {
                instance: id(I),
                from: Some(Status::Down),
            },
        ),
        (
            "instance_switch_code",
            json!({"instance": I}),
            Task::SwitchCode {
                instance: id(I),
                backup: None,
            },
        ),
        (
            "instance_switch_code",
            json!({"instance": I, "backup": {"id": B, "previous": {"core": C, "profile": R, "package": [C]}}}),
            Task::SwitchCode {
                instance: id(I),
                backup: Some(PreUpdate {
                    id: id(B),
                    previous: InstanceCode {
                        core: Some(id(C)),
                        profile: Some(id(R)),
                        package: vec![id(C)],
                    },
                }),
            },
        ),
        (
            "instance_write_settings",
            json!({"instance": I}),
            Task::WriteSettings { instance: id(I) },
        ),
        (
            "instance_verify",
            json!({"instance": I}),
            Task::VerifyInstance { instance: id(I) },
        ),
        (
            "instance_heal",
            json!({"instance": I}),
            Task::HealInstance { instance: id(I) },
        ),
        (
            "instance_remove",
            json!({"instance": I}),
            Task::RemoveInstance {
                instance: id(I),
                backup: None,
            },
        ),
        (
            "instance_remove",
            json!({"instance": I, "backup": B}),
            Task::RemoveInstance {
                instance: id(I),
                backup: Some(id(B)),
            },
        ),
        (
            "backup_take",
            json!({"backup": B, "instance": I}),
            Task::BackupTake {
                backup: id(B),
                instance: id(I),
            },
        ),
        (
            "backup_restore",
            json!({"backup": B, "instance": I}),
            Task::BackupRestore {
                backup: id(B),
                instance: id(I),
            },
        ),
        (
            "backup_remove",
            json!({"backup": B, "instance": I, "artifact": artifact_json()}),
            Task::BackupRemove {
                backup: id(B),
                instance: id(I),
                artifact: artifact(),
            },
        ),
        (
            "code_deploy",
            json!({"code": C}),
            Task::DeployCode { code: id(C) },
        ),
        (
            "code_update",
            json!({"code": C, "previous": spec_json()}),
            Task::UpdateCode {
                code: id(C),
                previous: code_spec(),
            },
        ),
        (
            "code_remove",
            json!({"code": spec_json()}),
            Task::RemoveCode { code: code_spec() },
        ),
        ("routes_publish", json!({}), Task::PublishRoutes {}),
        (
            "command_run",
            json!({"command": C, "requested_by": "admin"}),
            Task::RunCommand {
                command: id(C),
                requested_by: Some("admin".into()),
            },
        ),
        (
            "command_instance",
            json!({"command": C, "instance": I, "run": R, "requested_by": "admin"}),
            Task::CommandInstance {
                command: id(C),
                instance: id(I),
                run: JobId(id(R)),
                operation: None,
                requested_by: Some("admin".into()),
            },
        ),
        (
            "command_instance",
            json!({"command": C, "instance": I, "run": R, "operation": "correct_file_permissions", "requested_by": "admin"}),
            Task::CommandInstance {
                command: id(C),
                instance: id(I),
                run: JobId(id(R)),
                operation: Some(CommandOperation::CorrectFilePermissions),
                requested_by: Some("admin".into()),
            },
        ),
        (
            "drush_cron",
            json!({"instance": I}),
            Task::DrushCron { instance: id(I) },
        ),
        (
            "rollout_step",
            json!({"rollout": R}),
            Task::RolloutStep { rollout: id(R) },
        ),
        (
            "rollout_instance",
            json!({"rollout": R, "instance": I, "wave": 3}),
            Task::RolloutInstance {
                rollout: id(R),
                instance: id(I),
                wave: 3,
            },
        ),
        (
            "periodic",
            json!({"task": "pool_top_up"}),
            Task::Periodic {
                task: PeriodicTask::PoolTopUp,
            },
        ),
        (
            "periodic",
            json!({"task": "check_hosts"}),
            Task::Periodic {
                task: PeriodicTask::CheckHosts,
            },
        ),
        (
            "periodic",
            json!({"task": "check_routes"}),
            Task::Periodic {
                task: PeriodicTask::CheckRoutes,
            },
        ),
    ]
}

#[test]
fn every_kind_as_stored_today_decodes() {
    for (kind, payload, task) in stored() {
        assert_eq!(Task::decode(kind, &payload), Ok(task), "{kind} {payload}");
    }
}

#[test]
fn every_task_encodes_to_its_stored_form_byte_for_byte() {
    for (kind, payload, task) in stored() {
        let (k, p) = task.to_parts();
        assert_eq!(k, kind);
        assert_eq!(task.kind(), kind);
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            serde_json::to_string(&payload).unwrap(),
            "{kind}: key order and values as stored"
        );
    }
}

#[test]
fn lifecycle_jobs_written_without_from_still_decode() {
    let t = Task::decode("launch", &json!({"instance": I})).unwrap();
    assert_eq!(
        t,
        Task::Launch {
            instance: id(I),
            from: None
        }
    );
}

#[test]
fn unknown_payload_fields_are_ignored() {
    let t = Task::decode("provision", &json!({"instance": I, "added_later": 1})).unwrap();
    assert_eq!(t, Task::Provision { instance: id(I) });
}

#[test]
fn an_unknown_kind_is_named() {
    let e = Task::decode("reticulate_splines", &json!({})).unwrap_err();
    assert!(matches!(e, TaskError::UnknownKind { .. }));
    assert!(
        e.to_string().contains("unknown job kind 'reticulate_splines'"),
        "{e}"
    );
}

#[test]
fn a_bad_payload_names_the_field() {
    let e = Task::decode("instance_write_settings", &json!({"instance": "nope"})).unwrap_err();
    let TaskError::BadPayload { field, .. } = &e else {
        panic!("{e}")
    };
    assert_eq!(field, "instance");
    assert!(e.to_string().contains("payload 'instance'"), "{e}");
    let e = Task::decode("code_deploy", &json!({})).unwrap_err();
    assert!(e.to_string().contains("missing field `code`"), "{e}");
}

#[test]
fn lifecycle_builds_the_task_of_each_work() {
    for work in Work::ALL {
        let t = Task::lifecycle(work, id(I), Status::Installed);
        assert_eq!(t.instance(), Some(&id(I)));
        assert_eq!(Task::decode(t.kind(), &t.to_parts().1), Ok(t));
    }
    assert_eq!(
        Task::lifecycle(Work::Assign, id(I), Status::Available).kind(),
        "install_assign"
    );
    assert_eq!(
        Task::lifecycle(Work::Restore, id(I), Status::Down).kind(),
        "restore"
    );
}

#[test]
fn specs_carry_each_kinds_key_and_attempts() {
    let now = Timestamp::from_unix(0);
    let inst = Task::Provision { instance: id(I) }.spec(now);
    assert_eq!(inst.kind, "provision");
    assert_eq!(inst.key.as_deref(), Some(format!("instance:{I}").as_str()));
    assert_eq!(inst.max_attempts, crate::jobs::DEFAULT_MAX_ATTEMPTS);

    let cron = Task::DrushCron { instance: id(I) }.spec(now);
    assert_eq!(
        (cron.key.as_deref(), cron.max_attempts),
        (Some(format!("instance:{I}").as_str()), 1)
    );

    let run = Task::RunCommand {
        command: id(C),
        requested_by: None,
    }
    .spec(now);
    assert_eq!((run.key, run.max_attempts), (None, 1));

    let update = Task::UpdateCode {
        code: id(C),
        previous: code_spec(),
    }
    .spec(now);
    assert_eq!(update.key.as_deref(), Some("code:express"));
    let remove = Task::RemoveCode { code: code_spec() }.spec(now);
    assert_eq!(remove.key.as_deref(), Some("code:express"));
    assert_eq!(Task::DeployCode { code: id(C) }.spec(now).key, None);

    for task in [
        Task::BackupTake {
            backup: id(B),
            instance: id(I),
        },
        Task::BackupRestore {
            backup: id(B),
            instance: id(I),
        },
        Task::BackupRemove {
            backup: id(B),
            instance: id(I),
            artifact: artifact(),
        },
    ] {
        let spec = task.spec(now);
        assert_eq!(
            (spec.key.as_deref(), spec.max_attempts),
            (
                Some(format!("instance:{I}").as_str()),
                crate::jobs::DEFAULT_MAX_ATTEMPTS
            ),
            "{task}: never alongside other work on the instance"
        );
    }

    let step = Task::RolloutStep { rollout: id(R) }.spec(now);
    assert_eq!(
        step.key.as_deref(),
        Some(format!("rollout:{R}").as_str()),
        "a rollout's steps never run at once"
    );
    let switch = Task::RolloutInstance {
        rollout: id(R),
        instance: id(I),
        wave: 1,
    }
    .spec(now);
    assert_eq!(
        (switch.key.as_deref(), switch.max_attempts),
        (
            Some(format!("instance:{I}").as_str()),
            crate::jobs::DEFAULT_MAX_ATTEMPTS
        ),
        "a rollout's switch never runs alongside other work on the instance"
    );

    let publish = Task::PublishRoutes {}.spec(now);
    assert_eq!(publish.key.as_deref(), Some(ROUTES_KEY));

    let periodic = Task::Periodic {
        task: PeriodicTask::CronLaunched,
    }
    .spec(now);
    assert_eq!(
        (periodic.key.as_deref(), periodic.max_attempts),
        (Some("periodic:cron_launched"), 2)
    );
    assert_eq!(periodic.payload, json!({"task": "cron_launched"}));
}
