//! `atlas-ui`: the web dashboard of Atlas, served under
//! `<http.base_path>/ui/` on the API's listener. Every page is rendered on
//! the server from the answers of the public REST API, called in process
//! exactly as an external client would call it; the dashboard never reads
//! a store, so it also proves the API is enough.
//!
//! # Layout
//! - [`mount`] (this file): the dashboard's routes in front of the API's
//!   router, the headers every page gets, and what handlers share
//!   (`Ui`: the API, the sign-in gate, sessions, templates).
//! - `config`: [`UiConfig`] (the `[ui]` section).
//! - `api`: the in-process API client (Eve URLs, `where`, `If-Match`,
//!   [`SignedIn`](atlas_http::SignedIn) for the signed-in user).
//! - `session`: sessions (random 256-bit ids, idle and absolute expiry,
//!   bounded table), cookies and the constant-time CSRF check.
//! - `render`: the templates (`templates/*.html`, compiled in) and the
//!   stylesheet and refresh script (`static/`).
//! - `error`: `UiError` and its error page.
//! - `pages/`: one module per page (overview, instances, instance, jobs,
//!   commands, code, rollouts) and `auth` (sign in and out).
//!
//! # Contracts
//! - Reads follow the API's rule: what the API serves anonymously every
//!   visitor sees; what it protects (the job queue, command items) needs
//!   signing in, and then the request carries the user.
//! - Every state change (launch, take down, restore, run a command, retry
//!   a job, pause or resume a rollout) needs a signed-in session and the
//!   session's CSRF token in the form: a POST without it gets a 403 page
//!   and changes nothing.
//! - Signing in goes through the API's own credential gate and
//!   authenticator ([`SignInGate`]): the users file, then LDAP when
//!   configured, with the same throttling, and 503 when the directory
//!   cannot decide. The session keeps the user's name, never the password.
//! - Pages are readable without JavaScript; the only script reloads the
//!   running-work sections.
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]

mod api;
mod config;
mod error;
mod pages;
mod render;
mod session;

use std::sync::Arc;

use atlas_http::SignInGate;
use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;

pub use config::UiConfig;

use api::Api;
use render::Views;
use session::Sessions;

/// What every dashboard handler shares. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Ui {
    /// The API, in process.
    pub(crate) api: Api,
    /// The API's credential gate, for the sign-in form.
    pub(crate) gate: SignInGate,
    /// Signed-in sessions.
    pub(crate) sessions: Arc<Sessions>,
    /// The templates.
    pub(crate) views: Arc<Views>,
    /// Where the dashboard is served: `<base_path>/ui`.
    pub(crate) prefix: String,
}

/// The API's `router` (as `atlas_http::router` builds it) with the
/// dashboard in front of it at `<base_path>/ui/` (`base_path` is
/// `http.base_path`: `""` or `/seg…`); every other path goes to the API
/// unchanged. `gate` is the API's ([`SignInGate::of`] its state).
pub fn mount(api: Router, gate: SignInGate, config: &UiConfig, base_path: &str) -> Router {
    let base = base_path.trim_end_matches('/');
    let ui = Ui {
        api: Api::new(api.clone(), base),
        gate,
        sessions: Arc::new(Sessions::new(config)),
        views: Arc::new(Views::new()),
        prefix: format!("{base}/ui"),
    };
    pages::routes(ui)
        .layer(middleware::from_fn(page_headers))
        .fallback_service(api)
}

/// Headers of every dashboard answer: no caching (pages show live state
/// and a session's token), no framing, scripts and styles from the
/// dashboard only.
async fn page_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}
