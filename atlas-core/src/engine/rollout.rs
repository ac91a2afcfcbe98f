//! Rollout jobs. `rollout_step` moves a rollout on: once every instance
//! job of its current wave has ended it folds their outcomes into the
//! record (`done`, `failed` with the job errors), applies the failure
//! policy (`halted`, with a notification naming the failed sids) and plans
//! the next wave by the wave rule of [`crate::rollout`] — the wave's
//! instance ids into `current` and one `rollout_instance` job per instance,
//! in the same batch as the record update, so a restart can never plan a
//! wave twice — or completes the rollout. A step of a rollout that is not
//! `pending` or `running` does nothing.
//!
//! An in-place rollout (a code PATCH's, [`Rollout::in_place`]) plans one
//! wave of every instance using the item whose job has not succeeded yet.
//!
//! `rollout_instance` switches one instance from the rollout's `from` item
//! to its `to` item (its `pre_update` backup first when the rollout asks
//! for one; then the executor's `switch_code`, which re-links, rebuilds the
//! registry and updates the database, as `instance_switch_code` does) and
//! stores the new `code` with its outcome. An instance no longer on `from`
//! is done without work, so a restarted job never switches twice. Ending
//! for good either way, it queues the next step: the wave's last job to
//! end is what moves the rollout on, no polling.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;
use tracing::info;

use super::instance::{clear_last_error, failed_for_good_into};
use super::{exec_err, is_final, notices, skipped, store_err, view_err, Engine, JobResult};
use crate::batch::Batch;
use crate::jobs::Job;
use crate::lifecycle::PROVISION;
use crate::model::{Body, Doc, Id, Instance, Resource, Rollout, RolloutState};
use crate::query::{Filter, FindQuery};
use crate::rollout::{
    fold_wave, halts, instance_filter, next_wave, remaining_of, still_to_do, succeeded_jobs, wave_jobs,
    wave_queries,
};
use crate::store::StoreExt;
use crate::task::{PreUpdate, Task};
use crate::worker::{Handled, HandlerError};

impl Engine {
    /// The live rollout `id` as a document and view, `None` when it is gone.
    async fn live_rollout(&self, id: &Id) -> Result<Option<(Doc, Rollout)>, HandlerError> {
        match self
            .store()
            .get_live(Resource::Rollout, id)
            .await
            .map_err(store_err)?
        {
            Some(doc) => {
                let r = Rollout::from_doc(&doc).map_err(view_err)?;
                Ok(Some((doc, r)))
            }
            None => Ok(None),
        }
    }

    /// `rollout_step`: fold the finished wave, apply the policy, plan the
    /// next wave or complete.
    pub(super) async fn rollout_step(&self, job: &Job, id: Id) -> JobResult {
        let Some((doc, r)) = self.live_rollout(&id).await? else {
            return Ok(skipped(job, format!("rollout {id} is gone")));
        };
        if !matches!(r.state, RolloutState::Pending | RolloutState::Running) {
            return Ok(skipped(
                job,
                format!("rollout {id} is '{}': no wave starts", r.state),
            ));
        }
        let now = self.now();
        let mut batch = Batch::new(now);
        let mut patch = Body::new();
        let mut view = r.clone();
        let mut folded = json!(null);
        if !r.current.is_empty() {
            let jobs = self
                .store()
                .find_jobs(&wave_jobs(&r.id, r.wave))
                .await
                .map_err(store_err)?
                .items;
            let mut outcome = fold_wave(&r, r.wave, &jobs, &BTreeMap::new());
            if outcome.unfinished > 0 {
                return Ok(skipped(
                    job,
                    format!(
                        "wave {} of rollout {id} has {} instance job(s) still to end",
                        r.wave, outcome.unfinished
                    ),
                ));
            }
            for f in &mut outcome.failed {
                if let Some((_, inst)) = self.live_instance(&f.instance).await? {
                    f.sid = inst.sid.to_string();
                }
            }
            view.done += outcome.done;
            view.failed.extend(outcome.failed.iter().cloned());
            view.current.clear();
            patch.insert("done".into(), json!(view.done));
            patch.insert("failed".into(), json!(view.failed));
            patch.insert("current".into(), json!([]));
            folded = json!({ "wave": r.wave, "done": outcome.done, "failed": outcome.failed.len() });
            if halts(&r, outcome.failed.len()) {
                let ended = outcome.done + u64::try_from(outcome.failed.len()).unwrap_or(u64::MAX);
                patch.insert("remaining".into(), json!(r.remaining.saturating_sub(ended)));
                patch.insert("state".into(), json!(RolloutState::Halted.as_str()));
                batch.update(Resource::Rollout, id, patch, Some(doc.etag.clone()));
                let sids: Vec<&str> = outcome.failed.iter().map(|f| f.sid.as_str()).collect();
                info!(rollout = %id, wave = r.wave, failed = ?sids, "rollout halted");
                self.notify(notices::rollout_halted(self.config(), &id, r.wave, &sids))
                    .await;
                return Ok(Handled::with_follow_up(
                    json!({ "folded": folded, "state": RolloutState::Halted.as_str() }),
                    batch,
                ));
            }
        }
        let filter = instance_filter(&r).map_err(|e| {
            HandlerError::fatal(format!(
                "rollout {id}: its `where` does not parse ({e}): abort it and post a new one"
            ))
        })?;
        let (candidates, remaining) = self.candidates(&view, &filter).await?;
        patch.insert("remaining".into(), json!(remaining));
        let wave = next_wave(&view, candidates);
        if r.started.is_none() {
            patch.insert("started".into(), json!(now.to_string()));
        }
        if wave.is_empty() {
            patch.insert("state".into(), json!(RolloutState::Completed.as_str()));
            patch.insert("finished".into(), json!(now.to_string()));
            batch.update(Resource::Rollout, id, patch, Some(doc.etag.clone()));
            info!(rollout = %id, done = view.done, failed = view.failed.len(), "rollout completed");
            let n = notices::rollout_completed(
                self.config(),
                &id,
                view.done,
                view.failed.len(),
                view.skipped.len(),
            );
            self.notify(n).await;
            return Ok(Handled::with_follow_up(
                json!({ "folded": folded, "state": RolloutState::Completed.as_str() }),
                batch,
            ));
        }
        let number = r.wave + 1;
        let run_at = if number > 1 {
            now.plus(std::time::Duration::from_secs(r.pause_between))
        } else {
            now
        };
        let ids: Vec<String> = wave.iter().map(|i| i.id.to_string()).collect();
        patch.insert("state".into(), json!(RolloutState::Running.as_str()));
        patch.insert("wave".into(), json!(number));
        patch.insert("current".into(), json!(ids));
        batch.update(Resource::Rollout, id, patch, Some(doc.etag.clone()));
        for inst in &wave {
            let task = Task::RolloutInstance {
                rollout: id,
                instance: inst.id,
                wave: number,
            };
            batch.enqueue(task.spec(run_at));
        }
        let sids: Vec<&str> = wave.iter().map(|i| i.sid.as_str()).collect();
        info!(rollout = %id, wave = number, instances = sids.len(), "rollout wave planned");
        Ok(Handled::with_follow_up(
            json!({ "folded": folded, "wave": number, "sids": sids }),
            batch,
        ))
    }

    /// The instances the next wave of `r` is picked from, and how many `r`
    /// still has to switch. An in-place rollout reads every instance using
    /// the item and leaves out those its jobs already did; any other reads
    /// only the first ones in wave order ([`wave_queries`]), so a step's
    /// cost follows the wave size, not the fleet.
    async fn candidates(&self, r: &Rollout, filter: &Filter) -> Result<(Vec<Instance>, u64), HandlerError> {
        let views = |docs: &[Doc]| {
            docs.iter()
                .map(Instance::from_doc)
                .collect::<Result<Vec<_>, _>>()
                .map_err(view_err)
        };
        if !r.in_place() {
            let (mut out, mut total) = (Vec::new(), 0);
            for q in wave_queries(r, filter) {
                let page = self
                    .store()
                    .find(Resource::Instance, &q)
                    .await
                    .map_err(store_err)?;
                total += page.total;
                out.extend(views(&page.items)?);
            }
            return Ok((out, remaining_of(r, total)));
        }
        let found = self
            .store()
            .find(Resource::Instance, &FindQuery::all_matching(filter.clone()))
            .await
            .map_err(store_err)?;
        let mut candidates = views(&found.items)?;
        // Its instances keep using the item: leave out the done ones.
        let done: BTreeSet<Id> = self
            .store()
            .find_jobs(&succeeded_jobs(&r.id))
            .await
            .map_err(store_err)?
            .items
            .iter()
            .filter_map(|j| match Task::from_job(j) {
                Ok(Task::RolloutInstance { instance, .. }) => Some(instance),
                _ => None,
            })
            .collect();
        candidates.retain(|i| !done.contains(&i.id));
        let remaining = still_to_do(r, &candidates);
        Ok((candidates, remaining))
    }

    /// `rollout_instance`: switch one instance of a wave from `from` to
    /// `to`; ending for good either way queues the next step.
    pub(super) async fn rollout_instance(&self, job: &Job, rollout: Id, id: Id, wave: u64) -> JobResult {
        let now = self.now();
        let step = |mut batch: Batch| {
            batch.enqueue(Task::RolloutStep { rollout }.spec(batch.now));
            batch
        };
        let Some((_, r)) = self.live_rollout(&rollout).await? else {
            return Ok(skipped(job, format!("rollout {rollout} is gone")));
        };
        if r.state == RolloutState::Aborted {
            return Ok(skipped(job, format!("rollout {rollout} was aborted")));
        }
        let Some((doc, inst)) = self.live_instance(&id).await? else {
            let result = json!({ "skipped": format!("instance {id} is gone"), "wave": wave });
            return Ok(Handled::with_follow_up(result, step(Batch::new(now))));
        };
        if !r.uses_from(&inst.code) {
            let result = json!({
                "sid": inst.sid.as_str(), "wave": wave,
                "skipped": format!("instance '{}' no longer uses {}", inst.sid, r.from),
            });
            return Ok(Handled::with_follow_up(result, step(Batch::new(now))));
        }
        let mut after = inst.clone();
        after.code = r.switched(&inst.code);
        let provisioned = inst.status != PROVISION.from;
        // The backup's record is kept whatever happens to the switch.
        let mut recorded = None;
        let outcome = async {
            if !provisioned {
                // Its provision uses the record as it is: nothing to switch.
                return Ok(());
            }
            let spec = self.spec(&after, inst.status).await?;
            if r.backup {
                // The job's id names the backup: every attempt writes the same one.
                let b = PreUpdate {
                    id: job.id.0,
                    previous: inst.code.clone(),
                };
                recorded = self.pre_update_backup(&inst, b).await?;
            }
            self.exec()
                .switch_code(&spec)
                .await
                .map_err(|e| exec_err("switch_code", e))
        }
        .await;
        match outcome {
            Ok(()) => {
                let mut batch = recorded.unwrap_or_else(|| Batch::new(now));
                let mut patch = Body::new();
                patch.insert("code".into(), json!(after.code));
                clear_last_error(&doc, &mut patch);
                batch.update(Resource::Instance, id, patch, Some(doc.etag.clone()));
                let result = json!({ "sid": inst.sid.as_str(), "wave": wave, "switched": true });
                Ok(Handled::with_follow_up(result, step(batch)))
            }
            Err(e) if !is_final(job, &e) => Err(match recorded {
                Some(batch) => e.with_follow_up(batch),
                None => e,
            }),
            Err(e) => {
                let mut batch = recorded.unwrap_or_else(|| Batch::new(now));
                failed_for_good_into(&mut batch, job, &id, Body::new(), None, &e.error);
                let n = notices::instance_updated(
                    self.config(),
                    &id,
                    &inst.sid,
                    &format!("rollout {rollout} wave {wave}: code switch failed"),
                    inst.status.as_str(),
                    Some(&e.error),
                );
                self.notify(n).await;
                Err(e.with_follow_up(step(batch)))
            }
        }
    }
}
