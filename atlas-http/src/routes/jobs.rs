//! The job queue: `GET /jobs` (with `where`, `sort` and paging, as
//! resources) and `GET /jobs/<id>`: kind, key, status, attempts, last
//! error, timings and each job's result (a command's per-instance outcome);
//! and an operator's `POST /jobs/<id>/retry` (a dead job runs again) and
//! `POST /jobs/<id>/cancel` (a queued job is stopped), 409 when the job's
//! status forbids it. Job results may hold command output, so all of it
//! needs credentials.

use atlas_core::query::{Filter, FindQuery, Paging, SortKey};
use atlas_core::{Job, JobId, JobPage};
use axum::extract::{Path, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use super::{base_url, other_method, require_user, Params, EXECUTE_ALLOW, READ_ALLOW};
use crate::eve::{self, link, Total};
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
    require_user(state, parts).await?;
    let params = Params::of(parts);
    let (page, paging) = find_page(state, &params, None, Vec::new()).await?;
    let mut links = Map::new();
    links.insert("parent".into(), eve::home_link());
    Ok(page_response(&page, links, "jobs", &params, paging))
}

/// A page of jobs served at `href`: the Eve page envelope with `links` plus
/// the paging links, and `X-Total-Count`.
pub(crate) fn page_response(
    page: &JobPage,
    links: Map<String, Value>,
    href: &str,
    params: &Params,
    paging: Paging,
) -> Response {
    let items: Vec<Value> = page.items.iter().map(|j| job_json(j, false)).collect();
    let links = eve::page_links(
        links,
        "jobs",
        href,
        &params.link_query(paging.max_results),
        paging.page,
        Total::Exact(page.total),
    );
    let total = Total::Exact(page.total);
    let body = eve::page_envelope(items, links, paging.page, paging.max_results, total);
    eve::page_response(&body, total)
}

/// The page of jobs `params` asks for within `scope` (every job when
/// `None`), sorted by `default_sort` unless the request sorts.
pub(crate) async fn find_page(
    state: &AppState,
    params: &Params,
    scope: Option<Filter>,
    default_sort: Vec<SortKey>,
) -> Result<(JobPage, Paging), ApiError> {
    let (filter, sort, paging) = params.find()?;
    let filter = match (scope, filter) {
        (None, f) => f,
        (Some(scope), Filter::All) => scope,
        (Some(scope), other) => Filter::and(vec![scope, other]),
    };
    let q = FindQuery {
        filter,
        sort: if sort.is_empty() { default_sort } else { sort },
        paging,
        show_deleted: false,
        count: true,
    };
    Ok((state.service.find_jobs(&q).await?, paging))
}

/// `/jobs/<id>`.
pub(crate) async fn item(State(state): State<AppState>, Path(id): Path<String>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    if parts.method != Method::GET && parts.method != Method::HEAD {
        return other_method(&parts.method, READ_ALLOW);
    }
    let result = async {
        require_user(&state, &parts).await?;
        let job = state.service.job(&id).await?;
        Ok::<_, ApiError>(eve::json_response(StatusCode::OK, &job_json(&job, true)))
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

/// `POST /jobs/<id>/retry` and `POST /jobs/<id>/cancel`: 200 with the job
/// envelope as it now is, plus `"_status": "OK"`.
pub(crate) async fn act(
    State(state): State<AppState>,
    Path((id, action)): Path<(String, String)>,
    req: Request,
) -> Response {
    let (parts, _) = req.into_parts();
    if action != "retry" && action != "cancel" {
        return ApiError::NotFound.into_response();
    }
    if parts.method != Method::POST {
        return other_method(&parts.method, EXECUTE_ALLOW);
    }
    let result = async {
        let actor = require_user(&state, &parts).await?;
        let job = if action == "retry" {
            state.service.retry_job(&id, &actor).await?
        } else {
            state.service.cancel_job(&id, &actor).await?
        };
        Ok::<_, ApiError>(eve::json_response(StatusCode::OK, &accepted(&job)))
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

/// The 202 answer of an endpoint that queued `job_id` (`execute`,
/// `restore`): the job's envelope and `Location` pointing at it under
/// `/jobs`.
pub(crate) async fn queued(state: &AppState, parts: &Parts, job_id: JobId) -> Result<Response, ApiError> {
    let job = state.service.job(&job_id.to_string()).await?;
    let mut response = eve::json_response(StatusCode::ACCEPTED, &accepted(&job));
    let location = format!("{}/jobs/{}", base_url(state, parts), job.id);
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

/// The job envelope of `execute`, `retry` and `cancel`: the job plus
/// `"_status": "OK"`.
pub(crate) fn accepted(job: &Job) -> Value {
    let mut v = job_json(job, true);
    if let Some(m) = v.as_object_mut() {
        m.insert("_status".into(), json!("OK"));
    }
    v
}
