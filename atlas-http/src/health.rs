//! The API's own `GET /healthz` and `GET /readyz`, answered with
//! [`atlas_observe`]'s [`healthz`](atlas_observe::healthz) and
//! [`Readiness`] (the same answers as the metrics listener's).

use atlas_observe::Readiness;
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use crate::AppState;

/// `GET /readyz` on the API: the state's readiness, or the store alone.
pub(crate) async fn readyz(State(state): State<AppState>) -> Response {
    let report = match &state.readiness {
        Some(r) => r.check().await,
        None => {
            Readiness::new(state.service.store().clone(), state.service.clock().clone())
                .check()
                .await
        }
    };
    report.into_response()
}
