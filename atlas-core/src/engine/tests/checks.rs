//! The host check and the route map check, run as periodic jobs.

use super::*;
use crate::executor::{HostReport, RouteMapCheck};
use crate::host_check::HostCheck;
use crate::model::RouteStatus;
use crate::notify::Level;

fn report(host: &str, reachable: bool, problems: &[&str]) -> HostReport {
    HostReport {
        host: host.into(),
        roles: vec!["web".into()],
        reachable,
        problems: problems.iter().map(|p| (*p).to_owned()).collect(),
    }
}

#[tokio::test]
async fn the_host_check_asks_the_executor_and_keeps_every_report_for_readiness() {
    let reports = vec![
        report("web1", true, &[]),
        report("web2", false, &["host web2: cannot connect"]),
    ];
    let h = Harness::with_exec(RecordingExecutor::new().with_host_reports(reports.clone()));
    let job = h.run_periodic(PeriodicTask::CheckHosts).await;
    assert_eq!(job.status, JobStatus::Succeeded, "{:?}", job.last_error);
    assert_eq!(h.exec.operations(), ["check_hosts"]);
    assert_eq!(job.result.as_ref().unwrap()["unhealthy"], json!(["web2"]));
    let latest = HostCheck::latest(h.store.as_ref()).await.unwrap().unwrap();
    assert_eq!(latest.hosts, reports);
    assert!(latest.serving(), "web1 was reachable");
}

#[tokio::test]
async fn a_failed_host_check_is_retried_and_is_not_taken_as_a_check() {
    let h = Harness::with_exec(RecordingExecutor::new().fail_on("check_hosts", 1));
    let job = h.run_periodic(PeriodicTask::CheckHosts).await;
    assert_eq!(job.status, JobStatus::Succeeded, "the second attempt passes");
    assert_eq!(h.exec.subjects_of("check_hosts").len(), 2);
    let h = Harness::with_exec(RecordingExecutor::new().fail_from("check_hosts", 1));
    let job = h.run_periodic(PeriodicTask::CheckHosts).await;
    assert_eq!(job.status, JobStatus::Dead);
    assert_eq!(HostCheck::latest(h.store.as_ref()).await.unwrap(), None);
}

async fn active_route(h: &Harness, source: &str) {
    h.insert(
        Resource::Route,
        fixtures::route()
            .source(source)
            .status(RouteStatus::Active)
            .build(),
    )
    .await;
}

#[tokio::test]
async fn the_route_check_compares_the_records_map_and_reports_each_differing_load_balancer() {
    let checks = vec![
        RouteMapCheck {
            host: "lb1".into(),
            ..RouteMapCheck::default()
        },
        RouteMapCheck {
            host: "lb2".into(),
            differences: vec!["not in the records: \"/old\" := \"legacy\",".into()],
            error: None,
        },
    ];
    let h = Harness::with_exec(RecordingExecutor::new().with_route_checks(checks));
    active_route(&h, "zeta").await;
    active_route(&h, "alpha").await;
    let job = h.run_periodic(PeriodicTask::CheckRoutes).await;
    assert_eq!(job.status, JobStatus::Succeeded, "{:?}", job.last_error);
    let maps = h.exec.checked_route_maps();
    let sources: Vec<&str> = maps[0].routes.iter().map(|r| r.source.as_str()).collect();
    assert_eq!(sources, ["alpha", "zeta"], "the map the records render to");
    assert_eq!(
        h.exec.subjects_of("publish_routes").len(),
        0,
        "a check changes nothing"
    );
    let result = job.result.unwrap();
    assert_eq!(result["differing"], json!(["lb2"]));
    let notes = h.notes_titled("Route Map Differs");
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].level, Level::Warning);
    assert_eq!(field(&notes[0], "Load balancers"), Some("lb2 (1 entries)"));
}

#[tokio::test]
async fn identical_route_maps_notify_nobody() {
    let checks = vec![RouteMapCheck {
        host: "lb1".into(),
        ..RouteMapCheck::default()
    }];
    let h = Harness::with_exec(RecordingExecutor::new().with_route_checks(checks));
    let job = h.run_periodic(PeriodicTask::CheckRoutes).await;
    assert_eq!(job.result.unwrap()["differing"], json!([]));
    assert!(h.notes_titled("Route Map Differs").is_empty());
}

#[tokio::test]
async fn the_route_check_is_skipped_while_a_publication_is_queued() {
    let h = Harness::new();
    h.enqueue(Task::PublishRoutes {}.spec(h.now())).await;
    let id = h
        .enqueue(
            Task::Periodic {
                task: PeriodicTask::CheckRoutes,
            }
            .spec(h.now()),
        )
        .await;
    // The check is handled directly while the publication stays queued.
    let job = h.store.job(&id).await.unwrap().unwrap();
    let handled = h.engine.handle(&job).await.unwrap();
    assert!(
        handled.result["skipped"]
            .as_str()
            .unwrap()
            .contains("publication"),
        "{}",
        handled.result
    );
    assert!(h.exec.checked_route_maps().is_empty());
}

#[tokio::test]
async fn the_engine_answers_the_route_check_for_the_cli() {
    let checks = vec![RouteMapCheck {
        host: "local".into(),
        error: Some("permission denied".into()),
        ..RouteMapCheck::default()
    }];
    let h = Harness::with_exec(RecordingExecutor::new().with_route_checks(checks.clone()));
    assert_eq!(h.engine.check_routes().await.unwrap(), checks);
    assert!(checks[0].differs());
}
