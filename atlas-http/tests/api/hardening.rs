//! Server failures (generic 500), the request timeout (503) and graceful
//! shutdown.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use atlas_core::testing::FailingStore;
use atlas_core::MemoryStore;
use atlas_http::{AuthUnavailable, Authenticator};
use reqwest::StatusCode;
use tokio::sync::Notify;

use crate::helpers::{core_body, error_message, TestApp};

/// Accepts everyone after `delay`, signalling `entered` first.
#[derive(Debug)]
struct SlowAuth {
    delay: Duration,
    entered: Arc<Notify>,
}

#[async_trait]
impl Authenticator for SlowAuth {
    async fn authenticate(&self, user: &str, _password: &str) -> Result<Option<String>, AuthUnavailable> {
        self.entered.notify_one();
        tokio::time::sleep(self.delay).await;
        Ok(Some(user.to_owned()))
    }
}

/// Can never decide: its directory is down.
#[derive(Debug)]
struct DirectoryDown;

#[async_trait]
impl Authenticator for DirectoryDown {
    async fn authenticate(&self, _user: &str, _password: &str) -> Result<Option<String>, AuthUnavailable> {
        Err(AuthUnavailable::new(
            "the directory ldap://127.0.0.1:1",
            "connection refused",
        ))
    }
}

#[tokio::test]
async fn a_write_whose_credentials_cannot_be_checked_gets_503_naming_the_directory_and_is_not_throttled() {
    let app = TestApp::builder()
        .auth(Arc::new(DirectoryDown))
        .config(|c| c.auth.max_failures = 1)
        .spawn()
        .await;
    for _ in 0..3 {
        let res = app.post("/code", &core_body("7.42", &"d".repeat(40))).await;
        assert_eq!(res.headers()["retry-after"], "30");
        let message = error_message(res, 503).await;
        assert!(message.contains("ldap://127.0.0.1:1"), "{message}");
        assert!(message.contains("retry later"), "{message}");
    }
    assert_eq!(app.get_json("/code").await["_items"], serde_json::json!([]));
}

#[tokio::test]
async fn a_store_failure_is_a_generic_500_without_details() {
    let store = Arc::new(FailingStore::new(MemoryStore::new(), 1));
    let app = TestApp::builder().store(store).spawn().await;
    let res = app.post("/code", &core_body("7.42", &"d".repeat(40))).await;
    let message = error_message(res, 500).await;
    assert!(
        message.starts_with("The server encountered an internal error"),
        "{message}"
    );
    assert!(!message.contains("failing"), "{message}");
}

#[tokio::test]
async fn a_request_slower_than_the_timeout_is_503() {
    let auth = Arc::new(SlowAuth {
        delay: Duration::from_secs(5),
        entered: Arc::new(Notify::new()),
    });
    let app = TestApp::builder()
        .auth(auth)
        .config(|c| c.request_timeout = Duration::from_millis(200))
        .spawn()
        .await;
    let res = app.post("/code", &core_body("7.42", &"e".repeat(40))).await;
    error_message(res, 503).await;
    assert_eq!(app.get_json("/code").await["_meta"]["total"], 0);
}

#[tokio::test]
async fn shutdown_finishes_the_request_in_flight() {
    let entered = Arc::new(Notify::new());
    let auth = Arc::new(SlowAuth {
        delay: Duration::from_millis(300),
        entered: entered.clone(),
    });
    let app = TestApp::builder().auth(auth).spawn().await;
    let client = app.client.clone();
    let url = app.url("/code");
    let in_flight = tokio::spawn(async move {
        client
            .post(url)
            .basic_auth("alice", Some("x"))
            .json(&core_body("7.42", &"f".repeat(40)))
            .send()
            .await
    });
    entered.notified().await;
    let addr = app.addr;
    app.stop().await.expect("serve returns cleanly");
    let res = in_flight
        .await
        .unwrap()
        .expect("the in-flight request is answered");
    assert_eq!(res.status(), StatusCode::CREATED);
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no longer accepting"
    );
}
