//! The drift actions on one instance: [`Service::verify_instance`] (`POST
//! /instance/<id>/verify`) and [`Service::heal_instance`] (`POST
//! /instance/<id>/heal`). Each queues one job, serialised with the
//! instance's other work, and answers its id; the job keeps what it found
//! as the instance's `drift`.

use crate::batch::Batch;
use crate::drift::VERIFIED_STATUSES;
use crate::model::{Instance, JobId, Resource};
use crate::task::Task;

use super::hooks::view_error;
use super::{Actor, Service, ServiceError};

impl Service {
    /// Queues a verification of the instance `id` (an id or a sid).
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] for an unknown instance;
    /// [`ServiceError::Conflict`] when it is not in a verified status
    /// (`available`, `installed`, `launched`, `down`); store failures.
    pub async fn verify_instance(&self, id: &str, actor: &Actor) -> Result<JobId, ServiceError> {
        self.queue_drift_job(id, actor, false).await
    }

    /// Queues a heal of the instance `id` (an id or a sid): verify,
    /// re-apply links, settings and checkouts for the healable findings
    /// (never the database), verify again.
    ///
    /// # Errors
    /// As [`Service::verify_instance`].
    pub async fn heal_instance(&self, id: &str, actor: &Actor) -> Result<JobId, ServiceError> {
        self.queue_drift_job(id, actor, true).await
    }

    async fn queue_drift_job(&self, id: &str, actor: &Actor, heal: bool) -> Result<JobId, ServiceError> {
        let doc = self.get_raw(Resource::Instance, id).await?;
        let inst = Instance::from_doc(&doc).map_err(view_error)?;
        let action = if heal { "healed" } else { "verified" };
        if !VERIFIED_STATUSES.contains(&inst.status) {
            return Err(ServiceError::conflict(
                "status",
                format!(
                    "instance '{}' is '{}' and cannot be {action}: only available, installed, launched \
                     and down instances are; wait until its work finishes",
                    inst.sid, inst.status
                ),
            ));
        }
        let task = if heal {
            Task::HealInstance { instance: inst.id }
        } else {
            Task::VerifyInstance { instance: inst.id }
        };
        let now = self.clock().now();
        let mut batch = Batch::new(now);
        batch.enqueue(task.spec(now));
        let committed = self.store().commit(batch).await?;
        tracing::info!(sid = %inst.sid, user = %actor, action, "drift job queued");
        self.jobs_enqueued().notify_one();
        let job = committed.jobs().next();
        job.ok_or_else(|| ServiceError::BadRequest("the job could not be queued".into()))
    }
}
