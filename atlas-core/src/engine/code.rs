//! Code jobs: deploy a new item, redeploy a changed one (from the spec it
//! had before the change), remove a deleted one; each notifies its result.

use serde::de::DeserializeOwned;
use serde_json::json;

use super::{exec_err, is_final, notices, payload_id, skipped, store_err, view_err, Engine, JobResult};
use crate::executor::CodeSpec;
use crate::jobs::Job;
use crate::model::{Code, Id, Resource};
use crate::worker::{Handled, HandlerError};

/// `payload[field]` as a `T`.
fn payload_spec<T: DeserializeOwned>(job: &Job, field: &str) -> Result<T, HandlerError> {
    let raw = job.payload.get(field).ok_or_else(|| {
        HandlerError::fatal(format!("job payload has no '{field}' (payload {})", job.payload))
    })?;
    T::deserialize(raw)
        .map_err(|e| HandlerError::fatal(format!("job payload '{field}' is not a code spec: {e}")))
}

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
    pub(super) async fn deploy_code(&self, job: &Job) -> JobResult {
        let id = payload_id(job, "code")?;
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
        self.code_outcome(job, "Deploy", &spec, user, r).await
    }

    /// `code_update`: move the checkout from `payload.previous` to the item
    /// as it is now.
    pub(super) async fn update_code(&self, job: &Job) -> JobResult {
        let id = payload_id(job, "code")?;
        let previous: CodeSpec = payload_spec(job, "previous")?;
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
        self.code_outcome(job, "Update", &next, user, r).await
    }

    /// `code_remove`: remove the deleted item (`payload.code` is its spec).
    pub(super) async fn remove_code(&self, job: &Job) -> JobResult {
        let spec: CodeSpec = payload_spec(job, "code")?;
        let r = self
            .exec()
            .remove_code(&spec)
            .await
            .map_err(|e| exec_err("remove_code", e));
        self.code_outcome(job, "Remove", &spec, None, r).await
    }
}
