//! `/route`, `/statistics`, `/site`, and the request shapes the other
//! files do not cover: a client-chosen `_id`, data relations, nested PATCH
//! merges, the configured public URL.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{error_message, etag_of, id_of, TestApp};

#[tokio::test]
async fn route_statistics_and_site_collections_are_public_and_empty() {
    let app = TestApp::spawn().await;
    for res in ["route", "statistics", "site"] {
        let v = app.get_json(&format!("/{res}")).await;
        assert_eq!(v["_meta"]["total"], 0, "{res}");
        assert_eq!(v["_links"]["self"], json!({"title": res, "href": res}));
        error_message(app.get(&format!("/{res}/6b063bb73e47cec0540baa24")).await, 404).await;
    }
}

#[tokio::test]
async fn a_route_is_created_with_its_defaults() {
    let app = TestApp::spawn().await;
    let v = app
        .create(
            "route",
            &json!({"route_type": "poolb-express", "source": "lab/atlas"}),
        )
        .await;
    let doc = app.get_json(&format!("/route/{}", id_of(&v))).await;
    assert_eq!(doc["route_status"], "inactive");
    assert_eq!(doc["active_on_launch"], false);
    assert_eq!(
        doc["_links"]["collection"],
        json!({"title": "route", "href": "route"})
    );
}

#[tokio::test]
async fn statistics_for_an_instance_that_does_not_exist_is_422() {
    let app = TestApp::spawn().await;
    let res = app
        .post("/statistics", &json!({"instance": "5f1f00000000000000000000"}))
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let v: Value = res.json().await.unwrap();
    let issue = v["_issues"]["instance"].as_str().unwrap();
    assert!(issue.contains("must exist in resource 'instance'"), "{issue}");
}

#[tokio::test]
async fn creating_an_instance_also_creates_its_statistics_record() {
    let app = TestApp::spawn().await;
    app.seed_code().await;
    let inst = app.create("instance", &json!({"status": "pending"})).await;
    let stats = app
        .get_json(&format!(
            "/statistics?where={{\"instance\":\"{}\"}}",
            id_of(&inst)
        ))
        .await;
    assert_eq!(stats["_meta"]["total"], 1);
}

#[tokio::test]
async fn a_client_chosen_id_is_honoured() {
    let app = TestApp::spawn().await;
    let v = app
        .create("site", &json!({"_id": "6b063bb73e47cec0540baa24", "tag": ["a"]}))
        .await;
    assert_eq!(id_of(&v), "6b063bb73e47cec0540baa24");
    assert_eq!(
        app.get_json("/site/6b063bb73e47cec0540baa24").await["tag"],
        json!(["a"])
    );
}

#[tokio::test]
async fn patching_a_nested_dict_merges_into_the_stored_one() {
    let app = TestApp::spawn().await;
    app.seed_code().await;
    let v = app
        .create(
            "instance",
            &json!({"status": "pending", "settings": {"siteimprove_site": 7}}),
        )
        .await;
    let path = format!("/instance/{}", id_of(&v));
    let doc = app.get_json(&path).await;
    assert_eq!(doc["settings"]["page_cache_maximum_age"], 300);
    let res = app
        .patch(
            &path,
            &etag_of(&doc),
            &json!({"settings": {"siteimprove_group": 3}}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let after = app.get_json(&path).await;
    assert_eq!(
        after["settings"],
        json!({"siteimprove_site": 7, "page_cache_maximum_age": 300, "siteimprove_group": 3})
    );
}

#[tokio::test]
async fn location_uses_the_configured_public_url() {
    let app = TestApp::builder()
        .config(|c| c.public_url = Some("https://atlas.example.edu/atlas/".into()))
        .spawn()
        .await;
    let res = app.post("/site", &json!({"tag": []})).await;
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let v: Value = res.json().await.unwrap();
    assert_eq!(
        location,
        format!("https://atlas.example.edu/atlas/site/{}", id_of(&v))
    );
}
