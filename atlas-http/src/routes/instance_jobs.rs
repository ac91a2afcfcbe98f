//! An instance's operation log: `GET /instance/<id or sid>/jobs`, every job
//! about the instance (`payload.instance` is its id: provision, lifecycle
//! work, code switches, settings, removal, `drush cron`, command runs),
//! newest first, with `/jobs`' `where`, `sort` and paging. Like `/jobs`,
//! it needs credentials (results may hold command output). A removed
//! instance's log stays readable by its id.

use atlas_core::model::{Id, Resource};
use atlas_core::query::{Filter, FindQuery, SortKey};
use atlas_core::Store;
use axum::extract::{Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::jobs::job_json;
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
    require_user(state, &parts.headers).await?;
    let instance = resolve(state, id).await?;
    let params = Params::of(parts);
    let (filter, sort, paging) = params.find()?;
    let mine = Filter::eq("payload.instance", instance.to_string());
    let filter = match filter {
        Filter::All => mine,
        other => Filter::and(vec![mine, other]),
    };
    let sort = if sort.is_empty() { newest_first() } else { sort };
    let q = FindQuery {
        filter,
        sort,
        paging,
        show_deleted: false,
    };
    let page = state.service.find_jobs(&q).await?;
    let items: Vec<Value> = page.items.iter().map(|j| job_json(j, false)).collect();
    let mut links = Map::new();
    links.insert(
        "parent".into(),
        eve::link("instance", format!("instance/{instance}")),
    );
    let links = eve::page_links(
        links,
        "jobs",
        &format!("instance/{instance}/jobs"),
        &params.link_query(paging.max_results),
        paging.page,
        page.total,
    );
    let body = eve::page_envelope(items, links, paging.page, paging.max_results, page.total);
    let mut response = eve::json_response(StatusCode::OK, &body);
    response
        .headers_mut()
        .insert("x-total-count", HeaderValue::from(page.total));
    Ok(response)
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
