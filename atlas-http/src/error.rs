//! [`ApiError`]: every way a request fails, rendered as Eve's error
//! envelopes: `{"_status": "ERR", "_error": {"code": N, "message": "…"}}`,
//! plus `_issues` (and `_items` for a bulk POST) on 422. Server-side
//! failures answer a generic 500 and are logged once, here.
//! [`service_status`] is where each core [`ServiceError`] gets its HTTP
//! status (the core knows nothing of HTTP).

use std::time::Duration;

use atlas_core::query::QueryError;
use atlas_core::schema::Issues;
use atlas_core::{Invalid, ServiceError, StoreError};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use crate::auth::AuthUnavailable;
use crate::eve;

/// `Retry-After` (seconds) of the 503 for credentials that could not be
/// checked.
const AUTH_RETRY_AFTER_SECS: u64 = 30;

/// Werkzeug's 404 text, which Eve sends for every unknown URL or record.
pub const NOT_FOUND_MESSAGE: &str =
    "The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.";
/// Werkzeug's 500 text; the details go to the log only.
pub const INTERNAL_MESSAGE: &str =
    "The server encountered an internal error and was unable to complete your request. \
     Either the server is overloaded or there is an error in the application.";
/// Eve's 401 text.
pub const UNAUTHORIZED_MESSAGE: &str = "Please provide proper credentials";
/// The `WWW-Authenticate` challenge of a 401 with the default realm
/// (`http.auth_realm`, see [`challenge`] for another realm).
pub const CHALLENGE: &str = "Basic realm=\"eve\"";

/// The `WWW-Authenticate` challenge for `realm` (a realm that cannot be a
/// header value, which [`crate::HttpConfig::validate`] refuses, gives
/// [`CHALLENGE`]).
pub fn challenge(realm: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("Basic realm=\"{realm}\"")).unwrap_or(HeaderValue::from_static(CHALLENGE))
}

/// Which kind of write a validation failure belongs to (the 422 message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteKind {
    /// POST: "Insertion failure: …".
    Insert,
    /// PATCH / PUT, or not a write.
    Update,
}

/// The HTTP status of a core service error: 400 malformed request or
/// query, 422 invalid documents, 428 / 412 missing / stale `If-Match`, 404
/// no such record or job, 409 a rule refuses, 500 secrets and store
/// failures (except a store's not-found, 404, and stale etag, 412).
///
/// Every variant (of [`ServiceError`] and of the wrapped [`StoreError`]) is
/// listed: both enums are `#[non_exhaustive]`, so the compiler requires a
/// final wildcard (500), but `clippy::wildcard_enum_match_arm` is denied
/// here, so a variant added to either fails clippy until it is given its
/// status.
#[deny(clippy::wildcard_enum_match_arm)]
pub fn service_status(e: &ServiceError) -> StatusCode {
    match e {
        ServiceError::BadRequest(_) | ServiceError::Query(_) => StatusCode::BAD_REQUEST,
        ServiceError::TooManyItems { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        ServiceError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
        ServiceError::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
        ServiceError::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
        ServiceError::NotFound { .. } | ServiceError::JobNotFound(_) => StatusCode::NOT_FOUND,
        ServiceError::Conflict { .. } => StatusCode::CONFLICT,
        ServiceError::Secret(_) => StatusCode::INTERNAL_SERVER_ERROR,
        ServiceError::Store(store) => match store {
            StoreError::NotFound { .. } => StatusCode::NOT_FOUND,
            StoreError::PreconditionFailed { .. } => StatusCode::PRECONDITION_FAILED,
            StoreError::Unique { .. }
            | StoreError::WriteTargetMissing { .. }
            | StoreError::JobNotFound(_)
            | StoreError::LeaseLost { .. }
            | StoreError::Backend { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            // Only a variant added later lands here; clippy fails until it is listed.
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        },
        // Only a variant added later lands here; clippy fails until it is listed.
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The core service refused or failed.
    #[error("{0}")]
    Service(ServiceError, WriteKind),
    /// A malformed request (400).
    #[error("{0}")]
    BadRequest(String),
    /// Missing or wrong credentials (401).
    #[error("{UNAUTHORIZED_MESSAGE}")]
    Unauthorized,
    /// No such URL or record (404).
    #[error("not found")]
    NotFound,
    /// The URL exists but not for this method (405); the value is `Allow`.
    #[error("method not allowed")]
    MethodNotAllowed(&'static str),
    /// A body that is neither JSON nor a form (415).
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// A body larger than the limit (413).
    #[error("request body larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// The request ran longer than the configured limit (503).
    #[error("the request took longer than {0:?}")]
    Timeout(Duration),
    /// Too many failed logins from this client address or for this user
    /// (429); the value is `Retry-After` in seconds.
    #[error("too many failed logins; retry in {0} seconds")]
    TooManyRequests(u64),
    /// The authenticator could not decide (its directory is down): 503
    /// naming it, with `Retry-After`.
    #[error("{0}")]
    AuthUnavailable(AuthUnavailable),
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        ApiError::Service(e, WriteKind::Update)
    }
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        ApiError::BadRequest(e.to_string())
    }
}

impl ApiError {
    /// A service error of a POST (its 422 says "Insertion failure").
    pub fn insert(e: ServiceError) -> Self {
        ApiError::Service(e, WriteKind::Insert)
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Service(e, _) => service_status(e),
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Timeout(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::AuthUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The client-facing message.
    fn message(&self) -> String {
        match self {
            ApiError::Service(e, _) => match service_status(e) {
                StatusCode::NOT_FOUND => NOT_FOUND_MESSAGE.to_owned(),
                s if s.is_server_error() => INTERNAL_MESSAGE.to_owned(),
                _ => e.to_string(),
            },
            ApiError::BadRequest(m) => m.clone(),
            ApiError::Unauthorized => UNAUTHORIZED_MESSAGE.to_owned(),
            ApiError::NotFound => NOT_FOUND_MESSAGE.to_owned(),
            ApiError::MethodNotAllowed(_) => "The method is not allowed for the requested URL.".to_owned(),
            ApiError::UnsupportedMediaType => {
                "The server does not support the media type transmitted in the request; \
                 send the document as JSON with 'Content-Type: application/json' \
                 (or as form fields: application/x-www-form-urlencoded or multipart/form-data)."
                    .to_owned()
            }
            ApiError::PayloadTooLarge(limit) => {
                format!("The data value transmitted exceeds the capacity limit ({limit} bytes).")
            }
            ApiError::Timeout(d) => format!(
                "The request did not finish within {} seconds and was cancelled.",
                d.as_secs()
            ),
            ApiError::TooManyRequests(secs) => {
                format!("Too many failed logins from this address or for this user; retry in {secs} seconds.")
            }
            ApiError::AuthUnavailable(e) => format!(
                "The credentials could not be checked: {} does not answer. Nobody can sign in through it \
                 until it does; retry later.",
                e.backend
            ),
        }
    }
}

fn error_object(status: StatusCode, message: String) -> Value {
    json!({ "code": status.as_u16(), "message": message })
}

/// The 422 bodies: POST `{_status, _issues, _error}`, bulk POST
/// `{_status, _items, _error}`, PATCH/PUT `{_status, _issues, _error}`.
fn invalid_body(invalid: &Invalid, kind: WriteKind) -> Value {
    let bad = invalid.items.iter().filter(|i| !i.is_empty()).count();
    let message = match kind {
        WriteKind::Insert => format!("Insertion failure: {bad} document(s) contain(s) error(s)"),
        WriteKind::Update => format!("Validation failure: {bad} document(s) contain(s) error(s)"),
    };
    let mut m = Map::new();
    m.insert("_status".into(), json!("ERR"));
    if invalid.bulk {
        let items: Vec<Value> = invalid.items.iter().map(item_status).collect();
        m.insert("_items".into(), Value::Array(items));
    } else {
        let issues = invalid.first().map(Issues::to_json).unwrap_or_else(|| json!({}));
        m.insert("_issues".into(), issues);
    }
    m.insert(
        "_error".into(),
        error_object(StatusCode::UNPROCESSABLE_ENTITY, message),
    );
    Value::Object(m)
}

fn item_status(issues: &Issues) -> Value {
    if issues.is_empty() {
        json!({ "_status": "OK" })
    } else {
        json!({ "_status": "ERR", "_issues": issues.to_json() })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        // Timeouts and an undecided sign-in are logged where they happen.
        if status.is_server_error() && !matches!(self, ApiError::Timeout(_) | ApiError::AuthUnavailable(_)) {
            tracing::error!(error = %self, error.chain = ?self, "request failed");
        }
        let body = match &self {
            ApiError::Service(ServiceError::Invalid(invalid), kind) => invalid_body(invalid, *kind),
            _ => json!({ "_status": "ERR", "_error": error_object(status, self.message()) }),
        };
        let mut res = eve::json_response(status, &body);
        match self {
            ApiError::Unauthorized => {
                res.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(CHALLENGE));
            }
            ApiError::MethodNotAllowed(allow) => {
                res.headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static(allow));
            }
            ApiError::TooManyRequests(secs) => {
                res.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            ApiError::AuthUnavailable(_) => {
                res.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(AUTH_RETRY_AFTER_SECS));
            }
            _ => {}
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use atlas_core::model::{Id, Resource, Timestamp};
    use atlas_core::query::parse_where;
    use atlas_core::SecretError;
    use axum::body::to_bytes;

    async fn body_of(e: ApiError) -> (StatusCode, Value, axum::http::HeaderMap) {
        let res = e.into_response();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = to_bytes(res.into_body(), usize::MAX).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap(), headers)
    }

    fn issues(path: &str, msg: &str) -> Issues {
        let mut i = Issues::new();
        i.add(path, msg);
        i
    }

    #[tokio::test]
    async fn post_validation_failure_has_issues_and_insertion_error() {
        let e = ApiError::insert(ServiceError::Invalid(Invalid::single(issues(
            "commit_hash",
            "required field",
        ))));
        let (status, body, _) = body_of(e).await;
        assert_eq!(status, 422);
        assert_eq!(
            body,
            json!({"_status": "ERR", "_issues": {"commit_hash": "required field"},
                   "_error": {"code": 422, "message": "Insertion failure: 1 document(s) contain(s) error(s)"}})
        );
        assert_eq!(
            body.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["_status", "_issues", "_error"]
        );
    }

    #[tokio::test]
    async fn bulk_validation_failure_lists_every_item() {
        let invalid = Invalid {
            items: vec![Issues::new(), issues("meta.name", "required field")],
            bulk: true,
        };
        let (_, body, _) = body_of(ApiError::insert(ServiceError::Invalid(invalid))).await;
        assert_eq!(
            body["_items"],
            json!([{"_status": "OK"}, {"_status": "ERR", "_issues": {"meta": {"name": "required field"}}}])
        );
        assert_eq!(
            body["_error"]["message"],
            "Insertion failure: 1 document(s) contain(s) error(s)"
        );
    }

    #[tokio::test]
    async fn patch_validation_failure_also_has_an_error() {
        let e = ApiError::from(ServiceError::Invalid(Invalid::single(issues(
            "status",
            "unallowed value x",
        ))));
        let (_, body, _) = body_of(e).await;
        assert_eq!(body["_error"]["code"], 422);
        assert_eq!(body["_issues"], json!({"status": "unallowed value x"}));
    }

    #[tokio::test]
    async fn undecided_credentials_are_a_503_naming_the_directory_and_asking_to_retry() {
        let e = ApiError::AuthUnavailable(AuthUnavailable::new(
            "the directory ldap://ldap.example.edu:389",
            "connection refused",
        ));
        let (status, body, headers) = body_of(e).await;
        assert_eq!(status, 503);
        let message = body["_error"]["message"].as_str().unwrap();
        assert!(message.contains("ldap://ldap.example.edu:389"), "{message}");
        assert!(message.contains("retry later"), "{message}");
        assert!(!message.contains("connection refused"), "{message}");
        assert_eq!(headers[header::RETRY_AFTER], "30");
        assert!(headers.get(header::WWW_AUTHENTICATE).is_none());
    }

    #[tokio::test]
    async fn unauthorized_carries_eves_basic_challenge() {
        let (status, body, headers) = body_of(ApiError::Unauthorized).await;
        assert_eq!(status, 401);
        assert_eq!(headers[header::WWW_AUTHENTICATE], "Basic realm=\"eve\"");
        assert_eq!(challenge("ops"), "Basic realm=\"ops\"");
        assert_eq!(
            body,
            json!({"_status": "ERR", "_error": {"code": 401, "message": "Please provide proper credentials"}})
        );
    }

    #[tokio::test]
    async fn store_failures_are_a_generic_500() {
        let e = ApiError::from(ServiceError::Store(StoreError::Backend {
            backend: "test",
            source: "disk on fire at /var/lib/atlas".into(),
        }));
        let (status, body, _) = body_of(e).await;
        assert_eq!(status, 500);
        assert_eq!(body["_error"]["message"], INTERNAL_MESSAGE);
        assert!(!body.to_string().contains("disk on fire"));
    }

    #[tokio::test]
    async fn not_found_records_use_the_generic_404_text() {
        let e = ApiError::from(ServiceError::not_found(atlas_core::model::Resource::Code, "x"));
        let (status, body, _) = body_of(e).await;
        assert_eq!(status, 404);
        assert_eq!(body["_error"]["message"], NOT_FOUND_MESSAGE);
    }

    #[tokio::test]
    async fn method_not_allowed_names_the_allowed_methods() {
        let (status, _, headers) = body_of(ApiError::MethodNotAllowed("GET, HEAD, OPTIONS")).await;
        assert_eq!(status, 405);
        assert_eq!(headers[header::ALLOW], "GET, HEAD, OPTIONS");
    }

    #[test]
    fn service_errors_map_to_their_http_status_codes() {
        let id = Id::generate(Timestamp::from_unix(0));
        let query = parse_where(r#"{"$where": "1"}"#).unwrap_err();
        let backend = || StoreError::Backend {
            backend: "memory",
            source: "disk on fire".into(),
        };
        let cases: Vec<(ServiceError, u16)> = vec![
            (ServiceError::BadRequest("Empty bulk insert".into()), 400),
            (ServiceError::TooManyItems { max: 1, got: 2 }, 413),
            (ServiceError::Query(query), 400),
            (ServiceError::Invalid(Invalid::single(Issues::new())), 422),
            (ServiceError::PreconditionRequired, 428),
            (ServiceError::PreconditionFailed, 412),
            (ServiceError::not_found(Resource::Code, "x"), 404),
            (ServiceError::JobNotFound("x".into()), 404),
            (ServiceError::conflict("status", "busy"), 409),
            (ServiceError::Secret(SecretError::Undecryptable), 500),
            (ServiceError::Store(backend()), 500),
            (
                ServiceError::Store(StoreError::not_found(Resource::Code, &id)),
                404,
            ),
            (
                ServiceError::Store(StoreError::PreconditionFailed {
                    write: 0,
                    res: Resource::Code,
                    id,
                    expected: "a".into(),
                    found: "b".into(),
                }),
                412,
            ),
            (
                ServiceError::Store(StoreError::Unique {
                    write: 0,
                    res: Resource::Code,
                    field: "commit_hash".into(),
                    value: "x".into(),
                }),
                500,
            ),
        ];
        for (e, code) in cases {
            assert_eq!(service_status(&e), code, "{e:?}");
            assert_eq!(ApiError::from(e).status(), code);
        }
    }
}
