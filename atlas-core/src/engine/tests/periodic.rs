//! Every periodic task's semantics (docs/architecture.md "Periodic tasks").

use std::collections::BTreeSet;

use serde_json::json;

use super::*;
use crate::model::{Environment, InstanceType};
use crate::notify::Level;

const DAY: Duration = Duration::from_secs(24 * 3600);

fn result(job: &Job) -> &Value {
    assert_eq!(job.status, JobStatus::Succeeded, "{:?}", job.last_error);
    job.result.as_ref().unwrap()
}

fn sids(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

async fn pool_count(h: &Harness) -> usize {
    let mut n = 0;
    for s in ["pending", "available"] {
        let q = FindQuery::all_matching(Filter::eq("status", s));
        n += h.store.find(Resource::Instance, &q).await.unwrap().items.len();
    }
    n
}

#[tokio::test]
async fn pool_top_up_counts_pending_and_available_and_fills_to_two_locally() {
    let h = Harness::new();
    let code = h.seed_code().await;
    h.seed_instance(code, fixtures::instance().status(Status::Pending))
        .await;
    h.seed_instance(code, fixtures::instance().status(Status::Installed))
        .await;
    let job = h.run_periodic(PeriodicTask::PoolTopUp).await;
    let r = result(&job);
    assert_eq!((r["target"].clone(), r["counted"].clone()), (json!(2), json!(1)));
    assert_eq!(r["created"].as_array().unwrap().len(), 1);
    // The created instance was provisioned by the drained jobs.
    assert_eq!(pool_count(&h).await, 2);
    let again = h.run_periodic(PeriodicTask::PoolTopUp).await;
    assert_eq!(result(&again)["created"], json!([]));
}

#[tokio::test]
async fn pool_top_up_fills_to_five_outside_local() {
    let h = Harness::with_config(ServiceConfig {
        environment: Environment::Production,
        ..ServiceConfig::default()
    });
    let code = h.seed_code().await;
    h.seed_instance(code, fixtures::instance().status(Status::Available))
        .await;
    let job = h.run_periodic(PeriodicTask::PoolTopUp).await;
    assert_eq!(result(&job)["created"].as_array().unwrap().len(), 4);
    assert_eq!(pool_count(&h).await, 5);
}

#[tokio::test]
async fn pool_top_up_without_current_code_succeeds_with_a_note() {
    let h = Harness::new();
    let job = h.run_periodic(PeriodicTask::PoolTopUp).await;
    let r = result(&job);
    assert_eq!(r["created"], json!([]));
    assert!(r["note"].as_str().unwrap().contains("code"), "{r}");
    assert_eq!(pool_count(&h).await, 0);
}

#[tokio::test]
async fn stuck_pending_instances_older_than_fifteen_minutes_are_deleted_with_their_removal_planned() {
    let h = Harness::new();
    let code = h.seed_code().await;
    let now = h.now();
    let old = h
        .seed_instance(
            code,
            fixtures::instance().created(now.minus(Duration::from_secs(16 * 60))),
        )
        .await;
    let young = h
        .seed_instance(
            code,
            fixtures::instance().created(now.minus(Duration::from_secs(5 * 60))),
        )
        .await;
    let old_avail = h
        .seed_instance(
            code,
            fixtures::instance()
                .status(Status::Available)
                .created(now.minus(DAY)),
        )
        .await;
    let old_sid = h.instance(&old).await.sid.to_string();
    let job = h.run_periodic(PeriodicTask::DeleteStuckPending).await;
    assert_eq!(result(&job)["deleted"], json!([old_sid.clone()]));
    assert!(h.raw(Resource::Instance, &old).await.deleted);
    assert!(!h.raw(Resource::Instance, &young).await.deleted);
    assert!(!h.raw(Resource::Instance, &old_avail).await.deleted);
    assert_eq!(h.exec.subjects_of("remove_instance"), [old_sid]);
}

/// Code: two versions of the classes bundle and another module; instances
/// in every relevant shape. Returns (harness, sid by label).
async fn cron_fleet() -> (Harness, HashMap<&'static str, String>) {
    use std::collections::HashMap as Map;
    let h = Harness::new();
    let code = h.seed_code().await;
    let b1 = h
        .insert(
            Resource::Code,
            fixtures::code().module("cu_classes_bundle", "1.0").build(),
        )
        .await;
    let b2 = h
        .insert(
            Resource::Code,
            fixtures::code().module("cu_classes_bundle", "2.0").build(),
        )
        .await;
    let other = h
        .insert(
            Resource::Code,
            fixtures::code().module("cu_news_bundle", "1.0").build(),
        )
        .await;
    let fleet: Vec<(&'static str, InstanceBuilder)> = vec![
        (
            "launched_plain",
            fixtures::instance().status(Status::Launched).packages([other]),
        ),
        (
            "launched_bundle",
            fixtures::instance()
                .status(Status::Launched)
                .packages([other, b2]),
        ),
        (
            "launched_custom",
            fixtures::instance()
                .status(Status::Launched)
                .instance_type(InstanceType::Custom),
        ),
        ("installed_plain", fixtures::instance().status(Status::Installed)),
        (
            "installed_bundle",
            fixtures::instance().status(Status::Installed).packages([b1]),
        ),
        (
            "available_bundle",
            fixtures::instance().status(Status::Available).packages([b1]),
        ),
        ("pending_plain", fixtures::instance().status(Status::Pending)),
        ("available_plain", fixtures::instance().status(Status::Available)),
    ];
    let mut sids: Map<&'static str, String> = Map::new();
    for (label, b) in fleet {
        let id = h.seed_instance(code, b).await;
        sids.insert(label, h.instance(&id).await.sid.to_string());
    }
    (h, sids)
}

use std::collections::HashMap;

fn labelled(sids: &HashMap<&'static str, String>, labels: &[&str]) -> BTreeSet<String> {
    labels.iter().map(|l| sids[l].clone()).collect()
}

#[tokio::test]
async fn cron_on_launched_runs_on_launched_express_instances_without_the_classes_bundle() {
    let (h, sids) = cron_fleet().await;
    let job = h.run_periodic(PeriodicTask::CronLaunched).await;
    assert_eq!(sids_of(result(&job)), labelled(&sids, &["launched_plain"]));
    assert_eq!(h.exec.subjects_of("drush_cron"), [sids["launched_plain"].clone()]);
    assert!(h.jobs_of("drush_cron").await.iter().all(|j| j.max_attempts == 1));
}

fn sids_of(r: &Value) -> BTreeSet<String> {
    sids(&r["sids"])
}

#[tokio::test]
async fn cron_on_the_classes_bundle_selects_by_package_name_across_versions_and_never_available() {
    let (h, sids) = cron_fleet().await;
    let job = h.run_periodic(PeriodicTask::CronClassesBundle).await;
    assert_eq!(
        sids_of(result(&job)),
        labelled(&sids, &["launched_bundle", "installed_bundle"])
    );
    let ran: BTreeSet<String> = h.exec.subjects_of("drush_cron").into_iter().collect();
    assert_eq!(ran, labelled(&sids, &["launched_bundle", "installed_bundle"]));
}

#[tokio::test]
async fn cron_on_installed_excludes_the_classes_bundle_and_everything_not_installed() {
    let (h, sids) = cron_fleet().await;
    let job = h.run_periodic(PeriodicTask::CronInstalled).await;
    assert_eq!(sids_of(result(&job)), labelled(&sids, &["installed_plain"]));
}

#[tokio::test]
async fn failed_cron_notifies_and_is_not_retried() {
    let h = Harness::with_exec(RecordingExecutor::new().fail_from("drush_cron", 1));
    let code = h.seed_code().await;
    let id = h
        .seed_instance(code, fixtures::instance().status(Status::Launched))
        .await;
    h.run_periodic(PeriodicTask::CronLaunched).await;
    let cron = h.jobs_of("drush_cron").await.remove(0);
    assert_eq!((cron.status, cron.attempts), (JobStatus::Dead, 1));
    let n = &h.notes_titled("Run Command")[0];
    assert_eq!(n.level, Level::Error);
    assert_eq!(field(n, "Instance"), Some(h.instance(&id).await.sid.as_str()));
}

#[tokio::test]
async fn orphan_statistics_of_missing_or_deleted_instances_are_deleted() {
    let h = Harness::new();
    let code = h.seed_code().await;
    let live = h
        .seed_instance(code, fixtures::instance().status(Status::Launched))
        .await;
    let gone = h
        .seed_instance(code, fixtures::instance().status(Status::Launched))
        .await;
    let mut b = Batch::new(h.now());
    b.delete(Resource::Instance, gone, None);
    h.store.commit(b).await.unwrap();
    let kept = h
        .insert(
            Resource::Statistics,
            fixtures::statistics().instance(live).build(),
        )
        .await;
    let of_deleted = h
        .insert(
            Resource::Statistics,
            fixtures::statistics().instance(gone).build(),
        )
        .await;
    let of_missing = h
        .insert(
            Resource::Statistics,
            fixtures::statistics().instance(Id::generate(h.now())).build(),
        )
        .await;
    let job = h.run_periodic(PeriodicTask::RemoveOrphanStatistics).await;
    let deleted = sids(&result(&job)["deleted"]);
    assert_eq!(
        deleted,
        [of_deleted.to_string(), of_missing.to_string()]
            .into_iter()
            .collect()
    );
    assert!(!h.raw(Resource::Statistics, &kept).await.deleted);
    assert!(h.raw(Resource::Statistics, &of_deleted).await.deleted);
    assert!(h.raw(Resource::Statistics, &of_missing).await.deleted);
}

#[tokio::test]
async fn installed_instances_older_than_35_days_are_taken_down_outside_production() {
    let h = Harness::new();
    let code = h.seed_code().await;
    let now = h.now();
    let old = h
        .seed_instance(
            code,
            fixtures::instance()
                .status(Status::Installed)
                .created(now.minus(DAY * 36)),
        )
        .await;
    let young = h
        .seed_instance(
            code,
            fixtures::instance()
                .status(Status::Installed)
                .created(now.minus(DAY * 34)),
        )
        .await;
    let old_launched = h
        .seed_instance(
            code,
            fixtures::instance()
                .status(Status::Launched)
                .created(now.minus(DAY * 90)),
        )
        .await;
    let job = h.run_periodic(PeriodicTask::TakeDownOldInstalled).await;
    assert_eq!(
        result(&job)["taken_down"],
        json!([h.instance(&old).await.sid.as_str()])
    );
    assert_eq!(h.status(&old).await, Status::Down);
    assert_eq!(h.status(&young).await, Status::Installed);
    assert_eq!(h.status(&old_launched).await, Status::Launched);
}

#[tokio::test]
async fn production_never_takes_down_old_installed_instances() {
    let h = Harness::with_config(ServiceConfig {
        environment: Environment::Production,
        ..ServiceConfig::default()
    });
    let code = h.seed_code().await;
    let old = h
        .seed_instance(
            code,
            fixtures::instance()
                .status(Status::Installed)
                .created(h.now().minus(DAY * 100)),
        )
        .await;
    let job = h.run_periodic(PeriodicTask::TakeDownOldInstalled).await;
    assert!(result(&job)["skipped"].as_str().unwrap().contains("production"));
    assert_eq!(h.status(&old).await, Status::Installed);
}

#[tokio::test]
async fn every_available_instance_is_replaced() {
    let h = Harness::new();
    let code = h.seed_code().await;
    let a = h
        .seed_instance(code, fixtures::instance().status(Status::Available))
        .await;
    let b = h
        .seed_instance(code, fixtures::instance().status(Status::Available))
        .await;
    let kept = h
        .seed_instance(code, fixtures::instance().status(Status::Installed))
        .await;
    let job = h.run_periodic(PeriodicTask::ReplaceAvailable).await;
    assert_eq!(result(&job)["deleted"].as_array().unwrap().len(), 2);
    assert!(h.raw(Resource::Instance, &a).await.deleted && h.raw(Resource::Instance, &b).await.deleted);
    assert!(!h.raw(Resource::Instance, &kept).await.deleted);
    assert_eq!(h.exec.subjects_of("remove_instance").len(), 2);
    // The next top-up refills the pool.
    h.run_periodic(PeriodicTask::PoolTopUp).await;
    assert_eq!(pool_count(&h).await, 2);
}

#[tokio::test]
async fn statistics_not_updated_in_36_hours_are_reported_in_one_warning() {
    let h = Harness::new();
    let code = h.seed_code().await;
    let stale = h
        .seed_instance(code, fixtures::instance().status(Status::Launched))
        .await;
    let fresh = h
        .seed_instance(code, fixtures::instance().status(Status::Launched))
        .await;
    let gone = h
        .seed_instance(code, fixtures::instance().status(Status::Launched))
        .await;
    h.insert(
        Resource::Statistics,
        fixtures::statistics().instance(stale).build(),
    )
    .await;
    h.insert(
        Resource::Statistics,
        fixtures::statistics().instance(gone).build(),
    )
    .await;
    let mut b = Batch::new(h.now());
    b.delete(Resource::Instance, gone, None);
    h.store.commit(b).await.unwrap();
    h.clock.advance(Duration::from_secs(40 * 3600));
    h.insert(
        Resource::Statistics,
        fixtures::statistics().instance(fresh).build(),
    )
    .await;

    let job = h.run_periodic(PeriodicTask::VerifyStatistics).await;

    let stale_sid = h.instance(&stale).await.sid.to_string();
    assert_eq!(result(&job)["outdated"], json!([stale_sid.clone()]));
    let warnings = h.notes_titled("Outdated Statistics");
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].level, Level::Warning);
    assert_eq!(field(&warnings[0], "Instances"), Some(stale_sid.as_str()));
}

#[tokio::test]
async fn up_to_date_statistics_send_no_warning() {
    let h = Harness::new();
    let code = h.seed_code().await;
    let id = h
        .seed_instance(code, fixtures::instance().status(Status::Launched))
        .await;
    h.insert(Resource::Statistics, fixtures::statistics().instance(id).build())
        .await;
    let job = h.run_periodic(PeriodicTask::VerifyStatistics).await;
    assert_eq!(result(&job)["outdated"], json!([]));
    assert!(h.notes_titled("Outdated Statistics").is_empty());
}

#[tokio::test]
async fn a_periodic_job_naming_no_known_task_fails_for_good() {
    let h = Harness::new();
    let id = h
        .enqueue(JobSpec::new("periodic", json!({"task": "defragment"}), h.now()))
        .await;
    h.drain().await;
    let job = h.job(&id).await;
    assert_eq!(job.status, JobStatus::Dead);
    assert!(job
        .last_error
        .unwrap()
        .contains("unknown periodic task 'defragment'"));
}

#[tokio::test]
async fn deploying_the_current_core_and_profile_tops_the_pool_up_at_once() {
    let h = Harness::with_deploy_top_up();
    // No tick has run: the deploys themselves queue the top-up.
    h.seed_code().await;
    h.drain_all().await;
    assert_eq!(pool_count(&h).await, 2, "the local pool target");
    let q = FindQuery::all_matching(Filter::eq("status", "available"));
    assert_eq!(h.store.find(Resource::Instance, &q).await.unwrap().items.len(), 2);
    let top_ups = h.jobs_of("periodic").await;
    assert!(!top_ups.is_empty());
    assert!(top_ups
        .iter()
        .all(|j| j.key.as_deref() == Some("periodic:pool_top_up")));
    // A module deploy does not touch the pool.
    let before = h.jobs_of("periodic").await.len();
    h.post(
        Resource::Code,
        Value::Object(fixtures::code().module("views", "3").current().build()),
    )
    .await;
    h.drain_all().await;
    assert_eq!(h.jobs_of("periodic").await.len(), before);
}
