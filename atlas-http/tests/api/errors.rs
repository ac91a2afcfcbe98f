//! The error statuses that do not belong to one resource: 400, 401, 405,
//! 413, 415, 500.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{base64_credentials, core_body, error_message, raw_request, TestApp, USER};

#[tokio::test]
async fn writes_without_credentials_are_401_with_the_atlas_challenge() {
    let app = TestApp::spawn().await;
    let res = app
        .request(Method::POST, "/code")
        .json(&core_body("7.42", &"a".repeat(40)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["www-authenticate"], "Basic realm=\"atlas\"");
    assert_eq!(error_message(res, 401).await, "Please provide proper credentials");
}

#[tokio::test]
async fn a_wrong_password_or_unknown_user_is_401() {
    let app = TestApp::spawn().await;
    let body = core_body("7.42", &"a".repeat(40));
    let res = app
        .request(Method::POST, "/code")
        .basic_auth(USER, Some("nope"))
        .json(&body)
        .send()
        .await
        .unwrap();
    error_message(res, 401).await;
    let res = app
        .request(Method::POST, "/code")
        .basic_auth("mallory", Some("x"))
        .json(&body)
        .send()
        .await
        .unwrap();
    error_message(res, 401).await;
    assert_eq!(app.get_json("/code").await["_meta"]["total"], 0);
}

#[tokio::test]
async fn each_user_becomes_the_records_creator() {
    let app = TestApp::spawn().await;
    let res = app
        .request(Method::POST, "/code")
        .basic_auth("bob", Some("builder"))
        .json(&core_body("7.42", &"b".repeat(40)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let v: Value = res.json().await.unwrap();
    assert_eq!(
        app.get_json(&format!("/code/{}", v["_id"].as_str().unwrap()))
            .await["created_by"],
        "bob"
    );
}

#[tokio::test]
async fn malformed_json_is_400_with_pythons_decoder_message() {
    let app = TestApp::spawn().await;
    let res = app
        .authed(Method::POST, "/code")
        .header("content-type", "application/json")
        .body("{\"status\": }")
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_message(res, 400).await,
        "Failed to decode JSON object: Expecting value: line 1 column 12 (char 11)"
    );
}

#[tokio::test]
async fn a_form_encoded_body_is_415() {
    // curl -d 'a=1' without -H 'Content-Type: application/json'
    let app = TestApp::spawn().await;
    let res = app
        .authed(Method::POST, "/instance")
        .form(&[("a", "1")])
        .send()
        .await
        .unwrap();
    error_message(res, 415).await;
}

#[tokio::test]
async fn a_write_without_content_type_is_415() {
    let app = TestApp::spawn().await;
    let res = app.authed(Method::POST, "/code").body("{}").send().await.unwrap();
    error_message(res, 415).await;
}

#[tokio::test]
async fn credentials_are_checked_before_the_body() {
    let app = TestApp::spawn().await;
    let res = app
        .request(Method::POST, "/code")
        .form(&[("a", "1")])
        .send()
        .await
        .unwrap();
    error_message(res, 401).await;
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let app = TestApp::builder().config(|c| c.body_limit = 1024).spawn().await;
    let big = json!({"meta": {"name": "x".repeat(2000)}});
    error_message(app.post("/code", &big).await, 413).await;
    // No Content-Length: the limit applies while the chunks arrive.
    let auth = base64_credentials();
    let chunk = " ".repeat(800);
    let request = format!(
        "POST /code HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {auth}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n320\r\n{chunk}\r\n320\r\n{chunk}\r\n0\r\n\r\n"
    );
    let answer = raw_request(&app, &request).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
}

#[tokio::test]
async fn a_body_under_the_limit_is_accepted() {
    let app = TestApp::builder().config(|c| c.body_limit = 4096).spawn().await;
    assert_eq!(
        app.post("/code", &core_body("7.42", &"c".repeat(40)))
            .await
            .status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn method_override_on_post_is_honoured() {
    let app = TestApp::spawn().await;
    app.seed_code().await;
    let v = app.create("instance", &json!({"status": "pending"})).await;
    let res = app
        .authed(Method::POST, &format!("/instance/{}", v["_id"].as_str().unwrap()))
        .header("X-HTTP-Method-Override", "PATCH")
        .json(&json!({"tag": ["x"]}))
        .send()
        .await
        .unwrap();
    error_message(res, 428).await;
}

#[tokio::test]
async fn post_on_an_item_is_405() {
    let app = TestApp::spawn().await;
    let res = app.post("/code/6b063bb73e47cec0540baa24", &json!({})).await;
    assert_eq!(res.headers()["allow"], "GET, HEAD, PATCH, PUT, DELETE, OPTIONS");
    error_message(res, 405).await;
}
