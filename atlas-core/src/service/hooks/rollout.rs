//! Rollout hooks: a new rollout names two releases of one code item
//! (`from`, `to`: same name and type, `to` live and different), a valid
//! `where` and a sane wave policy; it starts `pending` and queues its first
//! step. Its items and selection never change afterwards, and only a
//! finished (`completed` or `aborted`) rollout is deleted. Also the
//! operator's actions: [`Service::pause_rollout`],
//! [`Service::resume_rollout`] and [`Service::abort_rollout`].

use serde_json::{json, Value};

use crate::batch::Batch;
use crate::jobs::{JobAction, JobChange};
use crate::model::{Body, Code, Doc, Id, Resource, Rollout, RolloutState};
use crate::query::parse_where;
use crate::rollout::queued_jobs;
use crate::schema::Issues;
use crate::service::hooks::{view_error, Ctx};
use crate::service::plan::Plan;
use crate::service::{Actor, Service, ServiceError};
use crate::store::StoreExt;
use crate::task::Task;

/// Fields fixed once a rollout exists: its items and its selection.
const FIXED: [&str; 4] = ["from", "to", "where", "backup"];

/// What a `resume` of a halted rollout does with its failed instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailedChoice {
    /// They go back into the plan (`{"failed": "retry"}`).
    Retry,
    /// They are recorded in `skipped` and left out (`{"failed": "skip"}`).
    Skip,
}

impl FailedChoice {
    /// Reads the `failed` field of a resume body.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] naming `failed` for another value.
    pub fn parse(s: &str) -> Result<Self, ServiceError> {
        match s {
            "retry" => Ok(FailedChoice::Retry),
            "skip" => Ok(FailedChoice::Skip),
            other => {
                let mut issues = Issues::new();
                issues.add(
                    "failed",
                    format!("unallowed value {other}: use \"retry\" (try the failed instances again) or \"skip\" (leave them out)"),
                );
                Err(ServiceError::Invalid(crate::service::Invalid::single(issues)))
            }
        }
    }
}

/// The wave policy's numbers must be in range, `where` must parse.
fn check_policy(body: &Body, issues: &mut Issues) {
    for (name, min) in [("wave_size", 1), ("max_failures", 0), ("pause_between", 0)] {
        if let Some(n) = body.get(name).and_then(Value::as_i64) {
            if n < min {
                issues.add(name, format!("must be at least {min}, not {n}"));
            }
        }
    }
    if let Some(w) = body.get("where").and_then(Value::as_str) {
        if let Err(e) = parse_where(w) {
            issues.add("where", format!("not a valid `where` clause: {e}"));
        }
    }
}

/// The live code item `field` names, if any (a missing or malformed one
/// is the validator's and the data relation check's to report).
async fn code_item(ctx: &Ctx<'_>, body: &Body, field: &str) -> Result<Option<Code>, ServiceError> {
    let Some(id) = body
        .get(field)
        .and_then(Value::as_str)
        .and_then(|s| Id::parse(s).ok())
    else {
        return Ok(None);
    };
    match ctx.svc.store().get_live(Resource::Code, &id).await? {
        Some(doc) => Ok(Some(Code::from_doc(&doc).map_err(view_error)?)),
        None => Ok(None),
    }
}

pub(super) async fn before_create(
    ctx: &Ctx<'_>,
    id: &Id,
    body: &mut Body,
    issues: &mut Issues,
    plan: &mut Plan,
) -> Result<(), ServiceError> {
    check_policy(body, issues);
    if !issues.is_empty() {
        // Refused with those issues; the items are judged once they are fixed.
        return Ok(());
    }
    let (from, to) = (
        code_item(ctx, body, "from").await?,
        code_item(ctx, body, "to").await?,
    );
    if let (Some(from), Some(to)) = (from, to) {
        if from.id == to.id {
            return Err(ServiceError::conflict(
                "to",
                format!(
                    "'to' is the same code item as 'from' ({}): name the release the instances move to",
                    from.id
                ),
            ));
        }
        if from.meta.name != to.meta.name || from.meta.code_type != to.meta.code_type {
            return Err(ServiceError::conflict(
                "to",
                format!(
                    "'to' ({} '{}' {}) is not a release of the same item as 'from' ({} '{}' {}): \
                     a rollout moves instances between releases of one name and code_type",
                    to.meta.code_type,
                    to.meta.name,
                    to.meta.version,
                    from.meta.code_type,
                    from.meta.name,
                    from.meta.version
                ),
            ));
        }
    }
    body.insert("state".into(), json!(RolloutState::Pending.as_str()));
    body.insert("wave".into(), json!(0));
    body.insert("current".into(), json!([]));
    body.insert("done".into(), json!(0));
    body.insert("failed".into(), json!([]));
    body.insert("skipped".into(), json!([]));
    plan.task(&Task::RolloutStep { rollout: *id }, ctx.now);
    Ok(())
}

pub(super) fn before_update(ctx: &Ctx<'_>, old: &Doc, change: &Body) -> Result<(), ServiceError> {
    let after = ctx.after(old, change);
    for f in FIXED {
        if after.body.get(f) != old.body.get(f) {
            return Err(ServiceError::conflict(
                f,
                format!(
                    "the '{f}' of rollout {} cannot change: abort it and post a new rollout",
                    old.id
                ),
            ));
        }
    }
    let mut issues = Issues::new();
    check_policy(change, &mut issues);
    if !issues.is_empty() {
        return Err(ServiceError::Invalid(crate::service::Invalid::single(issues)));
    }
    Ok(())
}

pub(super) fn before_delete(old: &Doc) -> Result<(), ServiceError> {
    let r = Rollout::from_doc(old).map_err(view_error)?;
    if !r.state.is_final() {
        return Err(ServiceError::conflict(
            "state",
            format!(
                "rollout {} is '{}': abort it (POST /rollout/{}/abort) before deleting it",
                r.id, r.state, r.id
            ),
        ));
    }
    Ok(())
}

impl Service {
    /// The live rollout `id` as stored and as its view.
    async fn live_rollout(&self, id: &str) -> Result<(Doc, Rollout), ServiceError> {
        let parsed = Self::parse_id(Resource::Rollout, id)?;
        let doc = self
            .store()
            .get_live(Resource::Rollout, &parsed)
            .await?
            .ok_or_else(|| ServiceError::not_found(Resource::Rollout, id))?;
        let r = Rollout::from_doc(&doc).map_err(view_error)?;
        Ok((doc, r))
    }

    /// Writes `patch` (and `modified_by`) to the rollout read as `doc`,
    /// with `step` queued in the same batch when asked; returns the record
    /// as it now is.
    async fn write_rollout(
        &self,
        doc: &Doc,
        mut patch: Body,
        actor: &Actor,
        step: bool,
    ) -> Result<Doc, ServiceError> {
        let now = self.clock().now();
        patch.insert("modified_by".into(), json!(actor.name()));
        let mut batch = Batch::new(now);
        batch.update(Resource::Rollout, doc.id, patch, Some(doc.etag.clone()));
        if step {
            batch.enqueue(Task::RolloutStep { rollout: doc.id }.spec(now));
        }
        let committed = self.store().commit(batch).await?;
        if step {
            self.jobs_enqueued().notify_one();
        }
        let written = committed.docs().next().cloned();
        match written {
            Some(d) => Ok(d),
            None => Ok(self.store().require(Resource::Rollout, &doc.id).await?),
        }
    }

    /// Pauses a running rollout (`POST /rollout/<id>/pause`): the current
    /// wave finishes, no new wave starts until it is resumed.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`]; [`ServiceError::Conflict`] naming
    /// `state` unless it is running; store failures.
    pub async fn pause_rollout(&self, id: &str, actor: &Actor) -> Result<Doc, ServiceError> {
        let (doc, r) = self.live_rollout(id).await?;
        if r.state != RolloutState::Running {
            return Err(ServiceError::conflict(
                "state",
                format!(
                    "rollout {} is '{}': only a running rollout can be paused",
                    r.id, r.state
                ),
            ));
        }
        let mut patch = Body::new();
        patch.insert("state".into(), json!(RolloutState::Paused.as_str()));
        tracing::info!(rollout = %r.id, user = %actor, "rollout paused");
        self.write_rollout(&doc, patch, actor, false).await
    }

    /// Resumes a paused or halted rollout (`POST /rollout/<id>/resume`)
    /// and queues its next step. A halted one needs `failed`: `retry`
    /// puts its failed instances back into the plan, `skip` records their
    /// sids in `skipped` and leaves them out.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`]; [`ServiceError::Conflict`] naming
    /// `state` unless it is paused or halted, or naming `failed` for a
    /// halted one without the choice; store failures.
    pub async fn resume_rollout(
        &self,
        id: &str,
        failed: Option<FailedChoice>,
        actor: &Actor,
    ) -> Result<Doc, ServiceError> {
        let (doc, r) = self.live_rollout(id).await?;
        let mut patch = Body::new();
        match r.state {
            RolloutState::Paused => {}
            RolloutState::Halted => match failed {
                None => {
                    return Err(ServiceError::conflict(
                        "failed",
                        format!(
                            "rollout {} halted on failed instances: choose what to do with them, \
                             {{\"failed\": \"retry\"}} (try them again) or {{\"failed\": \"skip\"}} (leave them out)",
                            r.id
                        ),
                    ))
                }
                Some(FailedChoice::Retry) => {
                    patch.insert("failed".into(), json!([]));
                }
                Some(FailedChoice::Skip) => {
                    let mut skipped = r.skipped.clone();
                    for f in &r.failed {
                        if !skipped.contains(&f.sid) {
                            skipped.push(f.sid.clone());
                        }
                    }
                    patch.insert("skipped".into(), json!(skipped));
                }
            },
            other => {
                return Err(ServiceError::conflict(
                    "state",
                    format!("rollout {} is '{other}': only a paused or halted rollout can be resumed", r.id),
                ))
            }
        }
        patch.insert("state".into(), json!(RolloutState::Running.as_str()));
        tracing::info!(rollout = %r.id, user = %actor, "rollout resumed");
        self.write_rollout(&doc, patch, actor, true).await
    }

    /// Aborts a rollout that is not over (`POST /rollout/<id>/abort`): it
    /// is `aborted` for good and the queued instance jobs of its current
    /// wave are cancelled (a running one finishes; instances already
    /// switched stay switched).
    ///
    /// # Errors
    /// [`ServiceError::NotFound`]; [`ServiceError::Conflict`] naming
    /// `state` for a completed or aborted one; store failures.
    pub async fn abort_rollout(&self, id: &str, actor: &Actor) -> Result<Doc, ServiceError> {
        let (doc, r) = self.live_rollout(id).await?;
        if r.state.is_final() {
            return Err(ServiceError::conflict(
                "state",
                format!(
                    "rollout {} is already '{}': there is nothing to abort",
                    r.id, r.state
                ),
            ));
        }
        let now = self.clock().now();
        let mut patch = Body::new();
        patch.insert("state".into(), json!(RolloutState::Aborted.as_str()));
        patch.insert("finished".into(), json!(now.to_string()));
        let written = self.write_rollout(&doc, patch, actor, false).await?;
        // After the record: a job claimed meanwhile finds the rollout
        // aborted and switches nothing.
        let reason = JobAction::Cancel {
            reason: format!("rollout {} aborted by {}", r.id, actor.name()),
        };
        let queued = self.store().find_jobs(&queued_jobs(&r.id)).await?.items;
        let mut cancelled = 0;
        for job in &queued {
            if let JobChange::Applied(_) = self.store().act_on_job(&job.id, &reason, now).await? {
                cancelled += 1;
            }
        }
        tracing::info!(rollout = %r.id, user = %actor, cancelled, "rollout aborted");
        Ok(written)
    }
}
