//! Code jobs: deploy a new item, redeploy a changed one (from the spec it
//! had before the change, then an in-place rollout over the instances
//! using it), remove a deleted one; each notifies its result.

use serde_json::json;

use super::{exec_err, is_final, notices, skipped, store_err, view_err, Engine, JobResult};
use crate::batch::Batch;
use crate::code_rules::instances_using;
use crate::executor::CodeSpec;
use crate::jobs::Job;
use crate::model::{Body, Code, CodeType, Id, Resource, RolloutState};
use crate::query::FindQuery;
use crate::scheduler::PeriodicTask;
use crate::task::Task;
use crate::worker::{Handled, HandlerError};

impl Engine {
    /// The live code item `id`; `None` once it was deleted (its removal job
    /// takes over).
    async fn live_code(&self, id: &Id) -> Result<Option<Code>, HandlerError> {
        let doc = self
            .store()
            .get(Resource::Code, id)
            .await
            .map_err(store_err)?
            .ok_or_else(|| HandlerError::fatal(format!("code item {id} does not exist")))?;
        if doc.deleted {
            return Ok(None);
        }
        Code::from_doc(&doc).map(Some).map_err(view_err)
    }

    async fn code_outcome(
        &self,
        job: &Job,
        action: &str,
        spec: &CodeSpec,
        user: Option<&str>,
        result: Result<(), HandlerError>,
    ) -> JobResult {
        match result {
            Ok(()) => {
                self.notify(notices::code_result(self.config(), action, spec, user, None))
                    .await;
                Ok(Handled::result(
                    json!({ "code": spec.id.to_string(), "name": spec.name, "version": spec.version }),
                ))
            }
            Err(e) => {
                if is_final(job, &e) {
                    self.notify(notices::code_result(
                        self.config(),
                        action,
                        spec,
                        user,
                        Some(&e.error),
                    ))
                    .await;
                }
                Err(e)
            }
        }
    }

    /// `code_deploy`: clone, check out, point `-current` when current.
    pub(super) async fn deploy_code(&self, job: &Job, id: Id) -> JobResult {
        let Some(code) = self.live_code(&id).await? else {
            return Ok(skipped(
                job,
                format!("code item {id} was deleted; its removal job handles it"),
            ));
        };
        let spec = CodeSpec::from(&code);
        let r = self
            .exec()
            .deploy_code(&spec)
            .await
            .map_err(|e| exec_err("deploy_code", e));
        let user = code.modified_by.as_deref().or(code.created_by.as_deref());
        let handled = self.code_outcome(job, "Deploy", &spec, user, r).await?;
        Ok(self.top_up_after(&code, handled))
    }

    /// `code_update`: move the checkout from `previous` to the item as it
    /// is now.
    pub(super) async fn update_code(&self, job: &Job, id: Id, previous: CodeSpec) -> JobResult {
        let Some(code) = self.live_code(&id).await? else {
            return Ok(skipped(
                job,
                format!("code item {id} was deleted; its removal job handles it"),
            ));
        };
        let next = CodeSpec::from(&code);
        let r = self
            .exec()
            .update_code(&previous, &next)
            .await
            .map_err(|e| exec_err("update_code", e));
        let user = code.modified_by.as_deref().or(code.created_by.as_deref());
        let handled = self.code_outcome(job, "Update", &next, user, r).await?;
        // Only a new commit (or repository) changes the files the instances run.
        let moved = previous.commit_hash != next.commit_hash || previous.git_url != next.git_url;
        let handled = if moved {
            self.in_place_rollout(&code, user, handled).await?
        } else {
            handled
        };
        Ok(self.top_up_after(&code, handled))
    }

    /// `code_remove`: remove the deleted item (`spec` is what it was).
    pub(super) async fn remove_code(&self, job: &Job, spec: CodeSpec) -> JobResult {
        let r = self
            .exec()
            .remove_code(&spec)
            .await
            .map_err(|e| exec_err("remove_code", e));
        self.code_outcome(job, "Remove", &spec, None, r).await
    }
}

impl Engine {
    /// The checkout of `code` moved under every instance using it: an
    /// in-place rollout ([`Rollout::in_place`], one wave) rebuilds their
    /// registries and updates their databases, one recorded job each, with
    /// the failure policy of any rollout (a failure halts it, naming the
    /// instance; `resume` retries or skips). It is written with the
    /// update's outcome, so it exists only once the checkout moved; no
    /// instance using the item, no rollout.
    async fn in_place_rollout(
        &self,
        code: &Code,
        user: Option<&str>,
        handled: Handled,
    ) -> Result<Handled, HandlerError> {
        let using = self
            .store()
            .find(
                Resource::Instance,
                &FindQuery::count_of(instances_using(&code.id)),
            )
            .await
            .map_err(store_err)?
            .total;
        if using == 0 {
            return Ok(handled);
        }
        let now = self.now();
        let id = Id::generate(now);
        let mut body = Body::new();
        body.insert("from".into(), json!(code.id.to_string()));
        body.insert("to".into(), json!(code.id.to_string()));
        body.insert("state".into(), json!(RolloutState::Pending.as_str()));
        if let Some(user) = user {
            body.insert("created_by".into(), json!(user));
        }
        // The record says what the plan is: one wave of them all.
        body.insert("wave_size".into(), json!(using));
        let mut batch = handled.follow_up.unwrap_or_else(|| Batch::new(now));
        batch.insert(Resource::Rollout, id, body);
        batch.enqueue(Task::RolloutStep { rollout: id }.spec(now));
        let mut result = handled.result;
        if let Some(m) = result.as_object_mut() {
            m.insert("rollout".into(), json!(id.to_string()));
            m.insert("instances".into(), json!(using));
        }
        Ok(Handled::with_follow_up(result, batch))
    }

    /// A current core or profile now on the servers may complete what the
    /// pool needs: top it up at once rather than at the next tick (the task
    /// notes and does nothing while the other half is missing). The top-up
    /// commits with the deploy's outcome, so it never runs before the code
    /// is there. Off with `pool_top_up_on_deploy = false`.
    fn top_up_after(&self, code: &Code, handled: Handled) -> Handled {
        let core_or_profile = matches!(code.meta.code_type, CodeType::Core | CodeType::Profile);
        if !self.config().pool_top_up_on_deploy || !code.meta.is_current || !core_or_profile {
            return handled;
        }
        let now = self.now();
        let mut batch = handled.follow_up.unwrap_or_else(|| Batch::new(now));
        batch.enqueue(
            Task::Periodic {
                task: PeriodicTask::PoolTopUp,
            }
            .spec(now),
        );
        Handled {
            follow_up: Some(batch),
            ..handled
        }
    }
}
