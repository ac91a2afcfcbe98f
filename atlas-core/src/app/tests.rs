//! The app wires the service, engine, worker and scheduler as the binary
//! and every embedder need them.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::*;
use crate::clock::ManualClock;
use crate::jobs::JobStatus;
use crate::model::{Resource, Timestamp};
use crate::query::{Filter, FindQuery};
use crate::service::Actor;
use crate::store::Store;
use crate::testing::RecordingExecutor;
use crate::worker::WorkerConfig;
use crate::MemoryStore;

fn t0() -> Timestamp {
    Timestamp::parse("2026-12-01 00:00:00 GMT").unwrap()
}

fn app_with(exec: RecordingExecutor, config: AppConfig) -> App {
    App::builder(Arc::new(MemoryStore::new()))
        .executor(Arc::new(exec))
        .clock(Arc::new(ManualClock::at(t0())))
        .config(config)
        .build()
        .unwrap()
}

async fn seed_code(app: &App) {
    let me = Actor::system();
    for (name, code_type, hash) in [
        ("drupal", "core", "0123456789abcdef0123456789abcdef01234567"),
        ("express", "profile", "89abcdef0123456789abcdef0123456789abcdef"),
    ] {
        app.service()
            .create(
                Resource::Code,
                &me,
                json!({
                    "git_url": format!("https://git.example.edu/{name}.git"),
                    "commit_hash": hash,
                    "meta": {"name": name, "version": "1.0", "code_type": code_type, "is_current": true}
                }),
            )
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn building_without_an_executor_says_which_call_is_missing() {
    let e = App::builder(Arc::new(MemoryStore::new())).build().unwrap_err();
    assert!(matches!(e, AppError::NoExecutor));
    assert!(e.to_string().contains(".executor("), "{e}");
}

#[tokio::test]
async fn a_bad_schedule_is_refused_at_build_time() {
    let mut config = AppConfig::default();
    config
        .scheduler
        .tasks
        .insert("pool_top_up".into(), "every tuesday".into());
    let e = App::builder(Arc::new(MemoryStore::new()))
        .executor(Arc::new(RecordingExecutor::new()))
        .config(config)
        .build()
        .unwrap_err();
    assert!(matches!(e, AppError::Schedule(_)));
    assert!(e.to_string().contains("pool_top_up"), "{e}");
}

#[tokio::test]
async fn drain_runs_the_jobs_a_request_queued_through_the_executor() {
    let exec = RecordingExecutor::new();
    let app = app_with(exec.clone(), AppConfig::default());
    seed_code(&app).await;
    let inst = app
        .service()
        .create(Resource::Instance, &Actor::system(), json!({}))
        .await
        .unwrap()
        .remove(0);
    let ran = app.drain().await.unwrap();
    assert!(ran >= 3, "two deploys and a provision ran, not {ran}");
    let now = app
        .service()
        .get(Resource::Instance, &inst.id.to_string())
        .await
        .unwrap();
    assert_eq!(now.str_field("status"), Some("available"));
    assert!(exec.operations().contains(&"provision".to_owned()));
}

#[tokio::test]
async fn the_scheduler_is_left_out_when_disabled() {
    let mut config = AppConfig::default();
    config.scheduler.enabled = false;
    let app = app_with(RecordingExecutor::new(), config);
    assert!(app.scheduler().is_none());
    let app = app_with(RecordingExecutor::new(), AppConfig::default());
    assert!(app.scheduler().is_some());
    assert_eq!(app.tick(), Duration::from_secs(30));
}

#[tokio::test]
async fn run_wakes_the_worker_on_enqueue_and_stops_on_shutdown() {
    // The worker polls once an hour: only the service's wake signal can
    // get the deploy jobs run while `run` is going.
    let config = AppConfig {
        worker: WorkerConfig {
            poll_interval: Duration::from_secs(3600),
            ..WorkerConfig::default()
        },
        ..AppConfig::default()
    };
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let app = App::builder(store.clone())
        .executor(Arc::new(RecordingExecutor::new()))
        .config(config)
        .build()
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn({
        let app = app.clone();
        async move {
            app.run(async {
                let _ = stopped.await;
            })
            .await
        }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    seed_code(&app).await;
    let deploys = FindQuery::all_matching(Filter::eq("kind", "code_deploy"));
    let mut done = false;
    for _ in 0..500 {
        let jobs = store.find_jobs(&deploys).await.unwrap();
        if jobs.items.len() == 2 && jobs.items.iter().all(|j| j.status == JobStatus::Succeeded) {
            done = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(done, "the woken worker ran both deploys");
    stop.send(()).unwrap();
    running.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_node_running_the_scheduler_tops_the_pool_up_when_it_starts() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let app = App::builder(store.clone())
        .executor(Arc::new(RecordingExecutor::new()))
        .build()
        .unwrap();
    seed_code(&app).await;
    app.drain().await.unwrap();
    let periodic = FindQuery::all_matching(Filter::eq("payload.task", "pool_top_up"));
    let before = store.find_jobs(&periodic).await.unwrap().total;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let _ = stop.send(());
    app.run(async {
        let _ = stopped.await;
    })
    .await
    .unwrap();
    let after = store.find_jobs(&periodic).await.unwrap().total;
    assert_eq!(after, before + 1, "one top-up queued at start");
}
