//! Drift jobs: `instance_verify` (compare an instance on its servers with
//! its records, keep the findings as its `drift`, notify the new ones;
//! heal first with `drift_auto_heal`), `instance_heal` (verify, re-apply
//! the desired state for the healable findings, verify again) and the
//! periodic `verify_instances` fan-out. See [`crate::drift`] for the
//! rules. A verification or heal that fails for good records the
//! instance's `last_error`, as other work does.

use serde_json::json;
use tracing::warn;

use super::instance::failed_for_good;
use super::periodic::status_in;
use super::{exec_err, is_final, notices, skipped, Engine, JobResult};
use crate::batch::Batch;
use crate::drift::{heal_plan, Drift, DriftFinding, HealStep, VERIFIED_STATUSES};
use crate::executor::InstanceSpec;
use crate::jobs::Job;
use crate::model::{Body, Id, Instance, Resource};
use crate::task::Task;
use crate::worker::{Handled, HandlerError};

impl Engine {
    /// `instance_verify` (`heal` false) and `instance_heal` (`heal` true).
    pub(super) async fn verify_instance(&self, job: &Job, id: Id, heal: bool) -> JobResult {
        let Some((doc, inst)) = self.live_instance(&id).await? else {
            return Ok(skipped(
                job,
                format!("instance {id} is gone; there is nothing to verify"),
            ));
        };
        if !VERIFIED_STATUSES.contains(&inst.status) {
            return Ok(skipped(
                job,
                format!(
                    "instance '{}' is '{}': only available, installed, launched and down instances are verified",
                    inst.sid, inst.status
                ),
            ));
        }
        let heal = heal || self.config().drift_auto_heal;
        let (findings, healed) = match self.verify_and_heal(&inst, heal).await {
            Ok(done) => done,
            Err(e) if is_final(job, &e) => {
                // Out of attempts: the instance says why, as for other work.
                let record = failed_for_good(job, &id, Body::new(), None, &e.error, self.now());
                return Err(e.with_follow_up(record));
            }
            Err(e) => return Err(e),
        };
        let previous = Drift::of_doc(&doc);
        let drift = Drift {
            checked: self.now(),
            findings,
        };
        for f in &drift.findings {
            warn!(sid = %inst.sid, host = %f.host, kind = %f.kind, detail = %f.detail, "drift");
        }
        let new = drift.new_since(previous.as_ref());
        if !new.is_empty() {
            let n = notices::drift_found(self.config(), &id, &inst.sid, &new);
            self.notify(n).await;
        }
        let result = json!({
            "sid": inst.sid.as_str(),
            "findings": drift.findings,
            "new": new.len(),
            "healed": healed,
        });
        // Only `drift` is written (a merge patch), so a client's change
        // meanwhile is kept; the instance's jobs run one at a time.
        let mut batch = Batch::new(self.now());
        let mut patch = Body::new();
        patch.insert("drift".into(), drift.to_value());
        batch.update(Resource::Instance, id, patch, None);
        Ok(Handled::with_follow_up(result, batch))
    }

    /// The findings (after a heal of the healable ones when `heal`), and
    /// the operations the heal ran.
    async fn verify_and_heal(
        &self,
        inst: &Instance,
        heal: bool,
    ) -> Result<(Vec<DriftFinding>, Vec<&'static str>), HandlerError> {
        let spec = self.spec(inst, inst.status).await?;
        let mut findings = self.find_drift(&spec).await?;
        let mut healed = Vec::new();
        if heal {
            let steps = heal_plan(&findings, inst.status);
            if !steps.is_empty() {
                for step in steps {
                    self.heal_step(&spec, step).await?;
                    healed.push(step.operation());
                }
                findings = self.find_drift(&spec).await?;
            }
        }
        Ok((findings, healed))
    }

    async fn find_drift(&self, spec: &InstanceSpec) -> Result<Vec<DriftFinding>, HandlerError> {
        self.exec()
            .verify_instance(spec)
            .await
            .map_err(|e| exec_err("verify_instance", e))
    }

    /// Runs one heal step with the executor's idempotent operation.
    async fn heal_step(&self, spec: &InstanceSpec, step: HealStep) -> Result<(), HandlerError> {
        let exec = self.exec();
        let what = format!("heal: {}", step.operation());
        let r = match step {
            HealStep::Deploy(code) => {
                let items = [&spec.core, &spec.profile]
                    .into_iter()
                    .chain(spec.packages.iter());
                let Some(item) = items.into_iter().find(|c| c.id == code) else {
                    // A finding about an item the instance no longer runs:
                    // nothing of the desired state to re-apply.
                    return Ok(());
                };
                exec.deploy_code(item).await
            }
            HealStep::Relink => exec.switch_code(spec).await,
            HealStep::WriteSettings => exec.write_settings(spec).await,
            HealStep::Launch => exec.launch(spec).await,
            HealStep::TakeDown => exec.take_down(spec).await,
        };
        r.map_err(|e| exec_err(&what, e))
    }

    /// `verify_instances`: one `instance_verify` job per instance in the
    /// verified statuses (none when `drift_verify` is off).
    pub(super) async fn verify_instances(&self) -> JobResult {
        if !self.config().drift_verify {
            return Ok(Handled::result(json!({
                "skipped": "[service] drift_verify is off: no instance is verified periodically"
            })));
        }
        let now = self.now();
        let mut batch = Batch::new(now);
        let mut sids = Vec::new();
        for (_, inst) in self.instances_where(status_in(VERIFIED_STATUSES)).await? {
            batch.enqueue(Task::VerifyInstance { instance: inst.id }.spec(now));
            sids.push(inst.sid.to_string());
        }
        Ok(Handled::with_follow_up(
            json!({ "instances": sids.len(), "sids": sids }),
            batch,
        ))
    }
}
