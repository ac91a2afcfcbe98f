//! Health, readiness and metrics of the API over real sockets: `/healthz`,
//! `/readyz` (503 naming what is not ready) on the API and the metrics
//! listener, and `/metrics` on its own listener (parsed strictly by
//! `atlas_observe::testing::Exposition`), its counters moving with API
//! requests and the jobs they enqueue. The listener alone (task gauges, a
//! scrape with a closed store) is tested in `atlas-observe`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use atlas_core::model::Timestamp;
use atlas_core::testing::{ManualClock, RecordingExecutor};
use atlas_core::{App, AppConfig, Scheduler, SecretKey, Worker};
use atlas_http::{AppState, StaticUsers};
use atlas_observe::testing::{BreakableStore, Exposition};
use atlas_observe::{MeteredStore, Metrics, MetricsState, Readiness, METRICS_CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::sync::oneshot;

use crate::helpers::{cheap_hash, core_body, profile_body, PASSWORD, USER};

// ---------------------------------------------------------------------
// The API and the metrics listener, over one metered store.

struct ObservedApp {
    api: SocketAddr,
    metrics_addr: SocketAddr,
    client: reqwest::Client,
    raw: Arc<BreakableStore>,
    clock: Arc<ManualClock>,
    worker: Worker,
    scheduler: Scheduler,
    _stop: Vec<oneshot::Sender<()>>,
}

impl ObservedApp {
    /// Both listeners bound before their tasks start; `/readyz` checks
    /// the store and, when `heartbeats`, the worker and scheduler.
    async fn spawn(heartbeats: bool) -> Self {
        let raw = Arc::new(BreakableStore::new());
        let metrics = Metrics::new();
        let store = MeteredStore::shared(raw.clone(), metrics.clone());
        let clock = Arc::new(ManualClock::at(Timestamp::from_unix(
            Timestamp::now().unix_seconds(),
        )));
        // The tests count jobs: deploys do not also top the pool up.
        let mut config = AppConfig::default();
        config.service.pool_top_up_on_deploy = false;
        let app = App::builder(store.clone())
            .executor(Arc::new(RecordingExecutor::new()))
            .clock(clock.clone())
            .secret_key(SecretKey::from_bytes([7; 32]))
            .config(config)
            .build()
            .unwrap();
        let (worker, scheduler) = (
            app.worker().clone(),
            app.scheduler().expect("the scheduler is on by default").clone(),
        );
        let service = app.service().clone();
        let mut readiness = Readiness::new(store.clone(), clock.clone());
        if heartbeats {
            readiness = readiness
                .worker(&worker)
                .scheduler(&scheduler, Duration::from_secs(30));
        }
        let auth = Arc::new(StaticUsers::new([(USER, cheap_hash(PASSWORD))]).unwrap());
        let state = AppState::new(service, auth, atlas_http::HttpConfig::default())
            .with_metrics(metrics.clone())
            .with_readiness(readiness.clone());

        let api_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let metrics_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let api = api_listener.local_addr().unwrap();
        let metrics_addr = metrics_listener.local_addr().unwrap();
        let (tx_api, rx_api) = oneshot::channel::<()>();
        let (tx_metrics, rx_metrics) = oneshot::channel::<()>();
        tokio::spawn(atlas_http::serve(api_listener, state, async {
            let _ = rx_api.await;
        }));
        tokio::spawn(atlas_observe::serve_metrics(
            metrics_listener,
            MetricsState {
                metrics,
                store: store.clone(),
                scheduler: Some(scheduler.clone()),
                readiness,
            },
            async {
                let _ = rx_metrics.await;
            },
        ));
        Self {
            api,
            metrics_addr,
            client: reqwest::Client::new(),
            raw,
            clock,
            worker,
            scheduler,
            _stop: vec![tx_api, tx_metrics],
        }
    }

    async fn api_get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("http://{}{path}", self.api))
            .send()
            .await
            .unwrap()
    }

    async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .request(Method::POST, format!("http://{}{path}", self.api))
            .basic_auth(USER, Some(PASSWORD))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    async fn metrics_get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("http://{}{path}", self.metrics_addr))
            .send()
            .await
            .unwrap()
    }

    /// Scrapes `/metrics` and parses it strictly.
    async fn scrape(&self) -> Exposition {
        let res = self.metrics_get("/metrics").await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["content-type"], METRICS_CONTENT_TYPE);
        Exposition::parse(&res.text().await.unwrap())
    }
}

// ---------------------------------------------------------------------
// Health and readiness.

#[tokio::test]
async fn healthz_answers_ok_on_the_api_and_the_metrics_listener() {
    let app = ObservedApp::spawn(false).await;
    for res in [app.api_get("/healthz").await, app.metrics_get("/healthz").await] {
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.text().await.unwrap(), "ok");
    }
}

#[tokio::test]
async fn readyz_is_ready_while_the_store_answers() {
    let app = ObservedApp::spawn(false).await;
    let res = app.api_get("/readyz").await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body,
        json!({"status": "ready", "not_ready": [], "degraded": [], "checks": {"store": "ok"}})
    );
}

#[tokio::test]
async fn readyz_fails_with_503_naming_the_store_when_the_store_is_closed() {
    let app = ObservedApp::spawn(false).await;
    app.raw.break_it();
    for res in [app.api_get("/readyz").await, app.metrics_get("/readyz").await] {
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["status"], "not ready");
        assert_eq!(body["not_ready"], json!(["store"]));
        assert_eq!(body["checks"]["store"], "the store failed a query");
    }
    // The process itself is still up.
    assert_eq!(app.api_get("/healthz").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn readyz_names_a_worker_and_scheduler_that_have_not_started() {
    let app = ObservedApp::spawn(true).await;
    let res = app.api_get("/readyz").await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["not_ready"], json!(["worker", "scheduler"]));
    assert_eq!(body["checks"]["worker"], "has not started");
}

#[tokio::test]
async fn readyz_is_ready_once_the_worker_and_scheduler_run_and_not_when_they_stall() {
    let app = ObservedApp::spawn(true).await;
    let (tx, rx) = oneshot::channel::<()>();
    let worker = app.worker.clone();
    let running = tokio::spawn(async move {
        worker
            .run(async {
                let _ = rx.await;
            })
            .await
    });
    app.scheduler.tick().await.unwrap();
    for _ in 0..500 {
        if app.worker.heartbeat() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let res = app.api_get("/readyz").await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["not_ready"], json!([]));

    // Stop the worker; the scheduler stops ticking too. Much later, both
    // are stale.
    let _ = tx.send(());
    running.await.unwrap().unwrap();
    app.clock.advance(Duration::from_secs(3600));
    let res = app.metrics_get("/readyz").await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["not_ready"], json!(["worker", "scheduler"]));
    assert!(
        body["checks"]["scheduler"]
            .as_str()
            .unwrap()
            .starts_with("last beat 3600 s ago"),
        "{body}"
    );
}

// ---------------------------------------------------------------------
// Metrics.

#[tokio::test]
async fn metrics_are_served_on_their_own_listener_not_on_the_api() {
    let app = ObservedApp::spawn(false).await;
    assert_eq!(app.api_get("/metrics").await.status(), StatusCode::NOT_FOUND);
    let exp = app.scrape().await;
    assert_eq!(exp.value("atlas_store_up", &[]), Some(1.0));
    assert_eq!(exp.types["atlas_http_requests"], "counter");
    assert_eq!(exp.types["atlas_http_request_duration_seconds"], "histogram");
}

#[tokio::test]
async fn http_request_counters_move_with_requests_by_route_template_method_and_status() {
    let app = ObservedApp::spawn(false).await;
    for _ in 0..3 {
        assert_eq!(app.api_get("/version").await.status(), StatusCode::OK);
    }
    assert_eq!(
        app.api_get("/code/6b063bb73e47cec0540baa24").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.api_get("/no/such/url/here").await.status(),
        StatusCode::NOT_FOUND
    );
    let unauthorized = app
        .client
        .post(format!("http://{}/code", app.api))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorized.status(), StatusCode::UNAUTHORIZED);

    let exp = app.scrape().await;

    let req = |method, route, status| {
        exp.value(
            "atlas_http_requests_total",
            &[("method", method), ("route", route), ("status", status)],
        )
    };
    assert_eq!(req("GET", "/version", "200"), Some(3.0));
    assert_eq!(req("GET", "/code/{id}", "404"), Some(1.0));
    assert_eq!(req("GET", "unmatched", "404"), Some(1.0));
    assert_eq!(req("POST", "/code", "401"), Some(1.0));
    assert_eq!(
        exp.value(
            "atlas_http_request_duration_seconds_count",
            &[("method", "GET"), ("route", "/version"), ("status", "200")]
        ),
        Some(3.0)
    );
    assert!(
        exp.value(
            "atlas_store_operation_duration_seconds_count",
            &[("operation", "get"), ("result", "ok")]
        )
        .unwrap()
            >= 1.0,
        "the item lookup went through the metered store"
    );

    // The counters keep moving.
    app.api_get("/version").await;
    let again = app.scrape().await;
    assert_eq!(
        again.value(
            "atlas_http_requests_total",
            &[("method", "GET"), ("route", "/version"), ("status", "200")]
        ),
        Some(4.0)
    );
}

#[tokio::test]
async fn job_counters_queue_depth_and_instance_gauges_move_with_jobs() {
    let app = ObservedApp::spawn(false).await;
    for body in [
        core_body("7.42", "2d2f373d0d9dcc51cbd6c7837a985696f5282347"),
        profile_body("2.2.5", "9ee4b0b1b7e4e0b1a3c4d5e6f708192a3b4c5d6e"),
    ] {
        assert_eq!(app.post("/code", &body).await.status(), StatusCode::CREATED);
    }
    let before = app.scrape().await;
    assert_eq!(
        before.value("atlas_job_queue_depth", &[("status", "queued")]),
        Some(2.0)
    );
    assert_eq!(
        before.value("atlas_job_queue_depth", &[("status", "succeeded")]),
        Some(0.0)
    );
    assert_eq!(
        before.value("atlas_jobs_finished_total", &[("kind", "code_deploy")]),
        None
    );

    assert_eq!(app.worker.drain().await.unwrap(), 2);
    assert_eq!(
        app.post("/instance", &json!({})).await.status(),
        StatusCode::CREATED
    );
    let pending = app.scrape().await;
    assert_eq!(
        pending.value("atlas_instances", &[("status", "pending")]),
        Some(1.0)
    );
    app.worker.drain().await.unwrap();

    let after = app.scrape().await;
    let finished = |kind| {
        after.value(
            "atlas_jobs_finished_total",
            &[("kind", kind), ("outcome", "succeeded")],
        )
    };
    assert_eq!(finished("code_deploy"), Some(2.0));
    assert_eq!(finished("provision"), Some(1.0));
    assert_eq!(
        after.value("atlas_jobs_started_total", &[("kind", "code_deploy")]),
        Some(2.0)
    );
    assert_eq!(
        after.value(
            "atlas_job_duration_seconds_count",
            &[("kind", "provision"), ("outcome", "succeeded")]
        ),
        Some(1.0)
    );
    assert_eq!(
        after.value("atlas_job_queue_depth", &[("status", "queued")]),
        Some(0.0)
    );
    assert_eq!(
        after.value("atlas_job_queue_depth", &[("status", "succeeded")]),
        Some(3.0)
    );
    assert_eq!(
        after.value("atlas_instances", &[("status", "pending")]),
        Some(0.0)
    );
    assert_eq!(
        after.value("atlas_instances", &[("status", "available")]),
        Some(1.0)
    );
}
