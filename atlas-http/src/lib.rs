//! `atlas-http`: the Eve-dialect REST API of Atlas on hyper (axum as the
//! router). The HTTP layer only translates: every rule lives in
//! [`atlas_core::Service`]; this crate maps URLs, headers and
//! bodies onto its operations and renders the answers the way Python Eve
//! did (see docs/http.md and its "Deliberate differences from Eve").
//!
//! # Layout
//! - [`router`] (this file): routes and one edge middleware (the request
//!   span and metrics, `X-HTTP-Method-Override`, request timeout, the 401
//!   realm, CORS); `path`: the prefix (`http.base_path`) and trailing `/` taken
//!   off before routing.
//! - `server`: [`serve`] and [`serve_router`] (the API with more routes,
//!   e.g. the dashboard), the accept loop and graceful shutdown;
//!   `request_target`: the connection reader that percent-encodes what
//!   hyper would refuse in a request line; `header_case`: Eve's spellings of
//!   header names on HTTP/1.1.
//! - `config`: [`HttpConfig`] (listen address, body limit, timeout, CORS,
//!   users); `state`: [`AppState`].
//! - `auth`: the [`Authenticator`] port (accepted, rejected, or
//!   [`AuthUnavailable`]), [`StaticUsers`] (argon2id), [`hash_password`];
//!   `chain`: [`Chain`], the users file first and then another
//!   authenticator (the LDAP directory of `atlas-ldap`); `sign_in`:
//!   [`SignInGate`] (the gate for a dashboard's sign-in form) and
//!   [`SignedIn`] (the user an in-process caller vouches for); `gate`: what every
//!   credential check passes through (remembered logins, failed-login
//!   throttling per address and user, a bound on concurrent password
//!   hashes, 503 when the authenticator cannot decide); `client`: the
//!   connection's addresses.
//! - `eve`: Python-style JSON and Eve's envelopes and links.
//! - `error`: [`ApiError`], Eve's error envelopes, and [`service_status`]
//!   (the status of each core [`ServiceError`](atlas_core::ServiceError)).
//! - `routes/`: the handlers (resources, commands, jobs, an instance's
//!   jobs, meta, openapi).
//! - `metering`: the route label, and counting requests (method, route
//!   template, status, duration) into the [`StateParts::metrics`] registry; `health`:
//!   the API's `/healthz` and `/readyz` over [`StateParts::readiness`];
//!   `trace`: the request span (method, route, user, status, duration).
//!
//! Observability itself — the [`Metrics`](atlas_observe::Metrics)
//! registry, the metered store, [`Readiness`](atlas_observe::Readiness)
//! and the separate metrics listener — lives in `atlas-observe`, so a
//! process without the API (`atlas worker`) does not need this crate.
//!
//! # Contracts
//! - Status codes, envelopes, key orders, headers and messages follow
//!   docs/http.md, except where its "Deliberate differences from Eve" say.
//! - GET and HEAD are public except `commands` items and the job queue;
//!   every write needs Basic credentials (or, in-process only, a
//!   [`SignedIn`] extension) and the user becomes the service
//!   [`Actor`](atlas_core::Actor).
//! - Bodies above the configured limit get 413; requests running longer
//!   than the timeout get 503, and so do writes whose credentials could not
//!   be checked (the directory is down: never let in, never counted as a
//!   failed login); 500s carry a generic message, details are
//!   logged once.
//! - [`serve`] stops accepting on shutdown and finishes in-flight requests.
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]

mod auth;
mod chain;
mod client;
mod config;
mod error;
mod eve;
mod gate;
mod header_case;
mod health;
mod metering;
mod path;
mod request_target;
mod routes;
mod server;
mod sign_in;
mod state;
mod trace;

use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use tracing::Instrument as _;

pub use auth::{hash_password, AuthConfigError, AuthUnavailable, Authenticator, StaticUsers};
pub use chain::Chain;
pub use config::{AuthLimits, CorsConfig, HttpConfig, HttpConfigError, DEFAULT_BODY_LIMIT, DEFAULT_REALM};
pub use error::{
    challenge, service_status, ApiError, WriteKind, CHALLENGE, INTERNAL_MESSAGE, NOT_FOUND_MESSAGE,
    UNAUTHORIZED_MESSAGE,
};
pub use server::{serve, serve_router};
pub use sign_in::{SignInGate, SignedIn};
pub use state::{AppState, StateParts};

/// Every method, for `Access-Control-Allow-Methods` on URLs without `Allow`.
const ALL_METHODS: &str = "POST, PUT, GET, HEAD, PATCH, DELETE, OPTIONS";

/// The whole API as an axum router (state applied), under
/// [`HttpConfig::base_path`], a trailing `/` ignored (see `path`).
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/", any(routes::meta::home))
        .route("/version", any(routes::meta::version))
        .route("/openapi.json", any(routes::openapi::document))
        .route("/healthz", get(atlas_observe::healthz))
        .route("/readyz", get(health::readyz))
        .route("/jobs", any(routes::jobs::collection))
        .route("/jobs/{id}", any(routes::jobs::item))
        .route("/jobs/{id}/{action}", any(routes::jobs::act))
        .route("/commands/{id}/execute", any(routes::actions::execute))
        .route("/backup/{id}/restore", any(routes::actions::restore))
        .route("/rollout/{id}/{action}", any(routes::actions::rollout))
        .route("/instance/{id}/jobs", any(routes::instance_jobs::list))
        .route("/instance/{id}/verify", any(routes::actions::verify))
        .route("/instance/{id}/heal", any(routes::actions::heal))
        .route("/{res}", any(routes::resources::collection))
        .route("/{res}/{id}", any(routes::resources::item))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), edge))
        .with_state(state.clone());
    Router::new()
        .fallback_service(api)
        .layer(middleware::from_fn_with_state(state, path::normalize))
}

async fn not_found() -> Response {
    ApiError::NotFound.into_response()
}

/// The edge of every request, in one middleware (each `from_fn` layer
/// costs boxed futures on every request): the request span (`trace`) and
/// its metrics (`metering`), both under the route template and the method
/// the client sent; `X-HTTP-Method-Override` on POST (Eve's
/// `ALLOW_OVERRIDE_HTTP_METHOD`); the request timeout (503); the realm of a
/// 401's challenge (`http.auth_realm`); and CORS.
async fn edge(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let span = trace::make_span(&req);
    // The label costs a lookup: only made for a span or metrics that use it.
    let route = (state.metrics.is_some() || !span.is_disabled()).then(|| metering::route_label(&req));
    if let Some(route) = &route {
        trace::record_route(&span, route);
    }
    let method = req.method().clone();
    if method == Method::POST {
        if let Some(m) = method_override(&req) {
            *req.method_mut() = m;
        }
    }
    let origin = req.headers().get(header::ORIGIN).cloned();
    let limit = state.config.request_timeout;
    let mut res = match tokio::time::timeout(limit, next.run(req).instrument(span.clone())).await {
        Ok(res) => res,
        Err(_) => {
            tracing::warn!(parent: &span, timeout_secs = limit.as_secs(), "request timed out");
            ApiError::Timeout(limit).into_response()
        }
    };
    if res.status() == StatusCode::UNAUTHORIZED && state.config.auth_realm != DEFAULT_REALM {
        res.headers_mut()
            .insert(header::WWW_AUTHENTICATE, challenge(&state.config.auth_realm));
    }
    if let Some(origin) = origin {
        cors(&state.config.cors, origin, &mut res);
    }
    let elapsed = started.elapsed();
    trace::on_response(&res, elapsed, &span);
    if let (Some(metrics), Some(route)) = (&state.metrics, route) {
        metrics.observe_request(&method, route, res.status(), elapsed);
    }
    res
}

fn method_override(req: &Request) -> Option<Method> {
    let value = req.headers().get("x-http-method-override")?.to_str().ok()?;
    Method::from_bytes(value.trim().to_ascii_uppercase().as_bytes()).ok()
}

/// CORS as Eve: only for an allowed `Origin`, which is echoed, with
/// `Vary: Origin`, the allowed headers, the methods (the response's `Allow`
/// when it has one), the exposed headers (none by default) and the max age;
/// `Access-Control-Allow-Credentials` only when configured (never with the
/// `"*"` origin, see [`HttpConfig::validate`]).
fn cors(cfg: &CorsConfig, origin: HeaderValue, res: &mut Response) {
    if !origin.to_str().is_ok_and(|o| cfg.allows(o)) {
        return;
    }
    let methods = res
        .headers()
        .get(header::ALLOW)
        .cloned()
        .unwrap_or(HeaderValue::from_static(ALL_METHODS));
    let h = res.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    h.append(header::VARY, HeaderValue::from_static("Origin"));
    if let Ok(v) = HeaderValue::from_str(&cfg.allowed_headers.join(", ")) {
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, v);
    }
    h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, methods);
    if let Ok(v) = HeaderValue::from_str(&cfg.expose_headers.join(", ")) {
        h.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, v);
    }
    h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from(cfg.max_age));
    if cfg.allow_credentials {
        h.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
}
