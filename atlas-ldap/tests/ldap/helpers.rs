//! The API served on `127.0.0.1:0` over a memory store with a given
//! authenticator, and a directory to sign in against.

use std::net::SocketAddr;
use std::sync::Arc;

use atlas_core::testing::RecordingExecutor;
use atlas_core::{App, AppConfig, MemoryStore, SecretKey};
use atlas_http::{AppState, Authenticator, HttpConfig};
use atlas_ldap::testing::Slapd;
use atlas_ldap::{LdapAuthenticator, LdapConfig};
use atlas_observe::testing::Exposition;
use atlas_observe::Metrics;
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use tokio::sync::oneshot;

/// A running API server.
pub struct Server {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    _app: App,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Serves the API checking credentials with `auth`.
pub async fn serve(auth: Arc<dyn Authenticator>) -> Server {
    let mut config = AppConfig::default();
    config.scheduler.enabled = false;
    let app = App::builder(Arc::new(MemoryStore::new()))
        .executor(Arc::new(RecordingExecutor::new()))
        .secret_key(SecretKey::from_bytes([7; 32]))
        .config(config)
        .build()
        .unwrap();
    let state = AppState::new(app.service().clone(), auth, HttpConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(atlas_http::serve(listener, state, async {
        let _ = rx.await;
    }));
    Server {
        addr,
        client: reqwest::Client::new(),
        shutdown: Some(tx),
        _app: app,
    }
}

/// A code item body with a commit hash made of `n`.
pub fn code_body(n: u8) -> Value {
    json!({
        "meta": {"name": "drupal", "version": format!("7.{n}"), "code_type": "core", "is_current": true},
        "git_url": "https://github.com/CuBoulder/drupal-7.x.git",
        "commit_hash": format!("{n:0>40}"),
    })
}

impl Server {
    /// `http://127.0.0.1:PORT<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// POST /code as `user` / `password`.
    pub async fn write(&self, user: &str, password: &str, n: u8) -> Response {
        self.client
            .post(self.url("/code"))
            .basic_auth(user, Some(password))
            .json(&code_body(n))
            .send()
            .await
            .unwrap()
    }

    /// POST /code as `user` / `password`, asserting `status`.
    pub async fn write_expecting(&self, user: &str, password: &str, n: u8, status: StatusCode) -> Value {
        let res = self.write(user, password, n).await;
        let got = res.status();
        let body: Value = res.json().await.unwrap();
        assert_eq!(got, status, "POST /code as {user:?}: {body}");
        body
    }
}

/// A directory, the API in front of it (configured by `change`) and the
/// metrics it counts into; `None` when `slapd` is not installed.
pub async fn setup(change: impl FnOnce(&mut LdapConfig)) -> Option<(Slapd, Server, Metrics)> {
    let slapd = Slapd::start()?;
    let mut cfg = slapd.config();
    change(&mut cfg);
    let metrics = Metrics::new();
    let auth = LdapAuthenticator::new(&cfg)
        .unwrap()
        .with_metrics(metrics.clone());
    let server = serve(Arc::new(auth)).await;
    Some((slapd, server, metrics))
}

/// `atlas_ldap_binds_total{outcome}` (0 when not counted yet).
pub fn binds(metrics: &Metrics, outcome: &str) -> f64 {
    Exposition::parse(&metrics.encode())
        .value("atlas_ldap_binds_total", &[("outcome", outcome)])
        .unwrap_or(0.0)
}
