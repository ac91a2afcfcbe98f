//! The handlers and what they share: query parameters, the write body
//! (JSON or a form; 415 / 413 / 400 with Python's decoder messages), credentials,
//! conditional requests, `OPTIONS` and the allowed-method lists.
//!
//! # Layout
//! - `resources`: collections and items of the eight resources (and the
//!   instance lookup by `sid`).
//! - `actions`: `POST /commands/<id>/execute`,
//!   `POST /backup/<id>/restore` and `POST /instance/<id>/verify|heal`,
//!   which queue one job; `POST
//!   /rollout/<id>/pause|resume|abort`.
//! - `jobs`: the job queue view, and retrying or cancelling one job.
//! - `instance_jobs`: an instance's operation log.
//! - `meta`: `GET /`, `GET /version`.
//! - `openapi`: `GET /openapi.json`.
//! - `form`: form-encoded write bodies as documents (as Eve read them).

pub(crate) mod actions;
mod form;
pub(crate) mod instance_jobs;
pub(crate) mod jobs;
pub(crate) mod meta;
pub(crate) mod openapi;
pub(crate) mod resources;

use atlas_core::model::{Doc, Etag, Timestamp};
use atlas_core::query::{parse_embedded, parse_sort, parse_where, Paging, Projection};
use atlas_core::Actor;
use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::Value;

use crate::auth::basic_credentials;
use crate::client::Connection;
use crate::eve::LinkQuery;
use crate::{ApiError, AppState};

/// `Allow` of a collection.
pub(crate) const COLLECTION_ALLOW: &str = "POST, GET, HEAD, OPTIONS";
/// `Allow` of an item.
pub(crate) const ITEM_ALLOW: &str = "GET, HEAD, PATCH, PUT, DELETE, OPTIONS";
/// `Allow` of read-only URLs (the sid lookup, jobs, meta).
pub(crate) const READ_ALLOW: &str = "GET, HEAD, OPTIONS";
/// `Allow` of `POST /commands/<id>/execute`, `POST /backup/<id>/restore`,
/// `POST /rollout/<id>/pause|resume|abort` and `POST /jobs/<id>/retry|cancel`.
pub(crate) const EXECUTE_ALLOW: &str = "POST, OPTIONS";

/// The query parameters of a request, decoded, in order.
#[derive(Debug, Default)]
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    /// The parameters of a request.
    pub(crate) fn of(parts: &Parts) -> Self {
        let q = parts.uri.query().unwrap_or("");
        Self(
            form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Whether `key` was sent (with any value).
    pub(crate) fn has(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }

    /// `projection`.
    pub(crate) fn projection(&self) -> Result<Projection, ApiError> {
        Ok(self
            .get("projection")
            .map(Projection::parse)
            .transpose()?
            .unwrap_or_default())
    }

    /// `embedded`.
    pub(crate) fn embedded(&self) -> Result<Vec<String>, ApiError> {
        Ok(self
            .get("embedded")
            .map(parse_embedded)
            .transpose()?
            .unwrap_or_default())
    }

    /// `where`, `sort`, `page` and `max_results`.
    pub(crate) fn find(
        &self,
    ) -> Result<(atlas_core::query::Filter, Vec<atlas_core::query::SortKey>, Paging), ApiError> {
        let filter = parse_where(self.get("where").unwrap_or(""))?;
        let sort = parse_sort(self.get("sort").unwrap_or(""))?;
        let paging = Paging::from_params(self.get("page"), self.get("max_results"))?;
        Ok((filter, sort, paging))
    }

    /// What links carry over (see [`LinkQuery`]).
    pub(crate) fn link_query(&self, max_results: u64) -> LinkQuery {
        const KNOWN: [&str; 7] = [
            "where",
            "sort",
            "page",
            "max_results",
            "embedded",
            "projection",
            "version",
        ];
        LinkQuery {
            max_results,
            where_: self.get("where").map(str::to_owned),
            sort: self.get("sort").map(str::to_owned),
            version: self.get("version").map(str::to_owned),
            other: self
                .0
                .iter()
                .filter(|(k, _)| !KNOWN.contains(&k.as_str()))
                .cloned()
                .collect(),
        }
    }
}

/// The authenticated user of a request, or 401: the user an in-process
/// caller vouches for with [`SignedIn`](crate::SignedIn), else the
/// request's Basic credentials checked through the gate.
pub(crate) async fn require_user(state: &AppState, parts: &Parts) -> Result<Actor, ApiError> {
    if let Some(crate::SignedIn(name)) = parts.extensions.get::<crate::SignedIn>() {
        crate::trace::record_user(name);
        return Ok(Actor(name.clone()));
    }
    let (user, password) = basic_credentials(&parts.headers).ok_or(ApiError::Unauthorized)?;
    let client = Connection::of(parts).map(|c| c.peer.ip());
    let name = state.gate.check(client, &user, &password).await?;
    crate::trace::record_user(&name);
    Ok(Actor(name))
}

/// The `If-Match` etag, bare or quoted.
pub(crate) fn if_match(headers: &HeaderMap) -> Option<Etag> {
    let v = headers.get(header::IF_MATCH)?.to_str().ok()?;
    Some(Etag::from_client(v))
}

/// Whether a GET of `doc` may answer 304: `If-None-Match` names its etag
/// (bare, quoted or `W/`, or `*`), or `If-Modified-Since` is not before
/// its `_updated` (second precision).
pub(crate) fn not_modified(headers: &HeaderMap, doc: &Doc) -> bool {
    if let Some(inm) = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) {
        if inm
            .split(',')
            .map(str::trim)
            .any(|e| e == "*" || Etag::from_client(e) == doc.etag)
        {
            return true;
        }
    }
    if let Some(ims) = headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
    {
        if let Ok(since) = Timestamp::parse_rfc1123(ims.trim()) {
            return doc.updated <= since;
        }
    }
    false
}

/// `ETag: "<etag>"`.
pub(crate) fn etag_header(etag: &Etag) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{etag}\"")).unwrap_or_else(|_| HeaderValue::from_static("\"\""))
}

/// An RFC 1123 date header value.
pub(crate) fn date_header(t: Timestamp) -> HeaderValue {
    HeaderValue::from_str(&t.to_rfc1123()).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// 304 with only the `ETag`.
pub(crate) fn not_modified_response(etag: &Etag) -> Response {
    let mut res = StatusCode::NOT_MODIFIED.into_response();
    res.headers_mut().insert(header::ETAG, etag_header(etag));
    res
}

/// The `Content-Type` of Eve's bodiless answers (OPTIONS 200, DELETE 204):
/// Flask's default.
pub(crate) const EMPTY_BODY_TYPE: HeaderValue = HeaderValue::from_static("text/html; charset=utf-8");

/// An empty answer with `status` and Eve's [`EMPTY_BODY_TYPE`].
pub(crate) fn empty(status: StatusCode) -> Response {
    let mut res = Response::new(Body::empty());
    *res.status_mut() = status;
    res.headers_mut().insert(header::CONTENT_TYPE, EMPTY_BODY_TYPE);
    res
}

/// `OPTIONS`: 200, empty body, `Allow`.
pub(crate) fn options(allow: &'static str) -> Response {
    let mut res = empty(StatusCode::OK);
    res.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    res
}

/// The answer to a method a URL does not serve (405 with `Allow`), or
/// the `OPTIONS` answer.
pub(crate) fn other_method(method: &Method, allow: &'static str) -> Response {
    if method == Method::OPTIONS {
        options(allow)
    } else {
        ApiError::MethodNotAllowed(allow).into_response()
    }
}

/// Where clients reach the API: the configured public URL, else `http://`
/// plus the address the connection reached (the configured listen address
/// when there is no connection), then the configured `base_path`. Never the
/// `Host` header: a client could point `Location` anywhere with it.
pub(crate) fn base_url(state: &AppState, parts: &Parts) -> String {
    let base = &state.config.base_path;
    if let Some(url) = &state.config.public_url {
        return format!("{}{base}", url.trim_end_matches('/'));
    }
    let addr = Connection::of(parts).map_or(state.config.listen, |c| c.local);
    format!("http://{addr}{base}")
}

/// How a write's body is encoded, by its `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyType {
    /// `application/json`, with parameters, or `application/…+json`.
    Json,
    /// `application/x-www-form-urlencoded`.
    UrlEncoded,
    /// `multipart/form-data`.
    Multipart,
}

fn body_type(headers: &HeaderMap) -> Option<BodyType> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok())?;
    let mime = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match mime.as_str() {
        "application/json" => Some(BodyType::Json),
        "application/x-www-form-urlencoded" => Some(BodyType::UrlEncoded),
        "multipart/form-data" => Some(BodyType::Multipart),
        m if m.starts_with("application/") && m.ends_with("+json") => Some(BodyType::Json),
        _ => None,
    }
}

/// The document of a write: 415 unless the `Content-Type` is JSON or a
/// form, 413 above the body limit, 400 with Python's decoder message when
/// JSON does not parse. A form (as Eve's `payload()`) becomes an object of
/// its fields as strings, the first value of a repeated name winning; an
/// empty form is a 400.
pub(crate) async fn json_body(state: &AppState, parts: &Parts, body: Body) -> Result<Value, ApiError> {
    let limit = state.config.body_limit;
    let kind = body_type(&parts.headers).ok_or(ApiError::UnsupportedMediaType)?;
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::PayloadTooLarge(limit));
    }
    let bytes = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            return Err(ApiError::PayloadTooLarge(limit))
        }
        Err(e) => {
            return Err(ApiError::BadRequest(format!(
                "Failed to read the request body: {e}"
            )))
        }
    };
    match kind {
        BodyType::Json => serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::BadRequest(format!(
                "Failed to decode JSON object: {}",
                python_decode_error(&bytes, &e)
            ))
        }),
        BodyType::UrlEncoded => form::urlencoded(&bytes),
        BodyType::Multipart => form::multipart(parts, bytes).await,
    }
}

/// serde_json's error in the words and position format of Python's
/// `json.JSONDecodeError` (`Expecting value: line 1 column 13 (char 12)`).
pub(crate) fn python_decode_error(input: &[u8], e: &serde_json::Error) -> String {
    let full = e.to_string();
    let reason = full.split(" at line ").next().unwrap_or(&full);
    let what = match reason {
        r if r.starts_with("expected value")
            || r.starts_with("EOF while parsing a value")
            || r.starts_with("expected ident")
            || r.starts_with("invalid number")
            || r.starts_with("number out of range") =>
        {
            "Expecting value"
        }
        r if r.starts_with("key must be a string") || r.starts_with("EOF while parsing an object") => {
            "Expecting property name enclosed in double quotes"
        }
        r if r.starts_with("expected `:`") => "Expecting ':' delimiter",
        r if r.starts_with("expected `,`") || r.starts_with("EOF while parsing a list") => {
            "Expecting ',' delimiter"
        }
        r if r.starts_with("EOF while parsing a string") => "Unterminated string starting at",
        r if r.starts_with("trailing") => "Extra data",
        r if r.starts_with("invalid escape") => "Invalid \\escape",
        r if r.starts_with("control character") => "Invalid control character at",
        r if r.starts_with("invalid unicode") || r.starts_with("lone leading surrogate") => {
            "Invalid \\uXXXX escape"
        }
        r if r.starts_with("invalid type") || r.starts_with("stream did not contain valid UTF-8") => {
            return reason.to_owned();
        }
        other => other,
    };
    let text = String::from_utf8_lossy(input);
    let byte = if reason.starts_with("EOF") {
        text.len()
    } else {
        let line_start: usize = text
            .split_inclusive('\n')
            .take(e.line().saturating_sub(1))
            .map(str::len)
            .sum();
        (line_start + e.column().saturating_sub(1)).min(text.len())
    };
    let mut byte = byte;
    while !text.is_char_boundary(byte) {
        byte -= 1;
    }
    let before = &text[..byte];
    let pos = before.chars().count();
    let line = before.matches('\n').count() + 1;
    let column = match before.rfind('\n') {
        Some(nl) => before[nl + 1..].chars().count() + 1,
        None => pos + 1,
    };
    format!("{what}: line {line} column {column} (char {pos})")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(s: &str) -> String {
        let e = serde_json::from_str::<Value>(s).unwrap_err();
        python_decode_error(s.as_bytes(), &e)
    }

    #[test]
    fn decode_errors_read_like_python() {
        assert_eq!(
            decode(r#"{"status": x}"#),
            "Expecting value: line 1 column 12 (char 11)"
        );
        assert_eq!(decode(""), "Expecting value: line 1 column 1 (char 0)");
        assert_eq!(decode("{} x"), "Extra data: line 1 column 4 (char 3)");
        assert_eq!(
            decode("{\n  \"a\": ]\n}"),
            "Expecting value: line 2 column 8 (char 9)"
        );
        assert_eq!(
            decode(r#"{"a" 1}"#),
            "Expecting ':' delimiter: line 1 column 6 (char 5)"
        );
        assert_eq!(
            decode("{'a': 1}"),
            "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"
        );
    }

    #[test]
    fn decode_error_positions_count_characters_not_bytes() {
        assert_eq!(decode(r#"{"é": x}"#), "Expecting value: line 1 column 7 (char 6)");
    }

    #[test]
    fn body_types_are_json_with_parameters_or_suffixes_and_the_two_forms() {
        let mut h = HeaderMap::new();
        assert_eq!(body_type(&h), None);
        for (ct, expected) in [
            ("application/json; charset=utf-8", Some(BodyType::Json)),
            ("application/merge-patch+json", Some(BodyType::Json)),
            ("application/x-www-form-urlencoded", Some(BodyType::UrlEncoded)),
            ("Multipart/Form-Data; boundary=x", Some(BodyType::Multipart)),
            ("text/plain", None),
        ] {
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
            assert_eq!(body_type(&h), expected, "{ct}");
        }
    }

    #[test]
    fn link_query_keeps_unknown_parameters_and_drops_projection() {
        let (parts, _) = axum::http::Request::builder()
            .uri("/code?projection=%7B%7D&show_deleted&where=%7B%22a%22:1%7D&embedded=%7B%7D&x=1")
            .body(Body::empty())
            .unwrap()
            .into_parts();
        let q = Params::of(&parts).link_query(500);
        assert_eq!(q.where_.as_deref(), Some("{\"a\":1}"));
        assert_eq!(
            q.other,
            vec![
                ("show_deleted".to_owned(), String::new()),
                ("x".to_owned(), "1".to_owned())
            ]
        );
    }
}
