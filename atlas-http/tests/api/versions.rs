//! `?version=all|diffs|N` on items.

use serde_json::{json, Value};

use crate::helpers::{error_message, etag_of, id_of, keys, module_body, TestApp};

/// A code item at version 3 (two PATCHes); returns its id.
async fn three_versions(app: &TestApp) -> String {
    let v = app.create("code", &module_body("views", "7.x-3.1")).await;
    let id = id_of(&v);
    let path = format!("/code/{id}");
    app.advance(1);
    let doc: Value = app
        .patch(&path, &etag_of(&v), &json!({"meta": {"label": "Views"}}))
        .await
        .json()
        .await
        .unwrap();
    app.advance(1);
    let res = app
        .patch(&path, &etag_of(&doc), &json!({"meta": {"label": "Views 3"}}))
        .await;
    assert_eq!(res.status(), 200);
    id
}

#[tokio::test]
async fn version_all_lists_every_version_with_version_links() {
    let app = TestApp::spawn().await;
    let id = three_versions(&app).await;
    let v = app.get_json(&format!("/code/{id}?version=all")).await;
    assert_eq!(keys(&v), ["_items", "_links", "_meta"]);
    assert_eq!(v["_meta"], json!({"page": 1, "max_results": 500, "total": 3}));
    let items = v["_items"].as_array().unwrap();
    for (i, item) in items.iter().enumerate() {
        assert_eq!(item["_version"], i + 1);
        assert_eq!(item["_latest_version"], 3);
        assert_eq!(
            item["_links"]["self"]["href"],
            format!("code/{id}?version={}", i + 1)
        );
    }
    assert_eq!(items[0]["meta"].get("label"), None);
    assert_eq!(items[2]["meta"]["label"], "Views 3");
    assert_eq!(
        v["_links"],
        json!({"parent": {"title": "code", "href": "code"},
               "self": {"title": "code", "href": format!("code/{id}?version=all")},
               "collection": {"title": "code", "href": format!("code/{id}")}})
    );
}

#[tokio::test]
async fn version_diffs_gives_the_first_in_full_then_only_changes() {
    let app = TestApp::spawn().await;
    let id = three_versions(&app).await;
    let v = app.get_json(&format!("/code/{id}?version=diffs")).await;
    let items = v["_items"].as_array().unwrap();
    assert!(items[0].get("commit_hash").is_some());
    let second = &items[1];
    assert_eq!(
        keys(second),
        ["meta", "modified_by", "_version", "_updated", "_etag", "_links"]
    );
    assert_eq!(second["_version"], 2);
    assert_eq!(second["meta"]["label"], "Views");
    assert_eq!(v["_links"]["self"]["href"], format!("code/{id}?version=diffs"));
}

#[tokio::test]
async fn version_n_returns_that_version_with_the_latest_number() {
    let app = TestApp::spawn().await;
    let id = three_versions(&app).await;
    let v = app.get_json(&format!("/code/{id}?version=1")).await;
    assert_eq!(v["_version"], 1);
    assert_eq!(v["_latest_version"], 3);
    assert_eq!(v["meta"].get("label"), None);
    assert_eq!(
        v["_links"],
        json!({"self": {"title": "code", "href": format!("code/{id}?version=1")},
               "parent": {"title": "code", "href": format!("code/{id}")},
               "collection": {"title": "code", "href": format!("code/{id}?version=all")}})
    );
}

#[tokio::test]
async fn an_unknown_version_is_404_and_a_bad_one_400() {
    let app = TestApp::spawn().await;
    let id = three_versions(&app).await;
    error_message(app.get(&format!("/code/{id}?version=99")).await, 404).await;
    for bad in ["abc", "0", "-1"] {
        assert_eq!(
            error_message(app.get(&format!("/code/{id}?version={bad}")).await, 400).await,
            "Document version number should be an int greater than 0"
        );
    }
}

#[tokio::test]
async fn version_is_ignored_on_collections() {
    let app = TestApp::spawn().await;
    three_versions(&app).await;
    let v = app.get_json("/code?version=all").await;
    assert_eq!(v["_meta"]["total"], 1);
    assert_eq!(v["_links"]["self"]["href"], "code?version=all");
}

#[tokio::test]
async fn version_all_after_delete_lists_the_delete_as_the_last_version() {
    let app = TestApp::spawn().await;
    let id = three_versions(&app).await;
    let current = app.get_json(&format!("/code/{id}")).await;
    let res = app.delete(&format!("/code/{id}"), &etag_of(&current)).await;
    assert_eq!(res.status(), 204);
    assert_eq!(app.get(&format!("/code/{id}")).await.status(), 404);
    let v = app.get_json(&format!("/code/{id}?version=all")).await;
    let items = v["_items"].as_array().unwrap();
    assert_eq!(items.len(), 4);
    assert_eq!(items[3]["_deleted"], true);
    assert_eq!(items[3]["_version"], 4);
}

#[tokio::test]
async fn version_answers_carry_the_etag_of_the_version_shown_and_the_current_last_modified() {
    let app = TestApp::spawn().await;
    let id = three_versions(&app).await;
    let current = app.get(&format!("/code/{id}")).await;
    let current_etag = current.headers()["etag"].to_str().unwrap().to_owned();
    let current_modified = current.headers()["last-modified"].to_str().unwrap().to_owned();
    for which in ["all", "diffs"] {
        let res = app.get(&format!("/code/{id}?version={which}")).await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["etag"], current_etag.as_str(), "{which}");
        assert_eq!(
            res.headers()["last-modified"],
            current_modified.as_str(),
            "{which}"
        );
    }
    let res = app.get(&format!("/code/{id}?version=1")).await;
    let (etag, modified) = (
        res.headers()["etag"].to_str().unwrap().to_owned(),
        res.headers()["last-modified"].to_str().unwrap().to_owned(),
    );
    let first: Value = res.json().await.unwrap();
    assert_eq!(etag, format!("\"{}\"", etag_of(&first)));
    assert_ne!(etag, current_etag);
    assert_eq!(modified, current_modified);
}
