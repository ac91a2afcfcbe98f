//! The metrics listener over a real socket, without the API (as `atlas
//! worker` runs it): `/metrics` parsed strictly as the text exposition
//! format, its task gauges moving with the scheduler and the worker, a
//! scrape surviving a closed store, and `/healthz` / `/readyz`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use atlas_core::model::Timestamp;
use atlas_core::testing::{ManualClock, RecordingExecutor};
use atlas_core::{App, Scheduler, SecretKey, Worker};
use atlas_observe::testing::{BreakableStore, Exposition};
use atlas_observe::{serve_metrics, MeteredStore, Metrics, MetricsState, Readiness, METRICS_CONTENT_TYPE};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::sync::oneshot;

/// A worker, a scheduler and the metrics listener over one metered store.
struct Observed {
    addr: SocketAddr,
    client: reqwest::Client,
    raw: Arc<BreakableStore>,
    clock: Arc<ManualClock>,
    worker: Worker,
    scheduler: Scheduler,
    _stop: oneshot::Sender<()>,
}

impl Observed {
    /// The listener bound before its task starts; `/readyz` checks the
    /// store only.
    async fn spawn() -> Self {
        let raw = Arc::new(BreakableStore::new());
        let metrics = Metrics::new();
        let store = MeteredStore::shared(raw.clone(), metrics.clone());
        let clock = Arc::new(ManualClock::at(Timestamp::from_unix(
            Timestamp::now().unix_seconds(),
        )));
        let app = App::builder(store.clone())
            .executor(Arc::new(RecordingExecutor::new()))
            .clock(clock.clone())
            .secret_key(SecretKey::from_bytes([7; 32]))
            .build()
            .unwrap();
        let (worker, scheduler) = (
            app.worker().clone(),
            app.scheduler().expect("the scheduler is on by default").clone(),
        );
        let readiness = Readiness::new(store.clone(), clock.clone());

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(serve_metrics(
            listener,
            MetricsState {
                metrics,
                store,
                scheduler: Some(scheduler.clone()),
                readiness,
            },
            async {
                let _ = stopped.await;
            },
        ));
        Self {
            addr,
            client: reqwest::Client::new(),
            raw,
            clock,
            worker,
            scheduler,
            _stop: stop,
        }
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("http://{}{path}", self.addr))
            .send()
            .await
            .unwrap()
    }

    /// Scrapes `/metrics` and parses it strictly.
    async fn scrape(&self) -> Exposition {
        let res = self.get("/metrics").await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["content-type"], METRICS_CONTENT_TYPE);
        Exposition::parse(&res.text().await.unwrap())
    }
}

// ---------------------------------------------------------------------
// Health and readiness.

#[tokio::test]
async fn healthz_answers_ok_on_the_metrics_listener() {
    let app = Observed::spawn().await;
    let res = app.get("/healthz").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text().await.unwrap(), "ok");
}

#[tokio::test]
async fn readyz_on_the_metrics_listener_is_ready_until_the_store_closes() {
    let app = Observed::spawn().await;
    let res = app.get("/readyz").await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body,
        json!({"status": "ready", "not_ready": [], "degraded": [], "checks": {"store": "ok"}})
    );

    app.raw.break_it();
    let res = app.get("/readyz").await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["not_ready"], json!(["store"]));
    assert_eq!(body["checks"]["store"], "the store failed a query");
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_metrics_listener_serves_nothing_else() {
    let app = Observed::spawn().await;
    assert_eq!(app.get("/version").await.status(), StatusCode::NOT_FOUND);
}

// ---------------------------------------------------------------------
// Metrics.

#[tokio::test]
async fn periodic_tasks_report_their_last_run_and_outcome() {
    let app = Observed::spawn().await;
    let never = app.scrape().await;
    assert_eq!(
        never.value(
            "atlas_task_last_run_timestamp_seconds",
            &[("task", "remove_orphan_statistics")]
        ),
        Some(0.0)
    );
    assert!(
        never
            .value(
                "atlas_task_next_run_timestamp_seconds",
                &[("task", "remove_orphan_statistics")]
            )
            .unwrap()
            > 0.0
    );

    // An hour later the hourly tasks are due; run them.
    app.scheduler.tick().await.unwrap();
    app.clock.advance(Duration::from_secs(3600));
    let started = app.scheduler.tick().await.unwrap();
    assert!(
        started.iter().any(|t| t.name() == "remove_orphan_statistics"),
        "{started:?}"
    );
    let queued = app.scrape().await;
    let outcome = |exp: &Exposition, status| {
        exp.value(
            "atlas_task_last_outcome",
            &[("task", "remove_orphan_statistics"), ("status", status)],
        )
    };
    assert_eq!(outcome(&queued, "queued"), Some(1.0));
    assert_eq!(outcome(&queued, "succeeded"), Some(0.0));

    while app.worker.drain().await.unwrap() > 0 {}

    let done = app.scrape().await;
    assert_eq!(outcome(&done, "succeeded"), Some(1.0));
    assert_eq!(outcome(&done, "queued"), Some(0.0));
    let now = atlas_core::Clock::now(app.clock.as_ref()).unix_seconds() as f64;
    assert_eq!(
        done.value(
            "atlas_task_last_run_timestamp_seconds",
            &[("task", "remove_orphan_statistics")]
        ),
        Some(now)
    );
}

#[tokio::test]
async fn a_scrape_with_a_closed_store_still_answers_with_store_up_zero() {
    let app = Observed::spawn().await;
    app.raw.break_it();
    let exp = app.scrape().await;
    assert_eq!(exp.value("atlas_store_up", &[]), Some(0.0));
    assert!(
        exp.value(
            "atlas_store_operation_duration_seconds_count",
            &[("operation", "find_jobs"), ("result", "error")]
        )
        .unwrap()
            >= 1.0
    );
}
