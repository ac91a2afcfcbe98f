//! The API middleware counting every request into
//! [`atlas_observe::Metrics`] (`atlas_http_requests_total` and
//! `atlas_http_request_duration_seconds`), labelled by method, route and
//! status.
//!
//! # Contracts
//! - The route label (also the request span's `route`) is the matched
//!   route template (`/{res}` with the resource filled in when it is one:
//!   `/instance/{id}`), or `unmatched`: label values never come from raw
//!   client input.
//! - Without [`AppState::metrics`] nothing is counted.

use std::time::Instant;

use atlas_core::model::Resource;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::AppState;

/// The route label of a request: its matched template, with `{res}`
/// replaced by the resource when the path names one; `unmatched` for the
/// fallback.
pub(crate) fn route_label(req: &Request) -> String {
    let Some(matched) = req.extensions().get::<MatchedPath>() else {
        return "unmatched".to_owned();
    };
    let template = matched.as_str();
    if !template.contains("{res}") {
        return template.to_owned();
    }
    let first = req
        .uri()
        .path()
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or("");
    match first.parse::<Resource>() {
        Ok(res) => template.replacen("{res}", res.as_str(), 1),
        Err(_) => template.to_owned(),
    }
}

/// Counts the request into [`AppState::metrics`].
pub(crate) async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(metrics) = state.metrics.clone() else {
        return next.run(req).await;
    };
    let method = req.method().clone();
    let route = route_label(&req);
    let started = Instant::now();
    let res = next.run(req).await;
    metrics.observe_request(&method, &route, res.status(), started.elapsed());
    res
}
