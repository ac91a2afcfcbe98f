//! The limits of issue 14: sort keys, bulk size, `Location` without the
//! `Host` header, CORS credentials, and the bound on password checks under
//! a flood of wrong passwords.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use atlas_http::{AuthUnavailable, Authenticator};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{core_body, error_message, TestApp};

#[tokio::test]
async fn a_sort_with_a_thousand_keys_is_a_400_naming_the_cap() {
    let app = TestApp::spawn().await;
    let sort: Vec<String> = (0..1000).map(|i| format!("f{i}")).collect();
    let res = app
        .request(Method::GET, "/code")
        .query(&[("sort", sort.join(","))])
        .send()
        .await
        .unwrap();
    let message = error_message(res, 400).await;
    assert!(message.contains("at most 32"), "{message}");
    let ok = app
        .request(Method::GET, "/code")
        .query(&[("sort", sort[..32].join(","))])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_bulk_post_over_the_item_cap_is_413_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let items = Value::Array(vec![json!({}); 1001]);
    let res = app.post("/commands", &items).await;
    let message = error_message(res, 413).await;
    assert!(message.contains("at most 1000"), "{message}");
    assert_eq!(app.get_json("/commands").await["_meta"]["total"], 0);
}

#[tokio::test]
async fn location_uses_the_address_reached_never_the_host_header() {
    let app = TestApp::spawn().await;
    let res = app
        .authed(Method::POST, "/code")
        .header("Host", "evil.example")
        .json(&core_body("7.42", &"a".repeat(40)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with(&format!("http://{}/code/", app.addr)),
        "{location}"
    );
}

#[tokio::test]
async fn location_uses_the_public_url_when_set() {
    let app = TestApp::builder()
        .config(|c| c.public_url = Some("https://atlas.example.edu/api/".into()))
        .spawn()
        .await;
    let res = app.post("/code", &core_body("7.42", &"b".repeat(40))).await;
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("https://atlas.example.edu/api/code/"),
        "{location}"
    );
}

#[tokio::test]
async fn cors_answers_never_allow_credentials_by_default() {
    let app = TestApp::spawn().await;
    let res = app
        .request(Method::GET, "/code")
        .header("Origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("access-control-allow-origin").is_some());
    assert!(res.headers().get("access-control-allow-credentials").is_none());
}

/// Refuses every password after a short pause; records how many checks
/// run at once.
#[derive(Debug, Default)]
struct Watched {
    running: AtomicUsize,
    most: AtomicUsize,
    calls: AtomicUsize,
}

#[async_trait]
impl Authenticator for Watched {
    async fn authenticate(&self, _user: &str, _password: &str) -> Result<Option<String>, AuthUnavailable> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(20)).await;
        self.running.fetch_sub(1, Ordering::SeqCst);
        Ok(None)
    }
}

#[tokio::test]
async fn a_flood_of_wrong_passwords_runs_few_checks_at_once_then_gets_429() {
    let auth = Arc::new(Watched::default());
    let app = TestApp::builder()
        .auth(auth.clone())
        .config(|c| {
            c.auth.concurrent_checks = 2;
            c.auth.max_failures = 5;
        })
        .spawn()
        .await;
    let flood: Vec<_> = (0..80)
        .map(|i| {
            let req = app
                .request(Method::POST, "/code")
                .basic_auth(format!("user{}", i % 4), Some("wrong"))
                .json(&json!({}));
            tokio::spawn(async move { req.send().await.unwrap().status() })
        })
        .collect();
    let mut statuses = Vec::new();
    for f in flood {
        statuses.push(f.await.unwrap());
    }
    assert!(auth.most.load(Ordering::SeqCst) <= 2, "checks at once: {auth:?}");
    // Five failures throttle the address; at most the other permit holder
    // was already past the second look at the throttle.
    assert!(auth.calls.load(Ordering::SeqCst) <= 6, "checks: {auth:?}");
    let throttled = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert!(throttled >= 74, "{statuses:?}");
    assert!(statuses
        .iter()
        .all(|s| *s == StatusCode::UNAUTHORIZED || *s == StatusCode::TOO_MANY_REQUESTS));
    let res = app
        .request(Method::POST, "/code")
        .basic_auth("user0", Some("wrong"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // Public reads are not throttled.
    assert_eq!(app.get("/code").await.status(), StatusCode::OK);
}
