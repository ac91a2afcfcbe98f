//! The error statuses that do not belong to one resource: 400, 401, 405,
//! 413, 415, 500.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{base64_credentials, core_body, error_message, raw_request, TestApp, USER};

#[tokio::test]
async fn writes_without_credentials_are_401_with_eves_challenge() {
    let app = TestApp::spawn().await;
    let res = app
        .request(Method::POST, "/code")
        .json(&core_body("7.42", &"a".repeat(40)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["www-authenticate"], "Basic realm=\"eve\"");
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
async fn the_challenge_realm_is_configurable() {
    let app = TestApp::builder()
        .config(|c| c.auth_realm = "Atlas ops".into())
        .spawn()
        .await;
    let res = app
        .request(Method::GET, "/jobs")
        .basic_auth(USER, Some("nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["www-authenticate"], "Basic realm=\"Atlas ops\"");
    error_message(res, 401).await;
}

#[tokio::test]
async fn a_form_encoded_post_is_validated_like_json_with_per_field_issues() {
    // curl -d 'a=1' without -H 'Content-Type: application/json'
    let app = TestApp::spawn().await;
    let res = app
        .authed(Method::POST, "/commands")
        .form(&[("a", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let v: Value = res.json().await.unwrap();
    assert_eq!(
        v["_issues"],
        json!({"a": "unknown field", "name": "required field", "command": "required field"})
    );
    assert_eq!(
        v["_error"]["message"],
        "Insertion failure: 1 document(s) contain(s) error(s)"
    );
}

#[tokio::test]
async fn a_valid_form_is_stored_like_json_and_its_strings_are_not_coerced() {
    let app = TestApp::spawn().await;
    let res = app
        .authed(Method::POST, "/commands")
        .form(&[("name", "clear caches"), ("command", "drush cc all")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let id = res.json::<Value>().await.unwrap()["_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let doc: Value = app
        .authed(Method::GET, &format!("/commands/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["command"], "drush cc all");
    assert_eq!(doc["single_server"], true);
    let res = app
        .authed(Method::POST, "/commands")
        .form(&[
            ("name", "again"),
            ("command", "drush cc all"),
            ("single_server", "false"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["_issues"], json!({"single_server": "must be of boolean type"}));
}

#[tokio::test]
async fn a_multipart_form_is_read_as_a_document_too() {
    let app = TestApp::spawn().await;
    let body = "--b0undary\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nup\r\n\
                --b0undary\r\nContent-Disposition: form-data; name=\"bogus\"\r\n\r\n1\r\n--b0undary--\r\n";
    let res = app
        .authed(Method::POST, "/commands")
        .header("Content-Type", "multipart/form-data; boundary=b0undary")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let v: Value = res.json().await.unwrap();
    assert_eq!(
        v["_issues"],
        json!({"name": "min length is 3", "bogus": "unknown field", "command": "required field"})
    );
}

#[tokio::test]
async fn an_empty_form_is_400_with_eves_message() {
    let app = TestApp::spawn().await;
    let res = app
        .authed(Method::POST, "/commands")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(error_message(res, 400).await, "No form-urlencoded data supplied");
}

#[tokio::test]
async fn a_body_of_another_type_is_415() {
    let app = TestApp::spawn().await;
    let res = app
        .authed(Method::POST, "/commands")
        .header("Content-Type", "text/plain")
        .body("name=x")
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
