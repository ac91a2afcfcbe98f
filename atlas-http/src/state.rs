//! [`AppState`]: what every handler shares: the core service, the
//! authenticator and the HTTP configuration.

use std::sync::Arc;

use atlas_core::service::Service;

use crate::auth::Authenticator;
use crate::config::HttpConfig;

/// Shared by every request. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The API operations; every rule lives there.
    pub service: Service,
    /// Checks Basic credentials.
    pub auth: Arc<dyn Authenticator>,
    /// Server settings.
    pub config: Arc<HttpConfig>,
}

impl AppState {
    /// State over `service`, checking credentials with `auth`.
    pub fn new(service: Service, auth: Arc<dyn Authenticator>, config: HttpConfig) -> Self {
        Self {
            service,
            auth,
            config: Arc::new(config),
        }
    }
}
