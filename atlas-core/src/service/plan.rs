//! [`Plan`]: the extra writes and jobs a hook adds around the main write of
//! an operation, and the job kinds and payloads the engine understands.

use serde_json::json;

use crate::jobs::JobSpec;
use crate::model::{Id, Timestamp};
use crate::store::Write;

/// Job kinds planned by the service and run by the engine.
pub mod kinds {
    /// Provision a new instance (`{"instance": id}`).
    pub const PROVISION: &str = crate::lifecycle::PROVISION.job_kind;
    /// Re-link core/profile/packages, rebuild the registry, update the
    /// database (`{"instance": id}`).
    pub const SWITCH_CODE: &str = "instance_switch_code";
    /// Rewrite an instance's settings files (`{"instance": id}`).
    pub const WRITE_SETTINGS: &str = "instance_write_settings";
    /// Remove an instance from the servers and delete its statistics
    /// (`{"instance": id}`).
    pub const REMOVE_INSTANCE: &str = "instance_remove";
    /// Deploy a code item (`{"code": id}`).
    pub const DEPLOY_CODE: &str = "code_deploy";
    /// Redeploy a changed code item (`{"code": id, "previous": CodeSpec}`).
    pub const UPDATE_CODE: &str = "code_update";
    /// Remove a deleted code item (`{"code": CodeSpec}`).
    pub const REMOVE_CODE: &str = "code_remove";
    /// Publish the route map (`{}`).
    pub const PUBLISH_ROUTES: &str = "routes_publish";
    /// Run a command item: evaluate its query and fan out
    /// (`{"command": id, "requested_by": user}`).
    pub const RUN_COMMAND: &str = "command_run";
    /// Run a command item on one instance
    /// (`{"command": id, "instance": id, "run": job id}`, plus
    /// `"operation": "correct_file_permissions" | "write_settings"` for the
    /// hook commands that fan out).
    pub const COMMAND_INSTANCE: &str = "command_instance";
    /// `drush cron` on one instance (`{"instance": id}`).
    pub const DRUSH_CRON: &str = "drush_cron";
}

/// Serialisation key of the route map publisher.
pub const ROUTES_KEY: &str = "routes";

/// Writes a hook adds: `before` the main write (un-currenting the previous
/// current code item must precede the insert), `after` it (records that
/// refer to it, jobs).
#[derive(Debug, Default)]
pub(crate) struct Plan {
    pub(crate) before: Vec<Write>,
    pub(crate) after: Vec<Write>,
    /// Fields the hook established itself (generated values, ids it just
    /// read or inserts in the same batch): the store checks skip them.
    pub(crate) verified: Vec<&'static str>,
}

impl Plan {
    pub(crate) fn job(&mut self, spec: JobSpec) {
        self.after.push(Write::Enqueue(spec));
    }

    pub(crate) fn has_jobs(&self) -> bool {
        self.before
            .iter()
            .chain(&self.after)
            .any(|w| matches!(w, Write::Enqueue(_)))
    }
}

/// A job about one instance, serialised with the instance's other jobs.
pub fn instance_job(kind: &str, instance: &Id, now: Timestamp) -> JobSpec {
    JobSpec::new(kind, json!({ "instance": instance.to_string() }), now).keyed(instance_key(instance))
}

/// Lifecycle work for one instance; `from` is the status the request found
/// it in, restored if the work fails for good.
pub fn lifecycle_job(kind: &str, instance: &Id, from: crate::model::Status, now: Timestamp) -> JobSpec {
    let mut spec = instance_job(kind, instance, now);
    spec.payload["from"] = json!(from.as_str());
    spec
}

/// The serialisation key of an instance's jobs.
pub fn instance_key(instance: &Id) -> String {
    format!("instance:{instance}")
}

/// The serialisation key of a code name's jobs (deploys of one name touch
/// the same `-current` link).
pub fn code_key(name: &str) -> String {
    format!("code:{name}")
}

/// A route map publication.
pub fn publish_routes_job(now: Timestamp) -> JobSpec {
    JobSpec::new(kinds::PUBLISH_ROUTES, json!({}), now).keyed(ROUTES_KEY)
}
