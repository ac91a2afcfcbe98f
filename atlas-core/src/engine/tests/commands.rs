//! Command items: the fan-out with per-instance outcomes readable from the
//! jobs, and every hook command.

use serde_json::json;

use super::*;
use crate::executor::CommandOutput;
use crate::notify::Level;

async fn command(h: &Harness, name: &str, cmd: &str, query: Option<&str>) -> Id {
    let mut body = json!({ "name": name, "command": cmd });
    if let Some(q) = query {
        body["query"] = json!(q);
    }
    h.post(Resource::Commands, body).await.id
}

/// Runs the command through the service's `execute`, then every job.
async fn execute(h: &Harness, id: &Id) -> Job {
    let run = h
        .svc
        .execute_command(&id.to_string(), &Actor("alice".into()))
        .await
        .unwrap();
    h.drain_all().await;
    h.job(&run).await
}

/// The fan-out children of run job `run`, read back as a client would.
async fn children(h: &Harness, run: &Job) -> Vec<Job> {
    let filter = crate::query::parse_where(&format!(r#"{{"payload.run": "{}"}}"#, run.id)).unwrap();
    h.svc
        .find_jobs(&FindQuery::all_matching(filter))
        .await
        .unwrap()
        .items
}

async fn launched_fleet(h: &Harness) -> (Vec<String>, String) {
    let code = h.seed_code().await;
    let mut launched = Vec::new();
    for _ in 0..2 {
        let id = h
            .seed_instance(code, fixtures::instance().status(Status::Launched))
            .await;
        launched.push(h.instance(&id).await.sid.to_string());
    }
    launched.sort();
    let installed = h
        .seed_instance(code, fixtures::instance().status(Status::Installed))
        .await;
    (launched, h.instance(&installed).await.sid.to_string())
}

#[tokio::test]
async fn each_instance_result_keeps_one_outcome_per_host() {
    let host = |name: &str, status: i32, stdout: &str| crate::executor::HostOutput {
        host: name.into(),
        exit_status: Some(status),
        stdout: stdout.into(),
        stderr: String::new(),
        duration: Duration::from_millis(20),
    };
    let out = CommandOutput {
        exit_status: Some(2),
        stdout: "web2 says no".into(),
        servers: vec!["web1".into(), "web2".into()],
        hosts: vec![host("web1", 0, "ok"), host("web2", 2, "web2 says no")],
        ..CommandOutput::default()
    };
    let h = Harness::with_exec(RecordingExecutor::new().with_command_output(out));
    launched_fleet(&h).await;
    let id = command(&h, "Status", "drush status", Some(r#"{"status": "launched"}"#)).await;
    let run = execute(&h, &id).await;
    for kid in children(&h, &run).await {
        let r = kid.result.as_ref().unwrap();
        assert_eq!(r["servers"], json!(["web1", "web2"]));
        assert_eq!(
            r["hosts"],
            json!([
                {"host": "web1", "exit_status": 0, "duration_ms": 20, "stdout": "ok", "stderr": ""},
                {"host": "web2", "exit_status": 2, "duration_ms": 20, "stdout": "web2 says no", "stderr": ""}
            ])
        );
    }
}

#[tokio::test]
async fn command_fans_out_to_the_instances_its_query_selects_with_outcomes_readable_from_the_jobs() {
    let out = CommandOutput {
        exit_status: Some(0),
        stdout: "Drupal bootstrap: Successful".into(),
        duration: Duration::from_millis(1500),
        ..CommandOutput::default()
    };
    let h = Harness::with_exec(RecordingExecutor::new().with_command_output(out));
    let (launched, _) = launched_fleet(&h).await;
    let id = command(
        &h,
        "Drush status",
        "drush status",
        Some(r#"{"status": "launched"}"#),
    )
    .await;

    let run = execute(&h, &id).await;

    assert_eq!(run.status, JobStatus::Succeeded);
    assert_eq!(run.result.as_ref().unwrap()["instances"], json!(2));
    let kids = children(&h, &run).await;
    let mut sids: Vec<String> = kids
        .iter()
        .map(|j| j.result.as_ref().unwrap()["sid"].as_str().unwrap().to_owned())
        .collect();
    sids.sort();
    assert_eq!(sids, launched);
    for kid in &kids {
        assert_eq!(kid.status, JobStatus::Succeeded);
        let r = kid.result.as_ref().unwrap();
        assert_eq!(r["exit_status"], json!(0));
        assert_eq!(r["duration_ms"], json!(1500));
        assert_eq!(r["stdout"], json!("Drupal bootstrap: Successful"));
        assert_eq!(
            kid.key.as_deref(),
            Some(format!("instance:{}", kid.payload["instance"].as_str().unwrap()).as_str())
        );
    }
    let mut ran = h.exec.subjects_of("run_command");
    ran.sort();
    assert_eq!(ran, launched);
    let notes = h.notes_titled("Command - Success");
    assert_eq!(notes.len(), 2);
    assert_eq!(notes[0].text, "drush status");
}

#[tokio::test]
async fn a_non_zero_exit_fails_that_instance_keeping_its_output_and_notifies_an_error() {
    let out = CommandOutput {
        exit_status: Some(3),
        stderr: "module not found".into(),
        ..CommandOutput::default()
    };
    let h = Harness::with_exec(RecordingExecutor::new().with_command_output(out));
    launched_fleet(&h).await;
    let id = command(
        &h,
        "Enable module",
        "drush en nope -y",
        Some(r#"{"status": "launched"}"#),
    )
    .await;

    let run = execute(&h, &id).await;

    let kids = children(&h, &run).await;
    assert_eq!(kids.len(), 2);
    for kid in &kids {
        assert_eq!(
            (kid.status, kid.attempts),
            (JobStatus::Dead, 1),
            "a failed command is not re-run"
        );
        assert!(kid.last_error.as_deref().unwrap().contains("exit status 3"));
        let r = kid.result.as_ref().unwrap();
        assert_eq!(r["exit_status"], json!(3));
        assert_eq!(r["stderr"], json!("module not found"));
    }
    let errors = h.notes_titled("Command - Error");
    assert_eq!(errors.len(), 2);
    assert_eq!(errors[0].level, Level::Error);
    assert_eq!(field(&errors[0], "Exit status"), Some("3"));
}

#[tokio::test]
async fn the_query_is_evaluated_when_the_command_runs() {
    let h = Harness::new();
    let (launched, installed) = launched_fleet(&h).await;
    let id = command(
        &h,
        "Cache clear",
        "drush cc all",
        Some(r#"{"status": "launched"}"#),
    )
    .await;
    let run_id = h
        .svc
        .execute_command(&id.to_string(), &Actor("alice".into()))
        .await
        .unwrap();
    // An instance launched after the request but before the run is included.
    let q = FindQuery::all_matching(Filter::eq("sid", installed.as_str()));
    let doc = h
        .store
        .find(Resource::Instance, &q)
        .await
        .unwrap()
        .items
        .remove(0);
    let mut b = Batch::new(h.now());
    b.update(
        Resource::Instance,
        doc.id,
        obj(json!({"status": "launched"})),
        None,
    );
    h.store.commit(b).await.unwrap();
    h.drain_all().await;
    assert_eq!(
        h.job(&run_id).await.result.unwrap()["instances"],
        json!(launched.len() + 1)
    );
}

#[tokio::test]
async fn a_command_without_a_query_is_refused_rather_than_run_everywhere() {
    let h = Harness::new();
    launched_fleet(&h).await;
    let id = command(&h, "Dangerous", "drush sql-drop -y", None).await;
    let run = execute(&h, &id).await;
    assert_eq!(run.status, JobStatus::Dead);
    assert!(run.last_error.unwrap().contains("has no query"));
    assert!(h.exec.subjects_of("run_command").is_empty());
}

#[tokio::test]
async fn clear_apc_and_homepage_files_hooks_run_once_without_a_fan_out() {
    let h = Harness::new();
    launched_fleet(&h).await;
    h.exec.clear();
    let apc = command(&h, "Clear APC", "clear_apc", None).await;
    let files = command(&h, "Homepage files", "update_homepage_extra_files", None).await;
    let run = execute(&h, &apc).await;
    assert_eq!(run.status, JobStatus::Succeeded);
    execute(&h, &files).await;
    assert_eq!(h.exec.operations(), ["clear_apc", "update_homepage_extra_files"]);
    assert!(h.jobs_of("command_instance").await.is_empty());
    assert_eq!(h.notes_titled("Command - Success").len(), 2);
}

#[tokio::test]
async fn file_permission_and_settings_hooks_run_their_operation_on_each_matching_instance() {
    let h = Harness::new();
    let (launched, _) = launched_fleet(&h).await;
    let perms = command(
        &h,
        "Fix perms",
        "correct_file_permissions",
        Some(r#"{"status": "launched"}"#),
    )
    .await;
    let settings = command(
        &h,
        "Settings",
        "update_settings_file",
        Some(r#"{"status": "launched"}"#),
    )
    .await;

    let run = execute(&h, &perms).await;
    let mut ran = h.exec.subjects_of("correct_file_permissions");
    ran.sort();
    assert_eq!(ran, launched);
    assert!(children(&h, &run)
        .await
        .iter()
        .all(|j| j.payload["operation"] == json!("correct_file_permissions")));

    execute(&h, &settings).await;
    let mut ran = h.exec.subjects_of("write_settings");
    ran.sort();
    assert_eq!(ran, launched);
    assert!(
        h.exec.subjects_of("run_command").is_empty(),
        "hooks never run a shell string"
    );
}

#[tokio::test]
async fn import_code_redeploys_every_code_item() {
    let h = Harness::new();
    h.seed_code().await;
    h.exec.clear();
    let id = command(&h, "Import code", "import_code", None).await;
    let run = execute(&h, &id).await;
    assert_eq!(run.result.unwrap()["code"], json!(2));
    let mut deployed = h.exec.subjects_of("deploy_code");
    deployed.sort();
    assert_eq!(deployed, ["drupal", "express"]);
}

#[tokio::test]
async fn rebalancing_spreads_launched_instances_over_update_groups_round_robin() {
    let h = Harness::new();
    let code = h.seed_code().await;
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.push(
            h.seed_instance(
                code,
                fixtures::instance().status(Status::Launched).update_group(2),
            )
            .await,
        );
    }
    let installed = h
        .seed_instance(
            code,
            fixtures::instance().status(Status::Installed).update_group(2),
        )
        .await;
    let id = command(&h, "Rebalance", "rebalance_update_groups", None).await;
    let run = execute(&h, &id).await;
    assert_eq!(run.result.unwrap()["instances"], json!(4));
    ids.sort();
    let mut groups = Vec::new();
    for i in &ids {
        groups.push(h.instance(i).await.update_group.unwrap());
    }
    assert_eq!(groups, [0, 1, 2, 0]);
    assert_eq!(h.instance(&installed).await.update_group, Some(2));
}

#[tokio::test]
async fn a_run_of_a_deleted_command_fails_for_good() {
    let h = Harness::new();
    let id = command(&h, "Gone soon", "drush status", Some("{}")).await;
    let run = h
        .svc
        .execute_command(&id.to_string(), &Actor("alice".into()))
        .await
        .unwrap();
    h.delete(Resource::Commands, &id).await;
    h.drain().await;
    let job = h.job(&run).await;
    assert_eq!(job.status, JobStatus::Dead);
    assert!(job.last_error.unwrap().contains("is gone"));
}

#[tokio::test]
async fn a_run_whose_every_instance_failed_reads_as_failed_naming_the_sids() {
    let out = CommandOutput {
        exit_status: Some(1),
        stderr: "drush: command not found".into(),
        ..CommandOutput::default()
    };
    let h = Harness::with_exec(RecordingExecutor::new().with_command_output(out));
    let (launched, _) = launched_fleet(&h).await;
    let id = command(&h, "Broken", "drush nope", Some(r#"{"status": "launched"}"#)).await;

    let run = execute(&h, &id).await;
    let read = h.svc.job(&run.id.to_string()).await.unwrap();

    let summary = &read.result.as_ref().unwrap()["summary"];
    assert_eq!(summary["outcome"], "failed", "{summary}");
    assert_eq!(
        (
            summary["total"].clone(),
            summary["failed"].clone(),
            summary["succeeded"].clone()
        ),
        (json!(2), json!(2), json!(0))
    );
    let mut failed: Vec<String> = serde_json::from_value(summary["failed_sids"].clone()).unwrap();
    failed.sort();
    assert_eq!(failed, launched);
}

#[tokio::test]
async fn a_run_reads_as_running_until_its_instance_jobs_finish() {
    let h = Harness::new();
    launched_fleet(&h).await;
    let id = command(&h, "Status", "drush status", Some(r#"{"status": "launched"}"#)).await;
    let run = h
        .svc
        .execute_command(&id.to_string(), &Actor("alice".into()))
        .await
        .unwrap();
    // Only the fan-out runs: the instance jobs stay queued.
    h.worker.run_one().await.unwrap();
    let read = h.svc.job(&run.to_string()).await.unwrap();
    let summary = &read.result.as_ref().unwrap()["summary"];
    assert_eq!(summary["outcome"], "running", "{summary}");
    assert_eq!(summary["pending"], json!(2));
    h.drain_all().await;
    let read = h.svc.job(&run.to_string()).await.unwrap();
    assert_eq!(read.result.as_ref().unwrap()["summary"]["outcome"], "succeeded");
}
