//! [`AppState`]: what every handler shares: the core service, the
//! authenticator, the HTTP configuration, and the optional metrics and
//! readiness checks.
//!
//! Every middleware layer and handler takes its own copy of the state for
//! each request, so a copy is one reference count: the parts live behind
//! one `Arc` ([`StateParts`], reached through `Deref`).

use std::ops::Deref;
use std::sync::Arc;

use atlas_core::Service;
use atlas_observe::{Metrics, Readiness};

use crate::auth::Authenticator;
use crate::config::HttpConfig;
use crate::gate::AuthGate;

/// Shared by every request. A clone is one reference count.
#[derive(Debug, Clone)]
pub struct AppState(Arc<StateParts>);

/// The parts of an [`AppState`], read through it (`state.config`, …).
#[derive(Debug, Clone)]
pub struct StateParts {
    /// The API operations; every rule lives there.
    pub service: Service,
    /// Checks Basic credentials.
    pub auth: Arc<dyn Authenticator>,
    /// Server settings.
    pub config: Arc<HttpConfig>,
    /// Every credential check goes through it (remembered logins,
    /// throttling, the bound on concurrent hashes) to `auth`.
    pub(crate) gate: Arc<AuthGate>,
    /// Where requests are counted (`None`: not counted).
    pub metrics: Option<Metrics>,
    /// What `/readyz` checks (`None`: the service's store only).
    pub readiness: Option<Readiness>,
}

impl Deref for AppState {
    type Target = StateParts;

    fn deref(&self) -> &StateParts {
        &self.0
    }
}

impl AppState {
    /// State over `service`, checking credentials with `auth`.
    pub fn new(service: Service, auth: Arc<dyn Authenticator>, config: HttpConfig) -> Self {
        Self(Arc::new(StateParts {
            gate: Arc::new(AuthGate::new(auth.clone(), config.auth.clone())),
            service,
            auth,
            config: Arc::new(config),
            metrics: None,
            readiness: None,
        }))
    }

    /// The same state, counting requests into `metrics`.
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        Arc::make_mut(&mut self.0).metrics = Some(metrics);
        self
    }

    /// The same state, `/readyz` running `readiness`.
    pub fn with_readiness(mut self, readiness: Readiness) -> Self {
        Arc::make_mut(&mut self.0).readiness = Some(readiness);
        self
    }
}
