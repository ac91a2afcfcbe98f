//! Health: `GET /healthz` ([`healthz`]: the process answers, `200 ok`) and
//! `GET /readyz` ([`Readiness`]: the store answers a cheap query within a
//! time limit, and the worker loop and scheduler — when this process runs
//! them — have beaten recently). Not ready is `503` with a JSON body naming
//! each check that failed ([`ReadinessReport`] as a response). Both the
//! metrics listener and the API answer them.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use atlas_core::model::{Id, Resource};
use atlas_core::{Clock, Scheduler, Store, Worker};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

/// How long the store may take to answer the readiness query.
const STORE_TIME_LIMIT: Duration = Duration::from_secs(2);

/// A loop that records the Unix seconds of its last iteration.
#[derive(Clone)]
struct Heartbeat {
    name: &'static str,
    max_age: Duration,
    last: Arc<dyn Fn() -> i64 + Send + Sync>,
}

impl fmt::Debug for Heartbeat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Heartbeat")
            .field("name", &self.name)
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}

/// What `/readyz` checks. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Readiness {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    heartbeats: Vec<Heartbeat>,
}

/// The outcome of one readiness check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// `store`, `worker`, `scheduler`, …
    pub name: &'static str,
    /// Whether it passed.
    pub ok: bool,
    /// What was found, for people.
    pub detail: String,
}

/// Every check's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadinessReport {
    /// The checks, store first.
    pub checks: Vec<Check>,
}

impl ReadinessReport {
    /// Whether every check passed.
    pub fn ready(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }

    /// The JSON body of `/readyz`: `status` (`ready` / `not ready`),
    /// `not_ready` (names of failed checks) and `checks` (name → detail).
    pub fn to_json(&self) -> Value {
        let failed: Vec<&str> = self.checks.iter().filter(|c| !c.ok).map(|c| c.name).collect();
        let mut checks = Map::new();
        for c in &self.checks {
            checks.insert(c.name.to_owned(), json!(c.detail));
        }
        json!({
            "status": if self.ready() { "ready" } else { "not ready" },
            "not_ready": failed,
            "checks": checks,
        })
    }
}

impl Readiness {
    /// Checks `store` only; heartbeats are compared against `clock`.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock,
            heartbeats: Vec::new(),
        }
    }

    /// Also requires `last()` (Unix seconds of a loop's last iteration, `0`
    /// before the first) to be at most `max_age` old.
    pub fn heartbeat(
        mut self,
        name: &'static str,
        max_age: Duration,
        last: impl Fn() -> i64 + Send + Sync + 'static,
    ) -> Self {
        self.heartbeats.push(Heartbeat {
            name,
            max_age,
            last: Arc::new(last),
        });
        self
    }

    /// Also requires `worker`'s loop to be alive. A busy worker beats
    /// only when a job slot frees, so the allowed age is the job time limit
    /// plus the poll interval plus a minute.
    pub fn worker(self, worker: &Worker) -> Self {
        let cfg = worker.config();
        let max_age = cfg.time_limit + cfg.poll_interval + Duration::from_secs(60);
        let w = worker.clone();
        self.heartbeat("worker", max_age, move || w.heartbeat())
    }

    /// Also requires `scheduler`, ticking every `tick`, to have ticked
    /// within three ticks plus half a minute.
    pub fn scheduler(self, scheduler: &Scheduler, tick: Duration) -> Self {
        let max_age = tick * 3 + Duration::from_secs(30);
        let s = scheduler.clone();
        self.heartbeat("scheduler", max_age, move || s.heartbeat())
    }

    /// Runs every check.
    pub async fn check(&self) -> ReadinessReport {
        let mut checks = vec![self.check_store().await];
        let now = self.clock.now().unix_seconds();
        for hb in &self.heartbeats {
            let last = (hb.last)();
            let limit = hb.max_age.as_secs();
            let (ok, detail) = if last <= 0 {
                (false, "has not started".to_owned())
            } else {
                let age = now.saturating_sub(last).max(0).unsigned_abs();
                if age <= limit {
                    (true, format!("last beat {age} s ago"))
                } else {
                    (false, format!("last beat {age} s ago (limit {limit} s)"))
                }
            };
            checks.push(Check {
                name: hb.name,
                ok,
                detail,
            });
        }
        ReadinessReport { checks }
    }

    async fn check_store(&self) -> Check {
        // A point lookup of an id no record has: the cheapest query.
        let nobody = Id::from_bytes([0; 12]);
        let probe = self.store.get(Resource::Code, &nobody);
        let (ok, detail) = match tokio::time::timeout(STORE_TIME_LIMIT, probe).await {
            Ok(Ok(_)) => (true, "ok".to_owned()),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, error.chain = ?e, "readiness: the store failed");
                (false, "the store failed a query".to_owned())
            }
            Err(_) => (
                false,
                format!("the store did not answer within {} s", STORE_TIME_LIMIT.as_secs()),
            ),
        };
        Check {
            name: "store",
            ok,
            detail,
        }
    }
}

/// `GET /healthz`: the process is up (`200`, body `ok`). An axum handler.
pub async fn healthz() -> &'static str {
    "ok"
}

/// The `/readyz` answer: `200` when every check passed, else `503`; the
/// body is [`ReadinessReport::to_json`].
impl IntoResponse for ReadinessReport {
    fn into_response(self) -> Response {
        let status = if self.ready() {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        (status, axum::Json(self.to_json())).into_response()
    }
}

#[cfg(test)]
mod tests {
    use atlas_core::model::Timestamp;
    use atlas_core::ManualClock;
    use atlas_core::MemoryStore;

    use super::*;

    fn readiness(clock: &ManualClock) -> Readiness {
        Readiness::new(Arc::new(MemoryStore::new()), Arc::new(clock.clone()))
    }

    #[tokio::test]
    async fn a_recent_heartbeat_is_ready_and_a_stale_one_is_named() {
        let clock = ManualClock::at(Timestamp::from_unix(1_000));
        let r = readiness(&clock)
            .heartbeat("worker", Duration::from_secs(60), || 990)
            .heartbeat("scheduler", Duration::from_secs(60), || 900);
        let report = r.check().await;
        assert!(!report.ready());
        let body = report.to_json();
        assert_eq!(body["not_ready"], json!(["scheduler"]));
        assert_eq!(body["checks"]["store"], "ok");
        assert_eq!(body["checks"]["worker"], "last beat 10 s ago");
        assert_eq!(body["checks"]["scheduler"], "last beat 100 s ago (limit 60 s)");
    }

    #[tokio::test]
    async fn a_loop_that_never_beat_is_not_ready() {
        let clock = ManualClock::at(Timestamp::from_unix(1_000));
        let report = readiness(&clock)
            .heartbeat("worker", Duration::from_secs(60), || 0)
            .check()
            .await;
        assert_eq!(report.to_json()["checks"]["worker"], "has not started");
        assert!(!report.ready());
    }

    #[tokio::test]
    async fn a_report_answers_200_when_ready_and_503_when_not() {
        let clock = ManualClock::at(Timestamp::from_unix(1_000));
        let ready = readiness(&clock).check().await.into_response();
        assert_eq!(ready.status(), StatusCode::OK);
        let stale = readiness(&clock)
            .heartbeat("worker", Duration::from_secs(60), || 0)
            .check()
            .await
            .into_response();
        assert_eq!(stale.status(), StatusCode::SERVICE_UNAVAILABLE);
    }

    #[tokio::test]
    async fn the_store_alone_is_ready_when_it_answers() {
        let clock = ManualClock::at(Timestamp::from_unix(1_000));
        let report = readiness(&clock).check().await;
        assert!(report.ready());
        assert_eq!(report.to_json()["status"], "ready");
    }
}
