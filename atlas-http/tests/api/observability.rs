//! Health, readiness and metrics over real sockets: `/healthz`, `/readyz`
//! (503 naming what is not ready), and `/metrics` on its own listener,
//! parsed strictly as the text exposition format, its counters moving with
//! requests and jobs.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use atlas_core::error::StoreError;
use atlas_core::jobs::{Job, JobId, LeaseSpec, Outcome};
use atlas_core::model::{Doc, Id, Resource, Timestamp};
use atlas_core::notify::NullNotifier;
use atlas_core::query::FindQuery;
use atlas_core::scheduler::{Schedule, Scheduler};
use atlas_core::secrets::SecretKey;
use atlas_core::service::{Service, ServiceConfig};
use atlas_core::store::{Batch, Committed, FindPage, JobPage, Store};
use atlas_core::testing::{ManualClock, RecordingExecutor};
use atlas_core::worker::{Worker, WorkerConfig};
use atlas_core::{Engine, MemoryStore};
use atlas_http::{
    AppState, MeteredStore, Metrics, MetricsState, Readiness, StaticUsers, METRICS_CONTENT_TYPE,
};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::sync::oneshot;

use crate::helpers::{cheap_hash, core_body, profile_body, PASSWORD, USER};

// ---------------------------------------------------------------------
// A store that can be broken on demand.

/// Wraps a store; once [`Breakable::break_it`] is called every operation
/// fails as an unreachable backend would.
#[derive(Debug)]
struct Breakable {
    inner: MemoryStore,
    broken: AtomicBool,
}

impl Breakable {
    fn new() -> Self {
        Self {
            inner: MemoryStore::new(),
            broken: AtomicBool::new(false),
        }
    }

    fn break_it(&self) {
        self.broken.store(true, Ordering::SeqCst);
    }

    fn check(&self) -> Result<(), StoreError> {
        if self.broken.load(Ordering::SeqCst) {
            Err(StoreError::Backend {
                backend: "breakable",
                source: "the database is closed".into(),
            })
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl Store for Breakable {
    async fn get(&self, res: Resource, id: &Id) -> Result<Option<Doc>, StoreError> {
        self.check()?;
        self.inner.get(res, id).await
    }
    async fn find(&self, res: Resource, q: &FindQuery) -> Result<FindPage, StoreError> {
        self.check()?;
        self.inner.find(res, q).await
    }
    async fn history(&self, res: Resource, id: &Id) -> Result<Vec<Doc>, StoreError> {
        self.check()?;
        self.inner.history(res, id).await
    }
    async fn commit(&self, batch: Batch) -> Result<Committed, StoreError> {
        self.check()?;
        self.inner.commit(batch).await
    }
    async fn claim(&self, lease: &LeaseSpec, now: Timestamp) -> Result<Option<Job>, StoreError> {
        self.check()?;
        self.inner.claim(lease, now).await
    }
    async fn renew(&self, job: &JobId, owner: &str, until: Timestamp) -> Result<(), StoreError> {
        self.check()?;
        self.inner.renew(job, owner, until).await
    }
    async fn finish(&self, job: &JobId, outcome: Outcome) -> Result<(), StoreError> {
        self.check()?;
        self.inner.finish(job, outcome).await
    }
    async fn requeue_expired(&self, now: Timestamp) -> Result<u64, StoreError> {
        self.check()?;
        self.inner.requeue_expired(now).await
    }
    async fn job(&self, id: &JobId) -> Result<Option<Job>, StoreError> {
        self.check()?;
        self.inner.job(id).await
    }
    async fn find_jobs(&self, q: &FindQuery) -> Result<JobPage, StoreError> {
        self.check()?;
        self.inner.find_jobs(q).await
    }
}

// ---------------------------------------------------------------------
// The API and the metrics listener, over one metered store.

struct ObservedApp {
    api: SocketAddr,
    metrics_addr: SocketAddr,
    client: reqwest::Client,
    raw: Arc<Breakable>,
    clock: Arc<ManualClock>,
    worker: Worker,
    scheduler: Scheduler,
    _stop: Vec<oneshot::Sender<()>>,
}

impl ObservedApp {
    /// Both listeners bound before their tasks start; `/readyz` checks
    /// the store and, when `heartbeats`, the worker and scheduler.
    async fn spawn(heartbeats: bool) -> Self {
        let raw = Arc::new(Breakable::new());
        let metrics = Metrics::new();
        let store = MeteredStore::shared(raw.clone(), metrics.clone());
        let clock = Arc::new(ManualClock::at(Timestamp::from_unix(
            Timestamp::now().unix_seconds(),
        )));
        let service = Service::new(
            store.clone(),
            clock.clone(),
            SecretKey::from_bytes([7; 32]),
            ServiceConfig::default(),
        );
        let engine = Engine::new(
            service.clone(),
            Arc::new(RecordingExecutor::new()),
            Arc::new(NullNotifier),
        );
        let worker = Worker::new(
            store.clone(),
            clock.clone(),
            Arc::new(engine),
            WorkerConfig::default(),
        );
        let scheduler = Scheduler::new(store.clone(), clock.clone(), Schedule::default());
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
        tokio::spawn(atlas_http::serve_metrics(
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
// A strict parser of the text exposition format (OpenMetrics 1.0 text,
// which Prometheus scrapes): any line it does not understand fails the
// test.

#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

#[derive(Debug, Default)]
struct Exposition {
    /// Family name → type.
    types: BTreeMap<String, String>,
    samples: Vec<Sample>,
}

fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn parse_value(s: &str) -> f64 {
    match s {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        _ => s.parse().unwrap_or_else(|_| panic!("bad sample value {s:?}")),
    }
}

/// `{a="x",b="y\"z"}` (without the braces) → labels; panics when malformed.
fn parse_labels(mut s: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    while !s.is_empty() {
        let (name, rest) = s.split_once("=\"").unwrap_or_else(|| panic!("bad labels {s:?}"));
        assert!(is_label_name(name), "bad label name {name:?}");
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c @ ('\\' | '"'))) => value.push(c),
                    other => panic!("bad escape {other:?} in {s:?}"),
                },
                Some((i, '"')) => break i,
                Some((_, c)) => value.push(c),
                None => panic!("unterminated label value in {s:?}"),
            }
        };
        assert!(
            out.insert(name.to_owned(), value).is_none(),
            "repeated label {name}"
        );
        s = &rest[end + 1..];
        s = s.strip_prefix(',').unwrap_or(s);
    }
    out
}

impl Exposition {
    fn parse(text: &str) -> Self {
        let mut lines: Vec<&str> = text.split('\n').collect();
        assert_eq!(lines.pop(), Some(""), "the text ends with a newline");
        assert_eq!(lines.pop(), Some("# EOF"), "the text ends with # EOF");
        let mut exp = Exposition::default();
        let mut family: Option<(String, String)> = None;
        for line in lines {
            if let Some(meta) = line.strip_prefix("# ") {
                let mut parts = meta.splitn(3, ' ');
                let (kind, name, rest) = (parts.next(), parts.next(), parts.next());
                let name = name.unwrap_or_else(|| panic!("bad metadata line {line:?}"));
                assert!(is_metric_name(name), "bad family name in {line:?}");
                match kind {
                    Some("HELP") | Some("UNIT") => {}
                    Some("TYPE") => {
                        let ty = rest.unwrap_or("");
                        assert!(
                            [
                                "counter",
                                "gauge",
                                "histogram",
                                "info",
                                "summary",
                                "unknown",
                                "stateset",
                                "gaugehistogram"
                            ]
                            .contains(&ty),
                            "bad type in {line:?}"
                        );
                        assert!(
                            exp.types.insert(name.to_owned(), ty.to_owned()).is_none(),
                            "family {name} typed twice"
                        );
                        family = Some((name.to_owned(), ty.to_owned()));
                    }
                    _ => panic!("unknown metadata line {line:?}"),
                }
                continue;
            }
            let (series, value) = line
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("bad sample line {line:?}"));
            let (name, labels) = match series.split_once('{') {
                Some((n, l)) => (
                    n,
                    parse_labels(
                        l.strip_suffix('}')
                            .unwrap_or_else(|| panic!("bad labels in {line:?}")),
                    ),
                ),
                None => (series, BTreeMap::new()),
            };
            assert!(is_metric_name(name), "bad metric name in {line:?}");
            let (fam, ty) = family
                .as_ref()
                .unwrap_or_else(|| panic!("sample before any TYPE: {line:?}"));
            let suffix = name
                .strip_prefix(fam.as_str())
                .unwrap_or_else(|| panic!("{name} is not in family {fam}"));
            let allowed: &[&str] = match ty.as_str() {
                "counter" => &["_total", "_created"],
                "gauge" | "unknown" => &[""],
                "histogram" => &["_bucket", "_count", "_sum", "_created"],
                "info" => &["_info"],
                _ => &[""],
            };
            assert!(allowed.contains(&suffix), "{name} does not fit a {ty} family");
            if suffix == "_bucket" {
                assert!(labels.contains_key("le"), "bucket without le: {line:?}");
            }
            exp.samples.push(Sample {
                name: name.to_owned(),
                labels,
                value: parse_value(value),
            });
        }
        exp.check_histograms();
        exp
    }

    /// Buckets are cumulative and the `+Inf` bucket equals `_count`.
    fn check_histograms(&self) {
        for (fam, ty) in &self.types {
            if ty != "histogram" {
                continue;
            }
            let bucket = format!("{fam}_bucket");
            let count = format!("{fam}_count");
            for c in self.samples.iter().filter(|s| s.name == count) {
                let mut buckets: Vec<(f64, f64)> = self
                    .samples
                    .iter()
                    .filter(|s| {
                        s.name == bucket && {
                            let mut l = s.labels.clone();
                            l.remove("le");
                            l == c.labels
                        }
                    })
                    .map(|s| (parse_value(&s.labels["le"]), s.value))
                    .collect();
                buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
                assert!(
                    buckets.windows(2).all(|w| w[0].1 <= w[1].1),
                    "{fam} buckets are not cumulative"
                );
                let last = buckets.last().unwrap_or_else(|| panic!("{fam} has no buckets"));
                assert!(last.0.is_infinite(), "{fam} lacks the +Inf bucket");
                assert_eq!(last.1, c.value, "{fam}: +Inf bucket != count");
            }
        }
    }

    /// The value of the one sample `name` with (at least) `labels`.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let found: Vec<&Sample> = self
            .samples
            .iter()
            .filter(|s| {
                s.name == name
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect();
        assert!(found.len() <= 1, "{name} {labels:?} is ambiguous: {found:?}");
        found.first().map(|s| s.value)
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
        json!({"status": "ready", "not_ready": [], "checks": {"store": "ok"}})
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

#[tokio::test]
async fn periodic_tasks_report_their_last_run_and_outcome() {
    let app = ObservedApp::spawn(false).await;
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
    let app = ObservedApp::spawn(false).await;
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
