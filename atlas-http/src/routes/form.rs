//! Form-encoded write bodies, read as Eve's `payload()` read them: the
//! fields of an `application/x-www-form-urlencoded` or `multipart/form-data`
//! body become a JSON object of strings (the first value of a repeated name
//! wins; a multipart file's content counts as its text), which then goes
//! through the normal validation. Nothing is coerced: a string where the
//! schema wants a boolean is a 422 `must be of boolean type`, as in Eve.
//!
//! # Contracts
//! - A form without fields is a 400 (`No form-urlencoded data supplied`,
//!   `No multipart/form-data supplied`), Eve's words.
//! - A multipart body that does not parse is a 400 naming the problem.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde_json::{Map, Value};

use crate::ApiError;

/// The document of an `application/x-www-form-urlencoded` body.
pub(super) fn urlencoded(body: &[u8]) -> Result<Value, ApiError> {
    let mut doc = Map::new();
    for (k, v) in form_urlencoded::parse(body) {
        doc.entry(k.into_owned()).or_insert(Value::String(v.into_owned()));
    }
    if doc.is_empty() {
        return Err(ApiError::BadRequest("No form-urlencoded data supplied".into()));
    }
    Ok(Value::Object(doc))
}

/// The document of a `multipart/form-data` body (`parts` gives its
/// `Content-Type` with the boundary).
pub(super) async fn multipart(parts: &Parts, body: Bytes) -> Result<Value, ApiError> {
    let bad = |e: &dyn std::fmt::Display| {
        ApiError::BadRequest(format!(
            "Failed to read the multipart/form-data body: {e}; send the document as JSON \
             with 'Content-Type: application/json'."
        ))
    };
    let mut req = Request::new(Body::from(body));
    if let Some(ct) = parts.headers.get(header::CONTENT_TYPE) {
        req.headers_mut().insert(header::CONTENT_TYPE, ct.clone());
    }
    let mut form = Multipart::from_request(req, &()).await.map_err(|e| bad(&e))?;
    let mut doc = Map::new();
    while let Some(field) = form.next_field().await.map_err(|e| bad(&e))? {
        let Some(name) = field.name().map(str::to_owned) else {
            continue;
        };
        let text = field.text().await.map_err(|e| bad(&e))?;
        doc.entry(name).or_insert(Value::String(text));
    }
    if doc.is_empty() {
        return Err(ApiError::BadRequest("No multipart/form-data supplied".into()));
    }
    Ok(Value::Object(doc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn urlencoded_fields_become_strings_and_the_first_repeat_wins() {
        assert_eq!(
            urlencoded(b"a=1&b=x+y&a=2&c=%22q%22&flag").unwrap(),
            json!({"a": "1", "b": "x y", "c": "\"q\"", "flag": ""})
        );
    }

    #[test]
    fn an_empty_urlencoded_form_is_a_bad_request() {
        match urlencoded(b"") {
            Err(ApiError::BadRequest(m)) => assert_eq!(m, "No form-urlencoded data supplied"),
            other => panic!("{other:?}"),
        }
    }

    fn parts(ct: &str) -> Parts {
        Request::builder()
            .header(header::CONTENT_TYPE, ct)
            .body(())
            .unwrap()
            .into_parts()
            .0
    }

    #[tokio::test]
    async fn multipart_fields_and_files_become_strings() {
        let body = "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n\
                    --XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"f.txt\"\r\n\
                    Content-Type: text/plain\r\n\r\nhello\r\n--XyZ--\r\n";
        let doc = multipart(&parts("multipart/form-data; boundary=XyZ"), Bytes::from(body))
            .await
            .unwrap();
        assert_eq!(doc, json!({"a": "1", "f": "hello"}));
    }

    #[tokio::test]
    async fn a_multipart_body_without_a_boundary_is_a_bad_request() {
        match multipart(&parts("multipart/form-data"), Bytes::from_static(b"x")).await {
            Err(ApiError::BadRequest(m)) => assert!(m.contains("multipart/form-data"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn an_empty_multipart_form_is_a_bad_request() {
        let doc = multipart(
            &parts("multipart/form-data; boundary=XyZ"),
            Bytes::from_static(b"--XyZ--\r\n"),
        )
        .await;
        match doc {
            Err(ApiError::BadRequest(m)) => assert_eq!(m, "No multipart/form-data supplied"),
            other => panic!("{other:?}"),
        }
    }
}
