//! Command hooks: the `query` must parse as a `where`; PATCHing a command
//! item runs it (the original's way), as does `execute`.

use crate::batch::Batch;
use crate::jobs::{JobId, JobSpec};
use crate::model::{Body, Id, Resource};
use crate::query::parse_command_query;
use crate::schema::Issues;
use crate::service::hooks::Ctx;
use crate::service::plan::Plan;
use crate::service::{Actor, Service, ServiceError};
use crate::store::StoreExt;
use crate::task::Task;

pub(super) fn check_query(body: &Body, issues: &mut Issues) {
    if let Some(q) = body.get("query").and_then(|v| v.as_str()) {
        if let Err(e) = parse_command_query(q) {
            issues.add("query", format!("not a valid `where` clause: {e}"));
        }
    }
}

fn run_job(command: &Id, actor: &Actor, now: crate::model::Timestamp) -> JobSpec {
    Task::RunCommand {
        command: *command,
        requested_by: Some(actor.name().to_owned()),
    }
    .spec(now)
}

pub(super) fn plan_run(ctx: &Ctx<'_>, command: &Id, plan: &mut Plan) {
    plan.job(run_job(command, ctx.actor, ctx.now));
}

impl Service {
    /// Runs a command item (`POST /commands/<id>/execute`): its `query` is
    /// evaluated when the job runs and fans out one job per matching
    /// instance. Returns the fan-out job, whose children carry each
    /// instance's outcome (`/jobs?where={"payload.run": "<id>"}`).
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] for an unknown command; store failures.
    pub async fn execute_command(&self, id: &str, actor: &Actor) -> Result<JobId, ServiceError> {
        let parsed = Self::parse_id(Resource::Commands, id)?;
        let cmd = self
            .store()
            .get_live(Resource::Commands, &parsed)
            .await?
            .ok_or_else(|| ServiceError::not_found(Resource::Commands, id))?;
        let now = self.clock().now();
        let mut batch = Batch::new(now);
        batch.enqueue(run_job(&cmd.id, actor, now));
        let committed = self.store().commit(batch).await?;
        self.jobs_enqueued().notify_one();
        let job = committed.jobs().next();
        job.ok_or_else(|| ServiceError::BadRequest("the command could not be queued".into()))
    }
}
