//! Fields that are never returned (`db_key`) can be neither queried,
//! sorted nor projected: otherwise `$regex` bisection recovers them.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{error_message, TestApp};

/// GET `/instance` with one query parameter, URL-encoded.
async fn list_with(app: &TestApp, param: &str, value: &str) -> reqwest::Response {
    app.request(reqwest::Method::GET, "/instance")
        .query(&[(param, value)])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_where_on_a_hidden_field_is_refused_naming_it() {
    let app = TestApp::spawn().await;
    app.seed_code().await;
    app.create("instance", &json!({"status": "pending"})).await;
    let res = list_with(&app, "where", r#"{"db_key": {"$regex": "^v1:8m"}}"#).await;
    let msg = error_message(res, 400).await;
    assert!(msg.contains("`where` may not use 'db_key'"), "{msg}");
    let nested = list_with(&app, "where", r#"{"$or": [{"sid": "x"}, {"db_key.a": 1}]}"#).await;
    assert_eq!(nested.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn sorting_or_projecting_a_hidden_field_is_refused() {
    let app = TestApp::spawn().await;
    let msg = error_message(list_with(&app, "sort", "db_key").await, 400).await;
    assert!(msg.contains("`sort` may not use 'db_key'"), "{msg}");
    let msg = error_message(list_with(&app, "projection", r#"{"db_key": 1}"#).await, 400).await;
    assert!(msg.contains("`projection` may not use 'db_key'"), "{msg}");
    let (core, _) = app.seed_code().await;
    let item = app
        .request(reqwest::Method::GET, &format!("/code/{core}"))
        .query(&[("projection", r#"{"meta": 1}"#)])
        .send()
        .await
        .unwrap();
    assert_eq!(item.status(), StatusCode::OK, "visible fields still project");
}
