//! [`UiConfig`]: the `[ui]` section (whether the dashboard is served, how
//! long sessions last, how many are kept).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The `[ui]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UiConfig {
    /// Serve the dashboard under `<http.base_path>/ui/` on the API's
    /// listener.
    pub enabled: bool,
    /// Seconds a session stays signed in without a request.
    pub idle_timeout: u64,
    /// Seconds a session stays signed in at most, however busy.
    pub absolute_timeout: u64,
    /// Most sessions kept at once; signing in beyond it drops expired
    /// sessions, then the least recently used one.
    pub max_sessions: usize,
}

impl Default for UiConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            idle_timeout: 8 * 3600,
            absolute_timeout: 24 * 3600,
            max_sessions: 1000,
        }
    }
}

impl UiConfig {
    /// [`UiConfig::idle_timeout`] as a duration.
    pub fn idle(&self) -> Duration {
        Duration::from_secs(self.idle_timeout)
    }

    /// [`UiConfig::absolute_timeout`] as a duration.
    pub fn absolute(&self) -> Duration {
        Duration::from_secs(self.absolute_timeout)
    }
}
