//! `/backup`: recording a backup (taken by a job), Atlas' fields read-only,
//! `POST /backup/<id>/restore` answering 202 with the job, `POST /instance
//! {"restore_from": id}`, and `DELETE /instance/<id>` of a launched
//! instance needing `?force=true`.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{error_message, etag_of, id_of, TestApp};

/// An instance moved through the lifecycle to `status` (`installed` or
/// `launched`), its jobs run.
async fn instance_in(app: &TestApp, status: &str) -> Value {
    app.seed_code().await;
    let doc = app.create("instance", &json!({})).await;
    let id = id_of(&doc);
    app.settle().await;
    for step in ["installed", "launched"] {
        let cur = app.get_json(&format!("/instance/{id}")).await;
        let request = if step == "launched" { "launching" } else { step };
        let mut change = json!({"status": request});
        if step == "launched" {
            // A launch needs a primary route.
            let route = app
                .create(
                    "route",
                    &json!({"route_type": "poolb-express", "source": "lab/backup", "instance_id": id}),
                )
                .await;
            change["routes"] = json!({"primary_route": id_of(&route)});
        }
        let res = app
            .patch(&format!("/instance/{id}"), &etag_of(&cur), &change)
            .await;
        let code = res.status();
        assert_eq!(
            code,
            StatusCode::OK,
            "{step}: {}",
            res.text().await.unwrap_or_default()
        );
        app.settle().await;
        if step == status {
            break;
        }
    }
    let doc = app.get_json(&format!("/instance/{id}")).await;
    assert_eq!(doc["status"], status);
    doc
}

/// A backup of `instance` recorded and taken.
async fn taken_backup(app: &TestApp, instance: &str) -> Value {
    let created = app.create("backup", &json!({"instance": instance})).await;
    app.settle().await;
    app.get_json(&format!("/backup/{}", id_of(&created))).await
}

#[tokio::test]
async fn a_posted_backup_is_pending_then_taken_by_its_job() {
    let app = TestApp::spawn().await;
    let inst = instance_in(&app, "installed").await;
    let created = app.create("backup", &json!({"instance": id_of(&inst)})).await;
    let id = id_of(&created);
    let pending = app.get_json(&format!("/backup/{id}")).await;
    assert_eq!(pending["state"], "pending");
    assert_eq!(pending["kind"], "manual");
    assert_eq!(pending["sid"], inst["sid"]);
    app.settle().await;
    let done = app.get_json(&format!("/backup/{id}")).await;
    assert_eq!(done["state"], "complete");
    assert_eq!(done["parts"].as_array().map(Vec::len), Some(2));
    assert_eq!(done["parts"][0]["kind"], "database");
    assert_eq!(done["code"][0]["code_type"], "core");
    assert_eq!(done["code"][0]["name"], "drupal");
    let listed = app
        .get_json(&format!("/backup?where={{\"instance\":\"{}\"}}", id_of(&inst)))
        .await;
    assert_eq!(listed["_meta"]["total"], 1);
}

#[tokio::test]
async fn the_fields_atlas_sets_are_read_only() {
    let app = TestApp::spawn().await;
    let inst = instance_in(&app, "installed").await;
    let res = app
        .post("/backup", &json!({"instance": id_of(&inst), "state": "complete"}))
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["_issues"]["state"], "field is read-only");
}

#[tokio::test]
async fn restore_answers_202_with_the_job_and_runs_it() {
    let app = TestApp::spawn().await;
    let inst = instance_in(&app, "launched").await;
    let backup = taken_backup(&app, &id_of(&inst)).await;
    let res = app
        .authed(Method::POST, &format!("/backup/{}/restore", id_of(&backup)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let job: Value = res.json().await.unwrap();
    assert_eq!(job["kind"], "backup_restore");
    assert!(location.ends_with(&format!("/jobs/{}", job["_id"].as_str().unwrap())));
    app.executor.clear();
    app.settle().await;
    assert_eq!(app.executor.operations(), ["restore_instance", "update_database"]);
}

#[tokio::test]
async fn restore_needs_credentials_a_complete_backup_and_post() {
    let app = TestApp::spawn().await;
    let inst = instance_in(&app, "installed").await;
    let pending = app.create("backup", &json!({"instance": id_of(&inst)})).await;
    let path = format!("/backup/{}/restore", id_of(&pending));
    let res = app.request(Method::POST, &path).send().await.unwrap();
    error_message(res, 401).await;
    let res = app.authed(Method::POST, &path).send().await.unwrap();
    let message = error_message(res, 409).await;
    assert!(message.contains("only a complete backup"), "{message}");
    let res = app.authed(Method::GET, &path).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    let res = app
        .authed(Method::POST, "/backup/5f0c8a1b2c3d4e5f60718296/restore")
        .send()
        .await
        .unwrap();
    error_message(res, 404).await;
}

#[tokio::test]
async fn deleting_a_launched_instance_is_409_without_force_and_204_with_it() {
    let app = TestApp::spawn().await;
    let inst = instance_in(&app, "launched").await;
    let path = format!("/instance/{}", id_of(&inst));
    let message = error_message(app.delete(&path, &etag_of(&inst)).await, 409).await;
    assert!(message.contains("?force=true"), "{message}");
    let res = app.delete(&format!("{path}?force=false"), &etag_of(&inst)).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let res = app.delete(&format!("{path}?force=true"), &etag_of(&inst)).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    app.executor.clear();
    app.settle().await;
    assert_eq!(app.executor.operations(), ["backup_instance", "remove_instance"]);
    let backups = app
        .get_json(&format!("/backup?where={{\"instance\":\"{}\"}}", id_of(&inst)))
        .await;
    assert_eq!(backups["_items"][0]["kind"], "pre_delete");
    assert_eq!(backups["_items"][0]["state"], "complete");
}

#[tokio::test]
async fn post_instance_with_restore_from_provisions_a_new_instance_from_the_backup() {
    let app = TestApp::spawn().await;
    let inst = instance_in(&app, "launched").await;
    let backup = taken_backup(&app, &id_of(&inst)).await;
    let created = app
        .create("instance", &json!({"restore_from": id_of(&backup)}))
        .await;
    app.executor.clear();
    app.settle().await;
    assert_eq!(
        app.executor.operations(),
        ["provision", "restore_instance", "update_database"]
    );
    let new = app.get_json(&format!("/instance/{}", id_of(&created))).await;
    assert_eq!(new["status"], "available");
    assert_eq!(new["restore_from"], backup["_id"]);
    assert_eq!(new["code"]["core"], inst["code"]["core"]);
    assert_ne!(new["sid"], inst["sid"]);
}

#[tokio::test]
async fn restore_from_is_refused_with_409_for_an_unfinished_backup_or_own_code_and_422_when_unknown() {
    let app = TestApp::spawn().await;
    let inst = instance_in(&app, "installed").await;
    let pending = app.create("backup", &json!({"instance": id_of(&inst)})).await;
    let res = app
        .post("/instance", &json!({"restore_from": id_of(&pending)}))
        .await;
    let message = error_message(res, 409).await;
    assert!(message.contains("only a complete backup"), "{message}");
    app.settle().await;
    let body = json!({"restore_from": id_of(&pending), "code": inst["code"]});
    let message = error_message(app.post("/instance", &body).await, 409).await;
    assert!(message.contains("leave out 'code'"), "{message}");
    let res = app
        .post("/instance", &json!({"restore_from": "5f0c8a1b2c3d4e5f60718296"}))
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let v: Value = res.json().await.unwrap();
    assert!(v["_issues"]["restore_from"].is_string(), "{v}");
}

#[tokio::test]
async fn openapi_describes_restore_and_force() {
    let app = TestApp::spawn().await;
    let doc = app.get_json("/openapi.json").await;
    assert!(doc["paths"]["/backup/{id}/restore"]["post"]["responses"]
        .get("202")
        .is_some());
    assert!(doc["paths"]["/backup"]["post"].is_object());
    let params = doc["paths"]["/instance/{id}"]["delete"]["parameters"].to_string();
    assert!(params.contains("#/components/parameters/force"), "{params}");
}
