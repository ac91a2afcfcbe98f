//! An instance's operation log: `GET /instance/<id or sid>/jobs`, every job
//! about the instance (`payload.instance` is its id: provision, lifecycle
//! work, code switches, settings, removal, `drush cron`, command runs),
//! newest first, with `/jobs`' `where`, `sort` and paging. Like `/jobs`,
//! it needs credentials (results may hold command output). A removed
//! instance's log stays readable by its id.

use atlas_core::model::{Id, Resource};
use atlas_core::query::{Filter, SortKey};
use atlas_core::Store;
use axum::extract::{Path, Request, State};
use axum::http::request::Parts;
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use serde_json::Map;

use super::jobs;
use super::{other_method, require_user, Params, READ_ALLOW};
use crate::eve;
use crate::{ApiError, AppState};

/// `/instance/<id>/jobs`.
pub(crate) async fn list(State(state): State<AppState>, Path(id): Path<String>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    if parts.method != Method::GET && parts.method != Method::HEAD {
        return other_method(&parts.method, READ_ALLOW);
    }
    page(&state, &id, &parts)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// The instance's id: a record id (live or removed) or a live sid.
async fn resolve(state: &AppState, id: &str) -> Result<Id, ApiError> {
    if let Ok(parsed) = Id::parse(id) {
        let store: &dyn Store = state.service.store().as_ref();
        return match store.get(Resource::Instance, &parsed).await {
            Ok(Some(_)) => Ok(parsed),
            Ok(None) => Err(ApiError::NotFound),
            Err(e) => Err(ApiError::from(atlas_core::ServiceError::from(e))),
        };
    }
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(ApiError::NotFound);
    }
    Ok(state.service.get(Resource::Instance, id).await?.id)
}

async fn page(state: &AppState, id: &str, parts: &Parts) -> Result<Response, ApiError> {
    require_user(state, parts).await?;
    let instance = resolve(state, id).await?;
    let params = Params::of(parts);
    let mine = Filter::eq("payload.instance", instance.to_string());
    let (page, paging) = jobs::find_page(state, &params, Some(mine), newest_first()).await?;
    let mut links = Map::new();
    links.insert(
        "parent".into(),
        eve::link("instance", format!("instance/{instance}")),
    );
    let href = format!("instance/{instance}/jobs");
    Ok(jobs::page_response(&page, links, &href, &params, paging))
}

/// Newest first: creation time, then id (ids grow within a second).
fn newest_first() -> Vec<SortKey> {
    vec![
        SortKey {
            path: "created".into(),
            descending: true,
        },
        SortKey {
            path: "_id".into(),
            descending: true,
        },
    ]
}
