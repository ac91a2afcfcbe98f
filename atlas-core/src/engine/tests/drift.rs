//! Drift end to end: a verification keeps its findings as the instance's
//! `drift` and notifies only new ones; a heal re-applies only healable
//! findings (never the database) and verifies again; the periodic task
//! fans out one verification per verified instance.

use std::sync::Arc;

use super::*;
use crate::drift::{Drift, DriftFinding, DriftKind};
use crate::notify::RecordingNotifier;
use crate::testing::MockExecutor;

fn finding(kind: DriftKind, detail: &str) -> DriftFinding {
    DriftFinding::new("web1", kind, detail)
}

async fn launched(h: &Harness, sid: &str) -> (Id, (Id, Id)) {
    let code = h.seed_code().await;
    let id = h
        .seed_instance(code, fixtures::instance().sid(sid).status(Status::Launched))
        .await;
    (id, code)
}

async fn run(h: &Harness, task: Task) -> Job {
    let id = h.enqueue(task.spec(h.now())).await;
    h.drain_all().await;
    h.job(&id).await
}

async fn drift(h: &Harness, id: &Id) -> Drift {
    Drift::of_doc(&h.raw(Resource::Instance, id).await).expect("a drift field")
}

#[tokio::test]
async fn verify_keeps_the_findings_as_drift_and_notifies_new_drift_only_once() {
    let h = Harness::new();
    let (id, _) = launched(&h, "p1drift0001").await;
    let settings = finding(DriftKind::Settings, "settings.php: expected sha256 aa, found bb");
    h.exec.set_drift("p1drift0001", vec![settings.clone()]);

    let job = run(&h, Task::VerifyInstance { instance: id }).await;
    assert_eq!(job.status, JobStatus::Succeeded, "{:?}", job.last_error);
    let d = drift(&h, &id).await;
    assert_eq!(d.findings, std::slice::from_ref(&settings));
    assert_eq!(d.checked, h.now());
    assert_eq!(h.raw(Resource::Instance, &id).await.body["drift"]["count"], 1);
    let notes = h.notes_titled("Drift Found");
    assert_eq!(notes.len(), 1);
    assert!(notes[0].text.contains("settings.php"), "{}", notes[0].text);
    assert_eq!(field(&notes[0], "Instance"), Some("p1drift0001"));

    // Unchanged drift: recorded again, not notified again.
    run(&h, Task::VerifyInstance { instance: id }).await;
    assert_eq!(h.notes_titled("Drift Found").len(), 1);

    // A new finding beside the old one: notified, and only it.
    let link = finding(DriftKind::CodeLink, "profiles/express: expected /a, found /b");
    h.exec.set_drift("p1drift0001", vec![settings, link]);
    run(&h, Task::VerifyInstance { instance: id }).await;
    let notes = h.notes_titled("Drift Found");
    assert_eq!(notes.len(), 2);
    assert!(notes[1].text.contains("profiles/express"), "{}", notes[1].text);
    assert!(!notes[1].text.contains("settings.php"), "{}", notes[1].text);
    // Verification alone changes nothing on the servers.
    assert!(h.exec.subjects_of("write_settings").is_empty());
    assert!(h.exec.subjects_of("switch_code").is_empty());
}

#[tokio::test]
async fn a_clean_verification_clears_the_drift_and_notifies_nothing() {
    let h = Harness::new();
    let (id, _) = launched(&h, "p1drift0002").await;
    run(&h, Task::VerifyInstance { instance: id }).await;
    assert!(!drift(&h, &id).await.drifted());
    assert!(h.notes_titled("Drift Found").is_empty());
}

#[tokio::test]
async fn heal_reapplies_only_healable_findings_then_verifies_again() {
    let h = Harness::new();
    let (id, (core, _)) = launched(&h, "p1drift0003").await;
    let database = finding(
        DriftKind::Database,
        "user p1drift0003 cannot log in to database p1drift0003",
    );
    let stuck = finding(DriftKind::WebLink, "web/express/p1drift0003 is a directory").not_healable();
    h.exec.set_drift(
        "p1drift0003",
        vec![
            finding(DriftKind::CheckoutHead, "drupal-7.42: HEAD is 00, expected 11").about_code(core),
            finding(DriftKind::CodeLink, "index.php: expected x, found y"),
            finding(DriftKind::Settings, "settings.php: expected sha256 aa, found bb"),
            database.clone(),
            stuck.clone(),
        ],
    );
    h.exec.clear();

    let job = run(&h, Task::HealInstance { instance: id }).await;
    assert_eq!(job.status, JobStatus::Succeeded, "{:?}", job.last_error);
    assert_eq!(
        h.exec.operations(),
        [
            "verify_instance",
            "deploy_code",
            "switch_code",
            "write_settings",
            "verify_instance"
        ]
    );
    assert_eq!(h.exec.subjects_of("deploy_code"), ["drupal"]);
    assert_eq!(
        job.result.as_ref().unwrap()["healed"],
        json!(["deploy_code", "switch_code", "write_settings"])
    );
    // What is left is what a heal never touches.
    assert_eq!(drift(&h, &id).await.findings, [database, stuck]);
}

#[tokio::test]
async fn heal_never_touches_the_database_nor_runs_anything_for_database_findings() {
    // Arrange: a strict mock; any call not expected here fails the test.
    let h = Harness::new();
    let (id, _) = launched(&h, "p1drift0004").await;
    let mut mock = MockExecutor::new();
    mock.expect_verify_instance().times(1).returning(|_| {
        Ok(vec![DriftFinding::new(
            "db1",
            DriftKind::Database,
            "database p1drift0004 is missing",
        )])
    });
    let engine = Engine::new(
        h.svc.clone(),
        Arc::new(mock),
        Arc::new(RecordingNotifier::default()),
    );
    let worker = h.worker_with(Arc::new(engine));
    // Act
    let job_id = h.enqueue(Task::HealInstance { instance: id }.spec(h.now())).await;
    worker.drain().await.unwrap();
    // Assert: verified once (a heal verifies again only after re-applying
    // something, and nothing here is re-applied), the finding kept.
    let job = h.job(&job_id).await;
    assert_eq!(job.status, JobStatus::Succeeded, "{:?}", job.last_error);
    assert_eq!(job.result.as_ref().unwrap()["healed"], json!([]));
    assert_eq!(drift(&h, &id).await.findings[0].kind, DriftKind::Database);
}

#[tokio::test]
async fn a_heal_that_fails_for_good_records_the_last_error_and_keeps_the_old_drift() {
    let h = Harness::with_exec(RecordingExecutor::new().fail_from("write_settings", 1));
    let (id, _) = launched(&h, "p1drift0013").await;
    h.exec.set_drift(
        "p1drift0013",
        vec![finding(
            DriftKind::Settings,
            "settings.php: expected sha256 aa, found bb",
        )],
    );
    let job = run(&h, Task::HealInstance { instance: id }).await;
    assert_eq!(job.status, JobStatus::Dead);
    let raw = h.raw(Resource::Instance, &id).await;
    assert_eq!(raw.body["last_error"]["kind"], "instance_heal");
    assert!(
        raw.body["last_error"]["error"]
            .as_str()
            .unwrap()
            .contains("heal: write_settings failed"),
        "{}",
        raw.body["last_error"]
    );
    assert!(Drift::of_doc(&raw).is_none(), "nothing verified to keep");
}

#[tokio::test]
async fn auto_heal_heals_on_a_plain_verification() {
    let cfg = ServiceConfig {
        drift_auto_heal: true,
        ..ServiceConfig::default()
    };
    let h = Harness::with_config(cfg);
    let (id, _) = launched(&h, "p1drift0005").await;
    h.exec.set_drift(
        "p1drift0005",
        vec![finding(DriftKind::WebLink, "web/express/p1drift0005: missing")],
    );
    run(&h, Task::VerifyInstance { instance: id }).await;
    assert_eq!(h.exec.subjects_of("launch"), ["p1drift0005"]);
    assert!(!drift(&h, &id).await.drifted());
    assert!(
        h.notes_titled("Drift Found").is_empty(),
        "healed before it was kept"
    );
}

#[tokio::test]
async fn the_periodic_task_verifies_every_verified_instance_and_nothing_else() {
    let h = Harness::new();
    let code = h.seed_code().await;
    let launched = h
        .seed_instance(
            code,
            fixtures::instance().sid("p1drift0006").status(Status::Launched),
        )
        .await;
    h.seed_instance(
        code,
        fixtures::instance().sid("p1drift0007").status(Status::Pending),
    )
    .await;
    let down = h
        .seed_instance(code, fixtures::instance().sid("p1drift0008").status(Status::Down))
        .await;
    let job = h.run_periodic(PeriodicTask::VerifyInstances).await;
    assert_eq!(job.status, JobStatus::Succeeded, "{:?}", job.last_error);
    let mut verified = h.exec.subjects_of("verify_instance");
    verified.sort();
    assert_eq!(verified, ["p1drift0006", "p1drift0008"]);
    for id in [launched, down] {
        assert!(Drift::of_doc(&h.raw(Resource::Instance, &id).await).is_some());
    }
}

#[tokio::test]
async fn the_periodic_task_does_nothing_when_drift_verify_is_off() {
    let cfg = ServiceConfig {
        drift_verify: false,
        ..ServiceConfig::default()
    };
    let h = Harness::with_config(cfg);
    launched(&h, "p1drift0009").await;
    let job = h.run_periodic(PeriodicTask::VerifyInstances).await;
    assert!(job.result.unwrap()["skipped"]
        .as_str()
        .unwrap()
        .contains("drift_verify"));
    assert!(h.exec.subjects_of("verify_instance").is_empty());
}

#[tokio::test]
async fn the_service_queues_verify_and_heal_by_sid_and_refuses_an_instance_at_work() {
    let h = Harness::new();
    let (id, code) = launched(&h, "p1drift0010").await;
    let alice = Actor("alice".into());
    let job = h.svc.verify_instance("p1drift0010", &alice).await.unwrap();
    assert_eq!(h.job(&job).await.kind, "instance_verify");
    let job = h.svc.heal_instance(&id.to_string(), &alice).await.unwrap();
    assert_eq!(h.job(&job).await.kind, "instance_heal");
    h.seed_instance(
        code,
        fixtures::instance().sid("p1drift0011").status(Status::Launching),
    )
    .await;
    let e = h.svc.heal_instance("p1drift0011", &alice).await.unwrap_err();
    assert!(matches!(e, crate::service::ServiceError::Conflict { .. }), "{e}");
    assert!(e.to_string().contains("'launching'"), "{e}");
    let e = h.svc.verify_instance("p1nosuch0001", &alice).await.unwrap_err();
    assert!(matches!(e, crate::service::ServiceError::NotFound { .. }), "{e}");
}

#[tokio::test]
async fn clients_cannot_write_the_drift_field() {
    let h = Harness::new();
    let (id, _) = launched(&h, "p1drift0012").await;
    let cur = h.svc.get(Resource::Instance, &id.to_string()).await.unwrap();
    let e = h
        .svc
        .update(
            Resource::Instance,
            &id.to_string(),
            Some(&cur.etag),
            &Actor("alice".into()),
            json!({"drift": {"count": 0}}),
        )
        .await
        .unwrap_err();
    let crate::service::ServiceError::Invalid(issues) = e else {
        panic!("expected a validation error, got {e}");
    };
    assert!(issues.to_string().contains("drift"), "{issues}");
}
