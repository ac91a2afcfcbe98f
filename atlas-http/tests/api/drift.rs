//! `POST /instance/<id or sid>/verify` and `/heal`: 202 with the queued
//! job, the job keeping its findings as the instance's read-only `drift`;
//! credentials, POST only, unknown instances and instances at work
//! refused.

use atlas_core::{DriftFinding, DriftKind};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{error_message, etag_of, id_of, TestApp};

/// An instance provisioned (its jobs run): `available`.
async fn available(app: &TestApp) -> Value {
    app.seed_code().await;
    let doc = app.create("instance", &json!({})).await;
    app.settle().await;
    app.get_json(&format!("/instance/{}", id_of(&doc))).await
}

#[tokio::test]
async fn verify_answers_202_with_the_job_which_keeps_the_drift_on_the_instance() {
    let app = TestApp::spawn().await;
    let inst = available(&app).await;
    let sid = inst["sid"].as_str().unwrap().to_owned();
    app.executor.set_drift(
        &sid,
        vec![DriftFinding::new(
            "local",
            DriftKind::Settings,
            "settings.php differs",
        )],
    );
    let res = app
        .authed(Method::POST, &format!("/instance/{sid}/verify"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let job: Value = res.json().await.unwrap();
    assert_eq!(job["kind"], "instance_verify");
    assert!(location.ends_with(&format!("/jobs/{}", job["_id"].as_str().unwrap())));
    app.settle().await;
    let inst = app.get_json(&format!("/instance/{}", id_of(&inst))).await;
    assert_eq!(inst["drift"]["count"], 1);
    assert_eq!(inst["drift"]["findings"][0]["kind"], "settings");
    assert_eq!(inst["drift"]["findings"][0]["host"], "local");
}

#[tokio::test]
async fn heal_answers_202_and_its_job_rewrites_the_settings() {
    let app = TestApp::spawn().await;
    let inst = available(&app).await;
    let sid = inst["sid"].as_str().unwrap().to_owned();
    app.executor.set_drift(
        &sid,
        vec![DriftFinding::new(
            "local",
            DriftKind::Settings,
            "settings.php differs",
        )],
    );
    let res = app
        .authed(Method::POST, &format!("/instance/{}/heal", id_of(&inst)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let job: Value = res.json().await.unwrap();
    assert_eq!(job["kind"], "instance_heal");
    app.executor.clear();
    app.settle().await;
    assert_eq!(
        app.executor.operations(),
        ["verify_instance", "write_settings", "verify_instance"]
    );
    let inst = app.get_json(&format!("/instance/{}", id_of(&inst))).await;
    assert_eq!(inst["drift"]["count"], 0);
}

#[tokio::test]
async fn verify_needs_credentials_post_a_known_instance_and_one_not_at_work() {
    let app = TestApp::spawn().await;
    app.seed_code().await;
    let pending = app.create("instance", &json!({})).await;
    let path = format!("/instance/{}/verify", id_of(&pending));
    let res = app.request(Method::POST, &path).send().await.unwrap();
    error_message(res, 401).await;
    let res = app.authed(Method::POST, &path).send().await.unwrap();
    let message = error_message(res, 409).await;
    assert!(message.contains("'pending'"), "{message}");
    let res = app.authed(Method::GET, &path).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    let res = app
        .authed(Method::POST, "/instance/5f0c8a1b2c3d4e5f60718296/heal")
        .send()
        .await
        .unwrap();
    error_message(res, 404).await;
}

#[tokio::test]
async fn clients_cannot_write_drift() {
    let app = TestApp::spawn().await;
    let inst = available(&app).await;
    let res = app
        .patch(
            &format!("/instance/{}", id_of(&inst)),
            &etag_of(&inst),
            &json!({"drift": {"count": 0}}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["_issues"]["drift"], "field is read-only");
}
