//! `SignedIn`: the user an in-process caller of the router vouches for
//! (the dashboard), taken instead of Basic credentials; and
//! `serve_router`, the API with more routes in front of it.

use std::sync::Arc;

use atlas_core::model::Timestamp;
use atlas_core::testing::{ManualClock, RecordingExecutor};
use atlas_core::{App, AppConfig, SecretKey};
use atlas_http::{AppState, HttpConfig, SignedIn, StaticUsers};
use atlas_sqlite::SqliteStore;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::routing::get;
use axum::Router;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use crate::helpers::{cheap_hash, core_body, PASSWORD, USER};

async fn state() -> (AppState, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open_path(dir.path().join("atlas.db")).await.unwrap());
    let mut config = AppConfig::default();
    config.scheduler.enabled = false;
    let app = App::builder(store)
        .executor(Arc::new(RecordingExecutor::new()))
        .clock(Arc::new(ManualClock::at(Timestamp::now())))
        .secret_key(SecretKey::from_bytes([7; 32]))
        .config(config)
        .build()
        .unwrap();
    let users = StaticUsers::new([(USER, cheap_hash(PASSWORD))]).unwrap();
    (
        AppState::new(app.service().clone(), Arc::new(users), HttpConfig::default()),
        dir,
    )
}

fn post_code(signed_in: Option<&str>) -> Request<Body> {
    let mut req = Request::post("/code")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(core_body("7.42", &"a".repeat(40)).to_string()))
        .unwrap();
    if let Some(user) = signed_in {
        req.extensions_mut().insert(SignedIn(user.to_owned()));
    }
    req
}

async fn json(res: axum::response::Response) -> Value {
    serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap()
}

#[tokio::test]
async fn a_signed_in_extension_writes_as_that_user_without_credentials() {
    let (state, _dir) = state().await;
    let api = atlas_http::router(state);
    let res = api.clone().oneshot(post_code(Some("carol"))).await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let id = json(res).await["_id"].as_str().unwrap().to_owned();
    let got = api
        .oneshot(Request::get(format!("/code/{id}")).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let doc = json(got).await;
    assert_eq!(doc["created_by"], "carol", "{doc}");
}

#[tokio::test]
async fn a_write_without_the_extension_or_credentials_is_still_401() {
    let (state, _dir) = state().await;
    let res = atlas_http::router(state).oneshot(post_code(None)).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn serve_router_serves_the_extra_routes_and_the_api_behind_them() {
    let (state, _dir) = state().await;
    let app = Router::new()
        .route("/extra", get(|| async { "extra" }))
        .fallback_service(atlas_http::router(state));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(atlas_http::serve_router(listener, app, async {
        let _ = rx.await;
    }));
    let extra = reqwest::get(format!("http://{addr}/extra")).await.unwrap();
    assert_eq!(extra.text().await.unwrap(), "extra");
    let api = reqwest::get(format!("http://{addr}/code")).await.unwrap();
    assert_eq!(api.status(), reqwest::StatusCode::OK);
    let body: Value = api.json().await.unwrap();
    assert_eq!(body["_meta"]["total"], 0);
    tx.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn the_sign_in_gate_answers_the_users_name_and_refuses_a_wrong_password() {
    let (state, _dir) = state().await;
    let gate = atlas_http::SignInGate::of(&state);
    let none = axum::http::Extensions::new();
    assert_eq!(gate.check(&none, USER, PASSWORD).await.unwrap(), USER);
    assert!(matches!(
        gate.check(&none, USER, "wrong").await,
        Err(atlas_http::ApiError::Unauthorized)
    ));
}
