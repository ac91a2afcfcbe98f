//! The read-only view of the job queue: `GET /jobs` (with `where`, `sort`
//! and paging, as resources) and `GET /jobs/<id>`: kind, key, status,
//! attempts, last error, timings and each job's result (a command's
//! per-instance outcome). Job results may hold command output, so this view
//! needs credentials.

use atlas_core::query::FindQuery;
use atlas_core::Job;
use axum::extract::{Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use super::{other_method, require_user, Params, READ_ALLOW};
use crate::eve::{self, link};
use crate::{ApiError, AppState};

/// Title of job links.
const TITLE: &str = "job";

/// A job with `_links` (`self` only when `full` is false).
pub(crate) fn job_json(job: &Job, full: bool) -> Value {
    let mut m = match job.to_json() {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let mut links = Map::new();
    links.insert("self".into(), link(TITLE, format!("jobs/{}", job.id)));
    if full {
        links.insert("parent".into(), eve::home_link());
        links.insert("collection".into(), link("jobs", "jobs"));
    }
    m.insert("_links".into(), Value::Object(links));
    Value::Object(m)
}

/// `/jobs`.
pub(crate) async fn collection(State(state): State<AppState>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    if parts.method != Method::GET && parts.method != Method::HEAD {
        return other_method(&parts.method, READ_ALLOW);
    }
    list(&state, &parts)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn list(state: &AppState, parts: &Parts) -> Result<Response, ApiError> {
    require_user(state, &parts.headers).await?;
    let params = Params::of(parts);
    let (filter, sort, paging) = params.find()?;
    let q = FindQuery {
        filter,
        sort,
        paging,
        show_deleted: false,
    };
    let page = state.service.find_jobs(&q).await?;
    let items: Vec<Value> = page.items.iter().map(|j| job_json(j, false)).collect();
    let mut links = Map::new();
    links.insert("parent".into(), eve::home_link());
    let links = eve::page_links(
        links,
        "jobs",
        "jobs",
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

/// `/jobs/<id>`.
pub(crate) async fn item(State(state): State<AppState>, Path(id): Path<String>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    if parts.method != Method::GET && parts.method != Method::HEAD {
        return other_method(&parts.method, READ_ALLOW);
    }
    let result = async {
        require_user(&state, &parts.headers).await?;
        let job = state.service.job(&id).await?;
        Ok::<_, ApiError>(eve::json_response(StatusCode::OK, &job_json(&job, true)))
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

/// The job envelope of `execute`: the job plus `"_status": "OK"`.
pub(crate) fn accepted(job: &Job) -> Value {
    let mut v = job_json(job, true);
    if let Some(m) = v.as_object_mut() {
        m.insert("_status".into(), json!("OK"));
    }
    v
}
