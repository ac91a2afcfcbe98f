//! The endpoints that queue one job for a record and answer 202 with it
//! (`Location` pointing at the job under `/jobs`):
//! - `POST /commands/<id>/execute` runs a command item (the operator
//!   guide's "future" endpoint) through a fan-out job;
//! - `POST /backup/<id>/restore` restores a complete backup onto its
//!   instance.

use axum::extract::{Path, Request, State};
use axum::http::request::Parts;
use axum::http::Method;
use axum::response::{IntoResponse, Response};

use super::jobs::queued;
use super::{other_method, require_user, EXECUTE_ALLOW};
use crate::{ApiError, AppState};

/// What an endpoint asks the service to queue.
#[derive(Debug, Clone, Copy)]
enum Action {
    /// Run the command item.
    Execute,
    /// Restore the backup.
    Restore,
}

/// `/commands/<id>/execute`.
pub(crate) async fn execute(State(state): State<AppState>, Path(id): Path<String>, req: Request) -> Response {
    handle(&state, &id, req, Action::Execute).await
}

/// `/backup/<id>/restore`.
pub(crate) async fn restore(State(state): State<AppState>, Path(id): Path<String>, req: Request) -> Response {
    handle(&state, &id, req, Action::Restore).await
}

async fn handle(state: &AppState, id: &str, req: Request, action: Action) -> Response {
    let (parts, _) = req.into_parts();
    if parts.method != Method::POST {
        return other_method(&parts.method, EXECUTE_ALLOW);
    }
    run(state, id, &parts, action)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn run(state: &AppState, id: &str, parts: &Parts, action: Action) -> Result<Response, ApiError> {
    let actor = require_user(state, parts).await?;
    let job_id = match action {
        Action::Execute => state.service.execute_command(id, &actor).await?,
        Action::Restore => state.service.restore_backup(id, &actor).await?,
    };
    queued(state, parts, job_id).await
}
