//! `/jobs`: the queue view with `where`, `sort` and paging, and an
//! operator's retry and cancel of one job.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{error_message, id_of, TestApp};

async fn authed_json(app: &TestApp, path: &str) -> Value {
    let res = app.authed(Method::GET, path).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    res.json().await.unwrap()
}

#[tokio::test]
async fn jobs_need_credentials() {
    let app = TestApp::spawn().await;
    error_message(app.get("/jobs").await, 401).await;
    error_message(app.get("/jobs/6b063bb73e47cec0540baa24").await, 401).await;
}

#[tokio::test]
async fn creating_code_queues_a_deploy_job_visible_in_the_queue() {
    let app = TestApp::spawn().await;
    let (core, _) = app.seed_code().await;
    let res = app
        .authed(Method::GET, "/jobs?where={\"kind\":\"code_deploy\"}&sort=created")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-total-count"], "2");
    let page: Value = res.json().await.unwrap();
    let first = &page["_items"][0];
    assert_eq!(first["payload"]["code"], core.as_str());
    assert_eq!(first["status"], "queued");
    assert_eq!(first["attempts"], 0);
    assert_eq!(first["_links"]["self"]["href"], format!("jobs/{}", id_of(first)));
    assert_eq!(page["_links"]["parent"], json!({"title": "home", "href": "/"}));
}

#[tokio::test]
async fn one_job_shows_status_attempts_and_result_after_it_ran() {
    let app = TestApp::spawn().await;
    app.seed_code().await;
    let page = authed_json(&app, "/jobs?max_results=1").await;
    assert_eq!(page["_meta"], json!({"page": 1, "max_results": 1, "total": 2}));
    assert_eq!(page["_links"]["next"]["href"], "jobs?max_results=1&page=2");
    let id = id_of(&page["_items"][0]);
    app.settle().await;
    let job = authed_json(&app, &format!("/jobs/{id}")).await;
    assert_eq!(job["status"], "succeeded");
    assert_eq!(job["attempts"], 1);
    assert!(job["finished"].is_string(), "{job}");
    assert_eq!(
        job["_links"]["collection"],
        json!({"title": "jobs", "href": "jobs"})
    );
}

#[tokio::test]
async fn unknown_jobs_are_404_and_bad_queries_400() {
    let app = TestApp::spawn().await;
    error_message(
        app.authed(Method::GET, "/jobs/6b063bb73e47cec0540baa24")
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    error_message(
        app.authed(Method::GET, "/jobs?where={bad").send().await.unwrap(),
        400,
    )
    .await;
    let res = app.authed(Method::POST, "/jobs").send().await.unwrap();
    assert_eq!(res.headers()["allow"], "GET, HEAD, OPTIONS");
    error_message(res, 405).await;
}

/// A queued code deploy's job id.
async fn queued_job(app: &TestApp) -> String {
    app.seed_code().await;
    let page = authed_json(app, "/jobs?max_results=1&sort=created").await;
    id_of(&page["_items"][0])
}

async fn act(app: &TestApp, id: &str, action: &str) -> reqwest::Response {
    app.authed(Method::POST, &format!("/jobs/{id}/{action}"))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_queued_job_is_cancelled_to_dead_and_a_dead_job_is_retried_to_queued() {
    let app = TestApp::spawn().await;
    let id = queued_job(&app).await;

    let res = act(&app, &id, "cancel").await;
    assert_eq!(res.status(), StatusCode::OK);
    let job: Value = res.json().await.unwrap();
    assert_eq!(job["status"], "dead");
    assert_eq!(job["last_error"], "cancelled by alice");
    assert_eq!(job["_status"], "OK");
    assert_eq!(authed_json(&app, &format!("/jobs/{id}")).await["status"], "dead");

    let res = act(&app, &id, "retry").await;
    assert_eq!(res.status(), StatusCode::OK);
    let job: Value = res.json().await.unwrap();
    assert_eq!(job["status"], "queued");
    assert_eq!(job["attempts"], 0);
    app.settle().await;
    assert_eq!(
        authed_json(&app, &format!("/jobs/{id}")).await["status"],
        "succeeded"
    );
}

#[tokio::test]
async fn retrying_a_job_that_is_not_dead_or_cancelling_one_not_queued_is_409() {
    let app = TestApp::spawn().await;
    let id = queued_job(&app).await;
    let message = error_message(act(&app, &id, "retry").await, 409).await;
    assert!(message.contains("is queued and cannot be retried"), "{message}");
    app.settle().await;
    let message = error_message(act(&app, &id, "cancel").await, 409).await;
    assert!(
        message.contains("is succeeded and cannot be cancelled"),
        "{message}"
    );
}

#[tokio::test]
async fn job_actions_need_credentials_post_and_a_known_job() {
    let app = TestApp::spawn().await;
    let id = queued_job(&app).await;
    let anonymous = app
        .request(Method::POST, &format!("/jobs/{id}/cancel"))
        .send()
        .await
        .unwrap();
    error_message(anonymous, 401).await;
    error_message(act(&app, "6b063bb73e47cec0540baa24", "retry").await, 404).await;
    error_message(act(&app, &id, "restart").await, 404).await;
    let res = app
        .authed(Method::GET, &format!("/jobs/{id}/retry"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["allow"], "POST, OPTIONS");
    error_message(res, 405).await;
    assert_eq!(
        authed_json(&app, &format!("/jobs/{id}")).await["status"],
        "queued"
    );
}
