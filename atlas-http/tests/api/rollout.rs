//! `/rollout`: a rollout posted over the API runs its waves as jobs;
//! `POST /rollout/<id>/pause`, `/resume` and `/abort` answer 200 with the
//! record (409 when its state does not allow the action, a halted rollout
//! resumed without a choice for its failed instances included), and the
//! checks of a new rollout name the field at fault.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{error_message, id_of, profile_body, TestApp};

/// Two provisioned instances on the seeded profile `express 2.2.5`, and
/// the ids of that profile and of `express 2.2.6` (not current).
async fn fleet(app: &TestApp) -> (String, String, Vec<Value>) {
    let (_, from) = app.seed_code().await;
    let mut next = profile_body("2.2.6", "aa0b1c2d3e4f5061728394a5b6c7d8e9f0a1b2c3");
    next["meta"]["is_current"] = json!(false);
    let to = id_of(&app.create("code", &next).await);
    let mut instances = Vec::new();
    for _ in 0..2 {
        instances.push(app.create("instance", &json!({})).await);
    }
    app.settle().await;
    let mut out = Vec::new();
    for i in &instances {
        out.push(app.get_json(&format!("/instance/{}", id_of(i))).await);
    }
    (from, to, out)
}

async fn act(app: &TestApp, id: &str, action: &str, body: Option<Value>) -> reqwest::Response {
    let mut req = app.authed(Method::POST, &format!("/rollout/{id}/{action}"));
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn pause_resume_and_abort_answer_with_the_rollout_and_refuse_the_wrong_state() {
    let app = TestApp::spawn().await;
    let (from, to, instances) = fleet(&app).await;
    let created = app
        .create(
            "rollout",
            &json!({"from": from, "to": to, "wave_size": 1, "pause_between": 600}),
        )
        .await;
    let id = id_of(&created);
    // The first step and wave 1 run; wave 2 waits out `pause_between`.
    app.settle().await;
    let r = app.get_json(&format!("/rollout/{id}")).await;
    assert_eq!(r["state"], "running");
    assert_eq!((r["wave"].as_u64(), r["done"].as_u64()), (Some(2), Some(1)));
    assert_eq!(r["created_by"], "alice");

    let res = act(&app, &id, "pause", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("etag").is_some());
    let paused: Value = res.json().await.unwrap();
    assert_eq!(paused["state"], "paused");
    assert_eq!(paused["_id"], id.as_str());
    let msg = error_message(act(&app, &id, "pause", None).await, 409).await;
    assert!(msg.contains("only a running rollout can be paused"), "{msg}");

    let res = act(&app, &id, "resume", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let resumed: Value = res.json().await.unwrap();
    assert_eq!(resumed["state"], "running");

    let res = act(&app, &id, "abort", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let aborted: Value = res.json().await.unwrap();
    assert_eq!(aborted["state"], "aborted");
    let dead: Value = app
        .authed(
            Method::GET,
            r#"/jobs?where={"kind": "rollout_instance", "status": "dead"}"#,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(dead["_meta"]["total"], 1, "wave 2's queued job was cancelled");
    let msg = error_message(act(&app, &id, "abort", None).await, 409).await;
    assert!(msg.contains("already 'aborted'"), "{msg}");
    // One instance switched, the other left on `from`.
    let on_to = instances.len() - 1;
    let listed = app
        .get_json(&format!("/instance?where={{\"code.profile\": \"{to}\"}}"))
        .await;
    assert_eq!(listed["_meta"]["total"], on_to);
}

#[tokio::test]
async fn a_halted_rollout_resumes_only_with_a_choice_for_its_failed_instances() {
    let app = TestApp::spawn().await;
    let (from, to, instances) = fleet(&app).await;
    let failing = instances[0]["sid"].as_str().unwrap().to_owned();
    // Clones of the executor share its programming.
    let _ = app.executor.clone().fail_for("switch_code", &failing);
    let created = app
        .create("rollout", &json!({"from": from, "to": to, "wave_size": 1}))
        .await;
    let id = id_of(&created);
    for _ in 0..10 {
        app.settle().await;
        app.advance(60);
    }
    let r = app.get_json(&format!("/rollout/{id}")).await;
    assert_eq!(r["state"], "halted", "{r}");
    assert_eq!(r["failed"][0]["sid"], failing.as_str());
    assert!(r["failed"][0]["error"].as_str().unwrap().contains("switch_code"));

    let msg = error_message(act(&app, &id, "resume", None).await, 409).await;
    assert!(
        msg.contains("{\"failed\": \"retry\"}") && msg.contains("{\"failed\": \"skip\"}"),
        "{msg}"
    );
    let res = act(&app, &id, "resume", Some(json!({"failed": "maybe"}))).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let v: Value = res.json().await.unwrap();
    assert!(v["_issues"]["failed"].as_str().unwrap().contains("retry"), "{v}");

    let res = act(&app, &id, "resume", Some(json!({"failed": "skip"}))).await;
    assert_eq!(res.status(), StatusCode::OK);
    let resumed: Value = res.json().await.unwrap();
    assert_eq!(resumed["state"], "running");
    assert_eq!(resumed["skipped"], json!([failing]));
    app.settle().await;
    let r = app.get_json(&format!("/rollout/{id}")).await;
    assert_eq!(r["state"], "completed");
    assert_eq!(r["done"], 1);
}

#[tokio::test]
async fn rollout_actions_need_credentials_post_a_known_action_and_a_known_rollout() {
    let app = TestApp::spawn().await;
    let (from, to, _) = fleet(&app).await;
    let id = id_of(&app.create("rollout", &json!({"from": from, "to": to})).await);
    let res = app
        .request(Method::POST, &format!("/rollout/{id}/pause"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = app
        .authed(Method::GET, &format!("/rollout/{id}/pause"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        act(&app, &id, "explode", None).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        act(&app, "5f0c8a1b2c3d4e5f60718296", "abort", None)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_rollout_between_different_items_is_refused_naming_to() {
    let app = TestApp::spawn().await;
    let (core, from) = app.seed_code().await;
    let res = app.post("/rollout", &json!({"from": from, "to": from})).await;
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["_error"]["code"], 409, "{v}");
    assert!(v["_error"]["message"].as_str().unwrap().contains("'to'"), "{v}");
    let res = app.post("/rollout", &json!({"from": from, "to": core})).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let res = app
        .post("/rollout", &json!({"from": from, "to": core, "wave_size": 0}))
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let v: Value = res.json().await.unwrap();
    assert!(v["_issues"]["wave_size"].is_string(), "{v}");
}
