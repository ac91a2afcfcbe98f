//! `GET /` (the resource list with `_links`, as Eve's home endpoint) and
//! `GET /version` (the crate version as plain text, as the original).

use atlas_core::model::Resource;
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::{other_method, READ_ALLOW};
use crate::eve;

/// `/`: `{"_links": {"child": [{"href": "code", "title": "code"}, …]}}`.
pub(crate) async fn home(req: Request) -> Response {
    let method = req.method();
    if method != Method::GET && method != Method::HEAD {
        return other_method(method, READ_ALLOW);
    }
    let children: Vec<Value> = Resource::ALL
        .iter()
        .map(|r| json!({ "href": r.as_str(), "title": r.as_str() }))
        .collect();
    eve::json_response(StatusCode::OK, &json!({ "_links": { "child": children } }))
}

/// `/version`: the version of this crate, as `text/plain`.
pub(crate) async fn version(req: Request) -> Response {
    let method = req.method();
    if method != Method::GET && method != Method::HEAD {
        return other_method(method, READ_ALLOW);
    }
    let mut res = env!("CARGO_PKG_VERSION").into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}
