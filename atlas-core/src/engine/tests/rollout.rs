//! Rollouts end to end over a simulated fleet of 12 launched instances in
//! update groups 0, 1 and 2 moving from profile `express` 2.8 to 2.9:
//! wave order and grouping, the failure policies, pause/resume, abort,
//! a restart mid-wave, the `pre_update` backups and the checks of a new
//! rollout.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::{field, worker_config, Harness};
use crate::jobs::{JobStatus, LeaseSpec};
use crate::model::{Backup, BackupKind, Id, Instance, Resource, Rollout, RolloutState, Status};
use crate::query::{Filter, FindQuery};
use crate::service::{Actor, FailedChoice, ServiceError};
use crate::store::Store;
use crate::testing::{fixtures, RecordingExecutor};
use crate::{App, AppConfig};

/// Instances in the simulated fleet.
const FLEET: usize = 12;

struct Fleet {
    /// Profile `express` 2.8, every instance's profile.
    from: Id,
    /// Profile `express` 2.9.
    to: Id,
    /// The instances, by sid.
    sids: BTreeMap<String, Id>,
}

fn sid(i: usize) -> String {
    format!("p1fleet{i:05}")
}

/// Code seeded, `to` posted and deployed, 12 launched instances on `from`
/// with update groups `i % 3`.
async fn fleet(h: &Harness) -> Fleet {
    let (core, from) = h.seed_code().await;
    let to = h
        .post(
            Resource::Code,
            Value::Object(fixtures::code().profile("express", "2.9").build()),
        )
        .await
        .id;
    h.drain().await;
    let mut sids = BTreeMap::new();
    for i in 0..FLEET {
        let g = u8::try_from(i % 3).unwrap();
        let id = h
            .seed_instance(
                (core, from),
                fixtures::instance()
                    .sid(&sid(i))
                    .status(Status::Launched)
                    .update_group(g),
            )
            .await;
        sids.insert(sid(i), id);
    }
    h.exec.clear();
    Fleet { from, to, sids }
}

async fn post_rollout(h: &Harness, f: &Fleet, extra: Value) -> Id {
    let mut body = json!({"from": f.from.to_string(), "to": f.to.to_string()});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    h.post(Resource::Rollout, body).await.id
}

async fn rollout(h: &Harness, id: &Id) -> Rollout {
    Rollout::from_doc(&h.raw(Resource::Rollout, id).await).unwrap()
}

async fn group_of(h: &Harness, id: &Id) -> i64 {
    h.instance(id).await.update_group.unwrap()
}

/// How often `switch_code` ran per sid.
fn switches(h: &Harness) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for s in h.exec.subjects_of("switch_code") {
        *out.entry(s).or_default() += 1;
    }
    out
}

/// The rollout's instance jobs by wave, as (instance, status).
async fn waves(h: &Harness) -> BTreeMap<u64, Vec<(Id, JobStatus)>> {
    let mut out: BTreeMap<u64, Vec<(Id, JobStatus)>> = BTreeMap::new();
    for job in h.jobs_of("rollout_instance").await {
        let wave = job.payload["wave"].as_u64().unwrap();
        let inst = Id::parse(job.payload["instance"].as_str().unwrap()).unwrap();
        out.entry(wave).or_default().push((inst, job.status));
    }
    out
}

fn alice() -> Actor {
    Actor("alice".into())
}

#[tokio::test]
async fn waves_follow_update_groups_in_order_never_mix_them_and_switch_every_instance_once() {
    let h = Harness::new();
    let f = fleet(&h).await;
    let id = post_rollout(&h, &f, json!({"wave_size": 2})).await;
    h.drain_all().await;

    let r = rollout(&h, &id).await;
    assert_eq!(r.state, RolloutState::Completed);
    assert_eq!(
        (r.wave, r.done, r.remaining),
        (6, 12, 0),
        "4 instances per group, 2 per wave"
    );
    assert!(r.failed.is_empty() && r.current.is_empty());
    assert!(r.started.is_some() && r.finished.is_some());

    let waves = waves(&h).await;
    assert_eq!(waves.len(), 6);
    for (n, jobs) in &waves {
        assert_eq!(jobs.len(), 2, "wave {n}");
        let groups: Vec<i64> = futures::future::join_all(jobs.iter().map(|(i, _)| group_of(&h, i))).await;
        assert!(
            groups.iter().all(|g| *g == groups[0]),
            "wave {n} mixes groups {groups:?}"
        );
        assert_eq!(
            groups[0],
            i64::try_from((n - 1) / 2).unwrap(),
            "wave {n} in group order"
        );
    }
    // The switches themselves ran in group order.
    let order: Vec<String> = h.exec.subjects_of("switch_code");
    let by_sid: BTreeMap<&String, usize> = f.sids.keys().enumerate().map(|(i, s)| (s, i % 3)).collect();
    let groups: Vec<usize> = order.iter().map(|s| by_sid[s]).collect();
    assert!(groups.windows(2).all(|w| w[0] <= w[1]), "{groups:?}");
    assert!(switches(&h).values().all(|n| *n == 1));
    assert_eq!(switches(&h).len(), FLEET);

    for inst in f.sids.values() {
        let i: Instance = h.instance(inst).await;
        assert_eq!(i.code.profile, Some(f.to), "{}", i.sid);
    }
    // The executor saw the new profile.
    let spec = &h.exec.specs_of("switch_code")[0];
    assert_eq!(spec.profile.id, f.to);
    assert_eq!(h.notes_titled("Rollout Completed").len(), 1);
}

#[tokio::test]
async fn more_failures_in_a_wave_than_tolerated_halt_with_the_failed_sids_and_errors() {
    // Wave 1 is p1fleet00000 and p1fleet00003 (group 0), wave 3 is
    // p1fleet00001 and p1fleet00004 (group 1).
    let exec = RecordingExecutor::new()
        .fail_for("switch_code", &sid(3))
        .fail_for("switch_code", &sid(1))
        .fail_for("switch_code", &sid(4));
    let h = Harness::with_exec(exec);
    let f = fleet(&h).await;
    let id = post_rollout(&h, &f, json!({"wave_size": 2, "max_failures": 1})).await;
    h.drain_all().await;

    let r = rollout(&h, &id).await;
    assert_eq!(
        r.state,
        RolloutState::Halted,
        "the second failure of wave 3 halts"
    );
    assert_eq!(r.wave, 3);
    assert_eq!(r.done, 3, "wave 1: one, wave 2: two");
    let failed: Vec<&str> = r.failed.iter().map(|x| x.sid.as_str()).collect();
    assert_eq!(failed.len(), 3);
    assert_eq!(r.remaining, 6, "12 less 3 done and 3 failed");
    for s in [sid(3), sid(1), sid(4)] {
        assert!(failed.contains(&s.as_str()), "{s} in {failed:?}");
    }
    assert!(
        r.failed.iter().all(|x| x.error.contains("switch_code failed")),
        "{:?}",
        r.failed
    );
    assert_eq!(r.failed[0].instance, f.sids[&sid(3)]);
    assert_eq!(waves(&h).await.len(), 3, "no wave after the halt");

    let halted = h.notes_titled("Rollout Halted");
    assert_eq!(halted.len(), 1);
    let named = field(&halted[0], "Failed").unwrap();
    assert!(named.contains(&sid(1)) && named.contains(&sid(4)), "{named}");
    // The failed instance keeps `from` and says why.
    let i = h.instance(&f.sids[&sid(1)]).await;
    assert_eq!(i.code.profile, Some(f.from));

    // A halted rollout needs a choice to go on.
    let e = h
        .svc
        .resume_rollout(&id.to_string(), None, &alice())
        .await
        .unwrap_err();
    let ServiceError::Conflict { field, message } = &e else {
        panic!("{e}")
    };
    assert_eq!(field, "failed");
    assert!(
        message.contains("\"retry\"") && message.contains("\"skip\""),
        "{message}"
    );

    // Skip: the failed ones are recorded and left out; the rest completes.
    h.svc
        .resume_rollout(&id.to_string(), Some(FailedChoice::Skip), &alice())
        .await
        .unwrap();
    h.drain_all().await;
    let r = rollout(&h, &id).await;
    assert_eq!(r.state, RolloutState::Completed);
    assert_eq!(r.done, 9);
    assert_eq!(r.skipped.len(), 3);
    assert!(switches(&h)
        .iter()
        .all(|(s, n)| *n == 1 || failed.contains(&s.as_str())));
}

#[tokio::test]
async fn a_retry_on_resume_puts_the_failed_instances_back_into_the_plan() {
    // p1fleet00000's switch fails for good once (5 attempts), then works.
    let mut exec = RecordingExecutor::new();
    for n in 1..=5 {
        exec = exec.fail_on("switch_code", n);
    }
    let h = Harness::with_exec(exec);
    let f = fleet(&h).await;
    let id = post_rollout(&h, &f, json!({"wave_size": 1})).await;
    h.drain_all().await;
    let r = rollout(&h, &id).await;
    assert_eq!((r.state, r.wave, r.done), (RolloutState::Halted, 1, 0));
    assert_eq!(r.failed[0].sid, sid(0));

    h.svc
        .resume_rollout(&id.to_string(), Some(FailedChoice::Retry), &alice())
        .await
        .unwrap();
    h.drain_all().await;
    let r = rollout(&h, &id).await;
    assert_eq!((r.state, r.done), (RolloutState::Completed, 12));
    assert!(r.failed.is_empty() && r.skipped.is_empty());
    assert_eq!(h.instance(&f.sids[&sid(0)]).await.code.profile, Some(f.to));
}

#[tokio::test]
async fn the_continue_policy_records_failures_and_goes_on() {
    let h = Harness::with_exec(RecordingExecutor::new().fail_for("switch_code", &sid(0)));
    let f = fleet(&h).await;
    let id = post_rollout(&h, &f, json!({"wave_size": 2, "on_failure": "continue"})).await;
    h.drain_all().await;
    let r = rollout(&h, &id).await;
    assert_eq!(r.state, RolloutState::Completed);
    assert_eq!((r.done, r.failed.len()), (11, 1));
    assert_eq!(r.failed[0].sid, sid(0));
    assert_eq!(
        switches(&h)[&sid(0)],
        crate::jobs::DEFAULT_MAX_ATTEMPTS as usize,
        "its attempts, and it is not planned again"
    );
    assert!(h.notes_titled("Rollout Halted").is_empty());
}

#[tokio::test]
async fn a_paused_rollout_finishes_its_wave_starts_no_other_and_resumes() {
    let h = Harness::new();
    let f = fleet(&h).await;
    let id = post_rollout(&h, &f, json!({"wave_size": 2, "pause_between": 60})).await;
    // The first step, wave 1 and the step planning wave 2 (due in 60 s).
    h.drain().await;
    let r = rollout(&h, &id).await;
    assert_eq!((r.state, r.wave, r.done), (RolloutState::Running, 2, 2));
    assert_eq!(r.remaining, 10, "wave 2's two included");
    let planned = waves(&h).await[&2].clone();
    assert!(planned.iter().all(|(_, s)| *s == JobStatus::Queued));
    let wave2_due = h
        .jobs_of("rollout_instance")
        .await
        .iter()
        .map(|j| j.run_at)
        .max()
        .unwrap();
    assert_eq!(wave2_due, h.now().plus(Duration::from_secs(60)));

    let paused = h.svc.pause_rollout(&id.to_string(), &alice()).await.unwrap();
    assert_eq!(paused.body["state"], "paused");
    assert_eq!(paused.body["modified_by"], "alice");
    let e = h.svc.pause_rollout(&id.to_string(), &alice()).await.unwrap_err();
    assert!(
        matches!(e, ServiceError::Conflict { ref field, .. } if field == "state"),
        "{e}"
    );

    h.drain_all().await;
    let r = rollout(&h, &id).await;
    assert_eq!(r.state, RolloutState::Paused);
    assert_eq!(r.wave, 2, "no wave 3 while paused");
    assert_eq!(switches(&h).len(), 4, "wave 2 finished");
    assert_eq!(waves(&h).await.len(), 2);

    h.svc
        .resume_rollout(&id.to_string(), None, &alice())
        .await
        .unwrap();
    h.drain_all().await;
    let r = rollout(&h, &id).await;
    assert_eq!((r.state, r.done, r.wave), (RolloutState::Completed, 12, 6));
}

#[tokio::test]
async fn an_abort_cancels_the_queued_jobs_of_the_current_wave() {
    let h = Harness::new();
    let f = fleet(&h).await;
    let id = post_rollout(&h, &f, json!({"wave_size": 2, "pause_between": 60})).await;
    h.drain().await;
    let aborted = h.svc.abort_rollout(&id.to_string(), &alice()).await.unwrap();
    assert_eq!(aborted.body["state"], "aborted");
    assert!(aborted.body.get("finished").is_some());

    let wave2: Vec<_> = h
        .jobs_of("rollout_instance")
        .await
        .into_iter()
        .filter(|j| j.payload["wave"] == 2)
        .collect();
    assert_eq!(wave2.len(), 2);
    for j in &wave2 {
        assert_eq!(j.status, JobStatus::Dead);
        assert!(
            j.last_error
                .as_deref()
                .unwrap_or_default()
                .contains("aborted by alice"),
            "{:?}",
            j.last_error
        );
    }
    h.drain_all().await;
    assert_eq!(switches(&h).len(), 2, "only wave 1 was switched");
    assert_eq!(rollout(&h, &id).await.state, RolloutState::Aborted);
    let e = h.svc.abort_rollout(&id.to_string(), &alice()).await.unwrap_err();
    assert!(
        matches!(e, ServiceError::Conflict { ref field, .. } if field == "state"),
        "{e}"
    );
    // Only a finished rollout is deleted; this one is.
    h.delete(Resource::Rollout, &id).await;
}

#[tokio::test]
async fn a_running_rollout_cannot_be_deleted() {
    let h = Harness::new();
    let f = fleet(&h).await;
    let id = post_rollout(&h, &f, json!({"pause_between": 60, "wave_size": 1})).await;
    h.drain().await;
    let cur = h.svc.get(Resource::Rollout, &id.to_string()).await.unwrap();
    let e = h
        .svc
        .delete(Resource::Rollout, &id.to_string(), Some(&cur.etag), &alice())
        .await
        .unwrap_err();
    let ServiceError::Conflict { field, message } = &e else {
        panic!("{e}")
    };
    assert_eq!(field, "state");
    assert!(message.contains("abort"), "{message}");
}

#[tokio::test]
async fn a_restart_mid_wave_switches_no_instance_twice_and_skips_none() {
    let h = Harness::new();
    let f = fleet(&h).await;
    let id = post_rollout(&h, &f, json!({"wave_size": 4})).await;
    // The first step plans wave 1; one of its instances is switched.
    h.worker.run_one().await.unwrap().unwrap();
    h.worker.run_one().await.unwrap().unwrap();
    assert_eq!(switches(&h).len(), 1);
    // Another is claimed by a worker that dies before finishing it.
    let lease = LeaseSpec {
        owner: "crashed".into(),
        duration: Duration::from_secs(60),
    };
    let claimed = h.store.claim(&lease, h.now()).await.unwrap().unwrap();
    assert_eq!(claimed.kind, "rollout_instance");

    // A new process over the same store.
    let mut config = AppConfig {
        worker: worker_config(),
        ..AppConfig::default()
    };
    config.scheduler.enabled = false;
    config.service.pool_top_up_on_deploy = false;
    let app = App::builder(h.store.clone())
        .executor(Arc::new(h.exec.clone()))
        .clock(Arc::new(h.clock.clone()))
        .secret_key(h.svc.secret_key().clone())
        .config(config)
        .build()
        .unwrap();
    h.clock.advance(Duration::from_secs(120));
    h.store.requeue_expired(h.now()).await.unwrap();
    for _ in 0..50 {
        if app.worker().drain().await.unwrap() == 0 {
            break;
        }
    }

    let r = rollout(&h, &id).await;
    assert_eq!((r.state, r.done), (RolloutState::Completed, 12), "{:?}", r.failed);
    let counts = switches(&h);
    assert_eq!(counts.len(), FLEET, "none skipped: {counts:?}");
    assert!(counts.values().all(|n| *n == 1), "none twice: {counts:?}");
}

#[tokio::test]
async fn an_instance_already_off_from_is_done_without_a_switch() {
    let h = Harness::new();
    let f = fleet(&h).await;
    let id = post_rollout(&h, &f, json!({"wave_size": 12})).await;
    h.worker.run_one().await.unwrap().unwrap();
    // Moved by hand between planning and its job.
    let moved = f.sids[&sid(0)];
    let mut b = crate::batch::Batch::new(h.now());
    b.update(
        Resource::Instance,
        moved,
        super::obj(json!({"code": {"profile": f.to.to_string()}})),
        None,
    );
    h.store.commit(b).await.unwrap();
    h.drain_all().await;
    let r = rollout(&h, &id).await;
    assert_eq!((r.state, r.done), (RolloutState::Completed, 12));
    assert!(!switches(&h).contains_key(&sid(0)));
}

#[tokio::test]
async fn with_backup_each_instance_gets_a_pre_update_backup_before_its_switch() {
    let h = Harness::new();
    let f = fleet(&h).await;
    let id = post_rollout(&h, &f, json!({"wave_size": 6, "backup": true})).await;
    h.drain_all().await;
    assert_eq!(rollout(&h, &id).await.state, RolloutState::Completed);
    let ops = h.exec.operations();
    let first_backup = ops.iter().position(|o| o == "backup_instance").unwrap();
    let first_switch = ops.iter().position(|o| o == "switch_code").unwrap();
    assert!(first_backup < first_switch);
    let q = FindQuery::all_matching(Filter::eq("kind", "pre_update"));
    let backups = h.store.find(Resource::Backup, &q).await.unwrap().items;
    assert_eq!(backups.len(), FLEET);
    let b = Backup::from_doc(&backups[0]).unwrap();
    assert_eq!(b.kind, BackupKind::PreUpdate);
    assert!(b.code.iter().any(|c| c.id == f.from), "the code it ran before");
}

#[tokio::test]
async fn a_new_rollout_names_the_field_at_fault() {
    let h = Harness::new();
    let f = fleet(&h).await;
    let core = h
        .post(
            Resource::Code,
            Value::Object(fixtures::code().core("drupal", "7.50").build()),
        )
        .await
        .id;
    let other = h
        .post(
            Resource::Code,
            Value::Object(fixtures::code().profile("other", "1.0").build()),
        )
        .await
        .id;
    let svc = &h.svc;
    let create =
        |body: Value| async move { svc.create(Resource::Rollout, &alice(), body).await.unwrap_err() };
    let conflict = |e: ServiceError| match e {
        ServiceError::Conflict { field, message } => (field, message),
        other => panic!("not a conflict: {other}"),
    };

    let (field, message) =
        conflict(create(json!({"from": f.from.to_string(), "to": f.from.to_string()})).await);
    assert_eq!(field, "to");
    assert!(message.contains("same code item"), "{message}");
    let (field, message) =
        conflict(create(json!({"from": f.from.to_string(), "to": other.to_string()})).await);
    assert_eq!(field, "to");
    assert!(message.contains("not a release of the same item"), "{message}");
    let (field, _) = conflict(create(json!({"from": f.from.to_string(), "to": core.to_string()})).await);
    assert_eq!(field, "to");

    let invalid = |e: ServiceError| match e {
        ServiceError::Invalid(i) => i.first().unwrap().to_json().to_string(),
        other => panic!("not invalid: {other}"),
    };
    let gone = Id::generate(h.now());
    let issues = invalid(create(json!({"from": f.from.to_string(), "to": gone.to_string()})).await);
    assert!(issues.contains("\"to\""), "{issues}");
    let issues = invalid(create(json!({"to": f.to.to_string()})).await);
    assert!(issues.contains("\"from\""), "{issues}");
    let issues = invalid(
        create(json!({"from": f.from.to_string(), "to": f.to.to_string(), "wave_size": 0, "where": "{nope"}))
            .await,
    );
    assert!(
        issues.contains("wave_size") && issues.contains("at least 1"),
        "{issues}"
    );
    assert!(issues.contains("where"), "{issues}");
    let issues = invalid(
        create(json!({"from": f.from.to_string(), "to": f.to.to_string(), "state": "running"})).await,
    );
    assert!(issues.contains("state"), "{issues}");

    // Its items never change once it exists.
    let id = post_rollout(&h, &f, json!({"pause_between": 60})).await;
    let cur = h.svc.get(Resource::Rollout, &id.to_string()).await.unwrap();
    let e = h
        .svc
        .update(
            Resource::Rollout,
            &id.to_string(),
            Some(&cur.etag),
            &alice(),
            json!({"to": other.to_string()}),
        )
        .await
        .unwrap_err();
    assert_eq!(conflict(e).0, "to");
}

#[tokio::test]
async fn where_narrows_the_instances_a_rollout_switches() {
    let h = Harness::new();
    let f = fleet(&h).await;
    let id = post_rollout(
        &h,
        &f,
        json!({"where": format!("{{\"sid\": {{\"$in\": [\"{}\", \"{}\"]}}}}", sid(1), sid(2))}),
    )
    .await;
    h.drain_all().await;
    let r = rollout(&h, &id).await;
    assert_eq!((r.state, r.done), (RolloutState::Completed, 2));
    assert_eq!(
        switches(&h).keys().cloned().collect::<Vec<_>>(),
        vec![sid(1), sid(2)]
    );
}

/// A commit hash no fixture uses.
const NEW_COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

/// The rollouts on record.
async fn rollouts(h: &Harness) -> Vec<Rollout> {
    h.store
        .find(Resource::Rollout, &FindQuery::all_matching(Filter::All))
        .await
        .unwrap()
        .items
        .iter()
        .map(|d| Rollout::from_doc(d).unwrap())
        .collect()
}

#[tokio::test]
async fn a_code_patch_moving_the_checkout_is_a_one_wave_rollout_over_every_instance_using_it() {
    let h = Harness::new();
    let f = fleet(&h).await;
    h.patch(Resource::Code, &f.from, json!({"commit_hash": NEW_COMMIT}))
        .await;
    h.drain_all().await;

    let all = rollouts(&h).await;
    assert_eq!(all.len(), 1, "one record of what the PATCH did");
    let r = &all[0];
    assert!(r.in_place() && r.from == f.from);
    assert_eq!(r.created_by.as_deref(), Some("alice"));
    assert_eq!(r.state, RolloutState::Completed);
    assert_eq!((r.wave, r.done, r.wave_size), (1, 12, 12));
    // One wave across the three update groups, each instance once.
    let waves = waves(&h).await;
    assert_eq!(waves.len(), 1);
    assert_eq!(waves[&1].len(), FLEET);
    assert_eq!(switches(&h).len(), FLEET);
    assert!(switches(&h).values().all(|n| *n == 1));
    // The checkout moved first; the instances were switched after it.
    let ops = h.exec.operations();
    let moved = ops.iter().position(|o| o == "update_code").unwrap();
    let first = ops.iter().position(|o| o == "switch_code").unwrap();
    assert!(moved < first, "{ops:?}");
    let update = &h.jobs_of("code_update").await[0];
    assert_eq!(
        update.result.as_ref().unwrap()["rollout"],
        json!(r.id.to_string())
    );
    // The instances keep the item, now at its new commit.
    for inst in f.sids.values() {
        assert_eq!(h.instance(inst).await.code.profile, Some(f.from));
    }
    assert_eq!(h.notes_titled("Rollout Completed").len(), 1);
}

#[tokio::test]
async fn a_failure_halts_a_code_patch_rollout_and_a_retry_redoes_only_the_failed_instance() {
    let h = Harness::with_exec(RecordingExecutor::new().fail_for("switch_code", &sid(5)));
    let f = fleet(&h).await;
    h.patch(Resource::Code, &f.from, json!({"commit_hash": NEW_COMMIT}))
        .await;
    h.drain_all().await;
    let r = rollouts(&h).await.remove(0);
    assert_eq!((r.state, r.done), (RolloutState::Halted, 11));
    assert_eq!(r.failed.len(), 1);
    assert_eq!(r.failed[0].sid, sid(5));
    assert_eq!(h.notes_titled("Rollout Halted").len(), 1);

    h.svc
        .resume_rollout(&r.id.to_string(), Some(FailedChoice::Retry), &alice())
        .await
        .unwrap();
    h.drain_all().await;
    let waves = waves(&h).await;
    assert_eq!(waves.len(), 2);
    assert_eq!(
        waves[&2].iter().map(|(i, _)| *i).collect::<Vec<_>>(),
        vec![f.sids[&sid(5)]],
        "the retry wave holds the failed instance only"
    );
    let r = rollouts(&h).await.remove(0);
    assert_eq!((r.state, r.done, r.failed.len()), (RolloutState::Halted, 11, 1));

    h.svc
        .resume_rollout(&r.id.to_string(), Some(FailedChoice::Skip), &alice())
        .await
        .unwrap();
    h.drain_all().await;
    let r = rollouts(&h).await.remove(0);
    assert_eq!((r.state, r.done), (RolloutState::Completed, 11));
    assert_eq!(r.skipped, vec![sid(5)]);
    assert!(switches(&h).iter().all(|(s, n)| *n == 1 || *s == sid(5)));
}

#[tokio::test]
async fn a_code_patch_of_an_item_no_instance_uses_makes_no_rollout() {
    let h = Harness::new();
    let f = fleet(&h).await;
    h.patch(Resource::Code, &f.to, json!({"commit_hash": NEW_COMMIT}))
        .await;
    h.drain_all().await;
    assert_eq!(h.exec.subjects_of("update_code").len(), 1);
    assert!(rollouts(&h).await.is_empty());
    assert!(h.exec.subjects_of("switch_code").is_empty());
}

#[tokio::test]
async fn a_client_cannot_post_an_in_place_rollout() {
    let h = Harness::new();
    let f = fleet(&h).await;
    let e = h
        .svc
        .create(
            Resource::Rollout,
            &alice(),
            json!({"from": f.from.to_string(), "to": f.from.to_string()}),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, ServiceError::Conflict { ref field, .. } if field == "to"),
        "{e}"
    );
}

#[tokio::test]
async fn a_code_patch_that_leaves_the_commit_alone_makes_no_rollout() {
    let h = Harness::new();
    let f = fleet(&h).await;
    h.patch(
        Resource::Code,
        &f.from,
        json!({"meta": {"label": "Express (old)", "is_current": false}}),
    )
    .await;
    h.drain_all().await;
    assert_eq!(
        h.exec.subjects_of("update_code").len(),
        1,
        "redeployed (no longer current)"
    );
    assert!(rollouts(&h).await.is_empty());
    assert!(h.exec.subjects_of("switch_code").is_empty());
}
