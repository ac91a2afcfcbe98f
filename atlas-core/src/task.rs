//! [`Task`]: the typed job protocol. Every job Atlas enqueues is one
//! variant of [`Task`]; the queue stores it as a `kind` string and a JSON
//! `payload` (serde's adjacently tagged form), and the engine decodes it
//! back with [`Task::from_job`] and dispatches with one exhaustive `match`.
//!
//! # Contracts
//! - The stored form is a compatibility contract: databases written by
//!   earlier versions hold these kinds and payloads, so a variant's kind
//!   and field names never change (the tests pin every one).
//! - [`Task::spec`] decides the serialisation key and attempt budget of
//!   each kind, so every producer of a kind queues it the same way. The one
//!   exception is [`Task::DeployCode`], whose key is the code item's name
//!   (not in the payload): producers add it with [`code_key`].
//! - Payload fields this version does not know are ignored when decoding.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::executor::{BackupArtifact, CodeSpec};
use crate::jobs::{Job, JobSpec};
use crate::lifecycle::Work;
use crate::model::{Id, InstanceCode, JobId, Status, Timestamp};
use crate::scheduler::PeriodicTask;

/// Serialisation key of the route map publisher.
pub const ROUTES_KEY: &str = "routes";

/// A periodic run gets this many attempts; the next tick is the real retry.
const PERIODIC_ATTEMPTS: u32 = 2;

/// One unit of work for the worker, with its typed arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "payload")]
pub enum Task {
    /// Provision a new instance: database, files, code links, settings,
    /// site install. `pending` becomes `available` only when every step
    /// succeeded.
    #[serde(rename = "provision")]
    Provision {
        /// The instance.
        instance: Id,
    },
    /// Lifecycle work of `installing` (from `available`): write settings,
    /// clear caches, settle `installed`.
    #[serde(rename = "install_assign")]
    Assign {
        /// The instance.
        instance: Id,
        /// The status the request found it in, restored when the work
        /// fails for good.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<Status>,
    },
    /// Lifecycle work of `launching`: activate routes, link the web root,
    /// publish routes, settle `launched`.
    #[serde(rename = "launch")]
    Launch {
        /// The instance.
        instance: Id,
        /// The status to restore when the work fails for good.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<Status>,
    },
    /// Lifecycle work of `take_down`: point the site at the down page,
    /// settle `down`.
    #[serde(rename = "take_down")]
    TakeDown {
        /// The instance.
        instance: Id,
        /// The status to restore when the work fails for good.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<Status>,
    },
    /// Lifecycle work of `restore`: point the site back, update the
    /// database, settle `installed`.
    #[serde(rename = "restore")]
    Restore {
        /// The instance.
        instance: Id,
        /// The status to restore when the work fails for good.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<Status>,
    },
    /// Re-link core, profile and packages, rebuild the registry, update the
    /// database; first, when `[service] backup_pre_update` is on, take a
    /// `pre_update` backup of the site as it ran.
    #[serde(rename = "instance_switch_code")]
    SwitchCode {
        /// The instance.
        instance: Id,
        /// The `pre_update` backup to take first (absent: none), its id
        /// chosen when the change was requested so every attempt writes
        /// the same backup.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        backup: Option<PreUpdate>,
    },
    /// Rewrite an instance's settings files.
    #[serde(rename = "instance_write_settings")]
    WriteSettings {
        /// The instance.
        instance: Id,
    },
    /// Compare an instance on its servers with its records and keep the
    /// findings as its `drift` (notifying new ones); with `[service]
    /// drift_auto_heal`, heal what is healable first.
    #[serde(rename = "instance_verify")]
    VerifyInstance {
        /// The instance.
        instance: Id,
    },
    /// Verify an instance, re-apply the desired state for its healable
    /// findings (never the database), verify again and keep the result.
    #[serde(rename = "instance_heal")]
    HealInstance {
        /// The instance.
        instance: Id,
    },
    /// Remove a deleted instance from the servers and delete its
    /// statistics records, after taking its `pre_delete` backup (not for
    /// an instance still `pending`: it has nothing to back up).
    #[serde(rename = "instance_remove")]
    RemoveInstance {
        /// The (deleted) instance.
        instance: Id,
        /// The id the `pre_delete` backup takes, chosen when the delete was
        /// requested so every attempt writes the same backup (absent in
        /// jobs queued before backups existed: one is chosen when it runs).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        backup: Option<Id>,
    },
    /// Take a backup recorded by `POST /backup`: `running`, then
    /// `complete` with its parts, or `failed` with the error.
    #[serde(rename = "backup_take")]
    BackupTake {
        /// The backup record.
        backup: Id,
        /// Its instance (the serialisation key).
        instance: Id,
    },
    /// Restore a complete backup onto an instance: switch its code back to
    /// the backup's items when they differ, load the database and files,
    /// run database updates.
    #[serde(rename = "backup_restore")]
    BackupRestore {
        /// The backup record.
        backup: Id,
        /// The instance restored onto.
        instance: Id,
    },
    /// Remove a deleted backup's stored parts.
    #[serde(rename = "backup_remove")]
    BackupRemove {
        /// The (deleted) backup record.
        backup: Id,
        /// The instance it was of (the serialisation key).
        instance: Id,
        /// Where its parts are (the record may be gone when this runs).
        artifact: BackupArtifact,
    },
    /// Deploy a new code item. Keyed by the item's name ([`code_key`]),
    /// which the producer adds: the payload holds only the id.
    #[serde(rename = "code_deploy")]
    DeployCode {
        /// The code item.
        code: Id,
    },
    /// Redeploy a changed code item, moving from the spec it had before.
    #[serde(rename = "code_update")]
    UpdateCode {
        /// The code item.
        code: Id,
        /// The item as it was before the change.
        previous: CodeSpec,
    },
    /// Remove a deleted code item from the servers.
    #[serde(rename = "code_remove")]
    RemoveCode {
        /// The deleted item as it was.
        code: CodeSpec,
    },
    /// Publish the route map to the load balancer.
    #[serde(rename = "routes_publish")]
    PublishRoutes {},
    /// Run a command item: a hook's operation, or evaluate its query and
    /// fan out one [`Task::CommandInstance`] per matching instance.
    #[serde(rename = "command_run")]
    RunCommand {
        /// The command item.
        command: Id,
        /// The API user who asked for the run.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        requested_by: Option<String>,
    },
    /// Run a command item (or a hook's per-instance operation) on one
    /// instance, keeping the outcome on the job.
    #[serde(rename = "command_instance")]
    CommandInstance {
        /// The command item.
        command: Id,
        /// The instance.
        instance: Id,
        /// The run ([`Task::RunCommand`] job) this is part of.
        run: JobId,
        /// The hook operation to run instead of the command string.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        operation: Option<CommandOperation>,
        /// The API user who asked for the run.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        requested_by: Option<String>,
    },
    /// `drush cron` on one instance.
    #[serde(rename = "drush_cron")]
    DrushCron {
        /// The instance.
        instance: Id,
    },
    /// One step of a rollout: fold the finished wave's outcomes into the
    /// record, apply its failure policy, plan the next wave (its instance
    /// jobs queued with the record update) or complete it. Keyed by the
    /// rollout ([`rollout_key`]): steps of one rollout never run at once.
    #[serde(rename = "rollout_step")]
    RolloutStep {
        /// The rollout record.
        rollout: Id,
    },
    /// Switch one instance of a rollout's wave from the rollout's `from`
    /// item to its `to` item (its `pre_update` backup first when the
    /// rollout asks for one); when it ends, for good either way, queue the
    /// next [`Task::RolloutStep`].
    #[serde(rename = "rollout_instance")]
    RolloutInstance {
        /// The rollout record.
        rollout: Id,
        /// The instance.
        instance: Id,
        /// The wave it belongs to (1-based).
        wave: u64,
    },
    /// A periodic maintenance task, enqueued by the scheduler.
    #[serde(rename = "periodic")]
    Periodic {
        /// Which task.
        task: PeriodicTask,
    },
}

/// The hook operation a [`Task::CommandInstance`] runs on its instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandOperation {
    /// Reset the instance's file permissions.
    CorrectFilePermissions,
    /// Rewrite the instance's settings files.
    WriteSettings,
}

impl CommandOperation {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            CommandOperation::CorrectFilePermissions => "correct_file_permissions",
            CommandOperation::WriteSettings => "write_settings",
        }
    }
}

impl fmt::Display for CommandOperation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a queued job does not decode as a [`Task`]. No retry fixes either.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    /// No variant has this kind (written by a newer version, or by hand).
    #[error("unknown job kind '{kind}': no handler exists for it (payload {payload})")]
    UnknownKind {
        /// The stored kind.
        kind: String,
        /// The stored payload, for the operator.
        payload: String,
    },
    /// The kind is known but its payload lacks a field or holds a bad value.
    #[error("job payload '{field}' of a '{kind}' job is invalid: {reason} (payload {payload})")]
    BadPayload {
        /// The stored kind.
        kind: String,
        /// The payload field at fault (dotted path).
        field: String,
        /// What is wrong with it.
        reason: String,
        /// The stored payload, for the operator.
        payload: String,
    },
}

/// The `pre_update` backup a code switch takes first: its id and the code
/// the instance ran before the change (what the backup records, and what
/// is still linked on the servers when it is taken).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreUpdate {
    /// The backup's id.
    pub id: Id,
    /// The instance's code before the change.
    pub previous: InstanceCode,
}

impl Task {
    /// The lifecycle task that carries out `work` for `instance`, which the
    /// request found in `from`.
    pub fn lifecycle(work: Work, instance: Id, from: Status) -> Task {
        let from = Some(from);
        match work {
            Work::Assign => Task::Assign { instance, from },
            Work::Launch => Task::Launch { instance, from },
            Work::TakeDown => Task::TakeDown { instance, from },
            Work::Restore => Task::Restore { instance, from },
        }
    }

    /// The stored kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Task::Provision { .. } => "provision",
            Task::Assign { .. } => "install_assign",
            Task::Launch { .. } => "launch",
            Task::TakeDown { .. } => "take_down",
            Task::Restore { .. } => "restore",
            Task::SwitchCode { .. } => "instance_switch_code",
            Task::WriteSettings { .. } => "instance_write_settings",
            Task::VerifyInstance { .. } => "instance_verify",
            Task::HealInstance { .. } => "instance_heal",
            Task::RemoveInstance { .. } => "instance_remove",
            Task::BackupTake { .. } => "backup_take",
            Task::BackupRestore { .. } => "backup_restore",
            Task::BackupRemove { .. } => "backup_remove",
            Task::DeployCode { .. } => "code_deploy",
            Task::UpdateCode { .. } => "code_update",
            Task::RemoveCode { .. } => "code_remove",
            Task::PublishRoutes {} => "routes_publish",
            Task::RunCommand { .. } => "command_run",
            Task::CommandInstance { .. } => "command_instance",
            Task::DrushCron { .. } => "drush_cron",
            Task::RolloutStep { .. } => "rollout_step",
            Task::RolloutInstance { .. } => "rollout_instance",
            Task::Periodic { .. } => "periodic",
        }
    }

    /// The instance this task acts on, if it is about one.
    pub fn instance(&self) -> Option<&Id> {
        match self {
            Task::Provision { instance }
            | Task::Assign { instance, .. }
            | Task::Launch { instance, .. }
            | Task::TakeDown { instance, .. }
            | Task::Restore { instance, .. }
            | Task::SwitchCode { instance, .. }
            | Task::WriteSettings { instance }
            | Task::VerifyInstance { instance }
            | Task::HealInstance { instance }
            | Task::RemoveInstance { instance, .. }
            | Task::BackupTake { instance, .. }
            | Task::BackupRestore { instance, .. }
            | Task::BackupRemove { instance, .. }
            | Task::CommandInstance { instance, .. }
            | Task::RolloutInstance { instance, .. }
            | Task::DrushCron { instance } => Some(instance),
            Task::DeployCode { .. }
            | Task::UpdateCode { .. }
            | Task::RemoveCode { .. }
            | Task::PublishRoutes {}
            | Task::RunCommand { .. }
            | Task::RolloutStep { .. }
            | Task::Periodic { .. } => None,
        }
    }

    /// The job that queues this task at `now`: its kind and payload, its
    /// serialisation key (an instance's jobs one at a time, a code name's
    /// deploys in order, one route publisher, one run per periodic task)
    /// one rollout's steps one at a time) and its attempt budget (commands
    /// and cron run once; periodic runs twice, the next tick being the real
    /// retry).
    pub fn spec(&self, now: Timestamp) -> JobSpec {
        let (kind, payload) = self.to_parts();
        let spec = JobSpec::new(kind, payload, now);
        match self {
            Task::CommandInstance { instance, .. } | Task::DrushCron { instance } => {
                spec.keyed(instance_key(instance)).max_attempts(1)
            }
            Task::RunCommand { .. } => spec.max_attempts(1),
            Task::UpdateCode { previous: code, .. } | Task::RemoveCode { code } => {
                spec.keyed(code_key(&code.name))
            }
            Task::DeployCode { .. } => spec,
            Task::PublishRoutes {} => spec.keyed(ROUTES_KEY),
            Task::RolloutStep { rollout } => spec.keyed(rollout_key(rollout)),
            Task::Periodic { task } => spec.keyed(task.job_key()).max_attempts(PERIODIC_ATTEMPTS),
            other => match other.instance() {
                Some(instance) => spec.keyed(instance_key(instance)),
                None => spec,
            },
        }
    }

    /// The stored kind and payload.
    pub fn to_parts(&self) -> (&'static str, Value) {
        let payload = match serde_json::to_value(self) {
            Ok(Value::Object(mut m)) => m.remove("payload").unwrap_or_else(|| json!({})),
            // A derived enum of plain data always serialises to an object.
            _ => json!({}),
        };
        (self.kind(), payload)
    }

    /// Decodes a stored kind and payload.
    ///
    /// # Errors
    /// [`TaskError`] naming the kind, or the payload field, at fault.
    pub fn decode(kind: &str, payload: &Value) -> Result<Task, TaskError> {
        let wire = json!({ "kind": kind, "payload": payload });
        serde_path_to_error::deserialize(&wire).map_err(|e| {
            let field = e.path().to_string();
            let inner = e.into_inner();
            if field == "kind" {
                return TaskError::UnknownKind {
                    kind: kind.to_owned(),
                    payload: payload.to_string(),
                };
            }
            TaskError::BadPayload {
                kind: kind.to_owned(),
                field: field.strip_prefix("payload.").unwrap_or(&field).to_owned(),
                reason: inner.to_string(),
                payload: payload.to_string(),
            }
        })
    }

    /// Decodes a queued job.
    ///
    /// # Errors
    /// As [`Task::decode`].
    pub fn from_job(job: &Job) -> Result<Task, TaskError> {
        Task::decode(&job.kind, &job.payload)
    }
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind())
    }
}

/// The serialisation key of an instance's jobs.
pub fn instance_key(instance: &Id) -> String {
    format!("instance:{instance}")
}

/// The serialisation key of a rollout's steps.
pub fn rollout_key(rollout: &Id) -> String {
    format!("rollout:{rollout}")
}

/// The serialisation key of a code name's jobs (deploys of one name touch
/// the same `-current` link).
pub fn code_key(name: &str) -> String {
    format!("code:{name}")
}

#[cfg(test)]
mod tests;
