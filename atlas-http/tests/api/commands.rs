//! `/commands`: items need credentials even to read; running a command by
//! PATCH (the original's way) or `POST /commands/<id>/execute`.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{error_message, etag_of, id_of, TestApp};

async fn command(app: &TestApp) -> Value {
    app.create(
        "commands",
        &json!({"name": "Clear caches", "command": "drush cc all", "query": "{\"status\": \"installed\"}"}),
    )
    .await
}

#[tokio::test]
async fn command_collection_is_public_but_items_need_credentials() {
    let app = TestApp::spawn().await;
    let id = id_of(&command(&app).await);
    let list = app.get_json("/commands").await;
    assert_eq!(list["_meta"]["total"], 1);
    assert!(
        list["_items"][0].get("_deleted").is_none(),
        "commands are not soft-deleted"
    );
    let res = app.get(&format!("/commands/{id}")).await;
    assert_eq!(res.headers()["www-authenticate"], "Basic realm=\"eve\"");
    error_message(res, 401).await;
    let res = app
        .request(Method::HEAD, &format!("/commands/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = app
        .authed(Method::GET, &format!("/commands/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["command"], "drush cc all");
    assert_eq!(v["single_server"], true);
}

#[tokio::test]
async fn execute_queues_the_run_and_points_at_the_job() {
    let app = TestApp::spawn().await;
    let id = id_of(&command(&app).await);
    let res = app
        .authed(Method::POST, &format!("/commands/{id}/execute"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["_status"], "OK");
    assert_eq!(v["kind"], "command_run");
    assert_eq!(v["status"], "queued");
    assert_eq!(v["payload"]["command"], id.as_str());
    assert_eq!(v["payload"]["requested_by"], "alice");
    assert_eq!(location, app.url(&format!("/jobs/{}", id_of(&v))));
}

#[tokio::test]
async fn execute_needs_credentials_a_known_command_and_post() {
    let app = TestApp::spawn().await;
    let id = id_of(&command(&app).await);
    let path = format!("/commands/{id}/execute");
    error_message(app.request(Method::POST, &path).send().await.unwrap(), 401).await;
    error_message(
        app.authed(Method::POST, "/commands/6b063bb73e47cec0540baa24/execute")
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    let res = app.authed(Method::GET, &path).send().await.unwrap();
    assert_eq!(res.headers()["allow"], "POST, OPTIONS");
    error_message(res, 405).await;
}

#[tokio::test]
async fn patching_a_command_runs_it_as_the_original_did() {
    let app = TestApp::spawn().await;
    let v = command(&app).await;
    let res = app
        .patch(
            &format!("/commands/{}", id_of(&v)),
            &etag_of(&v),
            &json!({"name": "Clear all caches"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let jobs: Value = app
        .authed(Method::GET, "/jobs?where={\"kind\":\"command_run\"}")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jobs["_meta"]["total"], 1);
    assert_eq!(jobs["_items"][0]["payload"]["command"], id_of(&v).as_str());
}

#[tokio::test]
async fn a_command_with_a_bad_query_is_422() {
    let app = TestApp::spawn().await;
    let res = app
        .post(
            "/commands",
            &json!({"name": "Bad", "command": "drush cc all", "query": "{nope"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let v: Value = res.json().await.unwrap();
    assert!(v["_issues"]["query"].as_str().unwrap().contains("where"), "{v}");
}

#[tokio::test]
async fn deleting_a_command_is_204() {
    let app = TestApp::spawn().await;
    let v = command(&app).await;
    let path = format!("/commands/{}", id_of(&v));
    assert_eq!(
        app.delete(&path, &etag_of(&v)).await.status(),
        StatusCode::NO_CONTENT
    );
    error_message(app.authed(Method::GET, &path).send().await.unwrap(), 404).await;
}
