//! `/code`: the original's seed items, validation shapes, bulk POST, PATCH
//! and the delete-in-use rule.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{core_body, error_message, etag_of, id_of, keys, module_body, profile_body, TestApp};

#[tokio::test]
async fn post_core_7_42_answers_201_with_write_envelope_and_absolute_location() {
    let app = TestApp::spawn().await;
    let res = app
        .post(
            "/code",
            &core_body("7.42", "2d2f373d0d9dcc51cbd6c7837a985696f5282347"),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.headers()["content-type"], "application/json");
    assert!(res.headers().get("last-modified").is_none());
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let raw = res.text().await.unwrap();
    assert!(raw.starts_with("{\"_updated\": \""), "{raw}");
    let v: Value = serde_json::from_str(&raw).unwrap();
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
    let id = id_of(&v);
    assert_eq!(location, app.url(&format!("/code/{id}")));
    assert_eq!(
        v["_links"],
        json!({"self": {"title": "code", "href": format!("code/{id}")}})
    );
    assert_eq!(
        (
            v["_version"].clone(),
            v["_latest_version"].clone(),
            v["_status"].clone()
        ),
        (json!(1), json!(1), json!("OK"))
    );
    assert_eq!(v["_created"], v["_updated"]);
    assert_eq!(etag_of(&v).len(), 40);
}

#[tokio::test]
async fn post_express_2_2_5_profile_is_stored_with_the_user_as_creator() {
    let app = TestApp::spawn().await;
    let v = app
        .create(
            "code",
            &profile_body("2.2.5", "9ee4b0b1b7e4e0b1a3c4d5e6f708192a3b4c5d6e"),
        )
        .await;
    let doc = app.get_json(&format!("/code/{}", id_of(&v))).await;
    assert_eq!(doc["meta"]["name"], "express");
    assert_eq!(doc["meta"]["version"], "2.2.5");
    assert_eq!(doc["meta"]["code_type"], "profile");
    assert_eq!(doc["created_by"], "alice");
}

#[tokio::test]
async fn get_code_item_has_body_meta_links_and_latest_version_in_order() {
    let app = TestApp::spawn().await;
    let (core, _) = app.seed_code().await;
    let res = app.get(&format!("/code/{core}")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    let last_modified = res.headers()["last-modified"].to_str().unwrap().to_owned();
    let v: Value = res.json().await.unwrap();
    let k = keys(&v);
    let meta_start = k.iter().position(|x| *x == "_updated").unwrap();
    assert_eq!(
        &k[meta_start..],
        [
            "_updated",
            "_created",
            "_deleted",
            "_version",
            "_etag",
            "_id",
            "_links",
            "_latest_version"
        ]
    );
    assert!(k[..meta_start].contains(&"commit_hash"));
    assert_eq!(etag, format!("\"{}\"", etag_of(&v)));
    assert!(
        last_modified.ends_with(" GMT") && last_modified.contains(", "),
        "{last_modified}"
    );
    assert_eq!(
        v["_links"],
        json!({"self": {"title": "code", "href": format!("code/{core}")},
               "parent": {"title": "home", "href": "/"},
               "collection": {"title": "code", "href": "code"}})
    );
    assert_eq!(keys(&v["_links"]), ["self", "parent", "collection"]);
}

#[tokio::test]
async fn post_missing_required_fields_is_422_with_nested_issues() {
    let app = TestApp::spawn().await;
    let res = app
        .post(
            "/code",
            &json!({"meta": {"name": "drupal"}, "git_url": "https://github.com/a/b.git"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let v: Value = res.json().await.unwrap();
    assert_eq!(keys(&v), ["_status", "_issues", "_error"]);
    assert_eq!(v["_issues"]["commit_hash"], "required field");
    assert_eq!(v["_issues"]["meta"]["version"], "required field");
    assert_eq!(
        v["_error"],
        json!({"code": 422, "message": "Insertion failure: 1 document(s) contain(s) error(s)"})
    );
}

#[tokio::test]
async fn post_empty_object_reports_only_top_level_required_fields() {
    let app = TestApp::spawn().await;
    let v: Value = app.post("/code", &json!({})).await.json().await.unwrap();
    let issues = v["_issues"].as_object().unwrap();
    assert!(
        issues.contains_key("commit_hash") && issues.contains_key("git_url"),
        "{v}"
    );
}

#[tokio::test]
async fn post_bad_enum_is_an_unallowed_value_issue() {
    let app = TestApp::spawn().await;
    let mut body = core_body("7.42", "0000000000000000000000000000000000000001");
    body["meta"]["code_type"] = json!("plugin");
    let v: Value = app.post("/code", &body).await.json().await.unwrap();
    assert_eq!(
        v["_issues"],
        json!({"meta": {"code_type": "unallowed value plugin"}})
    );
}

#[tokio::test]
async fn post_duplicate_commit_hash_is_422_not_unique() {
    let app = TestApp::spawn().await;
    app.create(
        "code",
        &core_body("7.42", "9ee4b0b1b7e4e0b1a3c4d5e6f708192a3b4c5d6e"),
    )
    .await;
    let res = app
        .post(
            "/code",
            &core_body("7.43", "9ee4b0b1b7e4e0b1a3c4d5e6f708192a3b4c5d6e"),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let v: Value = res.json().await.unwrap();
    assert_eq!(
        v["_issues"]["commit_hash"],
        "value '9ee4b0b1b7e4e0b1a3c4d5e6f708192a3b4c5d6e' is not unique"
    );
}

#[tokio::test]
async fn post_unknown_field_is_422_unknown_field() {
    let app = TestApp::spawn().await;
    let mut body = core_body("7.42", "0000000000000000000000000000000000000002");
    body["foo"] = json!(1);
    let v: Value = app.post("/code", &body).await.json().await.unwrap();
    assert_eq!(v["_issues"]["foo"], "unknown field");
}

#[tokio::test]
async fn bulk_post_creates_every_item_and_locates_the_first() {
    let app = TestApp::spawn().await;
    let res = app
        .post(
            "/code",
            &json!([module_body("views", "7.x-3.1"), module_body("ctools", "7.x-1.9")]),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let v: Value = res.json().await.unwrap();
    assert_eq!(keys(&v), ["_status", "_items"]);
    assert_eq!(v["_status"], "OK");
    let items = v["_items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|i| i["_status"] == "OK"));
    assert_eq!(location, app.url(&format!("/code/{}", id_of(&items[0]))));
    assert_eq!(app.get_json("/code").await["_meta"]["total"], 2);
}

#[tokio::test]
async fn bulk_post_with_one_invalid_item_saves_nothing() {
    let app = TestApp::spawn().await;
    let mut bad = module_body("ctools", "7.x-1.9");
    bad["meta"]["code_type"] = json!("plugin");
    let res = app
        .post("/code", &json!([module_body("views", "7.x-3.1"), bad]))
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["_status"], "ERR");
    assert_eq!(v["_items"][0], json!({"_status": "OK"}));
    assert_eq!(v["_items"][1]["_status"], "ERR");
    assert_eq!(
        v["_items"][1]["_issues"]["meta"]["code_type"],
        "unallowed value plugin"
    );
    assert_eq!(
        v["_error"],
        json!({"code": 422, "message": "Insertion failure: 1 document(s) contain(s) error(s)"})
    );
    assert_eq!(app.get_json("/code").await["_meta"]["total"], 0);
}

#[tokio::test]
async fn post_empty_list_is_400_empty_bulk_insert() {
    let app = TestApp::spawn().await;
    assert_eq!(
        error_message(app.post("/code", &json!([])).await, 400).await,
        "Empty bulk insert"
    );
}

#[tokio::test]
async fn patch_code_with_dotted_key_merges_into_meta() {
    let app = TestApp::spawn().await;
    let (core, _) = app.seed_code().await;
    let doc = app.get_json(&format!("/code/{core}")).await;
    let res = app
        .patch(
            &format!("/code/{core}"),
            &etag_of(&doc),
            &json!({"meta.label": "Drupal core"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let after = app.get_json(&format!("/code/{core}")).await;
    assert_eq!(after["meta"]["label"], "Drupal core");
    assert_eq!(after["meta"]["name"], "drupal");
    assert_eq!(after["meta"]["is_current"], true);
    assert_eq!(after["modified_by"], "alice");
}

#[tokio::test]
async fn deleting_code_an_instance_uses_is_409_naming_the_instance() {
    let app = TestApp::spawn().await;
    let (core, _) = app.seed_code().await;
    let inst = app.create("instance", &json!({"status": "pending"})).await;
    let sid = app.get_json(&format!("/instance/{}", id_of(&inst))).await["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let doc = app.get_json(&format!("/code/{core}")).await;
    let message = error_message(app.delete(&format!("/code/{core}"), &etag_of(&doc)).await, 409).await;
    assert!(message.contains(&sid), "{message}");
    assert_eq!(app.get(&format!("/code/{core}")).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn posting_a_new_current_core_uncurrents_the_previous_one() {
    let app = TestApp::spawn().await;
    let (old, _) = app.seed_code().await;
    app.create(
        "code",
        &core_body("7.43", "1111111111111111111111111111111111111111"),
    )
    .await;
    assert_eq!(
        app.get_json(&format!("/code/{old}")).await["meta"]["is_current"],
        false
    );
    let current = app
        .get_json("/code?where={\"meta.is_current\":true,\"meta.code_type\":\"core\"}")
        .await;
    assert_eq!(current["_items"][0]["meta"]["version"], "7.43");
    assert_eq!(
        app.request(Method::GET, "/code").send().await.unwrap().headers()["x-total-count"],
        "3"
    );
}
