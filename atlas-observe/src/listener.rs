//! The metrics listener: `GET /metrics` (the exposition, gauges refreshed
//! per scrape), `GET /healthz` and `GET /readyz`, on an address of its own
//! ([`crate::MetricsConfig`]) so metrics are not public by accident.

use std::future::Future;
use std::io;
use std::sync::Arc;

use atlas_core::{Scheduler, Store};
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::health::{healthz, Readiness};
use crate::metrics::Metrics;

/// The `Content-Type` of the exposition (OpenMetrics text, which
/// Prometheus scrapes natively).
pub const METRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// What the metrics listener serves from.
#[derive(Debug, Clone)]
pub struct MetricsState {
    /// The registry.
    pub metrics: Metrics,
    /// The store the gauges count in.
    pub store: Arc<dyn Store>,
    /// The scheduler whose tasks are reported, when this process runs one.
    pub scheduler: Option<Scheduler>,
    /// The readiness checks of `/readyz`.
    pub readiness: Readiness,
}

/// `GET /metrics`, `GET /healthz` and `GET /readyz`, for the metrics
/// listener.
pub fn metrics_router(state: MetricsState) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(state)
}

async fn scrape(State(s): State<MetricsState>) -> Response {
    let body = s.metrics.render(s.store.as_ref(), s.scheduler.as_ref()).await;
    let mut res = (StatusCode::OK, body).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(METRICS_CONTENT_TYPE),
    );
    res
}

async fn readyz(State(s): State<MetricsState>) -> Response {
    s.readiness.check().await.into_response()
}

/// Serves [`metrics_router`] on `listener` until `shutdown` completes.
///
/// # Errors
/// I/O errors of the listener.
pub async fn serve_metrics(
    listener: tokio::net::TcpListener,
    state: MetricsState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    axum::serve(listener, metrics_router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
