//! Where the API lives: a trailing `/` names the same resource, and
//! `http.base_path` puts everything under a prefix.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{error_message, id_of, module_body, TestApp};

#[tokio::test]
async fn a_trailing_slash_names_the_same_resource() {
    let app = TestApp::spawn().await;
    let v = app.create("code", &module_body("views", "7.x-3.1")).await;
    let id = id_of(&v);
    let item = app.get_json(&format!("/code/{id}/")).await;
    assert_eq!(item["_id"], id.as_str());
    let list = app.get_json("/code/?max_results=1").await;
    assert_eq!(list["_meta"]["max_results"], 1);
    assert_eq!(list["_links"]["self"]["href"], "code?max_results=1");
    assert!(app.get_json("/").await["_links"]["child"].is_array());
    let cmd = app
        .create("commands", &json!({"name": "uptime", "command": "uptime"}))
        .await;
    let res = app
        .authed(Method::POST, &format!("/commands/{}/execute/", id_of(&cmd)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    error_message(app.get("/code//").await, 404).await;
}

#[tokio::test]
async fn under_a_base_path_the_api_its_location_and_openapi_live_under_the_prefix() {
    let app = TestApp::builder()
        .config(|c| c.base_path = "/atlas".into())
        .spawn()
        .await;
    let res = app
        .authed(Method::POST, "/atlas/code")
        .json(&module_body("views", "7.x-3.1"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let v: Value = res.json().await.unwrap();
    let id = id_of(&v);
    assert_eq!(location, app.url(&format!("/atlas/code/{id}")));
    // Links stay relative to the API root, as Eve wrote them under a prefix.
    assert_eq!(v["_links"]["self"]["href"], format!("code/{id}"));
    let item = app.get_json(&format!("/atlas/code/{id}")).await;
    assert_eq!(item["_links"]["parent"], json!({"title": "home", "href": "/"}));
    assert!(app.get_json("/atlas").await["_links"]["child"].is_array());
    assert!(app.get_json("/atlas/").await["_links"]["child"].is_array());
    assert_eq!(
        app.get_json(&format!("/atlas/code/{id}/")).await["_id"],
        id.as_str()
    );
    let doc = app.get_json("/atlas/openapi.json").await;
    assert_eq!(doc["servers"], json!([{"url": "/atlas"}]));
    assert!(doc["paths"]["/code"].is_object());
    for outside in [
        "/code",
        "/",
        "/openapi.json",
        "/atlasx/code",
        &format!("/code/{id}"),
    ] {
        error_message(app.get(outside).await, 404).await;
    }
}

#[tokio::test]
async fn without_a_base_path_the_openapi_document_names_no_server() {
    let app = TestApp::spawn().await;
    assert!(app.get_json("/openapi.json").await.get("servers").is_none());
}
