//! Code jobs: deploy a new item, redeploy a changed one (from the spec it
//! had before the change), remove a deleted one; each notifies its result.

use serde_json::json;

use super::{exec_err, is_final, notices, skipped, store_err, view_err, Engine, JobResult};
use crate::executor::CodeSpec;
use crate::jobs::Job;
use crate::model::{Code, Id, Resource};
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
        self.code_outcome(job, "Deploy", &spec, user, r).await
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
        self.code_outcome(job, "Update", &next, user, r).await
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
