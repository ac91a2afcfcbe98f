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

/// Default realm of the 401 challenge: the original's (Eve's package name).
pub const DEFAULT_REALM: &str = "eve";

/// The HTTP server's settings.
///
/// ```toml
/// [http]
/// listen = "127.0.0.1:8080"
/// body_limit = 1048576          # bytes; larger bodies get 413
/// request_timeout = 30          # seconds; slower requests get 503
/// # public_url = "https://atlas.example.edu"   # base of `Location`
/// base_path = ""                # e.g. "/atlas": the API lives under it
/// auth_realm = "eve"            # realm of the 401 challenge
/// optimize_pagination_for_speed = false   # true: no counted totals
///
/// [http.cors]
/// allowed_origins = ["*"]
///
/// [http.auth]
/// concurrent_checks = 2         # password hashes checked at once; more wait
/// max_failures = 10             # failed logins per address or user, then 429
/// failure_window = 60           # seconds
/// remember_verified = 300       # seconds a verified login skips the hash
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
    /// Base URL clients reach this server's root at (scheme, host and any
    /// path prefix a reverse proxy strips), used for the absolute
    /// `Location` header; [`base_path`](Self::base_path) follows it.
    /// `None`: `http://` plus the address the connection reached (never the
    /// client's `Host` header, which anyone can forge).
    pub public_url: Option<String>,
    /// Path prefix the whole API is served under (`/atlas`: `/atlas/code`,
    /// `/atlas/openapi.json`, …; requests outside it get 404). Empty: the
    /// root. Starts with `/`, no trailing `/`, no `.` or `..` segments
    /// (see [`HttpConfig::validate`]).
    pub base_path: String,
    /// Realm of the `WWW-Authenticate: Basic realm="…"` challenge of every
    /// 401 (`eve`, as the original, so clients that pick credentials by
    /// realm keep working).
    pub auth_realm: String,
    /// Cross-origin resource sharing.
    pub cors: CorsConfig,
    /// Limits on password checks and failed logins.
    pub auth: AuthLimits,
    /// Basic-auth users: name → argon2id PHC hash (see
    /// [`crate::hash_password`]).
    pub users: BTreeMap<String, String>,
    /// Eve's `OPTIMIZE_PAGINATION_FOR_SPEED`: collection pages skip counting
    /// the matches, so they carry no `_meta.total`, no `X-Total-Count` and
    /// no `last` link, and a full page always links a `next` one (which may
    /// be empty). Off by default: totals are exact.
    pub optimize_pagination_for_speed: bool,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            body_limit: DEFAULT_BODY_LIMIT,
            request_timeout: Duration::from_secs(30),
            public_url: None,
            base_path: String::new(),
            auth_realm: DEFAULT_REALM.to_owned(),
            cors: CorsConfig::default(),
            auth: AuthLimits::default(),
            users: BTreeMap::new(),
            optimize_pagination_for_speed: false,
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
            .field("base_path", &self.base_path)
            .field("auth_realm", &self.auth_realm)
            .field("cors", &self.cors)
            .field("auth", &self.auth)
            .field(
                "optimize_pagination_for_speed",
                &self.optimize_pagination_for_speed,
            )
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
    /// Send `Access-Control-Allow-Credentials: true`, so browsers include
    /// cookies and stored credentials. Only with explicit origins: combined
    /// with `"*"` any web site could act as a logged-in user, so
    /// [`HttpConfig::validate`] refuses it.
    pub allow_credentials: bool,
}

/// Limits on checking passwords: each argon2id check takes about 19 MiB and
/// tens of milliseconds of CPU, so a flood of wrong passwords must neither
/// run them all at once nor run them forever.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthLimits {
    /// Password checks run at once; further requests wait their turn
    /// (bounded by `request_timeout`).
    pub concurrent_checks: usize,
    /// Failed logins from one client address, or for one user name, within
    /// `failure_window` after which further attempts are answered 429
    /// without checking the password (credentials that verified recently
    /// still pass).
    pub max_failures: u32,
    /// How long failed logins are counted (seconds).
    #[serde(with = "atlas_core::serde_secs")]
    pub failure_window: Duration,
    /// How long credentials that verified are remembered (as a keyed digest,
    /// never the password), so repeated requests skip the slow hash
    /// (seconds; 0 disables).
    #[serde(with = "atlas_core::serde_secs")]
    pub remember_verified: Duration,
}

impl Default for AuthLimits {
    fn default() -> Self {
        Self {
            concurrent_checks: 2,
            max_failures: 10,
            failure_window: Duration::from_secs(60),
            remember_verified: Duration::from_secs(300),
        }
    }
}

/// A setting of `[http]` that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HttpConfigError {
    /// `allow_credentials` with the `"*"` origin.
    #[error(
        "http.cors.allow_credentials = true cannot be combined with allowed_origins = [\"*\"]: \
         list the origins that may send credentials, or turn allow_credentials off"
    )]
    CredentialsWithAnyOrigin,
    /// `concurrent_checks` is 0: no password could ever be checked.
    #[error("http.auth.concurrent_checks must be at least 1")]
    NoConcurrentChecks,
    /// `base_path` is not a clean absolute path.
    #[error(
        "http.base_path = \"{0}\" is not a usable path prefix: write it like \"/atlas\" \
         (starting with '/', no trailing '/', no empty, '.' or '..' segments, only letters, \
         digits and - . _ ~), or leave it empty to serve at the root"
    )]
    BasePath(String),
    /// `auth_realm` cannot be written in a `WWW-Authenticate` header.
    #[error(
        "http.auth_realm = \"{0}\" cannot be sent in a WWW-Authenticate header: use printable \
         ASCII without '\"' or '\\' (the original used \"eve\")"
    )]
    Realm(String),
}

impl HttpConfig {
    /// Refuses settings that cannot work or are unsafe together.
    ///
    /// # Errors
    /// [`HttpConfigError`] naming the setting and what to change.
    pub fn validate(&self) -> Result<(), HttpConfigError> {
        if self.cors.allow_credentials && self.cors.allowed_origins.iter().any(|o| o == "*") {
            return Err(HttpConfigError::CredentialsWithAnyOrigin);
        }
        if self.auth.concurrent_checks == 0 {
            return Err(HttpConfigError::NoConcurrentChecks);
        }
        if !valid_base_path(&self.base_path) {
            return Err(HttpConfigError::BasePath(self.base_path.clone()));
        }
        if !valid_realm(&self.auth_realm) {
            return Err(HttpConfigError::Realm(self.auth_realm.clone()));
        }
        Ok(())
    }
}

/// Empty, or `/seg(/seg)*` where every segment is non-empty, not `.` or
/// `..`, and made of URL-unreserved characters (so it needs no encoding
/// and matches request paths byte for byte).
fn valid_base_path(p: &str) -> bool {
    if p.is_empty() {
        return true;
    }
    let Some(rest) = p.strip_prefix('/') else {
        return false;
    };
    rest.split('/').all(|seg| {
        !seg.is_empty()
            && seg != "."
            && seg != ".."
            && seg
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
    })
}

/// Printable ASCII without `"` and `\\` (it goes inside a quoted string).
fn valid_realm(r: &str) -> bool {
    r.bytes()
        .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\')
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
            allow_credentials: false,
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
    fn credentials_with_any_origin_are_refused_and_with_listed_origins_accepted() {
        let mut c = HttpConfig::default();
        assert_eq!(c.validate(), Ok(()));
        c.cors.allow_credentials = true;
        let e = c.validate().unwrap_err();
        assert_eq!(e, HttpConfigError::CredentialsWithAnyOrigin);
        assert!(e.to_string().contains("allowed_origins"), "{e}");
        c.cors.allowed_origins = vec!["https://ops.example.edu".into()];
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn debug_redacts_password_hashes() {
        let mut c = HttpConfig::default();
        c.users.insert("alice".into(), "$argon2id$secret".into());
        let shown = format!("{c:?}");
        assert!(shown.contains("alice"), "{shown}");
        assert!(!shown.contains("$argon2id$secret"), "{shown}");
    }

    #[test]
    fn base_path_must_be_a_clean_absolute_prefix() {
        let mut c = HttpConfig::default();
        for ok in ["", "/atlas", "/api/v1", "/a-b_c.d~e"] {
            c.base_path = ok.into();
            assert_eq!(c.validate(), Ok(()), "{ok}");
        }
        for bad in [
            "atlas", "/atlas/", "/", "/a//b", "/a/../b", "/..", "/./a", "/at las", "/a?b", "/a%2F",
        ] {
            c.base_path = bad.into();
            let e = c.validate().unwrap_err();
            assert_eq!(e, HttpConfigError::BasePath(bad.into()));
            assert!(e.to_string().contains("http.base_path"), "{e}");
        }
    }

    #[test]
    fn realm_defaults_to_eve_and_must_fit_a_quoted_string() {
        let mut c = HttpConfig::default();
        assert_eq!(c.auth_realm, "eve");
        c.auth_realm = "Atlas API".into();
        assert_eq!(c.validate(), Ok(()));
        for bad in ["a\"b", "a\\b", "caf\u{e9}", "a\nb"] {
            c.auth_realm = bad.into();
            let e = c.validate().unwrap_err();
            assert!(e.to_string().contains("http.auth_realm"), "{e}");
        }
    }
}
