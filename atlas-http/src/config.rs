//! [`HttpConfig`]: the HTTP server's settings (listen address, hardening
//! limits, CORS, the Basic-auth users), read by `atlas-bin` from the
//! `[http]` section of its configuration.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Default request body limit: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// The HTTP server's settings.
///
/// ```toml
/// [http]
/// listen = "127.0.0.1:8080"
/// body_limit = 1048576          # bytes; larger bodies get 413
/// request_timeout = 30          # seconds; slower requests get 503
/// # public_url = "https://atlas.example.edu/atlas"   # base of `Location`
///
/// [http.cors]
/// allowed_origins = ["*"]
///
/// [http.users]
/// alice = "$argon2id$v=19$m=19456,t=2,p=1$…"   # `atlas user add alice`
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Largest accepted request body in bytes; larger bodies are refused
    /// with 413.
    pub body_limit: usize,
    /// Time limit of one request (seconds); a request still running then
    /// is cancelled and answered 503.
    #[serde(with = "atlas_core::serde_secs")]
    pub request_timeout: Duration,
    /// Base URL clients reach this server at (scheme, host and any path
    /// prefix of a reverse proxy), used for the absolute `Location` header.
    /// `None`: `http://` plus the request's `Host` header, as Eve does.
    pub public_url: Option<String>,
    /// Cross-origin resource sharing.
    pub cors: CorsConfig,
    /// Basic-auth users: name → argon2id PHC hash (see
    /// [`crate::hash_password`]).
    pub users: BTreeMap<String, String>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            body_limit: DEFAULT_BODY_LIMIT,
            request_timeout: Duration::from_secs(30),
            public_url: None,
            cors: CorsConfig::default(),
            users: BTreeMap::new(),
        }
    }
}

impl fmt::Debug for HttpConfig {
    /// Password hashes are redacted; user names are shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpConfig")
            .field("listen", &self.listen)
            .field("body_limit", &self.body_limit)
            .field("request_timeout", &self.request_timeout)
            .field("public_url", &self.public_url)
            .field("cors", &self.cors)
            .field(
                "users",
                &self
                    .users
                    .keys()
                    .map(|u| (u, "<redacted>"))
                    .collect::<BTreeMap<_, _>>(),
            )
            .finish()
    }
}

/// CORS as the original configured Eve (`X_DOMAINS = '*'`, its
/// `X_HEADERS`): headers are added only when the request has an `Origin`
/// that is allowed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CorsConfig {
    /// Origins allowed to call the API; `"*"` allows any. The allowed
    /// origin is echoed in `Access-Control-Allow-Origin`.
    pub allowed_origins: Vec<String>,
    /// Request headers a browser may send (`Access-Control-Allow-Headers`).
    pub allowed_headers: Vec<String>,
    /// Response headers a browser may read (`Access-Control-Expose-Headers`).
    pub expose_headers: Vec<String>,
    /// How long a browser may cache a preflight answer (seconds).
    pub max_age: u64,
}

impl Default for CorsConfig {
    fn default() -> Self {
        Self {
            allowed_origins: vec!["*".into()],
            allowed_headers: [
                "Access-Control-Allow-Origin",
                "If-Match",
                "Authorization",
                "User-Agent",
                "Content-Type",
            ]
            .into_iter()
            .map(String::from)
            .collect(),
            expose_headers: Vec::new(),
            max_age: 21600,
        }
    }
}

impl CorsConfig {
    /// Whether `origin` may call the API.
    pub fn allows(&self, origin: &str) -> bool {
        self.allowed_origins.iter().any(|o| o == "*" || o == origin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_one_mebibyte_thirty_seconds_and_any_origin() {
        let c = HttpConfig::default();
        assert_eq!(c.body_limit, 1_048_576);
        assert_eq!(c.request_timeout, Duration::from_secs(30));
        assert!(c.cors.allows("https://example.org"));
        assert_eq!(c.cors.max_age, 21600);
        assert_eq!(
            c.cors.allowed_headers,
            [
                "Access-Control-Allow-Origin",
                "If-Match",
                "Authorization",
                "User-Agent",
                "Content-Type"
            ]
        );
    }

    #[test]
    fn config_refuses_unknown_fields() {
        let err =
            serde_json::from_str::<HttpConfig>(r#"{"listen": "127.0.0.1:1", "bodylimit": 3}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `bodylimit`"), "{err}");
    }

    #[test]
    fn config_reads_seconds_and_users() {
        let c: HttpConfig = serde_json::from_str(
            r#"{"request_timeout": 5, "users": {"alice": "$argon2id$x"}, "cors": {"allowed_origins": ["https://a.example"]}}"#,
        )
        .unwrap();
        assert_eq!(c.request_timeout, Duration::from_secs(5));
        assert_eq!(c.users["alice"], "$argon2id$x");
        assert!(c.cors.allows("https://a.example"));
        assert!(!c.cors.allows("https://b.example"));
    }

    #[test]
    fn debug_redacts_password_hashes() {
        let mut c = HttpConfig::default();
        c.users.insert("alice".into(), "$argon2id$secret".into());
        let shown = format!("{c:?}");
        assert!(shown.contains("alice"), "{shown}");
        assert!(!shown.contains("$argon2id$secret"), "{shown}");
    }
}
