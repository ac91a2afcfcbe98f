//! `/instance`: the operator guide's curl examples, the sid lookup, the
//! lifecycle through PATCH, PUT, soft delete and concurrency control.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{core_body, error_message, etag_of, id_of, keys, profile_body, TestApp};

/// POST `{"status": "pending"}` after seeding code; returns the stored
/// document.
async fn pending_instance(app: &TestApp) -> Value {
    let v = app.create("instance", &json!({"status": "pending"})).await;
    app.get_json(&format!("/instance/{}", id_of(&v))).await
}

/// A provisioned (`available`) instance, through the worker.
async fn available_instance(app: &TestApp) -> Value {
    let doc = pending_instance(app).await;
    app.settle().await;
    let doc = app.get_json(&format!("/instance/{}", id_of(&doc))).await;
    assert_eq!(doc["status"], "available", "{doc}");
    doc
}

#[tokio::test]
async fn curl_create_an_instance_stores_the_defaults() {
    // curl -X POST -d '{"status": "pending"}' -H 'Content-Type: application/json' -u USER …/instance
    let app = TestApp::spawn().await;
    let (core, profile) = app.seed_code().await;
    let res = app.post("/instance", &json!({"status": "pending"})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let v: Value = res.json().await.unwrap();
    let doc = app.get_json(&format!("/instance/{}", id_of(&v))).await;
    assert_eq!(doc["status"], "pending");
    assert_eq!(doc["type"], "express");
    assert_eq!(doc["pool"], "poolb-express");
    assert_eq!(doc["import_from_inventory"], false);
    assert_eq!(doc["code"]["core"], core.as_str());
    assert_eq!(doc["code"]["profile"], profile.as_str());
    assert_eq!(doc["created_by"], "alice");
    assert!(
        doc.get("db_key").is_none(),
        "the database password never leaves the service"
    );
}

#[tokio::test]
async fn creating_an_instance_before_code_exists_is_409_saying_so() {
    let app = TestApp::spawn().await;
    let message = error_message(app.post("/instance", &json!({"status": "pending"})).await, 409).await;
    assert!(
        message.starts_with("code items need to be created before instances"),
        "{message}"
    );
}

#[tokio::test]
async fn instance_lookup_by_sid_returns_the_item_linked_by_id() {
    let app = TestApp::spawn().await;
    app.seed_code().await;
    let doc = pending_instance(&app).await;
    let sid = doc["sid"].as_str().unwrap();
    let by_sid = app.get_json(&format!("/instance/{sid}")).await;
    assert_eq!(by_sid["_id"], doc["_id"]);
    assert_eq!(
        by_sid["_links"]["self"]["href"],
        format!("instance/{}", id_of(&doc))
    );
    assert_eq!(
        app.get("/instance/p1nosuchsid0").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn writes_to_the_sid_lookup_are_405_with_allow() {
    let app = TestApp::spawn().await;
    app.seed_code().await;
    let doc = pending_instance(&app).await;
    let sid = doc["sid"].as_str().unwrap();
    for method in [Method::PATCH, Method::PUT, Method::DELETE] {
        let res = app
            .authed(method.clone(), &format!("/instance/{sid}"))
            .header("If-Match", etag_of(&doc))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.headers()["allow"], "GET, HEAD, OPTIONS", "{method}");
        error_message(res, 405).await;
    }
}

#[tokio::test]
async fn provisioning_settles_a_pending_instance_as_available() {
    let app = TestApp::spawn().await;
    app.seed_code().await;
    let doc = available_instance(&app).await;
    assert_eq!(doc["_version"], 2);
    assert!(
        app.executor
            .operations()
            .iter()
            .any(|op| op.contains("provision")),
        "{:?}",
        app.executor.operations()
    );
}

#[tokio::test]
async fn curl_update_status_installed_with_if_match() {
    // curl -X PATCH -d '{"status": "installed"}' -H "If-Match: <etag>" … /instance/<id>
    let app = TestApp::spawn().await;
    app.seed_code().await;
    let doc = available_instance(&app).await;
    let id = id_of(&doc);
    let res = app
        .patch(
            &format!("/instance/{id}"),
            &etag_of(&doc),
            &json!({"status": "installed"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let header_etag = res.headers()["etag"].to_str().unwrap().to_owned();
    assert!(res.headers().get("last-modified").is_none());
    let v: Value = res.json().await.unwrap();
    assert_eq!(
        keys(&v),
        [
            "_updated",
            "_created",
            "_deleted",
            "_version",
            "_etag",
            "_id",
            "_links",
            "_latest_version",
            "_status"
        ]
    );
    assert_eq!(header_etag, format!("\"{}\"", etag_of(&v)));
    assert_ne!(etag_of(&v), etag_of(&doc));
    assert_eq!(v["_version"], 3);
    app.settle().await;
    let after = app.get_json(&format!("/instance/{id}")).await;
    assert_eq!(after["status"], "installed");
    assert_eq!(after["modified_by"], "alice");
}

#[tokio::test]
async fn curl_update_core_and_profile_of_an_instance() {
    // The guide sends {"meta": {"core": …, "profile": …}}; the fields live
    // under `code` in the schema, which is what this PATCH uses.
    let app = TestApp::spawn().await;
    app.seed_code().await;
    let doc = available_instance(&app).await;
    let id = id_of(&doc);
    let new_core = id_of(
        &app.create(
            "code",
            &core_body("7.43", "3333333333333333333333333333333333333333"),
        )
        .await,
    );
    let new_profile = id_of(
        &app.create(
            "code",
            &profile_body("2.2.6", "4444444444444444444444444444444444444444"),
        )
        .await,
    );
    let body = json!({"code": {"core": new_core, "profile": new_profile}});
    let res = app.patch(&format!("/instance/{id}"), &etag_of(&doc), &body).await;
    assert_eq!(res.status(), StatusCode::OK);
    let after = app.get_json(&format!("/instance/{id}")).await;
    assert_eq!(after["code"]["core"], new_core.as_str());
    assert_eq!(after["code"]["profile"], new_profile.as_str());
}

#[tokio::test]
async fn the_guides_literal_meta_body_updates_core_and_profile() {
    let app = TestApp::spawn().await;
    app.seed_code().await;
    let doc = available_instance(&app).await;
    let id = id_of(&doc);
    let core = id_of(
        &app.create(
            "code",
            &core_body("7.43", "5555555555555555555555555555555555555555"),
        )
        .await,
    );
    let profile = id_of(
        &app.create(
            "code",
            &profile_body("2.2.6", "6666666666666666666666666666666666666666"),
        )
        .await,
    );
    // As the original operator guide writes it (docs/http.md, "PATCH: change some fields").
    let body = json!({"meta": {"core": core, "profile": profile}});
    let res = app.patch(&format!("/instance/{id}"), &etag_of(&doc), &body).await;
    assert_eq!(res.status(), StatusCode::OK);
    let after = app.get_json(&format!("/instance/{id}")).await;
    assert_eq!(after["code"]["core"], core.as_str());
    assert_eq!(after["code"]["profile"], profile.as_str());
    assert!(after.get("meta").is_none());
}

#[tokio::test]
async fn an_instance_meta_with_other_keys_is_still_an_unknown_field() {
    let app = TestApp::spawn().await;
    let (core, _) = app.seed_code().await;
    let doc = pending_instance(&app).await;
    let body = json!({"meta": {"core": core, "name": "x"}});
    let res = app
        .patch(&format!("/instance/{}", id_of(&doc)), &etag_of(&doc), &body)
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let v: Value = res.json().await.unwrap();
    assert_eq!(keys(&v), ["_status", "_issues", "_error"]);
    assert_eq!(v["_issues"]["meta"], "unknown field");
    assert_eq!(v["_error"]["code"], 422);
}

#[tokio::test]
async fn a_refused_transition_is_409_naming_the_current_status() {
    let app = TestApp::spawn().await;
    app.seed_code().await;
    let doc = pending_instance(&app).await;
    let res = app
        .patch(
            &format!("/instance/{}", id_of(&doc)),
            &etag_of(&doc),
            &json!({"status": "launched"}),
        )
        .await;
    let message = error_message(res, 409).await;
    assert!(message.contains("pending"), "{message}");
}

#[tokio::test]
async fn patch_without_if_match_is_428() {
    let app = TestApp::spawn().await;
    app.seed_code().await;
    let doc = pending_instance(&app).await;
    let res = app
        .authed(Method::PATCH, &format!("/instance/{}", id_of(&doc)))
        .json(&json!({"tag": ["a"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_message(res, 428).await,
        "To edit a document its etag must be provided using the If-Match header"
    );
}

#[tokio::test]
async fn patch_with_a_stale_etag_is_412() {
    let app = TestApp::spawn().await;
    app.seed_code().await;
    let doc = pending_instance(&app).await;
    let res = app
        .patch(
            &format!("/instance/{}", id_of(&doc)),
            &"0".repeat(40),
            &json!({"tag": ["a"]}),
        )
        .await;
    assert_eq!(
        error_message(res, 412).await,
        "Client and server etags don't match"
    );
}

#[tokio::test]
async fn patch_accepts_the_quoted_etag_header_value() {
    let app = TestApp::spawn().await;
    app.seed_code().await;
    let doc = pending_instance(&app).await;
    let path = format!("/instance/{}", id_of(&doc));
    let etag_header = app.get(&path).await.headers()["etag"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.patch(&path, &etag_header, &json!({"tag": ["a"]}))
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn two_clients_patching_with_the_same_etag_get_one_200_and_one_412() {
    let app = TestApp::spawn().await;
    app.seed_code().await;
    let doc = pending_instance(&app).await;
    let path = format!("/instance/{}", id_of(&doc));
    let etag = etag_of(&doc);
    let (first, second) = (json!({"tag": ["first"]}), json!({"tag": ["second"]}));
    let (a, b) = tokio::join!(app.patch(&path, &etag, &first), app.patch(&path, &etag, &second));
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 412]);
    assert_eq!(app.get_json(&path).await["_version"], 2);
}

#[tokio::test]
async fn patch_with_an_invalid_value_is_422_with_issues_and_error() {
    let app = TestApp::spawn().await;
    app.seed_code().await;
    let doc = pending_instance(&app).await;
    let res = app
        .patch(
            &format!("/instance/{}", id_of(&doc)),
            &etag_of(&doc),
            &json!({"pool": "nope"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["_issues"]["pool"], "unallowed value nope");
    assert_eq!(v["_error"]["code"], 422);
}

#[tokio::test]
async fn put_replaces_keeps_created_and_sends_etag_and_last_modified() {
    let app = TestApp::spawn().await;
    app.seed_code().await;
    let doc = pending_instance(&app).await;
    let path = format!("/instance/{}", id_of(&doc));
    app.advance(5);
    let res = app
        .put(&path, &etag_of(&doc), &json!({"tag": ["replaced"]}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().contains_key("last-modified"));
    let header_etag = res.headers()["etag"].to_str().unwrap().to_owned();
    let v: Value = res.json().await.unwrap();
    assert_eq!(keys(&v)[3], "_id", "PUT puts _id before _version: {v}");
    assert_eq!(header_etag, format!("\"{}\"", etag_of(&v)));
    let after = app.get_json(&path).await;
    assert_eq!(after["tag"], json!(["replaced"]));
    assert_eq!(after["_created"], doc["_created"]);
    assert_ne!(after["_updated"], doc["_updated"]);
    assert_eq!(after["type"], "express", "defaults are re-applied");
    assert_eq!(after["sid"], doc["sid"], "server-managed fields are kept");
}

#[tokio::test]
async fn put_to_an_unknown_id_is_404_not_an_upsert() {
    let app = TestApp::spawn().await;
    let res = app
        .put(
            "/instance/6b063bb73e47cec0540baa24",
            &"0".repeat(40),
            &json!({"tag": []}),
        )
        .await;
    error_message(res, 404).await;
}

#[tokio::test]
async fn curl_delete_with_if_match_is_204_and_hides_the_instance() {
    let app = TestApp::spawn().await;
    app.seed_code().await;
    let doc = pending_instance(&app).await;
    let id = id_of(&doc);
    let path = format!("/instance/{id}");
    let res = app.delete(&path, &etag_of(&doc)).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
    assert!(res.text().await.unwrap().is_empty());
    error_message(app.get(&path).await, 404).await;
    error_message(app.get(&format!("{path}?show_deleted")).await, 404).await;
    assert_eq!(app.get_json("/instance").await["_meta"]["total"], 0);
    let shown = app.get_json("/instance?show_deleted").await;
    assert_eq!(shown["_items"][0]["_deleted"], true);
    let queried = app.get_json("/instance?where={\"_deleted\":true}").await;
    assert_eq!(queried["_items"][0]["_id"], id.as_str());
}

#[tokio::test]
async fn any_write_to_a_deleted_instance_is_404() {
    let app = TestApp::spawn().await;
    app.seed_code().await;
    let doc = pending_instance(&app).await;
    let path = format!("/instance/{}", id_of(&doc));
    assert_eq!(
        app.delete(&path, &etag_of(&doc)).await.status(),
        StatusCode::NO_CONTENT
    );
    let deleted = app.get_json("/instance?show_deleted").await["_items"][0].clone();
    error_message(
        app.patch(&path, &etag_of(&deleted), &json!({"tag": []})).await,
        404,
    )
    .await;
    error_message(app.delete(&path, &etag_of(&deleted)).await, 404).await;
}

#[tokio::test]
async fn delete_without_if_match_is_428_and_with_a_wrong_one_412() {
    let app = TestApp::spawn().await;
    app.seed_code().await;
    let doc = pending_instance(&app).await;
    let path = format!("/instance/{}", id_of(&doc));
    error_message(app.authed(Method::DELETE, &path).send().await.unwrap(), 428).await;
    error_message(app.delete(&path, "nope").await, 412).await;
}

#[tokio::test]
async fn delete_on_the_instance_collection_is_405_with_allow() {
    let app = TestApp::spawn().await;
    let res = app.authed(Method::DELETE, "/instance").send().await.unwrap();
    assert_eq!(res.headers()["allow"], "POST, GET, HEAD, OPTIONS");
    error_message(res, 405).await;
}
