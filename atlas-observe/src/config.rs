//! [`MetricsConfig`]: the `[metrics]` section, where the metrics listener
//! runs.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

/// The `[metrics]` section: where `/metrics` (with `/healthz` and
/// `/readyz`) is served, apart from the API so it is not public by
/// accident.
///
/// ```toml
/// [metrics]
/// enabled = true
/// listen = "127.0.0.1:9464"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Whether the metrics listener runs.
    pub enabled: bool,
    /// Its address.
    pub listen: SocketAddr,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 9464)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listener_is_enabled_on_loopback_port_9464_by_default() {
        let cfg = MetricsConfig::default();
        assert!(cfg.enabled);
        assert_eq!(cfg.listen, "127.0.0.1:9464".parse().unwrap());
    }
}
