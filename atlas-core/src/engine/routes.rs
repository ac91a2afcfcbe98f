//! Route map publication: every live `active` route, in a stable order
//! (by source), handed to the load balancer.

use serde_json::json;

use super::resolve::{self, ResolveError};
use super::{exec_err, Engine, JobResult};
use crate::worker::Handled;

impl Engine {
    /// `routes_publish`: publish the current route map.
    pub(super) async fn publish_routes(&self) -> JobResult {
        let map = resolve::route_map(self.svc(), &[])
            .await
            .map_err(ResolveError::into_handler)?;
        self.exec()
            .publish_routes(&map)
            .await
            .map_err(|e| exec_err("publish_routes", e))?;
        let sources: Vec<&str> = map.routes.iter().map(|r| r.source.as_str()).collect();
        Ok(Handled::result(
            json!({ "routes": sources.len(), "sources": sources }),
        ))
    }
}
