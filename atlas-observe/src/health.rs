//! Health: `GET /healthz` ([`healthz`]: the process answers, `200 ok`) and
//! `GET /readyz` ([`Readiness`]: the store answers a cheap query within a
//! time limit, and the worker loop and scheduler — when this process runs
//! them — have beaten recently). Not ready is `503` with a JSON body naming
//! each check that failed ([`ReadinessReport`] as a response). Both the
//! metrics listener and the API answer them.
//!
//! Two more kinds of checks:
//! - **Hosts** ([`Readiness::hosts`]): every host as the newest host check
//!   found it ([`HostCheck::latest`], read from the store, so every node
//!   shows the same), listed under `hosts`. The node is not ready only when
//!   no `web` host was reachable ([`HostCheck::serving`]); an unhealthy or
//!   unreachable host otherwise shows in the list without failing.
//! - **Advisory** ([`Readiness::advisory`]): problems that degrade the node
//!   (a missing program, an unset account) without making it unready:
//!   listed under `degraded`, the status stays `ready`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use atlas_core::model::{Id, Resource};
use atlas_core::{Clock, HostCheck, Scheduler, Store, Worker};
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

/// A check that degrades the node without making it unready.
#[derive(Clone)]
struct Advisory {
    name: &'static str,
    problems: Arc<dyn Fn() -> Vec<String> + Send + Sync>,
}

impl fmt::Debug for Advisory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Advisory")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// What `/readyz` checks. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Readiness {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    heartbeats: Vec<Heartbeat>,
    advisories: Vec<Advisory>,
    hosts: bool,
}

/// The outcome of one readiness check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// `store`, `worker`, `scheduler`, `hosts`, …
    pub name: &'static str,
    /// Whether it passed.
    pub ok: bool,
    /// What was found, for people.
    pub detail: String,
    /// Whether a failure only degrades the node (it stays ready).
    pub advisory: bool,
}

/// Every check's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadinessReport {
    /// The checks, store first.
    pub checks: Vec<Check>,
    /// The newest host check, when hosts are watched and one ran.
    pub hosts: Option<HostCheck>,
}

impl ReadinessReport {
    /// Whether every check that is not advisory passed.
    pub fn ready(&self) -> bool {
        self.checks.iter().all(|c| c.ok || c.advisory)
    }

    /// The JSON body of `/readyz`: `status` (`ready` / `not ready`),
    /// `not_ready` (names of failed checks), `degraded` (names of failed
    /// advisory checks), `checks` (name → detail) and, when hosts are
    /// watched, `hosts`: one entry per host of the newest check (`name`,
    /// `roles`, `reachable`, `healthy`, `last_error`, `last_checked`).
    pub fn to_json(&self) -> Value {
        let names = |advisory: bool| -> Vec<&str> {
            self.checks
                .iter()
                .filter(|c| !c.ok && c.advisory == advisory)
                .map(|c| c.name)
                .collect()
        };
        let mut checks = Map::new();
        for c in &self.checks {
            checks.insert(c.name.to_owned(), json!(c.detail));
        }
        let mut body = json!({
            "status": if self.ready() { "ready" } else { "not ready" },
            "not_ready": names(false),
            "degraded": names(true),
            "checks": checks,
        });
        if let Some(check) = &self.hosts {
            body["hosts"] = check
                .hosts
                .iter()
                .map(|h| {
                    json!({
                        "name": h.host,
                        "roles": h.roles,
                        "reachable": h.reachable,
                        "healthy": h.healthy(),
                        "last_error": (!h.problems.is_empty()).then(|| h.problems.join("; ")),
                        "last_checked": check.checked_at,
                    })
                })
                .collect();
        }
        body
    }
}

impl Readiness {
    /// Checks `store` only; heartbeats are compared against `clock`.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock,
            heartbeats: Vec::new(),
            advisories: Vec::new(),
            hosts: false,
        }
    }

    /// Also reports every host as the newest host check found it; the node
    /// is not ready when that check reached no `web` host.
    pub fn hosts(mut self) -> Self {
        self.hosts = true;
        self
    }

    /// Also runs `problems` (one line per problem, naming what to fix);
    /// any problem degrades the node under `name` without making it
    /// unready.
    pub fn advisory(
        mut self,
        name: &'static str,
        problems: impl Fn() -> Vec<String> + Send + Sync + 'static,
    ) -> Self {
        self.advisories.push(Advisory {
            name,
            problems: Arc::new(problems),
        });
        self
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
                advisory: false,
            });
        }
        let mut hosts = None;
        if self.hosts {
            let (check, latest) = self.check_hosts().await;
            checks.push(check);
            hosts = latest;
        }
        for a in &self.advisories {
            let problems = (a.problems)();
            checks.push(Check {
                name: a.name,
                ok: problems.is_empty(),
                detail: if problems.is_empty() {
                    "ok".to_owned()
                } else {
                    problems.join("; ")
                },
                advisory: true,
            });
        }
        ReadinessReport { checks, hosts }
    }

    async fn check_hosts(&self) -> (Check, Option<HostCheck>) {
        let check = |ok: bool, detail: String| Check {
            name: "hosts",
            ok,
            detail,
            advisory: false,
        };
        let latest =
            match tokio::time::timeout(STORE_TIME_LIMIT, HostCheck::latest(self.store.as_ref())).await {
                Ok(Ok(latest)) => latest,
                // The store check reports the store; hosts are unknown.
                Ok(Err(_)) | Err(_) => {
                    return (check(true, "unknown: the store did not answer".to_owned()), None)
                }
            };
        let Some(latest) = latest else {
            return (check(true, "not checked yet".to_owned()), None);
        };
        let now = self.clock.now().unix_seconds();
        let age = now.saturating_sub(latest.checked_at.unix_seconds()).max(0);
        let down: Vec<&str> = latest
            .hosts
            .iter()
            .filter(|h| !h.healthy())
            .map(|h| h.host.as_str())
            .collect();
        let detail = if latest.serving() {
            if down.is_empty() {
                format!("{} hosts healthy (checked {age} s ago)", latest.hosts.len())
            } else {
                format!(
                    "unhealthy: {} of {} hosts ({}; checked {age} s ago)",
                    down.len(),
                    latest.hosts.len(),
                    down.join(", ")
                )
            }
        } else {
            format!(
                "no web host was reachable (checked {age} s ago): {}",
                down.join(", ")
            )
        };
        (check(latest.serving(), detail), Some(latest))
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
            advisory: false,
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

    fn host(name: &str, roles: &[&str], reachable: bool, problems: &[&str]) -> atlas_core::HostReport {
        atlas_core::HostReport {
            host: name.into(),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            reachable,
            problems: problems.iter().map(|p| (*p).to_owned()).collect(),
        }
    }

    #[tokio::test]
    async fn hosts_are_listed_and_one_unreachable_web_host_keeps_the_node_ready() {
        let store = Arc::new(MemoryStore::new());
        let hosts = [
            host("web1", &["web"], false, &["host web1 (10.0.0.1): cannot connect"]),
            host("web2", &["web", "cron"], true, &[]),
        ];
        atlas_core::testing::record_host_check(store.as_ref(), Timestamp::from_unix(900), &hosts)
            .await
            .unwrap();
        let clock = ManualClock::at(Timestamp::from_unix(1_000));
        let report = Readiness::new(store, Arc::new(clock)).hosts().check().await;
        assert!(report.ready());
        let body = report.to_json();
        assert_eq!(body["status"], "ready");
        assert_eq!(
            body["checks"]["hosts"],
            "unhealthy: 1 of 2 hosts (web1; checked 100 s ago)"
        );
        assert_eq!(body["hosts"][0]["name"], "web1");
        assert_eq!(body["hosts"][0]["reachable"], false);
        assert_eq!(
            body["hosts"][0]["last_error"],
            "host web1 (10.0.0.1): cannot connect"
        );
        assert_eq!(body["hosts"][0]["last_checked"], json!(Timestamp::from_unix(900)));
        assert_eq!(body["hosts"][1]["healthy"], true);
        assert_eq!(body["hosts"][1]["last_error"], Value::Null);
    }

    #[tokio::test]
    async fn no_reachable_web_host_makes_the_node_not_ready() {
        let store = Arc::new(MemoryStore::new());
        let hosts = [
            host("web1", &["web"], false, &["cannot connect"]),
            host("lb1", &["lb"], true, &[]),
        ];
        atlas_core::testing::record_host_check(store.as_ref(), Timestamp::from_unix(900), &hosts)
            .await
            .unwrap();
        let clock = ManualClock::at(Timestamp::from_unix(1_000));
        let report = Readiness::new(store, Arc::new(clock)).hosts().check().await;
        assert!(!report.ready());
        let body = report.to_json();
        assert_eq!(body["not_ready"], json!(["hosts"]));
        assert!(
            body["checks"]["hosts"]
                .as_str()
                .unwrap()
                .starts_with("no web host was reachable"),
            "{body}"
        );
    }

    #[tokio::test]
    async fn before_the_first_host_check_the_node_is_ready_and_says_so() {
        let clock = ManualClock::at(Timestamp::from_unix(1_000));
        let report = readiness(&clock).hosts().check().await;
        assert!(report.ready());
        let body = report.to_json();
        assert_eq!(body["checks"]["hosts"], "not checked yet");
        assert!(body.get("hosts").is_none());
    }

    #[tokio::test]
    async fn an_advisory_problem_degrades_the_node_without_making_it_unready() {
        let clock = ManualClock::at(Timestamp::from_unix(1_000));
        let report = readiness(&clock)
            .advisory("prerequisites", || vec!["shell.programs.drush: not found".into()])
            .advisory("other", Vec::new)
            .check()
            .await;
        assert!(report.ready());
        let body = report.to_json();
        assert_eq!(body["status"], "ready");
        assert_eq!(body["degraded"], json!(["prerequisites"]));
        assert_eq!(body["not_ready"], json!([]));
        assert_eq!(body["checks"]["prerequisites"], "shell.programs.drush: not found");
        assert_eq!(body["checks"]["other"], "ok");
        assert_eq!(report.into_response().status(), StatusCode::OK);
    }
}
