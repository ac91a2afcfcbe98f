//! [`Api`]: the dashboard's only way to Atlas's data: requests to the
//! API's router in process (`tower::ServiceExt::oneshot`), built exactly as
//! an external client would send them (Eve URLs, `where` queries, JSON
//! bodies, `If-Match` etags), plus [`SignedIn`] for the signed-in user.
//!
//! # Contracts
//! - Never touches a store or the core service: what the dashboard shows
//!   and changes, the API shows and changes.
//! - A read without a user is anonymous, so what the API protects stays
//!   protected.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use atlas_http::SignedIn;

use crate::error::UiError;

/// Largest API answer the dashboard reads (pages ask for bounded pages).
const ANSWER_LIMIT: usize = 16 * 1024 * 1024;

/// The API's router and the path it is served under.
#[derive(Debug, Clone)]
pub(crate) struct Api {
    router: Router,
    base: String,
}

/// An API answer.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    /// Its status.
    pub(crate) status: StatusCode,
    /// Its JSON body (`Null` when it had none).
    pub(crate) body: Value,
}

impl Answer {
    /// The body of a 2xx answer.
    ///
    /// # Errors
    /// [`UiError::Api`] with the API's status and message otherwise.
    pub(crate) fn ok(self) -> Result<Value, UiError> {
        if self.status.is_success() {
            Ok(self.body)
        } else {
            Err(UiError::from_answer(&self))
        }
    }

    /// `_meta.total` of a collection answer.
    pub(crate) fn total(&self) -> u64 {
        Self::total_of(&self.body)
    }

    /// `_meta.total` of a collection answer's body.
    pub(crate) fn total_of(body: &Value) -> u64 {
        body["_meta"]["total"].as_u64().unwrap_or(0)
    }
}

impl Api {
    /// Requests to `router` (the API as `atlas_http::router` builds it),
    /// whose paths start with `base` (`http.base_path`).
    pub(crate) fn new(router: Router, base: &str) -> Self {
        Self {
            router,
            base: base.trim_end_matches('/').to_owned(),
        }
    }

    /// `GET <path>?<params>` as `user` (anonymous when `None`).
    ///
    /// # Errors
    /// [`UiError::Internal`] when the router fails or answers no JSON.
    pub(crate) async fn get(
        &self,
        path: &str,
        params: &[(&str, &str)],
        user: Option<&str>,
    ) -> Result<Answer, UiError> {
        self.call(Method::GET, &with_query(path, params), user, None, None)
            .await
    }

    /// A write: `method` on `path` as `user`, with `etag` as `If-Match`
    /// and `body` as JSON.
    ///
    /// # Errors
    /// As [`Api::get`].
    pub(crate) async fn write(
        &self,
        method: Method,
        path: &str,
        user: &str,
        etag: Option<&str>,
        body: Option<Value>,
    ) -> Result<Answer, UiError> {
        self.call(method, path, Some(user), etag, body).await
    }

    async fn call(
        &self,
        method: Method,
        path_and_query: &str,
        user: Option<&str>,
        etag: Option<&str>,
        body: Option<Value>,
    ) -> Result<Answer, UiError> {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("{}{path_and_query}", self.base))
            .header(header::ACCEPT, "application/json");
        if let Some(etag) = etag {
            req = req.header(header::IF_MATCH, etag);
        }
        let body = match body {
            Some(v) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        let mut req = req
            .body(body)
            .map_err(|e| UiError::Internal(format!("the API request {path_and_query} is invalid: {e}")))?;
        if let Some(user) = user {
            req.extensions_mut().insert(SignedIn(user.to_owned()));
        }
        let res = self
            .router
            .clone()
            .oneshot(req)
            .await
            .map_err(|e| UiError::Internal(format!("the API failed: {e}")))?;
        let status = res.status();
        let bytes = http_body_util::Limited::new(res.into_body(), ANSWER_LIMIT)
            .collect()
            .await
            .map_err(|e| {
                UiError::Internal(format!("the API's answer to {path_and_query} was not read: {e}"))
            })?
            .to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).map_err(|e| {
                UiError::Internal(format!("the API's answer to {path_and_query} is not JSON: {e}"))
            })?
        };
        Ok(Answer { status, body })
    }
}

/// `path?k=v&…`, percent-encoded.
pub(crate) fn with_query(path: &str, params: &[(&str, &str)]) -> String {
    if params.is_empty() {
        return path.to_owned();
    }
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        q.append_pair(k, v);
    }
    format!("{path}?{}", q.finish())
}

/// A path segment percent-encoded (record ids and sids are safe already;
/// this keeps anything else from changing the path).
pub(crate) fn segment(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_and_segments_are_percent_encoded() {
        assert_eq!(with_query("/code", &[]), "/code");
        assert_eq!(
            with_query("/instance", &[("where", r#"{"sid": "a b"}"#)]),
            "/instance?where=%7B%22sid%22%3A+%22a+b%22%7D"
        );
        assert_eq!(segment("p1/../x"), "p1%2F%2E%2E%2Fx");
    }
}
