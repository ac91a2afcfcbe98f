//! The lifecycle through the API: provision, installing, launching, take
//! down, restore, delete — and the handlers' idempotence around it.

use serde_json::json;

use super::*;
use crate::model::{Route, RouteStatus};
use crate::notify::Level;
use crate::task::Task;

#[tokio::test]
async fn instance_walks_from_pending_to_launched_to_down_and_back_to_installed_then_is_removed() {
    let h = Harness::new();
    h.seed_code().await;
    assert_eq!(h.exec.subjects_of("deploy_code"), ["drupal", "express"]);

    // pending → available
    let inst = h.post(Resource::Instance, json!({})).await;
    let id = inst.id;
    let sid = inst.str_field("sid").unwrap().to_owned();
    assert_eq!(h.status(&id).await, Status::Pending);
    h.drain().await;
    assert_eq!(h.status(&id).await, Status::Available);
    assert_eq!(h.exec.subjects_of("provision"), [sid.as_str()]);
    assert_eq!(h.exec.subjects_of("install"), [sid.as_str()]);

    // available → installing → installed
    h.patch(Resource::Instance, &id, json!({"status": "installing"}))
        .await;
    assert_eq!(h.status(&id).await, Status::Installing);
    h.drain().await;
    let i = h.instance(&id).await;
    assert_eq!(i.status, Status::Installed);
    assert_eq!(i.dates.assigned, Some(h.now()));
    assert_eq!(h.exec.subjects_of("clear_caches"), [sid.as_str()]);

    // a route, then installed → launching → launched
    let route = h
        .post(
            Resource::Route,
            json!({"route_type": "poolb-express", "source": "lab/atlas", "instance_id": id.to_string(),
                   "active_on_launch": true}),
        )
        .await;
    h.patch(
        Resource::Instance,
        &id,
        json!({"routes": {"primary_route": route.id.to_string()}}),
    )
    .await;
    h.drain().await;
    h.exec.clear();
    h.patch(Resource::Instance, &id, json!({"status": "launching"}))
        .await;
    h.drain().await;
    let i = h.instance(&id).await;
    assert_eq!(i.status, Status::Launched);
    assert_eq!(i.dates.launched, Some(h.now()));
    assert!(i.update_group.is_some_and(|g| (0..=2).contains(&g)));
    let r = Route::from_doc(&h.raw(Resource::Route, &route.id).await).unwrap();
    assert_eq!(r.route_status, RouteStatus::Active);
    assert_eq!(
        h.exec.operations(),
        ["write_settings", "launch", "publish_routes", "publish_routes"]
    );
    // The settings and the launch already see the route as active, and
    // launch's own publication carries it.
    for op in ["write_settings", "launch"] {
        let spec = h.exec.specs_of(op).remove(0);
        let routes: Vec<_> = spec
            .routes
            .iter()
            .map(|r| (r.source.as_str(), r.route_status))
            .collect();
        assert_eq!(routes, [("lab/atlas", RouteStatus::Active)], "{op}");
    }
    let maps = h.exec.route_maps();
    let sources = |m: &crate::executor::RouteMap| -> Vec<String> {
        m.routes
            .iter()
            .filter(|r| r.route_status == RouteStatus::Active)
            .map(|r| r.source.clone())
            .collect()
    };
    assert_eq!(sources(&maps[0]), ["lab/atlas"], "launch's own publication");
    let publish = h.jobs_of("routes_publish").await;
    assert_eq!(
        publish.last().unwrap().result.as_ref().unwrap()["sources"],
        json!(["lab/atlas"])
    );

    // launched → take_down → down
    h.exec.clear();
    h.patch(Resource::Instance, &id, json!({"status": "take_down"}))
        .await;
    h.drain().await;
    let i = h.instance(&id).await;
    assert_eq!(i.status, Status::Down);
    assert_eq!(i.dates.taken_down, Some(h.now()));
    assert_eq!(h.exec.operations(), ["take_down"]);

    // down → restore → installed
    h.exec.clear();
    h.patch(Resource::Instance, &id, json!({"status": "restore"}))
        .await;
    h.drain().await;
    assert_eq!(h.status(&id).await, Status::Installed);
    // `restore` runs the database updates itself.
    assert_eq!(h.exec.operations(), ["restore"]);

    // DELETE → removed from the servers, statistics deleted
    let stats = i.statistics.unwrap();
    assert!(!h.raw(Resource::Statistics, &stats).await.deleted);
    h.delete(Resource::Instance, &id).await;
    h.drain().await;
    assert_eq!(h.exec.subjects_of("remove_instance"), [sid.as_str()]);
    assert!(h.raw(Resource::Statistics, &stats).await.deleted);
    let removed = h.notes_titled("Instance Remove - Success");
    assert_eq!(removed.len(), 1);
    assert_eq!(field(&removed[0], "Instance"), Some(sid.as_str()));
}

#[tokio::test]
async fn provision_success_notifies_the_seconds_since_creation_with_a_link_to_the_instance() {
    let h = Harness::new();
    h.seed_code().await;
    let inst = h.post(Resource::Instance, json!({})).await;
    h.clock.advance(std::time::Duration::from_secs(42));
    h.drain().await;
    let n = &h.notes_titled("Instance provision - Success")[0];
    assert_eq!(n.level, Level::Success);
    assert!(n.text.contains("42 seconds"), "{}", n.text);
    assert_eq!(
        n.link.as_deref(),
        Some(format!("http://127.0.0.1:8080/instance/{}", inst.id).as_str())
    );
    assert_eq!(field(n, "Environment"), Some("local"));
    assert_eq!(field(n, "Time"), Some("42 sec"));
    assert_eq!(field(n, "Core"), Some("drupal-7.42"));
    let job = &h.jobs_of("provision").await[0];
    assert_eq!(job.result.as_ref().unwrap()["seconds"], json!(42));
}

#[tokio::test]
async fn provision_of_an_instance_that_is_no_longer_pending_succeeds_without_executor_calls() {
    let h = Harness::new();
    let code = h.seed_code().await;
    let id = h
        .seed_instance(code, fixtures::instance().status(Status::Available))
        .await;
    h.exec.clear();
    let job = h.enqueue(Task::Provision { instance: id }.spec(h.now())).await;
    h.drain().await;
    assert_eq!(h.job(&job).await.status, JobStatus::Succeeded);
    assert!(h.exec.calls().is_empty());
}

#[tokio::test]
async fn provision_of_a_deleted_instance_is_a_fatal_failure() {
    let h = Harness::new();
    let code = h.seed_code().await;
    let id = h.seed_instance(code, fixtures::instance()).await;
    let mut b = Batch::new(h.now());
    b.delete(Resource::Instance, id, None);
    h.store.commit(b).await.unwrap();
    let job = h.enqueue(Task::Provision { instance: id }.spec(h.now())).await;
    h.drain().await;
    let job = h.job(&job).await;
    assert_eq!(job.status, JobStatus::Dead);
    assert_eq!(job.attempts, 1);
    assert!(job.last_error.unwrap().contains("gone"));
}

#[tokio::test]
async fn lifecycle_work_for_an_instance_that_moved_on_succeeds_without_writes() {
    let h = Harness::new();
    let code = h.seed_code().await;
    let id = h
        .seed_instance(code, fixtures::instance().status(Status::Installed))
        .await;
    let before = h.raw(Resource::Instance, &id).await;
    h.exec.clear();
    let job = h
        .enqueue(
            Task::Launch {
                instance: id,
                from: None,
            }
            .spec(h.now()),
        )
        .await;
    h.drain().await;
    let job = h.job(&job).await;
    assert_eq!(job.status, JobStatus::Succeeded);
    assert!(job.result.unwrap()["skipped"]
        .as_str()
        .unwrap()
        .contains("'installed'"));
    assert_eq!(h.raw(Resource::Instance, &id).await.version, before.version);
    assert!(h.exec.calls().is_empty());
}

#[tokio::test]
async fn lifecycle_work_for_a_deleted_instance_succeeds_without_writes() {
    let h = Harness::new();
    let code = h.seed_code().await;
    let id = h
        .seed_instance(code, fixtures::instance().status(Status::TakeDown))
        .await;
    let mut b = Batch::new(h.now());
    b.delete(Resource::Instance, id, None);
    h.store.commit(b).await.unwrap();
    h.exec.clear();
    let job = h
        .enqueue(
            Task::TakeDown {
                instance: id,
                from: None,
            }
            .spec(h.now()),
        )
        .await;
    h.drain().await;
    assert_eq!(h.job(&job).await.status, JobStatus::Succeeded);
    assert!(h.exec.calls().is_empty());
}

#[tokio::test]
async fn failed_lifecycle_work_leaves_the_in_flight_status_and_is_retried_until_it_settles() {
    let h = Harness::with_exec(RecordingExecutor::new().fail_on("clear_caches", 1));
    let code = h.seed_code().await;
    let id = h
        .seed_instance(code, fixtures::instance().status(Status::Available))
        .await;
    h.patch(Resource::Instance, &id, json!({"status": "installed"}))
        .await;
    h.drain().await;
    assert_eq!(h.status(&id).await, Status::Installing);
    h.drain_all().await;
    assert_eq!(h.status(&id).await, Status::Installed);
    assert_eq!(h.exec.subjects_of("write_settings").len(), 2);
}

#[tokio::test]
async fn launch_activates_only_routes_marked_active_on_launch_and_publishes_them() {
    let h = Harness::new();
    let code = h.seed_code().await;
    let id = h
        .seed_instance(code, fixtures::instance().status(Status::Installed))
        .await;
    let on = h
        .insert(
            Resource::Route,
            fixtures::route().source("dept").instance(id).build(),
        )
        .await;
    let off = h
        .insert(
            Resource::Route,
            fixtures::route()
                .source("dept-old")
                .instance(id)
                .active_on_launch(false)
                .build(),
        )
        .await;
    h.patch(
        Resource::Instance,
        &id,
        json!({"routes": {"primary_route": on.to_string()}}),
    )
    .await;
    h.patch(Resource::Instance, &id, json!({"status": "launching"}))
        .await;
    h.drain().await;
    assert_eq!(h.status(&id).await, Status::Launched);
    assert_eq!(
        Route::from_doc(&h.raw(Resource::Route, &on).await)
            .unwrap()
            .route_status,
        RouteStatus::Active
    );
    assert_eq!(
        Route::from_doc(&h.raw(Resource::Route, &off).await)
            .unwrap()
            .route_status,
        RouteStatus::Inactive
    );
    let launch = &h.jobs_of("launch").await[0];
    assert_eq!(launch.result.as_ref().unwrap()["routes_activated"], json!(1));
}

#[tokio::test]
async fn switching_code_is_one_executor_step_with_the_full_closure() {
    let h = Harness::new();
    let code = h.seed_code().await;
    let id = h
        .seed_instance(code, fixtures::instance().status(Status::Installed))
        .await;
    let lib = h
        .post(
            Resource::Code,
            json!(fixtures::code().library("leaflet", "1.0").build()),
        )
        .await;
    let module = h
        .post(
            Resource::Code,
            json!(fixtures::code()
                .module("cu_map", "1.0")
                .dependencies([lib.id])
                .build()),
        )
        .await;
    h.drain().await;
    h.exec.clear();
    h.patch(
        Resource::Instance,
        &id,
        json!({"code": {"package": [module.id.to_string()]}}),
    )
    .await;
    h.drain().await;
    // `switch_code` re-links, rebuilds the registry and updates the database.
    assert_eq!(h.exec.operations(), ["switch_code"]);
    let inst = h.instance(&id).await;
    let spec = crate::engine::resolve::instance_spec(&h.svc, &inst, inst.status)
        .await
        .unwrap();
    let names: Vec<&str> = spec.packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["cu_map", "leaflet"]);
    assert_eq!(h.notes_titled("Instance Update - Success").len(), 1);
}

#[tokio::test]
async fn settings_change_rewrites_the_settings_files() {
    let h = Harness::new();
    let code = h.seed_code().await;
    let id = h
        .seed_instance(code, fixtures::instance().status(Status::Launched))
        .await;
    h.exec.clear();
    h.patch(
        Resource::Instance,
        &id,
        json!({"settings": {"page_cache_maximum_age": 900}}),
    )
    .await;
    h.drain().await;
    assert_eq!(h.exec.operations(), ["write_settings"]);
}

#[tokio::test]
async fn removing_a_live_instance_is_refused() {
    let h = Harness::new();
    let code = h.seed_code().await;
    let id = h
        .seed_instance(code, fixtures::instance().status(Status::Launched))
        .await;
    let job = h
        .enqueue(
            Task::RemoveInstance {
                instance: id,
                backup: None,
            }
            .spec(h.now()),
        )
        .await;
    h.drain().await;
    let job = h.job(&job).await;
    assert_eq!(job.status, JobStatus::Dead);
    assert!(job.last_error.unwrap().contains("not deleted"));
    assert!(h.exec.subjects_of("remove_instance").is_empty());
}

#[tokio::test]
async fn removal_deletes_every_statistics_record_naming_the_instance() {
    let h = Harness::new();
    let code = h.seed_code().await;
    let own = h
        .insert(Resource::Statistics, fixtures::statistics().build())
        .await;
    let id = h
        .seed_instance(
            code,
            fixtures::instance().status(Status::Installed).statistics(own),
        )
        .await;
    let mut stray = h.raw(Resource::Statistics, &own).await.body;
    stray.insert("instance".into(), json!(id.to_string()));
    let mut b = Batch::new(h.now());
    b.update(Resource::Statistics, own, stray, None);
    h.store.commit(b).await.unwrap();
    h.delete(Resource::Instance, &id).await;
    h.drain().await;
    assert!(h.raw(Resource::Statistics, &own).await.deleted);
    let remove = &h.jobs_of("instance_remove").await[0];
    assert_eq!(
        remove.result.as_ref().unwrap()["statistics_deleted"],
        json!([own.to_string()])
    );
}

#[tokio::test]
async fn code_items_are_deployed_redeployed_and_removed_with_notifications() {
    let h = Harness::new();
    let module = h
        .post(
            Resource::Code,
            json!(fixtures::code().module("cu_block", "1.0").build()),
        )
        .await;
    h.drain().await;
    assert_eq!(h.exec.subjects_of("deploy_code"), ["cu_block"]);
    let deployed = &h.notes_titled("Code Deploy - Success")[0];
    assert_eq!(field(deployed, "Name"), Some("cu_block"));
    assert_eq!(field(deployed, "Version"), Some("1.0"));
    assert_eq!(field(deployed, "User"), Some("alice"));

    h.patch(
        Resource::Code,
        &module.id,
        json!({"commit_hash": "0123456789abcdef0123456789abcdef01234567"}),
    )
    .await;
    h.drain().await;
    assert_eq!(h.exec.subjects_of("update_code"), ["cu_block"]);
    assert_eq!(h.notes_titled("Code Update - Success").len(), 1);

    h.delete(Resource::Code, &module.id).await;
    h.drain().await;
    assert_eq!(h.exec.subjects_of("remove_code"), ["cu_block"]);
    assert_eq!(h.notes_titled("Code Remove - Success").len(), 1);
}

#[tokio::test]
async fn a_deploy_that_keeps_failing_notifies_the_error_once_on_its_last_attempt() {
    let h = Harness::with_exec(RecordingExecutor::new().fail_from("deploy_code", 1));
    h.post(
        Resource::Code,
        json!(fixtures::code().module("cu_block", "1.0").build()),
    )
    .await;
    h.drain_all().await;
    let job = &h.jobs_of("code_deploy").await[0];
    assert_eq!(job.status, JobStatus::Dead);
    assert_eq!(job.attempts, crate::jobs::DEFAULT_MAX_ATTEMPTS);
    let errors = h.notes_titled("Code Deploy - Error");
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].level, Level::Error);
    assert!(field(&errors[0], "Error message")
        .unwrap()
        .contains("deploy_code failed"));
}

#[tokio::test]
async fn route_map_publication_sends_active_routes_only() {
    let h = Harness::new();
    h.insert(
        Resource::Route,
        fixtures::route().source("b").status(RouteStatus::Active).build(),
    )
    .await;
    h.insert(
        Resource::Route,
        fixtures::route().source("a").status(RouteStatus::Active).build(),
    )
    .await;
    h.insert(Resource::Route, fixtures::route().source("c").build())
        .await;
    let job = h.enqueue(Task::PublishRoutes {}.spec(h.now())).await;
    h.drain().await;
    assert_eq!(h.job(&job).await.result.unwrap()["sources"], json!(["a", "b"]));
    assert_eq!(h.exec.operations(), ["publish_routes"]);
}

#[test]
fn an_executor_refusal_is_final_and_other_executor_failures_are_retried() {
    let refused = crate::engine::exec_err(
        "launch",
        crate::error::ExecError::Refused {
            what: "route source".into(),
            reason: "contains ..".into(),
        },
    );
    assert!(!refused.retryable);
    assert!(
        refused.error.starts_with("launch failed: refused route source"),
        "{}",
        refused.error
    );
    let timeout = crate::engine::exec_err(
        "install",
        crate::error::ExecError::Timeout(std::time::Duration::from_secs(5)),
    );
    assert!(timeout.retryable);
}

#[tokio::test]
async fn lifecycle_work_failing_for_good_puts_the_instance_back_where_the_request_found_it() {
    let h = Harness::with_exec(RecordingExecutor::new().fail_from("clear_caches", 1));
    let code = h.seed_code().await;
    let id = h
        .seed_instance(code, fixtures::instance().status(Status::Available))
        .await;
    h.patch(Resource::Instance, &id, json!({"status": "installing"}))
        .await;
    h.drain_all().await;
    let job = h.jobs_of("install_assign").await.remove(0);
    assert_eq!(job.status, JobStatus::Dead);
    assert_eq!(
        h.status(&id).await,
        Status::Available,
        "not stuck in 'installing'"
    );
    // The instance takes requests again.
    h.patch(Resource::Instance, &id, json!({"status": "installing"}))
        .await;
    assert_eq!(h.status(&id).await, Status::Installing);
}

#[tokio::test]
async fn work_failing_for_good_leaves_its_error_on_the_instance_until_work_succeeds() {
    // The first install_assign fails for good (clear_caches fails five
    // times); the next request's work succeeds.
    let exec = RecordingExecutor::new();
    let exec =
        (1..=crate::jobs::DEFAULT_MAX_ATTEMPTS as usize).fold(exec, |e, n| e.fail_on("clear_caches", n));
    let h = Harness::with_exec(exec);
    let code = h.seed_code().await;
    let id = h
        .seed_instance(code, fixtures::instance().status(Status::Available))
        .await;
    h.patch(Resource::Instance, &id, json!({"status": "installing"}))
        .await;
    h.drain_all().await;
    let job = h.jobs_of("install_assign").await.remove(0);
    assert_eq!(job.status, JobStatus::Dead);
    let last = h.raw(Resource::Instance, &id).await.body["last_error"].clone();
    assert_eq!(last["job"], json!(job.id.to_string()), "{last}");
    assert_eq!(last["kind"], "install_assign");
    assert!(last["error"].as_str().unwrap().contains("clear_caches"), "{last}");
    assert!(last["at"].is_string());

    h.patch(Resource::Instance, &id, json!({"status": "installing"}))
        .await;
    h.drain_all().await;
    assert_eq!(h.status(&id).await, Status::Installed);
    assert!(h.raw(Resource::Instance, &id).await.body["last_error"].is_null());
}
