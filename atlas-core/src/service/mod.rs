//! The API operations: create / update / replace / delete / get / find per
//! resource, with every hook of the original done right. The HTTP layer and
//! embedders call this; nothing else writes records.
//!
//! # Contracts
//! - Each write validates, applies defaults and rules, plans its jobs and
//!   commits **one** batch: records and the jobs they cause land together
//!   or not at all.
//! - Writes require the client's etag (`None` → 428, stale → 412).
//! - Hidden fields (`db_key`) never leave the service.

mod check;
mod config;
mod drift;
mod error;
mod hooks;
mod job_actions;
pub(crate) mod plan;
mod read;
mod runs;
#[cfg(test)]
mod tests;
mod write;

use std::fmt;
use std::sync::Arc;

use tokio::sync::Notify;

pub use config::ServiceConfig;
pub use error::{Invalid, ServiceError};
pub(crate) use hooks::gone_code_item;
pub use hooks::FailedChoice;
pub use read::Version;
pub use runs::{RunOutcome, RunSummary};

use crate::clock::Clock;
use crate::secrets::SecretKey;
use crate::store::Store;

/// The authenticated user a write is made for (`created_by`/`modified_by`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor(pub String);

impl Actor {
    /// The user name Atlas itself acts as (periodic tasks, jobs).
    pub fn system() -> Self {
        Self("atlas".into())
    }

    /// The user name.
    pub fn name(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The API operations. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Service {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    key: SecretKey,
    config: ServiceConfig,
    jobs_enqueued: Arc<Notify>,
}

impl Service {
    /// A service over `store`, sealing secrets with `key`.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, key: SecretKey, config: ServiceConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                clock,
                key,
                config,
                jobs_enqueued: Arc::new(Notify::new()),
            }),
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// The configuration.
    pub fn config(&self) -> &ServiceConfig {
        &self.inner.config
    }

    /// The key sealing secrets at rest.
    pub fn secret_key(&self) -> &SecretKey {
        &self.inner.key
    }

    /// Signalled whenever a write enqueued jobs; hand it to the worker
    /// ([`crate::worker::Worker::with_wake`]) so jobs start at once.
    pub fn jobs_enqueued(&self) -> Arc<Notify> {
        self.inner.jobs_enqueued.clone()
    }
}
