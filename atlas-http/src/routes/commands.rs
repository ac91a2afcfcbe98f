//! `POST /commands/<id>/execute`: runs a command item (the operator
//! guide's "future" endpoint). Answers 202 with the queued fan-out job and
//! `Location` pointing at it under `/jobs`.

use axum::extract::{Path, Request, State};
use axum::http::request::Parts;
use axum::http::Method;
use axum::response::{IntoResponse, Response};

use super::jobs::queued;
use super::{other_method, require_user, EXECUTE_ALLOW};
use crate::{ApiError, AppState};

/// `/commands/<id>/execute`.
pub(crate) async fn execute(State(state): State<AppState>, Path(id): Path<String>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    if parts.method != Method::POST {
        return other_method(&parts.method, EXECUTE_ALLOW);
    }
    run(&state, &id, &parts)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn run(state: &AppState, id: &str, parts: &Parts) -> Result<Response, ApiError> {
    let actor = require_user(state, parts).await?;
    let job_id = state.service.execute_command(id, &actor).await?;
    queued(state, parts, job_id).await
}
