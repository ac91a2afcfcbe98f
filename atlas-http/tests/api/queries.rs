//! `where`, `sort`, paging links, `projection` and `embedded` on
//! collections and items, and their 400s.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{error_message, id_of, keys, module_body, raw_request, TestApp};

async fn three_modules(app: &TestApp) -> Vec<String> {
    let mut ids = Vec::new();
    for name in ["alpha", "bravo", "charlie"] {
        ids.push(id_of(&app.create("code", &module_body(name, "7.x-1.0")).await));
        app.advance(1);
    }
    ids
}

#[tokio::test]
async fn collection_envelope_has_items_links_and_meta() {
    let app = TestApp::spawn().await;
    let ids = three_modules(&app).await;
    let v = app.get_json("/code").await;
    assert_eq!(keys(&v), ["_items", "_links", "_meta"]);
    assert_eq!(v["_meta"], json!({"page": 1, "max_results": 500, "total": 3}));
    assert_eq!(
        v["_links"],
        json!({"parent": {"title": "home", "href": "/"}, "self": {"title": "code", "href": "code"}})
    );
    let item = &v["_items"][0];
    assert_eq!(item["_id"], ids[0].as_str());
    assert_eq!(
        item["_links"],
        json!({"self": {"title": "code", "href": format!("code/{}", ids[0])}})
    );
    assert_eq!(*keys(item).last().unwrap(), "_latest_version");
}

#[tokio::test]
async fn paging_links_are_rebuilt_in_eves_order_unescaped() {
    let app = TestApp::spawn().await;
    three_modules(&app).await;
    let v = app.get_json("/code?max_results=1&page=2&where={\"meta.code_type\":\"module\"}&sort=-_created&projection={\"git_url\":1}").await;
    let links = &v["_links"];
    assert_eq!(keys(links), ["parent", "self", "next", "last", "prev"]);
    let q = "where={\"meta.code_type\":\"module\"}&sort=-_created";
    assert_eq!(links["self"]["href"], format!("code?max_results=1&{q}&page=2"));
    assert_eq!(
        links["next"],
        json!({"title": "next page", "href": format!("code?max_results=1&{q}&page=3")})
    );
    assert_eq!(
        links["last"],
        json!({"title": "last page", "href": format!("code?max_results=1&{q}&page=3")})
    );
    assert_eq!(
        links["prev"],
        json!({"title": "previous page", "href": format!("code?max_results=1&{q}")})
    );
    assert!(
        v["_items"][0].get("meta").is_none(),
        "projection keeps only git_url"
    );
    assert_eq!(
        v["_items"][0]["git_url"],
        "https://github.com/CuBoulder/bravo.git"
    );
}

#[tokio::test]
async fn a_page_past_the_end_is_empty_with_only_prev_and_no_last_modified() {
    let app = TestApp::spawn().await;
    three_modules(&app).await;
    let res = app.get("/code?page=9").await;
    assert!(res.headers().get("last-modified").is_none());
    assert_eq!(res.headers()["x-total-count"], "3");
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["_items"], json!([]));
    assert_eq!(keys(&v["_links"]), ["parent", "self", "prev"]);
    assert_eq!(v["_links"]["prev"]["href"], "code?page=8");
}

#[tokio::test]
async fn optimized_pagination_skips_the_total_and_links_next_after_every_full_page() {
    let app = TestApp::builder()
        .config(|c| c.optimize_pagination_for_speed = true)
        .spawn()
        .await;
    let ids = three_modules(&app).await;

    let res = app.get("/code?max_results=2").await;
    assert!(res.headers().get("x-total-count").is_none());
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["_meta"], json!({"page": 1, "max_results": 2}), "no total");
    assert_eq!(keys(&v["_links"]), ["parent", "self", "next"], "no last");
    assert_eq!(v["_links"]["next"]["href"], "code?max_results=2&page=2");
    assert_eq!(v["_items"].as_array().unwrap().len(), 2);

    // The last page is not full: no next. The items are the counted ones.
    let v = app.get_json("/code?max_results=2&page=2").await;
    assert_eq!(keys(&v["_links"]), ["parent", "self", "prev"]);
    assert_eq!(v["_items"][0]["_id"], ids[2].as_str());

    // A full last page links a next one, which is empty.
    let v = app.get_json("/code?max_results=3").await;
    assert_eq!(v["_links"]["next"]["href"], "code?max_results=3&page=2");
    let v = app.get_json("/code?max_results=3&page=2").await;
    assert_eq!(v["_items"], json!([]));
    assert_eq!(keys(&v["_links"]), ["parent", "self", "prev"]);
}

#[tokio::test]
async fn max_results_above_2000_is_capped() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.get_json("/code?max_results=5000").await["_meta"]["max_results"],
        2000
    );
}

#[tokio::test]
async fn bad_page_or_max_results_is_400_naming_the_parameter() {
    let app = TestApp::spawn().await;
    for (q, name) in [
        ("page=0", "`page`"),
        ("page=abc", "`page`"),
        ("page=-2", "`page`"),
        ("max_results=0", "`max_results`"),
    ] {
        let message = error_message(app.get(&format!("/code?{q}")).await, 400).await;
        assert!(message.starts_with(name), "{q}: {message}");
    }
}

#[tokio::test]
async fn where_filters_with_in_and_regex() {
    let app = TestApp::spawn().await;
    three_modules(&app).await;
    let v = app
        .get_json("/code?where={\"meta.name\":{\"$in\":[\"alpha\",\"charlie\"]}}")
        .await;
    assert_eq!(v["_meta"]["total"], 2);
    let v = app
        .get_json("/code?where={\"meta.name\":{\"$regex\":\"^br\"}}")
        .await;
    assert_eq!(v["_items"][0]["meta"]["name"], "bravo");
}

#[tokio::test]
async fn where_with_raw_braces_and_encoded_quotes_works_and_bodies_use_python_separators() {
    let app = TestApp::spawn().await;
    three_modules(&app).await;
    let request =
        "GET /code?where={%22meta.name%22:%22alpha%22} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let answer = raw_request(&app, request).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer.contains("\"_meta\": {\"page\": 1, \"max_results\": 500, \"total\": 1}"),
        "{answer}"
    );
}

#[tokio::test]
async fn bad_where_clauses_are_400_with_eves_messages() {
    let app = TestApp::spawn().await;
    let cases = [
        (
            "{\"$where\":\"1\"}",
            "Query contains operators banned in MONGO_QUERY_BLACKLIST",
        ),
        (
            "{\"x\":{\"$bogus\":1}}",
            "Query contains unknown or unsupported operators: $bogus",
        ),
    ];
    for (w, expected) in cases {
        assert_eq!(
            error_message(app.get(&format!("/code?where={w}")).await, 400).await,
            expected,
            "{w}"
        );
    }
    let message = error_message(app.get("/code?where={bad json").await, 400).await;
    assert!(
        message.starts_with(
            "Unable to parse `where` clause: it is not JSON (key must be a string at line 1 column 2)"
        ),
        "Eve's words, then where the JSON breaks: {message}"
    );
    let message = error_message(app.get("/code?where=meta.name==\"drupal\"").await, 400).await;
    assert!(message.contains("must be JSON"), "{message}");
}

#[tokio::test]
async fn sort_accepts_eves_three_syntaxes_and_refuses_garbage() {
    let app = TestApp::spawn().await;
    three_modules(&app).await;
    for s in ["-_created", "meta.version,-_created", "[(\"_created\",-1)]"] {
        let v = app.get_json(&format!("/code?sort={s}")).await;
        assert_eq!(v["_items"][0]["meta"]["name"], "charlie", "{s}");
    }
    assert_eq!(
        error_message(app.get("/code?sort=[(").await, 400).await,
        "Unable to parse `sort` clause"
    );
}

#[tokio::test]
async fn projection_exclusion_keeps_meta_fields() {
    let app = TestApp::spawn().await;
    three_modules(&app).await;
    let v = app.get_json("/code?projection={\"meta\":0}").await;
    let item = &v["_items"][0];
    assert!(item.get("meta").is_none());
    for k in [
        "_id",
        "_etag",
        "_created",
        "_updated",
        "_version",
        "_links",
        "_latest_version",
    ] {
        assert!(item.get(k).is_some(), "{k}");
    }
}

#[tokio::test]
async fn bad_projection_and_embedded_are_400() {
    let app = TestApp::spawn().await;
    assert_eq!(
        error_message(app.get("/code?projection=nope").await, 400).await,
        "Unable to parse `projection` clause"
    );
    assert_eq!(
        error_message(app.get("/code?embedded=nope").await, 400).await,
        "Unable to parse `embedded` clause"
    );
}

#[tokio::test]
async fn embedded_inlines_dependencies_on_items_and_collections() {
    let app = TestApp::spawn().await;
    let dep = id_of(&app.create("code", &module_body("ctools", "7.x-1.9")).await);
    let mut body = module_body("views", "7.x-3.1");
    body["meta"]["dependency"] = json!([dep]);
    let views = id_of(&app.create("code", &body).await);
    let item = app
        .get_json(&format!("/code/{views}?embedded={{\"meta.dependency\":1}}"))
        .await;
    let inlined = &item["meta"]["dependency"][0];
    assert_eq!(inlined["_id"], dep.as_str());
    assert_eq!(inlined["meta"]["name"], "ctools");
    assert!(inlined.get("_links").is_none());
    let list = app
        .get_json("/code?where={\"meta.name\":\"views\"}&embedded={\"meta.dependency\":1}")
        .await;
    assert_eq!(
        list["_items"][0]["meta"]["dependency"][0]["meta"]["name"],
        "ctools"
    );
    let ignored = app
        .get_json(&format!("/code/{views}?embedded={{\"git_url\":1}}"))
        .await;
    assert_eq!(ignored["git_url"], "https://github.com/CuBoulder/views.git");
    let res = app.get(&format!("/code/{views}")).await;
    assert_eq!(res.status(), StatusCode::OK);
}
