//! [`AppState`]: what every handler shares: the core service, the
//! authenticator, the HTTP configuration, and the optional metrics and
//! readiness checks.

use std::sync::Arc;

use atlas_core::Service;
use atlas_observe::{Metrics, Readiness};

use crate::auth::Authenticator;
use crate::config::HttpConfig;
use crate::gate::AuthGate;

/// Shared by every request. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
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

impl AppState {
    /// State over `service`, checking credentials with `auth`.
    pub fn new(service: Service, auth: Arc<dyn Authenticator>, config: HttpConfig) -> Self {
        Self {
            gate: Arc::new(AuthGate::new(auth.clone(), config.auth.clone())),
            service,
            auth,
            config: Arc::new(config),
            metrics: None,
            readiness: None,
        }
    }

    /// The same state, counting requests into `metrics`.
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// The same state, `/readyz` running `readiness`.
    pub fn with_readiness(mut self, readiness: Readiness) -> Self {
        self.readiness = Some(readiness);
        self
    }
}
