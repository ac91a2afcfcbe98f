//! `TestApp`: the API served on a real socket (`127.0.0.1:0`, bound before
//! the server task starts) over a fresh `SqliteStore` in a temp dir, with a `reqwest` client and
//! shortcuts for the requests the tests make.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use atlas_core::model::Timestamp;
use atlas_core::testing::{ManualClock, RecordingExecutor};
use atlas_core::{App, AppConfig, SecretKey, Store};
use atlas_http::{AppState, Authenticator, HttpConfig, StaticUsers};
use atlas_sqlite::SqliteStore;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{json, Value};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The test user.
pub const USER: &str = "alice";
/// Its password.
pub const PASSWORD: &str = "wonderland";

/// An argon2id hash of `password` at the lowest cost (fast tests).
pub fn cheap_hash(password: &str) -> String {
    let params = Params::new(8, 1, 1, None).unwrap();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(password.as_bytes(), &SaltString::generate(&mut OsRng))
        .unwrap()
        .to_string()
}

/// Builds a [`TestApp`].
pub struct TestAppBuilder {
    config: HttpConfig,
    store: Option<Arc<dyn Store>>,
    auth: Option<Arc<dyn Authenticator>>,
}

impl TestAppBuilder {
    /// Changes the HTTP configuration before the server starts.
    pub fn config(mut self, f: impl FnOnce(&mut HttpConfig)) -> Self {
        f(&mut self.config);
        self
    }

    /// Serves over `store` instead of a fresh `SqliteStore` in a temp dir.
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// Checks credentials with `auth` instead of the test users.
    pub fn auth(mut self, auth: Arc<dyn Authenticator>) -> Self {
        self.auth = Some(auth);
        self
    }

    /// Starts the server.
    pub async fn spawn(self) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = match self.store {
            Some(s) => s,
            None => Arc::new(SqliteStore::open_path(dir.path().join("atlas.db")).await.unwrap()),
        };
        let clock = Arc::new(ManualClock::at(Timestamp::from_unix(
            Timestamp::now().unix_seconds(),
        )));
        let executor = RecordingExecutor::new();
        let mut config = AppConfig::default();
        // Tests run jobs with `settle`; nothing runs by itself.
        config.scheduler.enabled = false;
        let app = App::builder(store.clone())
            .executor(Arc::new(executor.clone()))
            .clock(clock.clone())
            .secret_key(SecretKey::from_bytes([7; 32]))
            .config(config)
            .build()
            .unwrap();
        let auth = self.auth.unwrap_or_else(|| {
            Arc::new(
                StaticUsers::new([(USER, cheap_hash(PASSWORD)), ("bob", cheap_hash("builder"))]).unwrap(),
            )
        });
        let state = AppState::new(app.service().clone(), auth, self.config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(atlas_http::serve(listener, state, async {
            let _ = rx.await;
        }));
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        TestApp {
            addr,
            client,
            clock,
            executor,
            app,
            shutdown: Some(tx),
            handle,
            _dir: dir,
        }
    }
}

/// A running API server.
pub struct TestApp {
    /// Where it listens.
    pub addr: SocketAddr,
    /// A client with no default credentials.
    pub client: reqwest::Client,
    /// The clock the service reads.
    pub clock: Arc<ManualClock>,
    /// The executor `settle` runs jobs with.
    pub executor: RecordingExecutor,
    /// The app behind the server (its worker runs only in `settle`).
    pub app: App,
    shutdown: Option<oneshot::Sender<()>>,
    handle: JoinHandle<std::io::Result<()>>,
    _dir: tempfile::TempDir,
}

impl TestApp {
    /// A server with the default configuration.
    pub async fn spawn() -> TestApp {
        Self::builder().spawn().await
    }

    /// A builder.
    pub fn builder() -> TestAppBuilder {
        TestAppBuilder {
            config: HttpConfig::default(),
            store: None,
            auth: None,
        }
    }

    /// `http://127.0.0.1:PORT<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// A request without credentials.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    /// A request with the test user's credentials.
    pub fn authed(&self, method: Method, path: &str) -> RequestBuilder {
        self.request(method, path).basic_auth(USER, Some(PASSWORD))
    }

    /// GET without credentials.
    pub async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path).send().await.unwrap()
    }

    /// GET, asserting 200, as JSON.
    pub async fn get_json(&self, path: &str) -> Value {
        let res = self.get(path).await;
        assert_eq!(res.status(), StatusCode::OK, "GET {path}");
        res.json().await.unwrap()
    }

    /// POST `body` as JSON with credentials.
    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.authed(Method::POST, path).json(body).send().await.unwrap()
    }

    /// POST, asserting 201, returning the write envelope.
    pub async fn create(&self, res: &str, body: &Value) -> Value {
        let r = self.post(&format!("/{res}"), body).await;
        let status = r.status();
        let v: Value = r.json().await.unwrap();
        assert_eq!(status, StatusCode::CREATED, "POST /{res}: {v}");
        v
    }

    /// PATCH `body` with credentials and `If-Match: etag`.
    pub async fn patch(&self, path: &str, etag: &str, body: &Value) -> Response {
        self.authed(Method::PATCH, path)
            .header("If-Match", etag)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// PUT `body` with credentials and `If-Match: etag`.
    pub async fn put(&self, path: &str, etag: &str, body: &Value) -> Response {
        self.authed(Method::PUT, path)
            .header("If-Match", etag)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// DELETE with credentials and `If-Match: etag`.
    pub async fn delete(&self, path: &str, etag: &str) -> Response {
        self.authed(Method::DELETE, path)
            .header("If-Match", etag)
            .send()
            .await
            .unwrap()
    }

    /// The original's seed: POSTs the current core `drupal 7.42` and the
    /// current profile `express 2.2.5`; returns their ids.
    pub async fn seed_code(&self) -> (String, String) {
        let core = self
            .create(
                "code",
                &core_body("7.42", "2d2f373d0d9dcc51cbd6c7837a985696f5282347"),
            )
            .await;
        let profile = self
            .create(
                "code",
                &profile_body("2.2.5", "9ee4b0b1b7e4e0b1a3c4d5e6f708192a3b4c5d6e"),
            )
            .await;
        (id_of(&core), id_of(&profile))
    }

    /// The service clock's time.
    pub fn clock_now(&self) -> Timestamp {
        atlas_core::Clock::now(self.clock.as_ref())
    }

    /// Moves the service clock on.
    pub fn advance(&self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs));
    }

    /// Runs every queued job with the engine and the recording executor.
    pub async fn settle(&self) -> usize {
        self.app.drain().await.unwrap()
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        (&mut self.handle).await.unwrap()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A core code item body (`drupal <version>`, current).
pub fn core_body(version: &str, commit: &str) -> Value {
    json!({
        "meta": {"name": "drupal", "version": version, "code_type": "core", "is_current": true},
        "git_url": "https://github.com/CuBoulder/drupal-7.x.git",
        "commit_hash": commit,
    })
}

/// A profile code item body (`express <version>`, current).
pub fn profile_body(version: &str, commit: &str) -> Value {
    json!({
        "meta": {"name": "express", "version": version, "code_type": "profile", "is_current": true},
        "git_url": "https://github.com/CuBoulder/express.git",
        "commit_hash": commit,
    })
}

/// A module code item body.
pub fn module_body(name: &str, version: &str) -> Value {
    json!({
        "meta": {"name": name, "version": version, "code_type": "module", "is_current": false},
        "git_url": format!("https://github.com/CuBoulder/{name}.git"),
        "commit_hash": format!("{:0>40}", format!("{:x}", rand_u64())),
    })
}

fn rand_u64() -> u64 {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut h = RandomState::new().build_hasher();
    h.write_u64(42);
    h.finish()
}

/// The `_id` of an envelope or document.
pub fn id_of(v: &Value) -> String {
    v["_id"].as_str().unwrap().to_owned()
}

/// The `_etag` of an envelope or document.
pub fn etag_of(v: &Value) -> String {
    v["_etag"].as_str().unwrap().to_owned()
}

/// The keys of a JSON object, in order.
pub fn keys(v: &Value) -> Vec<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

/// Asserts Eve's error envelope with `code` and returns its message.
pub async fn error_message(res: Response, code: u16) -> String {
    assert_eq!(res.status().as_u16(), code);
    assert_eq!(res.headers()["content-type"], "application/json");
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["_status"], "ERR", "{v}");
    assert_eq!(v["_error"]["code"], code, "{v}");
    v["_error"]["message"].as_str().unwrap().to_owned()
}

/// `base64("alice:wonderland")`.
pub fn base64_credentials() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"))
}

/// Sends `request` as raw bytes on a new connection and returns everything
/// the server answers until it closes the connection (send
/// `Connection: close`).
pub async fn raw_request(app: &TestApp, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    stream.read_to_end(&mut out).await.unwrap();
    String::from_utf8_lossy(&out).into_owned()
}
