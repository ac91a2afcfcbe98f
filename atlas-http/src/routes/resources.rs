//! Collections (`/<res>`: GET, POST) and items (`/<res>/<id>`: GET, PATCH,
//! PUT, DELETE) of the seven resources, plus the instance lookup by `sid`
//! (`/instance/<sid>`: GET only, writes 405), and `?version=` on items.
//!
//! # Contracts
//! - Unknown resources, ids that are not 24 lowercase hex (outside the sid
//!   lookup) and unknown or deleted records are the generic 404.
//! - GET and HEAD are public except on `commands` items; every write needs
//!   Basic credentials, checked before anything else.

use atlas_core::model::{Doc, Resource};
use atlas_core::query::{FindQuery, Projection};
use atlas_core::Service;
use atlas_core::Version;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::{
    base_url, date_header, empty, etag_header, if_match, json_body, not_modified, not_modified_response,
    other_method, require_user, Params, COLLECTION_ALLOW, ITEM_ALLOW, READ_ALLOW,
};
use crate::eve::{self, Total};
use crate::{ApiError, AppState};

/// The 400 message of a bad `version`.
pub(crate) const BAD_VERSION: &str = "Document version number should be an int greater than 0";

fn resource(name: &str) -> Result<Resource, ApiError> {
    name.parse().map_err(|_| ApiError::NotFound)
}

/// `/<res>`.
pub(crate) async fn collection(
    State(state): State<AppState>,
    Path(res): Path<String>,
    req: Request,
) -> Response {
    on_collection(&state, &res, req)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// `/<res>/<id>` (and `/instance/<sid>`).
pub(crate) async fn item(
    State(state): State<AppState>,
    Path((res, id)): Path<(String, String)>,
    req: Request,
) -> Response {
    on_item(&state, &res, &id, req)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn on_collection(state: &AppState, res: &str, req: Request) -> Result<Response, ApiError> {
    let res = resource(res)?;
    let (parts, body) = req.into_parts();
    match parts.method {
        Method::GET | Method::HEAD => list(state, res, &parts).await,
        Method::POST => create(state, res, &parts, body).await,
        _ => Ok(other_method(&parts.method, COLLECTION_ALLOW)),
    }
}

async fn on_item(state: &AppState, res: &str, id: &str, req: Request) -> Result<Response, ApiError> {
    let res = resource(res)?;
    let (parts, body) = req.into_parts();
    if !atlas_core::model::Id::is_id(id) {
        // Eve's `additional_lookup` on `sid` (`regex("[\w]+")`), GET only.
        let lookup = res == Resource::Instance
            && !id.is_empty()
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        return match parts.method {
            _ if !lookup => Err(ApiError::NotFound),
            Method::GET | Method::HEAD => get_item(state, res, id, &parts).await,
            _ => Ok(other_method(&parts.method, READ_ALLOW)),
        };
    }
    match parts.method {
        Method::GET | Method::HEAD => get_item(state, res, id, &parts).await,
        Method::PATCH => change(state, res, id, &parts, body, false).await,
        Method::PUT => change(state, res, id, &parts, body, true).await,
        Method::DELETE => delete(state, res, id, &parts).await,
        _ => Ok(other_method(&parts.method, ITEM_ALLOW)),
    }
}

/// Projects, then embeds, one rendered document.
async fn shape(
    state: &AppState,
    res: Resource,
    v: &mut Value,
    projection: &Projection,
    embedded: &[String],
) -> Result<(), ApiError> {
    projection.apply(v);
    if !embedded.is_empty() {
        state.service.embed(res, v, embedded).await?;
    }
    Ok(())
}

async fn list(state: &AppState, res: Resource, parts: &Parts) -> Result<Response, ApiError> {
    let params = Params::of(parts);
    let (filter, sort, paging) = params.find()?;
    let projection = params.projection()?;
    Service::check_projection(res, &projection)?;
    let embedded = params.embedded()?;
    // Eve's OPTIMIZE_PAGINATION_FOR_SPEED: no count, no total shown.
    let count = !state.config.optimize_pagination_for_speed;
    let q = FindQuery {
        filter,
        sort,
        paging,
        show_deleted: params.has("show_deleted"),
        count,
    };
    let page = state.service.find(res, &q).await?;
    let total = if count {
        Total::Exact(page.total)
    } else {
        Total::Uncounted {
            full: page.items.len() as u64 >= paging.max_results,
        }
    };
    let last_modified = page.items.iter().map(|d| d.updated).max();
    let mut items = Vec::with_capacity(page.items.len());
    for doc in page.items {
        let version = doc.version;
        let mut v = eve::listed_item(res, doc, None, version);
        shape(state, res, &mut v, &projection, &embedded).await?;
        items.push(v);
    }
    let links = eve::collection_links(res, &params.link_query(paging.max_results), paging.page, total);
    let body = eve::page_envelope(items, links, paging.page, paging.max_results, total);
    let mut response = eve::page_response(&body, total);
    if let Some(t) = last_modified {
        response
            .headers_mut()
            .insert(header::LAST_MODIFIED, date_header(t));
    }
    Ok(response)
}

async fn create(state: &AppState, res: Resource, parts: &Parts, body: Body) -> Result<Response, ApiError> {
    let actor = require_user(state, parts).await?;
    let base = base_url(state, parts);
    let body = json_body(state, parts, body).await?;
    let bulk = body.is_array();
    let docs = state
        .service
        .create(res, &actor, body)
        .await
        .map_err(ApiError::insert)?;
    let envelopes: Vec<Value> = docs.iter().map(|d| eve::write_envelope(res, d, false)).collect();
    let payload = if bulk {
        json!({ "_status": "OK", "_items": envelopes })
    } else {
        envelopes.into_iter().next().unwrap_or(Value::Null)
    };
    let mut response = eve::json_response(StatusCode::CREATED, &payload);
    if let Some(first) = docs.first() {
        if let Ok(loc) = HeaderValue::from_str(&format!("{base}/{res}/{}", first.id)) {
            response.headers_mut().insert(header::LOCATION, loc);
        }
    }
    Ok(response)
}

fn parse_version(raw: &str) -> Result<Version, ApiError> {
    match raw {
        "all" => Ok(Version::All),
        "diffs" => Ok(Version::Diffs),
        n => match n.parse::<u64>() {
            Ok(n) if n > 0 => Ok(Version::Number(n)),
            _ => Err(ApiError::BadRequest(BAD_VERSION.into())),
        },
    }
}

async fn get_item(state: &AppState, res: Resource, id: &str, parts: &Parts) -> Result<Response, ApiError> {
    if res == Resource::Commands {
        require_user(state, parts).await?;
    }
    let params = Params::of(parts);
    let projection = params.projection()?;
    Service::check_projection(res, &projection)?;
    let embedded = params.embedded()?;
    if let Some(raw) = params.get("version") {
        let which = parse_version(raw)?;
        return versions(state, res, id, which, &params, &projection, &embedded).await;
    }
    let doc = state.service.get(res, id).await?;
    if not_modified(&parts.headers, &doc) {
        return Ok(not_modified_response(&doc.etag));
    }
    let (etag, updated) = (etag_header(&doc.etag), date_header(doc.updated));
    let mut v = eve::item(res, doc);
    shape(state, res, &mut v, &projection, &embedded).await?;
    let mut response = eve::json_response(StatusCode::OK, &v);
    response.headers_mut().insert(header::ETAG, etag);
    response.headers_mut().insert(header::LAST_MODIFIED, updated);
    Ok(response)
}

async fn versions(
    state: &AppState,
    res: Resource,
    id: &str,
    which: Version,
    params: &Params,
    projection: &Projection,
    embedded: &[String],
) -> Result<Response, ApiError> {
    // The history stays readable after a soft delete (its last version).
    let all = state.service.versions(res, id, Version::All).await?;
    let current = all.last().cloned().ok_or(ApiError::NotFound)?;
    let history: Vec<Doc> = match which {
        Version::Number(n) => all.into_iter().filter(|d| d.version == n).collect(),
        Version::All | Version::Diffs => all,
    };
    let id = current.id.to_string();
    if let Version::Number(n) = which {
        let Some(doc) = history.into_iter().next() else {
            return Err(ApiError::NotFound);
        };
        let mut m = eve::doc_json(res, &doc);
        m.insert("_links".into(), eve::version_links(res, &id, n));
        m.insert("_latest_version".into(), Value::from(current.version));
        let mut v = Value::Object(m);
        shape(state, res, &mut v, projection, embedded).await?;
        return Ok(with_validators(
            eve::json_response(StatusCode::OK, &v),
            &doc,
            &current,
        ));
    }
    let (_, _, paging) = params.find()?;
    let total = history.len() as u64;
    let rendered: Vec<Value> = history
        .into_iter()
        .map(|d: Doc| {
            let version = d.version;
            eve::listed_item(res, d, Some(version), current.version)
        })
        .collect();
    let start = usize::try_from(paging.offset())
        .unwrap_or(usize::MAX)
        .min(rendered.len());
    let end = usize::try_from(paging.max_results)
        .map_or(rendered.len(), |m| start.saturating_add(m).min(rendered.len()));
    let mut items = Vec::with_capacity(end - start);
    for i in start..end {
        let mut v = match which {
            Version::Diffs if i > 0 => eve::diff(res, &rendered[i - 1], &rendered[i]),
            _ => rendered[i].clone(),
        };
        shape(state, res, &mut v, projection, embedded).await?;
        items.push(v);
    }
    let links = eve::versions_links(
        res,
        &id,
        &params.link_query(paging.max_results),
        paging.page,
        total,
    );
    let body = eve::page_envelope(items, links, paging.page, paging.max_results, Total::Exact(total));
    Ok(with_validators(
        eve::json_response(StatusCode::OK, &body),
        &current,
        &current,
    ))
}

/// The `ETag` (of the version shown, the current one for a list of
/// versions) and `Last-Modified` (of the current version: a newer version
/// changes `_latest_version` in every old one) of a `?version=` answer,
/// as Eve sends them.
fn with_validators(mut response: Response, shown: &Doc, current: &Doc) -> Response {
    let h = response.headers_mut();
    h.insert(header::ETAG, etag_header(&shown.etag));
    h.insert(header::LAST_MODIFIED, date_header(current.updated));
    response
}

/// PATCH (`replace` false) or PUT (`replace` true) of one record.
async fn change(
    state: &AppState,
    res: Resource,
    id: &str,
    parts: &Parts,
    body: Body,
    replace: bool,
) -> Result<Response, ApiError> {
    let actor = require_user(state, parts).await?;
    let etag = if_match(&parts.headers);
    let body = json_body(state, parts, body).await?;
    if !replace {
        let doc = state.service.update(res, id, etag.as_ref(), &actor, body).await?;
        return Ok(written(res, &doc, false));
    }
    let doc = state
        .service
        .replace(res, id, etag.as_ref(), &actor, body)
        .await?;
    let mut response = written(res, &doc, true);
    response
        .headers_mut()
        .insert(header::LAST_MODIFIED, date_header(doc.updated));
    Ok(response)
}

/// `200` with the write envelope of `doc` (PUT's key order when `put`) and
/// its `ETag`.
fn written(res: Resource, doc: &atlas_core::model::Doc, put: bool) -> Response {
    let mut response = eve::json_response(StatusCode::OK, &eve::write_envelope(res, doc, put));
    response
        .headers_mut()
        .insert(header::ETAG, etag_header(&doc.etag));
    response
}

/// `DELETE`: `?force=true` lets a launched instance go (any other value,
/// or none, does not).
async fn delete(state: &AppState, res: Resource, id: &str, parts: &Parts) -> Result<Response, ApiError> {
    let actor = require_user(state, parts).await?;
    let etag = if_match(&parts.headers);
    let force = Params::of(parts).get("force") == Some("true");
    state
        .service
        .delete_with(res, id, etag.as_ref(), &actor, force)
        .await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_parameter_is_all_diffs_or_a_positive_number() {
        assert_eq!(parse_version("all").unwrap(), Version::All);
        assert_eq!(parse_version("diffs").unwrap(), Version::Diffs);
        assert_eq!(parse_version("3").unwrap(), Version::Number(3));
        for bad in ["0", "-1", "abc", "", "1.5"] {
            match parse_version(bad) {
                Err(ApiError::BadRequest(m)) => assert_eq!(m, BAD_VERSION),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }
}
