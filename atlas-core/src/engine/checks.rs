//! The fleet checks among the periodic tasks: `check_hosts` (every
//! host's reachability, roots and programs; the reports are the job's
//! result, which `/readyz` and `/metrics` read back through
//! [`HostCheck::latest`]) and `check_routes` (the route map on each load
//! balancer against the records, the original's F5 diff). Both only read:
//! they change nothing on the hosts.

use serde_json::json;
use tracing::warn;

use super::resolve::{self, ResolveError};
use super::{exec_err, notices, store_err, Engine, JobResult};
use crate::error::ExecError;
use crate::executor::RouteMapCheck;
use crate::host_check::HostCheck;
use crate::jobs::JobStatus;
use crate::query::{Filter, FindQuery};
use crate::task::ROUTES_KEY;
use crate::worker::{Handled, HandlerError};

/// Why the route maps could not be compared.
#[derive(Debug, thiserror::Error)]
pub enum RouteCheckError {
    /// The routes could not be read from the store.
    #[error("the routes could not be read from the store: {0}; check the store and run the check again")]
    Records(String),
    /// The executor could not compare (a route it refuses to render).
    #[error("the route maps could not be compared: {0}")]
    Executor(#[from] ExecError),
}

impl From<ResolveError> for RouteCheckError {
    fn from(e: ResolveError) -> Self {
        RouteCheckError::Records(e.to_string())
    }
}

impl Engine {
    /// `check_hosts`: every host's report, each problem logged with the
    /// host's name.
    pub(super) async fn check_hosts(&self) -> JobResult {
        let hosts = self
            .exec()
            .check_hosts()
            .await
            .map_err(|e| exec_err("check_hosts", e))?;
        for h in &hosts {
            for p in &h.problems {
                warn!(host = %h.host, reachable = h.reachable, problem = %p, "host check");
            }
        }
        Ok(Handled::result(HostCheck::job_result(&hosts)))
    }

    /// `check_routes`: compares, logs and notifies the differences. While
    /// a route publication is queued or running, the maps are expected to
    /// differ: the run is skipped.
    pub(super) async fn check_routes_task(&self) -> JobResult {
        if self.publication_in_flight().await? {
            return Ok(Handled::result(json!({
                "skipped": "a route publication is queued or running; the next run compares"
            })));
        }
        let checks = self.check_routes().await.map_err(|e| match e {
            RouteCheckError::Records(_) => HandlerError::retry(e.to_string()),
            RouteCheckError::Executor(x) => exec_err("check_routes", x),
        })?;
        let differing: Vec<&RouteMapCheck> = checks.iter().filter(|c| c.differs()).collect();
        for c in &differing {
            if let Some(e) = &c.error {
                warn!(host = %c.host, error = %e, "route map check: the map could not be read");
            }
            for d in &c.differences {
                warn!(host = %c.host, difference = %d, "route map check");
            }
        }
        if !differing.is_empty() {
            self.notify(notices::route_map_drift(self.config(), &differing))
                .await;
        }
        let names: Vec<&str> = differing.iter().map(|c| c.host.as_str()).collect();
        Ok(Handled::result(
            json!({ "load_balancers": checks, "differing": names }),
        ))
    }

    /// Compares the route map on each load balancer with the one the
    /// records render to (every live `active` route), changing nothing.
    /// One entry per load balancer; what `atlas routes check` prints.
    ///
    /// # Errors
    /// [`RouteCheckError`]: the records could not be read, or a route
    /// cannot be rendered.
    pub async fn check_routes(&self) -> Result<Vec<RouteMapCheck>, RouteCheckError> {
        let map = resolve::route_map(self.svc(), &[]).await?;
        Ok(self.exec().check_routes(&map).await?)
    }

    /// Whether a route publication is queued or running.
    async fn publication_in_flight(&self) -> Result<bool, HandlerError> {
        let q = FindQuery::count_of(Filter::and(vec![
            Filter::eq("key", ROUTES_KEY),
            Filter::field(
                "status",
                crate::query::Op::In(
                    [JobStatus::Queued, JobStatus::Running]
                        .into_iter()
                        .map(|s| crate::query::Operand::Json(json!(s.as_str())))
                        .collect(),
                ),
            ),
        ]));
        let page = self.store().find_jobs(&q).await.map_err(store_err)?;
        Ok(page.total > 0)
    }
}
