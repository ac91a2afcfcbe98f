//! Command jobs. `command_run` runs a command item: hook commands do their
//! dedicated operation (`clear_apc`, `update_homepage_extra_files` once;
//! `correct_file_permissions`, `update_settings_file` per matching instance;
//! `import_code` redeploys every code item; `rebalance_update_groups`
//! spreads launched instances over update groups 0–2); any other command
//! evaluates its `query` now and fans out one `command_instance` job per
//! matching instance. `command_instance` runs on one instance and keeps the
//! outcome (exit status, duration, output tails) on its job, readable with
//! `/jobs?where={"payload.run": "<run job id>"}`. Also `drush_cron`.
//!
//! A command item without a `query` (or with a blank one) is refused rather
//! than run on every instance: the original required a query too; `{}`
//! selects every instance explicitly.

use serde_json::{json, Value};
use tracing::info;

use super::{exec_err, is_final, notices, skipped, store_err, view_err, Engine, JobResult};
use crate::batch::Batch;
use crate::executor::{CommandOutput, CommandSpec, InstanceSpec};
use crate::jobs::Job;
use crate::lifecycle;
use crate::model::{Command, Id, Instance, Resource, Status};
use crate::query::{parse_command_query, Filter, FindQuery};
use crate::store::StoreExt;
use crate::task::{code_key, CommandOperation, Task};
use crate::worker::{Handled, HandlerError};

/// Hook: clear the PHP opcode cache on the web servers.
const CLEAR_APC: &str = "clear_apc";
/// Hook: refresh the homepage's extra files.
const UPDATE_HOMEPAGE_EXTRA_FILES: &str = "update_homepage_extra_files";
/// Hook: reset file permissions of each matching instance.
const CORRECT_FILE_PERMISSIONS: &str = "correct_file_permissions";
/// Hook: rewrite the settings files of each matching instance.
const UPDATE_SETTINGS_FILE: &str = "update_settings_file";
/// Hook: redeploy every code item.
const IMPORT_CODE: &str = "import_code";
/// Hook: spread launched instances over the update groups.
const REBALANCE_UPDATE_GROUPS: &str = "rebalance_update_groups";

/// The update groups instances are spread over.
const UPDATE_GROUPS: i64 = 3;

/// Bytes of command output kept on a job.
const OUTPUT_TAIL: usize = 4000;

/// The last `max` bytes of `s` (on a character boundary).
fn tail(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    s[start..].to_owned()
}

fn output_json(spec: &InstanceSpec, out: &CommandOutput) -> Value {
    json!({
        "sid": spec.sid.as_str(),
        "exit_status": out.exit_status,
        "duration_ms": u64::try_from(out.duration.as_millis()).unwrap_or(u64::MAX),
        "stdout": tail(&out.stdout, OUTPUT_TAIL),
        "stderr": tail(&out.stderr, OUTPUT_TAIL),
        "servers": out.servers,
        "hosts": out.hosts.iter().map(|h| json!({
            "host": h.host,
            "exit_status": h.exit_status,
            "duration_ms": u64::try_from(h.duration.as_millis()).unwrap_or(u64::MAX),
            "stdout": tail(&h.stdout, OUTPUT_TAIL),
            "stderr": tail(&h.stderr, OUTPUT_TAIL),
        })).collect::<Vec<_>>(),
    })
}

impl Engine {
    /// The live command item `id` (a run of a deleted command is refused).
    async fn live_command(&self, id: &Id) -> Result<Command, HandlerError> {
        let doc = self
            .store()
            .get_live(Resource::Commands, id)
            .await
            .map_err(store_err)?
            .ok_or_else(|| HandlerError::fatal(format!("command {id} is gone: there is nothing to run")))?;
        Command::from_doc(&doc).map_err(view_err)
    }

    /// `command_run`: a hook's operation, or the fan-out over the instances
    /// the query selects now.
    pub(super) async fn run_command(&self, job: &Job, id: Id, requested_by: Option<String>) -> JobResult {
        let cmd = self.live_command(&id).await?;
        let by = requested_by.as_deref();
        match cmd.command.as_str() {
            CLEAR_APC => {
                let r = self.exec().clear_apc().await.map_err(|e| exec_err(CLEAR_APC, e));
                self.hook_done(job, &cmd, "PHP opcode cache cleared on the web servers", r)
                    .await
            }
            UPDATE_HOMEPAGE_EXTRA_FILES => {
                let r = self
                    .exec()
                    .update_homepage_extra_files()
                    .await
                    .map_err(|e| exec_err(UPDATE_HOMEPAGE_EXTRA_FILES, e));
                self.hook_done(job, &cmd, "homepage extra files refreshed", r)
                    .await
            }
            CORRECT_FILE_PERMISSIONS => {
                self.fan_out(job, &cmd, Some(CommandOperation::CorrectFilePermissions), by)
                    .await
            }
            UPDATE_SETTINGS_FILE => {
                self.fan_out(job, &cmd, Some(CommandOperation::WriteSettings), by)
                    .await
            }
            IMPORT_CODE => self.import_code(job, &cmd).await,
            REBALANCE_UPDATE_GROUPS => self.rebalance_update_groups(job, &cmd).await,
            _ => self.fan_out(job, &cmd, None, by).await,
        }
    }

    async fn hook_done(
        &self,
        job: &Job,
        cmd: &Command,
        detail: &str,
        r: Result<(), HandlerError>,
    ) -> JobResult {
        match r {
            Ok(()) => {
                self.notify(notices::hook_result(
                    self.config(),
                    &cmd.name,
                    &cmd.command,
                    detail,
                    None,
                ))
                .await;
                Ok(Handled::result(json!({ "hook": cmd.command })))
            }
            Err(e) => {
                if is_final(job, &e) {
                    let n = notices::hook_result(
                        self.config(),
                        &cmd.name,
                        &cmd.command,
                        "failed",
                        Some(&e.error),
                    );
                    self.notify(n).await;
                }
                Err(e)
            }
        }
    }

    /// The command's `query` as a filter; absent or blank is refused.
    fn command_filter(cmd: &Command) -> Result<Filter, HandlerError> {
        let q = cmd
            .query
            .as_deref()
            .filter(|q| !q.trim().is_empty())
            .ok_or_else(|| {
                HandlerError::fatal(format!(
                    "command '{}' has no query: set `query` to a `where` selecting the instances to run on \
                 ('{{}}' selects every instance)",
                    cmd.name
                ))
            })?;
        parse_command_query(q)
            .map_err(|e| HandlerError::fatal(format!("command '{}': its query is invalid: {e}", cmd.name)))
    }

    /// One `command_instance` job per instance matching the query.
    async fn fan_out(
        &self,
        job: &Job,
        cmd: &Command,
        op: Option<CommandOperation>,
        requested_by: Option<&str>,
    ) -> JobResult {
        let filter = Self::command_filter(cmd)?;
        let page = self
            .store()
            .find(Resource::Instance, &FindQuery::all_matching(filter))
            .await
            .map_err(store_err)?;
        let now = self.now();
        let mut batch = Batch::new(now);
        let mut sids = Vec::with_capacity(page.items.len());
        for doc in &page.items {
            let inst = Instance::from_doc(doc).map_err(view_err)?;
            let task = Task::CommandInstance {
                command: cmd.id,
                instance: inst.id,
                run: job.id,
                operation: op,
                requested_by: requested_by.map(str::to_owned),
            };
            batch.enqueue(task.spec(now));
            sids.push(inst.sid.to_string());
        }
        info!(command = %cmd.name, instances = sids.len(), "command fanned out");
        Ok(Handled::with_follow_up(
            json!({ "instances": sids.len(), "sids": sids }),
            batch,
        ))
    }

    /// `import_code`: a deploy job for every live code item.
    async fn import_code(&self, _job: &Job, cmd: &Command) -> JobResult {
        let page = self
            .store()
            .find(Resource::Code, &FindQuery::all_matching(Filter::All))
            .await
            .map_err(store_err)?;
        let now = self.now();
        let mut batch = Batch::new(now);
        for doc in &page.items {
            let code = crate::model::Code::from_doc(doc).map_err(view_err)?;
            batch.enqueue(
                Task::DeployCode { code: code.id }
                    .spec(now)
                    .keyed(code_key(&code.meta.name)),
            );
        }
        let n = page.items.len();
        let detail = format!("{n} code item(s) queued for deployment");
        let result = json!({ "hook": cmd.command, "code": n });
        self.hook_planned(cmd, &detail, result, batch).await
    }

    /// A hook that planned its work as `batch`: tells people `detail` and
    /// succeeds with `result`, the batch committing with the outcome.
    async fn hook_planned(&self, cmd: &Command, detail: &str, result: Value, batch: Batch) -> JobResult {
        let n = notices::hook_result(self.config(), &cmd.name, &cmd.command, detail, None);
        self.notify(n).await;
        Ok(Handled::with_follow_up(result, batch))
    }

    /// `rebalance_update_groups`: launched instances (those the query
    /// selects, when it is set) get update groups 0, 1, 2, 0, … in id order.
    async fn rebalance_update_groups(&self, _job: &Job, cmd: &Command) -> JobResult {
        let launched = Filter::eq("status", Status::Launched.as_str());
        let filter = match cmd.query.as_deref().filter(|q| !q.trim().is_empty()) {
            Some(_) => Filter::and(vec![launched, Self::command_filter(cmd)?]),
            None => launched,
        };
        let page = self
            .store()
            .find(Resource::Instance, &FindQuery::all_matching(filter))
            .await
            .map_err(store_err)?;
        let mut batch = Batch::new(self.now());
        let mut changed = 0;
        for (i, doc) in page.items.iter().enumerate() {
            let inst = Instance::from_doc(doc).map_err(view_err)?;
            let group = i64::try_from(i).unwrap_or(0) % UPDATE_GROUPS;
            if inst.update_group != Some(group) {
                let mut patch = crate::model::Body::new();
                patch.insert("update_group".into(), json!(group));
                batch.update(Resource::Instance, doc.id, patch, Some(doc.etag.clone()));
                changed += 1;
            }
        }
        let detail = format!(
            "{} launched instance(s) spread over update groups 0-2 ({changed} changed)",
            page.items.len()
        );
        let result = json!({ "hook": cmd.command, "instances": page.items.len(), "changed": changed });
        self.hook_planned(cmd, &detail, result, batch).await
    }

    /// `command_instance`: the command (or hook operation) on one instance.
    /// A non-zero exit is a failure that keeps the output on the job.
    pub(super) async fn command_instance(
        &self,
        command: Id,
        id: Id,
        op: Option<CommandOperation>,
    ) -> JobResult {
        let cmd = self.live_command(&command).await?;
        let Some((_, inst)) = self.live_instance(&id).await? else {
            return Err(HandlerError::fatal(format!(
                "instance {id} is gone: command '{}' not run on it",
                cmd.name
            )));
        };
        let spec = self.spec(&inst, inst.status).await?;
        if let Some(op) = op {
            let r = match op {
                CommandOperation::CorrectFilePermissions => self.exec().correct_file_permissions(&spec).await,
                CommandOperation::WriteSettings => self.exec().write_settings(&spec).await,
            };
            let result = json!({ "sid": inst.sid.as_str(), "operation": op.as_str() });
            return match r {
                Ok(()) => {
                    let n =
                        notices::command_result(self.config(), &cmd.name, &cmd.command, &spec, None, None);
                    self.notify(n).await;
                    Ok(Handled::result(result))
                }
                Err(e) => {
                    let e = exec_err(op.as_str(), e).with_result(result);
                    let n = notices::command_result(
                        self.config(),
                        &cmd.name,
                        &cmd.command,
                        &spec,
                        None,
                        Some(&e.error),
                    );
                    self.notify(n).await;
                    Err(e)
                }
            };
        }
        let run = CommandSpec {
            name: cmd.name.clone(),
            command: cmd.command.clone(),
            instance: Some(spec.clone()),
            single_server: cmd.single_server,
            timeout: self.config().command_timeout,
        };
        match self.exec().run_command(&run).await {
            Ok(out) => {
                let result = output_json(&spec, &out);
                let n =
                    notices::command_result(self.config(), &cmd.name, &cmd.command, &spec, Some(&out), None);
                self.notify(n).await;
                if out.exit_status == Some(0) {
                    Ok(Handled::result(result))
                } else {
                    let status = out
                        .exit_status
                        .map_or_else(|| "killed by a signal".to_owned(), |s| format!("exit status {s}"));
                    Err(HandlerError::fatal(format!(
                        "command '{}' failed on {}: {status}",
                        cmd.name, inst.sid
                    ))
                    .with_result(result))
                }
            }
            Err(e) => {
                let msg = format!("command '{}' could not run on {}: {e}", cmd.name, inst.sid);
                let n =
                    notices::command_result(self.config(), &cmd.name, &cmd.command, &spec, None, Some(&msg));
                self.notify(n).await;
                Err(HandlerError::fatal(msg)
                    .with_result(json!({ "sid": inst.sid.as_str(), "error": e.to_string() })))
            }
        }
    }

    /// `drush_cron`: Drupal cron on one instance; a failure notifies.
    pub(super) async fn drush_cron(&self, job: &Job, id: Id) -> JobResult {
        let Some((_, inst)) = self.live_instance(&id).await? else {
            return Ok(skipped(job, format!("instance {id} is gone")));
        };
        if !lifecycle::cron_runs(inst.status) {
            return Ok(skipped(
                job,
                format!(
                    "instance '{}' is '{}': cron does not run yet",
                    inst.sid, inst.status
                ),
            ));
        }
        let spec = self.spec(&inst, inst.status).await?;
        match self.exec().drush_cron(&spec).await {
            Ok(()) => Ok(Handled::result(json!({ "sid": inst.sid.as_str() }))),
            Err(e) => {
                let msg = format!("drush cron failed on {}: {e}", inst.sid);
                self.notify(notices::cron_failed(
                    self.config(),
                    &id,
                    &inst.sid,
                    &e.to_string(),
                ))
                .await;
                Err(HandlerError::fatal(msg))
            }
        }
    }
}
