//! The endpoints that queue one job for a record and answer 202 with it
//! (`Location` pointing at the job under `/jobs`):
//! - `POST /commands/<id>/execute` runs a command item (the operator
//!   guide's "future" endpoint) through a fan-out job;
//! - `POST /backup/<id>/restore` restores a complete backup onto its
//!   instance;
//! - `POST /instance/<id or sid>/verify` compares the instance on its
//!   servers with its records, `POST /instance/<id or sid>/heal` also
//!   re-applies what is safe to (drift).
//!
//! And the rollout actions, which change the record and answer 200 with
//! it as `GET` shows it: `POST /rollout/<id>/pause`, `/resume` (a halted
//! rollout needs `{"failed": "retry"}` or `{"failed": "skip"}`) and
//! `/abort`.

use atlas_core::model::Resource;
use atlas_core::FailedChoice;
use axum::extract::{Path, Request, State};
use axum::http::request::Parts;
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::jobs::queued;
use super::{etag_header, json_body, other_method, require_user, EXECUTE_ALLOW};
use crate::{eve, ApiError, AppState};

/// What an endpoint asks the service to queue.
#[derive(Debug, Clone, Copy)]
enum Action {
    /// Run the command item.
    Execute,
    /// Restore the backup.
    Restore,
    /// Verify the instance.
    Verify,
    /// Heal the instance.
    Heal,
}

/// `/commands/<id>/execute`.
pub(crate) async fn execute(State(state): State<AppState>, Path(id): Path<String>, req: Request) -> Response {
    handle(&state, &id, req, Action::Execute).await
}

/// `/backup/<id>/restore`.
pub(crate) async fn restore(State(state): State<AppState>, Path(id): Path<String>, req: Request) -> Response {
    handle(&state, &id, req, Action::Restore).await
}

/// `/instance/<id>/verify`.
pub(crate) async fn verify(State(state): State<AppState>, Path(id): Path<String>, req: Request) -> Response {
    handle(&state, &id, req, Action::Verify).await
}

/// `/instance/<id>/heal`.
pub(crate) async fn heal(State(state): State<AppState>, Path(id): Path<String>, req: Request) -> Response {
    handle(&state, &id, req, Action::Heal).await
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
        Action::Verify => state.service.verify_instance(id, &actor).await?,
        Action::Heal => state.service.heal_instance(id, &actor).await?,
    };
    queued(state, parts, job_id).await
}

/// `/rollout/<id>/<action>`: `pause`, `resume` or `abort` (anything else
/// is a 404).
pub(crate) async fn rollout(
    State(state): State<AppState>,
    Path((id, action)): Path<(String, String)>,
    req: Request,
) -> Response {
    if !matches!(action.as_str(), "pause" | "resume" | "abort") {
        return ApiError::NotFound.into_response();
    }
    let (parts, body) = req.into_parts();
    if parts.method != Method::POST {
        return other_method(&parts.method, EXECUTE_ALLOW);
    }
    rollout_action(&state, &id, &action, &parts, body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn rollout_action(
    state: &AppState,
    id: &str,
    action: &str,
    parts: &Parts,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    let actor = require_user(state, parts).await?;
    let svc = &state.service;
    let doc = match action {
        "pause" => svc.pause_rollout(id, &actor).await?,
        "abort" => svc.abort_rollout(id, &actor).await?,
        _ => {
            let choice = resume_choice(state, parts, body).await?;
            svc.resume_rollout(id, choice, &actor).await?
        }
    };
    let etag = etag_header(&doc.etag);
    let mut response = eve::json_response(StatusCode::OK, &eve::item(Resource::Rollout, doc));
    response.headers_mut().insert(header::ETAG, etag);
    Ok(response)
}

/// The `failed` choice of a resume body; no body (or no `failed`) is none.
async fn resume_choice(
    state: &AppState,
    parts: &Parts,
    body: axum::body::Body,
) -> Result<Option<FailedChoice>, ApiError> {
    let empty = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .is_some_and(|v| v.as_bytes() == b"0");
    if empty || !parts.headers.contains_key(header::CONTENT_TYPE) {
        return Ok(None);
    }
    let value = json_body(state, parts, body).await?;
    match value.get("failed") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(FailedChoice::parse(s)?)),
        Some(other) => Ok(Some(FailedChoice::parse(&other.to_string())?)),
    }
}
