//! Conditional GETs (304), `Last-Modified`, HEAD and CORS.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{etag_of, id_of, module_body, raw_request, TestApp};

async fn one_code(app: &TestApp) -> (String, Value) {
    let name = format!("module_{}", app.clock_now().unix_seconds());
    let v = app.create("code", &module_body(&name, "7.x-3.1")).await;
    let path = format!("/code/{}", id_of(&v));
    let doc = app.get_json(&path).await;
    (path, doc)
}

#[tokio::test]
async fn if_none_match_with_the_etag_bare_quoted_or_weak_is_304_with_only_the_etag() {
    let app = TestApp::spawn().await;
    let (path, doc) = one_code(&app).await;
    let etag = etag_of(&doc);
    for value in [etag.clone(), format!("\"{etag}\""), format!("W/\"{etag}\"")] {
        let res = app
            .request(Method::GET, &path)
            .header("If-None-Match", &value)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NOT_MODIFIED, "{value}");
        assert_eq!(res.headers()["etag"].to_str().unwrap(), format!("\"{etag}\""));
        assert!(res.text().await.unwrap().is_empty());
    }
    let res = app
        .request(Method::GET, &path)
        .header("If-None-Match", "\"other\"")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn if_modified_since_not_before_updated_is_304() {
    let app = TestApp::spawn().await;
    let (path, _) = one_code(&app).await;
    let last_modified = app.get(&path).await.headers()["last-modified"]
        .to_str()
        .unwrap()
        .to_owned();
    let res = app
        .request(Method::GET, &path)
        .header("If-Modified-Since", &last_modified)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    let res = app
        .request(Method::GET, &path)
        .header("If-Modified-Since", "Thu, 01 Jan 2015 00:00:00 GMT")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn collections_send_the_newest_updated_of_the_page_and_never_304() {
    let app = TestApp::spawn().await;
    let (_, first) = one_code(&app).await;
    app.advance(10);
    let (second_path, _) = one_code(&app).await;
    let newest = app.get(&second_path).await.headers()["last-modified"]
        .to_str()
        .unwrap()
        .to_owned();
    let res = app
        .request(Method::GET, "/code")
        .header("If-None-Match", etag_of(&first))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["last-modified"].to_str().unwrap(), newest);
    assert_eq!(res.headers()["x-total-count"], "2");
    assert!(res.headers().get("etag").is_none());
}

#[tokio::test]
async fn head_is_public_and_has_headers_but_no_body() {
    let app = TestApp::spawn().await;
    let (path, doc) = one_code(&app).await;
    let res = app.request(Method::HEAD, &path).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["etag"].to_str().unwrap(),
        format!("\"{}\"", etag_of(&doc))
    );
    assert!(res.text().await.unwrap().is_empty());
    let res = app.request(Method::HEAD, "/code").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["x-total-count"], "1");
    let answer = raw_request(
        &app,
        &format!("HEAD {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    )
    .await;
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(body.is_empty(), "HEAD sent a body: {body}");
}

#[tokio::test]
async fn cors_headers_come_only_with_an_origin() {
    let app = TestApp::spawn().await;
    let res = app.get("/code").await;
    assert!(res.headers().get("access-control-allow-origin").is_none());
    let res = app
        .request(Method::OPTIONS, "/code")
        .header("Origin", "https://ops.example.edu")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let h = res.headers();
    assert_eq!(h["access-control-allow-origin"], "https://ops.example.edu");
    assert_eq!(h["vary"], "Origin");
    assert_eq!(
        h["access-control-allow-headers"],
        "Access-Control-Allow-Origin, If-Match, Authorization, User-Agent, Content-Type"
    );
    assert_eq!(h["access-control-allow-methods"], "POST, GET, HEAD, OPTIONS");
    assert_eq!(h["access-control-max-age"], "21600");
    assert_eq!(h["access-control-expose-headers"], "");
    let res = app
        .request(Method::GET, "/code/6b063bb73e47cec0540baa24")
        .header("Origin", "https://x.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["access-control-allow-methods"],
        "POST, PUT, GET, HEAD, PATCH, DELETE, OPTIONS"
    );
}

#[tokio::test]
async fn cors_origins_can_be_restricted() {
    let app = TestApp::builder()
        .config(|c| c.cors.allowed_origins = vec!["https://ok.example".into()])
        .spawn()
        .await;
    let res = app
        .request(Method::GET, "/code")
        .header("Origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("access-control-allow-origin").is_none());
    let res = app
        .request(Method::GET, "/code")
        .header("Origin", "https://ok.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["access-control-allow-origin"], "https://ok.example");
}
