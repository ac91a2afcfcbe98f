//! `/instance/<id>/jobs`: one instance's operation log, newest first.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{error_message, etag_of, id_of, TestApp};

async fn authed_json(app: &TestApp, path: &str) -> Value {
    let res = app.authed(Method::GET, path).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    res.json().await.unwrap()
}

fn kinds(page: &Value) -> Vec<&str> {
    page["_items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["kind"].as_str().unwrap())
        .collect()
}

/// An instance provisioned, then asked to install (both jobs run), and a
/// second instance provisioned; returns both instance documents.
async fn two_instances_one_installed(app: &TestApp) -> (Value, Value) {
    app.seed_code().await;
    let first = app.create("instance", &json!({})).await;
    let other = app.create("instance", &json!({})).await;
    app.settle().await;
    app.advance(5);
    let doc = app.get_json(&format!("/instance/{}", id_of(&first))).await;
    let res = app
        .patch(
            &format!("/instance/{}", id_of(&first)),
            &etag_of(&doc),
            &json!({"status": "installed"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    app.settle().await;
    let first = app.get_json(&format!("/instance/{}", id_of(&first))).await;
    let other = app.get_json(&format!("/instance/{}", id_of(&other))).await;
    (first, other)
}

#[tokio::test]
async fn instance_jobs_lists_only_that_instances_jobs_newest_first() {
    let app = TestApp::spawn().await;
    let (first, other) = two_instances_one_installed(&app).await;
    let id = id_of(&first);

    let res = app
        .authed(Method::GET, &format!("/instance/{id}/jobs"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["x-total-count"], "2");
    let page: Value = res.json().await.unwrap();

    assert_eq!(kinds(&page), ["install_assign", "provision"]);
    for job in page["_items"].as_array().unwrap() {
        assert_eq!(job["payload"]["instance"], id.as_str());
        assert_eq!(job["status"], "succeeded", "{job}");
    }
    let others = authed_json(&app, &format!("/instance/{}/jobs", id_of(&other))).await;
    assert_eq!(kinds(&others), ["provision"]);
    assert_eq!(page["_meta"], json!({"page": 1, "max_results": 500, "total": 2}));
    assert_eq!(
        page["_links"]["parent"],
        json!({"title": "instance", "href": format!("instance/{id}")})
    );
}

#[tokio::test]
async fn instance_jobs_accepts_the_sid_and_pages_like_jobs() {
    let app = TestApp::spawn().await;
    let (first, _) = two_instances_one_installed(&app).await;
    let sid = first["sid"].as_str().unwrap();

    let page = authed_json(&app, &format!("/instance/{sid}/jobs?max_results=1")).await;

    assert_eq!(kinds(&page), ["install_assign"], "the newest first");
    assert_eq!(page["_meta"], json!({"page": 1, "max_results": 1, "total": 2}));
    let id = id_of(&first);
    assert_eq!(
        page["_links"]["next"]["href"],
        format!("instance/{id}/jobs?max_results=1&page=2")
    );
    let second = authed_json(&app, &format!("/instance/{sid}/jobs?max_results=1&page=2")).await;
    assert_eq!(kinds(&second), ["provision"]);
}

#[tokio::test]
async fn instance_jobs_combines_a_where_with_the_instance() {
    let app = TestApp::spawn().await;
    let (first, _) = two_instances_one_installed(&app).await;
    let page = authed_json(
        &app,
        &format!(
            "/instance/{}/jobs?where={{\"kind\":\"provision\"}}",
            id_of(&first)
        ),
    )
    .await;
    assert_eq!(kinds(&page), ["provision"]);
}

#[tokio::test]
async fn instance_jobs_needs_credentials_and_a_known_instance() {
    let app = TestApp::spawn().await;
    app.seed_code().await;
    let inst = app.create("instance", &json!({})).await;
    error_message(app.get(&format!("/instance/{}/jobs", id_of(&inst))).await, 401).await;
    let missing = app
        .authed(Method::GET, "/instance/6b063bb73e47cec0540baa24/jobs")
        .send()
        .await
        .unwrap();
    error_message(missing, 404).await;
    let bad_sid = app
        .authed(Method::GET, "/instance/no-such-sid/jobs")
        .send()
        .await
        .unwrap();
    error_message(bad_sid, 404).await;
    let post = app
        .authed(Method::POST, &format!("/instance/{}/jobs", id_of(&inst)))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(post.headers()["allow"], "GET, HEAD, OPTIONS");
}
