//! `Harness`: the dashboard mounted in front of the API over a
//! `MemoryStore`, a `ManualClock` and a `RecordingExecutor`, driven in
//! process; shortcuts for pages, forms, signing in and the API itself
//! (Basic auth, to compare with what the pages show).

use std::sync::Arc;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use atlas_core::model::Timestamp;
use atlas_core::testing::{ManualClock, RecordingExecutor};
use atlas_core::{App, AppConfig, MemoryStore, SecretKey};
use atlas_http::{AppState, Authenticator, HttpConfig, SignInGate, StaticUsers};
use atlas_ui::UiConfig;
use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use base64::Engine as _;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

pub const USER: &str = "alice";
pub const PASSWORD: &str = "wonderland";

fn cheap_hash(password: &str) -> String {
    let params = Params::new(8, 1, 1, None).unwrap();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(password.as_bytes(), &SaltString::generate(&mut OsRng))
        .unwrap()
        .to_string()
}

/// A page's answer.
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub html: String,
}

impl Page {
    /// The value of the hidden field `name` (first one).
    pub fn hidden(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self
            .html
            .find(&marker)
            .unwrap_or_else(|| panic!("no {name} in {}", self.html))
            + marker.len();
        let end = self.html[start..].find('"').unwrap() + start;
        self.html[start..end].to_owned()
    }

    /// The `name=value` of a `Set-Cookie` named `name`.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{name}=")))
            .map(|v| v.split(';').next().unwrap().to_owned())
    }

    /// `Location`.
    pub fn location(&self) -> &str {
        self.headers.get(header::LOCATION).unwrap().to_str().unwrap()
    }
}

/// A signed-in browser: its cookie and the session's CSRF token.
pub struct Browser {
    pub cookie: String,
    pub csrf: String,
}

pub struct Harness {
    pub app: App,
    pub clock: Arc<ManualClock>,
    router: Router,
}

impl Harness {
    pub async fn new() -> Self {
        Self::with(RecordingExecutor::new(), "").await
    }

    pub async fn with(executor: RecordingExecutor, base_path: &str) -> Self {
        let users = StaticUsers::new([(USER, cheap_hash(PASSWORD))]).unwrap();
        Self::build(executor, base_path, Arc::new(users)).await
    }

    /// Passwords checked by `auth` instead of the test user.
    pub async fn with_auth(auth: Arc<dyn Authenticator>) -> Self {
        Self::build(RecordingExecutor::new(), "", auth).await
    }

    async fn build(executor: RecordingExecutor, base_path: &str, auth: Arc<dyn Authenticator>) -> Self {
        let clock = Arc::new(ManualClock::at(Timestamp::from_unix(
            Timestamp::now().unix_seconds(),
        )));
        let mut config = AppConfig::default();
        config.scheduler.enabled = false;
        config.service.pool_top_up_on_deploy = false;
        let app = App::builder(Arc::new(MemoryStore::default()))
            .executor(Arc::new(executor))
            .clock(clock.clone())
            .secret_key(SecretKey::from_bytes([7; 32]))
            .config(config)
            .build()
            .unwrap();
        let http = HttpConfig {
            base_path: base_path.to_owned(),
            ..HttpConfig::default()
        };
        let state = AppState::new(app.service().clone(), auth, http);
        let gate = SignInGate::of(&state);
        let router = atlas_ui::mount(atlas_http::router(state), gate, &UiConfig::default(), base_path);
        Self { app, clock, router }
    }

    pub async fn send(&self, req: Request<Body>) -> Page {
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        Page {
            status,
            headers,
            html: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    pub async fn get(&self, path: &str, browser: Option<&Browser>) -> Page {
        let mut req = Request::get(path);
        if let Some(b) = browser {
            req = req.header(header::COOKIE, &b.cookie);
        }
        self.send(req.body(Body::empty()).unwrap()).await
    }

    pub async fn post_form(&self, path: &str, cookie: Option<&str>, fields: &[(&str, &str)]) -> Page {
        let mut body = form_urlencoded::Serializer::new(String::new());
        for (k, v) in fields {
            body.append_pair(k, v);
        }
        let mut req = Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        self.send(req.body(Body::from(body.finish())).unwrap()).await
    }

    /// A form POST of a signed-in browser, with its CSRF token.
    pub async fn act(&self, path: &str, b: &Browser, extra: &[(&str, &str)]) -> Page {
        let mut fields = vec![("csrf", b.csrf.as_str())];
        fields.extend_from_slice(extra);
        self.post_form(path, Some(&b.cookie), &fields).await
    }

    /// Signs in through the form: answers the sign-in POST's page.
    pub async fn try_sign_in(&self, prefix: &str, user: &str, password: &str) -> Page {
        let form = self.get(&format!("{prefix}/login"), None).await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.html);
        let token = form.hidden("login_token");
        let login_cookie = form.cookie("atlas_login").unwrap();
        self.post_form(
            &format!("{prefix}/login"),
            Some(&login_cookie),
            &[("login_token", &token), ("user", user), ("password", password)],
        )
        .await
    }

    pub async fn sign_in(&self) -> Browser {
        self.sign_in_at("/ui").await
    }

    pub async fn sign_in_at(&self, prefix: &str) -> Browser {
        let res = self.try_sign_in(prefix, USER, PASSWORD).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.html);
        let cookie = res.cookie("atlas_session").unwrap();
        let page = self
            .get(
                &format!("{prefix}/"),
                Some(&Browser {
                    cookie: cookie.clone(),
                    csrf: String::new(),
                }),
            )
            .await;
        Browser {
            csrf: page.hidden("csrf"),
            cookie,
        }
    }

    /// The API itself, with Basic credentials.
    pub async fn api(
        &self,
        method: Method,
        path: &str,
        etag: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Basic {auth}"));
        if let Some(e) = etag {
            req = req.header(header::IF_MATCH, e);
        }
        let req = match body {
            Some(b) => req
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        }
        .unwrap();
        let page = self.send(req).await;
        let v = if page.html.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&page.html).unwrap()
        };
        (page.status, v)
    }

    /// Runs every due job; then moves the clock on so retries fall due.
    pub async fn settle(&self) {
        for _ in 0..8 {
            self.app.drain().await.unwrap();
            self.clock.advance(std::time::Duration::from_secs(3600));
        }
    }

    /// Current core and profile, deployed.
    pub async fn seed_code(&self) -> (String, String) {
        let mut ids = Vec::new();
        for (name, code_type, commit) in [("drupal", "core", "a"), ("express", "profile", "b")] {
            let (status, v) = self
                .api(
                    Method::POST,
                    "/code",
                    None,
                    Some(json!({
                        "meta": {"name": name, "version": "1.0", "code_type": code_type, "is_current": true},
                        "git_url": format!("https://example.invalid/{name}.git"),
                        "commit_hash": commit.repeat(40),
                    })),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{v}");
            ids.push(v["_id"].as_str().unwrap().to_owned());
        }
        self.settle().await;
        (ids[0].clone(), ids[1].clone())
    }

    /// A new instance, provisioned (`available`); answers its record.
    pub async fn available_instance(&self) -> Value {
        let (status, v) = self.api(Method::POST, "/instance", None, Some(json!({}))).await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        self.settle().await;
        self.record(v["_id"].as_str().unwrap()).await
    }

    /// A new instance, installed; answers its record.
    pub async fn installed_instance(&self) -> Value {
        let doc = self.available_instance().await;
        let id = doc["_id"].as_str().unwrap().to_owned();
        let (status, v) = self
            .api(
                Method::PATCH,
                &format!("/instance/{id}"),
                doc["_etag"].as_str(),
                Some(json!({"status": "installed"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        self.settle().await;
        let doc = self.record(&id).await;
        assert_eq!(doc["status"], "installed", "{doc}");
        doc
    }

    pub async fn record(&self, id: &str) -> Value {
        let (status, v) = self
            .api(Method::GET, &format!("/instance/{id}"), None, None)
            .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        v
    }
}
