//! [`RecordingExecutor`]: an [`Executor`] fake for end-to-end worker tests.
//! It records every call as `(operation, subject)` in order, succeeds unless
//! told to fail a given call, and answers `run_command`, `check_hosts` and
//! `check_routes` with configurable outputs. Its `verify_instance` answers
//! the drift it was given per sid, and the operations a heal runs clear
//! the findings they fix (as the real ones converge).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

use crate::drift::{DriftFinding, DriftKind};
use crate::error::ExecError;
use crate::executor::{
    BackupArtifact, BackupPart, BackupPartKind, CodeSpec, CommandOutput, CommandSpec, Executor, HostReport,
    InstanceSpec, RouteMap, RouteMapCheck,
};
use crate::model::Id;

/// One recorded call: the operation (the [`Executor`] method name, e.g.
/// `provision`) and its subject (the instance sid, the code item's name, the
/// command's instance sid or else its name, and `""` for fleet-wide calls).
pub type Call = (String, String);

#[derive(Debug, Default)]
struct Inner {
    calls: Vec<Call>,
    counts: HashMap<String, usize>,
    /// operation → (nth call to fail, and every later one too?)
    failures: HashMap<String, Vec<(usize, bool)>>,
    /// operation → subjects every call on which fails
    subject_failures: HashMap<String, Vec<String>>,
    output: CommandOutput,
    /// The instance specs handed to each operation, in call order.
    specs: Vec<(String, InstanceSpec)>,
    /// The route maps handed to `publish_routes`, in call order.
    maps: Vec<RouteMap>,
    /// What `check_hosts` answers.
    host_reports: Vec<HostReport>,
    /// What `check_routes` answers.
    route_checks: Vec<RouteMapCheck>,
    /// The route maps handed to `check_routes`, in call order.
    checked_maps: Vec<RouteMap>,
    /// sid → what `verify_instance` answers.
    drift: HashMap<String, Vec<DriftFinding>>,
}

/// Records every executor call in order and fails the ones it was told to.
/// Clones share the same record and programming.
///
/// ```
/// # use atlas_core::testing::RecordingExecutor;
/// let exec = RecordingExecutor::new().fail_on("install", 1);
/// assert!(exec.calls().is_empty());
/// ```
#[derive(Debug, Clone, Default)]
pub struct RecordingExecutor {
    inner: Arc<Mutex<Inner>>,
}

impl RecordingExecutor {
    /// A fresh executor that succeeds at everything and answers
    /// `run_command` with exit status 0 and empty output.
    pub fn new() -> Self {
        let exec = Self::default();
        exec.lock().output = CommandOutput {
            exit_status: Some(0),
            ..CommandOutput::default()
        };
        exec
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while recording cannot leave the record inconsistent.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes the `nth` call (1-based) of `operation` fail with
    /// [`ExecError::Failed`] (program = the operation, exit status 1).
    pub fn fail_on(self, operation: &str, nth: usize) -> Self {
        self.lock()
            .failures
            .entry(operation.to_owned())
            .or_default()
            .push((nth, false));
        self
    }

    /// Makes the `nth` call of `operation` and every later one fail.
    pub fn fail_from(self, operation: &str, nth: usize) -> Self {
        self.lock()
            .failures
            .entry(operation.to_owned())
            .or_default()
            .push((nth, true));
        self
    }

    /// Makes every call of `operation` on `subject` (an instance sid, say)
    /// fail, however often it is retried.
    pub fn fail_for(self, operation: &str, subject: &str) -> Self {
        self.lock()
            .subject_failures
            .entry(operation.to_owned())
            .or_default()
            .push(subject.to_owned());
        self
    }

    /// Sets what `run_command` answers.
    pub fn with_command_output(self, output: CommandOutput) -> Self {
        self.lock().output = output;
        self
    }

    /// Sets what `check_hosts` answers (default: no host).
    pub fn with_host_reports(self, reports: Vec<HostReport>) -> Self {
        self.lock().host_reports = reports;
        self
    }

    /// Sets what `check_routes` answers (default: no load balancer).
    pub fn with_route_checks(self, checks: Vec<RouteMapCheck>) -> Self {
        self.lock().route_checks = checks;
        self
    }

    /// Sets what `verify_instance` answers for the instance `sid` (default:
    /// nothing). `deploy_code` clears the checkout findings of its item,
    /// `switch_code` the code link ones of the instance, `write_settings`
    /// the settings ones, `launch` and `take_down` the web link ones;
    /// nothing clears database findings.
    pub fn with_drift(self, sid: &str, findings: Vec<DriftFinding>) -> Self {
        self.set_drift(sid, findings);
        self
    }

    /// [`RecordingExecutor::with_drift`] on a shared executor.
    pub fn set_drift(&self, sid: &str, findings: Vec<DriftFinding>) {
        self.lock().drift.insert(sid.to_owned(), findings);
    }

    /// Removes the drift findings `fixed` selects (after a successful call).
    fn converge(&self, sid: Option<&str>, fixed: impl Fn(&DriftFinding) -> bool) {
        let mut inner = self.lock();
        for (s, findings) in inner.drift.iter_mut() {
            if sid.is_none_or(|want| want == s) {
                findings.retain(|f| !fixed(f));
            }
        }
    }

    /// The route maps handed to `check_routes`, oldest first.
    pub fn checked_route_maps(&self) -> Vec<RouteMap> {
        self.lock().checked_maps.clone()
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// The operations called so far, in order.
    pub fn operations(&self) -> Vec<String> {
        self.lock().calls.iter().map(|(op, _)| op.clone()).collect()
    }

    /// The calls of one operation, as their subjects, in order.
    pub fn subjects_of(&self, operation: &str) -> Vec<String> {
        self.lock()
            .calls
            .iter()
            .filter(|(op, _)| op == operation)
            .map(|(_, s)| s.clone())
            .collect()
    }

    /// Forgets the calls recorded so far (and the per-operation counts).
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.calls.clear();
        inner.counts.clear();
        inner.specs.clear();
        inner.maps.clear();
        inner.checked_maps.clear();
    }

    /// Records a call and decides whether it fails.
    fn keep_spec(&self, operation: &str, spec: &InstanceSpec) {
        self.lock().specs.push((operation.to_owned(), spec.clone()));
    }

    /// The instance specs handed to `operation` (those of `write_settings`,
    /// `launch`, `switch_code`, `backup_instance` and `restore_instance`
    /// are kept), oldest first.
    pub fn specs_of(&self, operation: &str) -> Vec<InstanceSpec> {
        self.lock()
            .specs
            .iter()
            .filter(|(op, _)| op == operation)
            .map(|(_, s)| s.clone())
            .collect()
    }

    /// The route maps handed to `publish_routes`, oldest first.
    pub fn route_maps(&self) -> Vec<RouteMap> {
        self.lock().maps.clone()
    }

    fn record(&self, operation: &str, subject: &str) -> Result<(), ExecError> {
        let mut inner = self.lock();
        inner.calls.push((operation.to_owned(), subject.to_owned()));
        let n = {
            let c = inner.counts.entry(operation.to_owned()).or_insert(0);
            *c += 1;
            *c
        };
        let fails = inner
            .failures
            .get(operation)
            .is_some_and(|fs| fs.iter().any(|&(nth, sticky)| n == nth || (sticky && n > nth)))
            || inner
                .subject_failures
                .get(operation)
                .is_some_and(|subjects| subjects.iter().any(|s| s == subject));
        if fails {
            return Err(ExecError::Failed {
                program: operation.to_owned(),
                status: Some(1),
                stderr: format!("injected failure of {operation} call #{n} ({subject})"),
            });
        }
        Ok(())
    }
}

#[async_trait]
impl Executor for RecordingExecutor {
    async fn deploy_code(&self, spec: &CodeSpec) -> Result<(), ExecError> {
        self.record("deploy_code", &spec.name)?;
        self.converge(None, |f| {
            f.kind == DriftKind::CheckoutHead && f.code == Some(spec.id)
        });
        Ok(())
    }

    async fn update_code(&self, _previous: &CodeSpec, next: &CodeSpec) -> Result<(), ExecError> {
        self.record("update_code", &next.name)
    }

    async fn remove_code(&self, spec: &CodeSpec) -> Result<(), ExecError> {
        self.record("remove_code", &spec.name)
    }

    async fn provision(&self, spec: &InstanceSpec) -> Result<(), ExecError> {
        self.record("provision", spec.sid.as_str())
    }

    async fn install(&self, spec: &InstanceSpec) -> Result<(), ExecError> {
        self.record("install", spec.sid.as_str())
    }

    async fn switch_code(&self, spec: &InstanceSpec) -> Result<(), ExecError> {
        self.keep_spec("switch_code", spec);
        self.record("switch_code", spec.sid.as_str())?;
        self.converge(Some(spec.sid.as_str()), |f| f.kind == DriftKind::CodeLink);
        Ok(())
    }

    async fn rebuild_registry(&self, spec: &InstanceSpec) -> Result<(), ExecError> {
        self.record("rebuild_registry", spec.sid.as_str())
    }

    async fn update_database(&self, spec: &InstanceSpec) -> Result<(), ExecError> {
        self.record("update_database", spec.sid.as_str())
    }

    async fn write_settings(&self, spec: &InstanceSpec) -> Result<(), ExecError> {
        self.keep_spec("write_settings", spec);
        self.record("write_settings", spec.sid.as_str())?;
        self.converge(Some(spec.sid.as_str()), |f| f.kind == DriftKind::Settings);
        Ok(())
    }

    async fn launch(&self, spec: &InstanceSpec) -> Result<(), ExecError> {
        self.keep_spec("launch", spec);
        self.record("launch", spec.sid.as_str())?;
        self.converge(Some(spec.sid.as_str()), |f| f.kind == DriftKind::WebLink);
        Ok(())
    }

    async fn take_down(&self, spec: &InstanceSpec) -> Result<(), ExecError> {
        self.record("take_down", spec.sid.as_str())?;
        self.converge(Some(spec.sid.as_str()), |f| f.kind == DriftKind::WebLink);
        Ok(())
    }

    async fn restore(&self, spec: &InstanceSpec) -> Result<(), ExecError> {
        self.record("restore", spec.sid.as_str())
    }

    async fn remove_instance(&self, spec: &InstanceSpec) -> Result<(), ExecError> {
        self.record("remove_instance", spec.sid.as_str())
    }

    async fn correct_file_permissions(&self, spec: &InstanceSpec) -> Result<(), ExecError> {
        self.record("correct_file_permissions", spec.sid.as_str())
    }

    async fn clear_caches(&self, spec: &InstanceSpec) -> Result<(), ExecError> {
        self.record("clear_caches", spec.sid.as_str())
    }

    async fn drush_cron(&self, spec: &InstanceSpec) -> Result<(), ExecError> {
        self.record("drush_cron", spec.sid.as_str())
    }

    async fn clear_apc(&self) -> Result<(), ExecError> {
        self.record("clear_apc", "")
    }

    async fn update_homepage_extra_files(&self) -> Result<(), ExecError> {
        self.record("update_homepage_extra_files", "")
    }

    async fn run_command(&self, spec: &CommandSpec) -> Result<CommandOutput, ExecError> {
        let subject = spec
            .instance
            .as_ref()
            .map_or(spec.name.as_str(), |i| i.sid.as_str());
        self.record("run_command", subject)?;
        Ok(self.lock().output.clone())
    }

    async fn publish_routes(&self, map: &RouteMap) -> Result<(), ExecError> {
        self.lock().maps.push(map.clone());
        self.record("publish_routes", "")
    }

    /// Answers an artifact at `<sid>/<backup>` on host `recording` with an
    /// empty database dump and files archive (the SHA-256 of no bytes).
    async fn backup_instance(&self, spec: &InstanceSpec, backup: &Id) -> Result<BackupArtifact, ExecError> {
        self.keep_spec("backup_instance", spec);
        self.record("backup_instance", spec.sid.as_str())?;
        const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let part = |kind, file: &str| BackupPart {
            kind,
            file: file.to_owned(),
            size: 0,
            sha256: EMPTY_SHA256.to_owned(),
        };
        Ok(BackupArtifact {
            host: "recording".to_owned(),
            dir: format!("{}/{backup}", spec.sid.as_str()),
            parts: vec![
                part(BackupPartKind::Database, "database.sql.gz"),
                part(BackupPartKind::Files, "files.tar.gz"),
            ],
        })
    }

    async fn restore_instance(
        &self,
        spec: &InstanceSpec,
        _artifact: &BackupArtifact,
    ) -> Result<(), ExecError> {
        self.keep_spec("restore_instance", spec);
        self.record("restore_instance", spec.sid.as_str())
    }

    async fn remove_backup(&self, artifact: &BackupArtifact) -> Result<(), ExecError> {
        self.record("remove_backup", &artifact.dir)
    }

    async fn check_hosts(&self) -> Result<Vec<HostReport>, ExecError> {
        self.record("check_hosts", "")?;
        Ok(self.lock().host_reports.clone())
    }

    async fn check_routes(&self, map: &RouteMap) -> Result<Vec<RouteMapCheck>, ExecError> {
        self.lock().checked_maps.push(map.clone());
        self.record("check_routes", "")?;
        Ok(self.lock().route_checks.clone())
    }

    async fn verify_instance(&self, spec: &InstanceSpec) -> Result<Vec<DriftFinding>, ExecError> {
        self.record("verify_instance", spec.sid.as_str())?;
        Ok(self
            .lock()
            .drift
            .get(spec.sid.as_str())
            .cloned()
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn command(name: &str) -> CommandSpec {
        CommandSpec {
            name: name.into(),
            command: "drush status".into(),
            instance: None,
            single_server: true,
            timeout: Duration::from_secs(5),
        }
    }

    #[tokio::test]
    async fn recording_executor_records_calls_in_order_and_fails_the_programmed_one() {
        let exec = RecordingExecutor::new().fail_on("run_command", 2);
        let handle = exec.clone();
        assert!(exec.clear_apc().await.is_ok());
        assert!(exec.run_command(&command("status")).await.is_ok());
        let err = exec.run_command(&command("again")).await.unwrap_err();
        assert!(matches!(err, ExecError::Failed { ref program, .. } if program == "run_command"));
        assert!(exec.run_command(&command("third")).await.is_ok());
        assert_eq!(
            handle.calls(),
            [
                ("clear_apc".to_owned(), String::new()),
                ("run_command".to_owned(), "status".to_owned()),
                ("run_command".to_owned(), "again".to_owned()),
                ("run_command".to_owned(), "third".to_owned()),
            ]
        );
        assert_eq!(handle.subjects_of("run_command").len(), 3);
    }

    #[tokio::test]
    async fn recording_executor_answers_run_command_with_the_configured_output() {
        let out = CommandOutput {
            exit_status: Some(3),
            stdout: "hello".into(),
            ..CommandOutput::default()
        };
        let exec = RecordingExecutor::new().with_command_output(out.clone());
        assert_eq!(exec.run_command(&command("x")).await.unwrap(), out);
    }

    #[tokio::test]
    async fn recording_executor_fail_from_fails_every_later_call() {
        let exec = RecordingExecutor::new().fail_from("clear_apc", 2);
        assert!(exec.clear_apc().await.is_ok());
        assert!(exec.clear_apc().await.is_err());
        assert!(exec.clear_apc().await.is_err());
        exec.clear();
        assert!(exec.calls().is_empty());
    }
}
