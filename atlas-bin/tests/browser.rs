//! The dashboard in headless Chromium (WebDriver through chromedriver,
//! fantoccini as the client) against a real `atlas serve` on the demo
//! setup (`atlas demo`: local git repositories, stub drush and mysql):
//! signing in (a wrong password refused), the overview's counts against
//! the API's totals, an instance taken down with its status and operation
//! log changing, a command run with its per-instance outcomes, signing
//! out; and (over plain HTTP, no browser) a form POST without the CSRF
//! token refused. Every page is saved as a screenshot under
//! `<target>/ui-screenshots/`.
//!
//! Needs `chromedriver` and `chromium` (`ATLAS_TEST_CHROMEDRIVER`, default
//! `/usr/bin/chromedriver`; `ATLAS_TEST_CHROMIUM`, default
//! `/usr/bin/chromium`) and git; skipped with a printed reason without
//! them unless `ATLAS_TEST_REQUIRE` names `chromium` (and `tour` for git).

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use atlas_core::testing::service::require_service;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

mod demo;
use demo::{has_git, Demo};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

fn program(var: &str, default: &str) -> PathBuf {
    std::env::var(var)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .map_or_else(|| PathBuf::from(default), PathBuf::from)
}

/// chromedriver and chromium, when both are there.
fn browser_programs() -> Result<(PathBuf, PathBuf), String> {
    let driver = program("ATLAS_TEST_CHROMEDRIVER", CHROMEDRIVER);
    let chromium = program("ATLAS_TEST_CHROMIUM", CHROMIUM);
    for p in [&driver, &chromium] {
        if !p.is_file() {
            return Err(format!(
                "{} is not installed (apt-get install chromium chromium-driver)",
                p.display()
            ));
        }
    }
    Ok((driver, chromium))
}

/// A child process killed when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The API's JSON at `path` of `demo`'s server (with credentials).
async fn api(demo: &Demo, path: &str) -> Value {
    reqwest::Client::new()
        .get(demo.url(path))
        .basic_auth("admin", Some(demo.password()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A headless Chromium session through a chromedriver of its own.
struct Browser {
    client: Client,
    _driver: Killed,
    shots: PathBuf,
}

impl Browser {
    /// `None` (skipped) without chromium, chromedriver or git.
    async fn start() -> Option<Self> {
        if !require_service("tour", has_git()) {
            return None;
        }
        let (driver, chromium) = match browser_programs() {
            Ok(p) => p,
            Err(reason) => {
                require_service("chromium", Err(reason));
                return None;
            }
        };
        let port = free_port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let driver = Killed(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen on {port}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1200,800", "--hide-scrollbars"],
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("chromedriver starts a Chromium session");
        // <target>/debug/deps/browser-… → <target>/ui-screenshots
        let exe = std::env::current_exe().unwrap();
        let target = exe.ancestors().nth(3).unwrap().to_path_buf();
        let shots = target.join("ui-screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        Some(Self {
            client,
            _driver: driver,
            shots,
        })
    }

    async fn text_of(&self, css: &str) -> String {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    async fn has(&self, css: &str) -> bool {
        self.client.find(Locator::Css(css)).await.is_ok()
    }

    async fn shot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
    }

    async fn sign_in(&self, demo: &Demo, password: &str) {
        self.client.goto(&demo.url("/ui/login")).await.unwrap();
        let user = self.client.find(Locator::Id("user")).await.unwrap();
        user.send_keys("admin").await.unwrap();
        let pw = self.client.find(Locator::Id("password")).await.unwrap();
        pw.send_keys(password).await.unwrap();
        self.click_through(Locator::Id("sign-in")).await;
    }

    /// Clicks what `locator` finds and waits until the page it was on is
    /// gone (a link followed or a form posted): WebDriver's click returns
    /// before the next page has loaded.
    async fn click_through(&self, locator: Locator<'_>) {
        let target = self.client.find(locator).await.unwrap();
        target.click().await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while target.is_displayed().await.is_ok() {
            assert!(
                Instant::now() < deadline,
                "the click did not leave the page: {}",
                self.client.current_url().await.unwrap()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // The next page's document is there once its body can be found.
        self.client
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::Css("body"))
            .await
            .unwrap();
    }

    /// Reloads `url` until `css`'s text is `want` (30 s at most).
    async fn wait_for_text(&self, url: &str, css: &str, want: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            self.client.goto(url).await.unwrap();
            let got = self.text_of(css).await;
            if got == want {
                return;
            }
            assert!(Instant::now() < deadline, "{css} stayed '{got}', not '{want}'");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_the_overview_and_taking_an_instance_down_in_chromium() {
    let Some(b) = Browser::start().await else { return };
    let Some(demo) = Demo::start() else { return };
    let sid = demo.installed_instance();

    // A wrong password is refused, the right one signs in.
    b.sign_in(&demo, "not-the-password").await;
    assert!(b.text_of("#login-problem").await.contains("wrong"));
    b.shot("login").await;
    b.sign_in(&demo, &demo.password()).await;
    assert_eq!(b.text_of("#signed-in-as").await, "Signed in as admin");

    // The overview's counts are the API's totals.
    for status in ["pending", "available", "installed", "launched", "down"] {
        let q = json!({ "status": status }).to_string();
        let counted = api(&demo, &format!("/instance?max_results=1&where={}", urlencode(&q))).await;
        let shown = b.text_of(&format!("td[data-status='{status}']")).await;
        assert_eq!(shown, counted["_meta"]["total"].to_string(), "{status}");
    }
    b.shot("overview").await;

    // Open the instance from the list, take it down.
    b.client.goto(&demo.url("/ui/instances")).await.unwrap();
    b.shot("instances").await;
    b.click_through(Locator::LinkText(&sid)).await;
    assert_eq!(b.text_of("#instance-status").await, "installed");
    let log_before = b.text_of("#oplog-section").await;
    b.shot("instance").await;
    b.click_through(Locator::Id("action-take_down")).await;
    let page = demo.url(&format!("/ui/instances/{sid}"));
    b.wait_for_text(&page, "#instance-status", "down").await;
    let log_after = b.text_of("#oplog-section").await;
    assert_ne!(log_before, log_after);
    let jobs = api(&demo, &format!("/instance/{sid}/jobs")).await;
    let newest = jobs["_items"][0]["kind"].as_str().unwrap();
    assert!(log_after.contains(newest), "{log_after}");
    assert!(b.has("#action-restore").await);
    b.shot("instance-down").await;

    for (page, name) in [
        ("/ui/jobs", "jobs"),
        ("/ui/code", "code"),
        ("/ui/rollouts", "rollouts"),
    ] {
        b.client.goto(&demo.url(page)).await.unwrap();
        assert!(b.has("h1").await);
        b.shot(name).await;
    }

    // Signing out.
    b.client.goto(&demo.url("/ui/")).await.unwrap();
    b.click_through(Locator::Id("sign-out")).await;
    assert!(b.has("#sign-in-link").await);
    assert!(!b.has("#signed-in-as").await);
    b.client.clone().close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_a_command_in_chromium_shows_per_instance_outcomes() {
    let Some(b) = Browser::start().await else { return };
    let Some(demo) = Demo::start() else { return };
    let sid = demo.installed_instance();
    let added = demo.json(&[
        "command",
        "add",
        "--name",
        "List files",
        "--command",
        "ls -a",
        "--query",
        r#"{"status": "installed"}"#,
    ]);
    assert_eq!(added["command"]["name"], "List files");

    b.sign_in(&demo, &demo.password()).await;
    b.client.goto(&demo.url("/ui/commands")).await.unwrap();
    b.shot("commands").await;
    b.click_through(Locator::Css("button[data-command='List files']"))
        .await;
    let run_page = b.client.current_url().await.unwrap().to_string();
    assert!(run_page.contains("/ui/runs/"), "{run_page}");
    b.wait_for_text(&run_page, "#run-status", "succeeded").await;
    let outcomes = b.text_of("#outcomes-table").await;
    assert!(outcomes.contains(&sid), "{outcomes}");
    assert!(outcomes.contains("succeeded"), "{outcomes}");
    b.shot("command-run").await;
    b.client.clone().close().await.unwrap();
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The `name=value` of a `Set-Cookie` named `name`.
fn set_cookie(res: &reqwest::Response, name: &str) -> String {
    res.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap().to_owned())
        .unwrap_or_else(|| panic!("no {name} cookie"))
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap() + marker.len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_post_without_the_csrf_token_is_refused() {
    let Some(demo) = Demo::start() else { return };
    let sid = demo.installed_instance();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let form = http.get(demo.url("/ui/login")).send().await.unwrap();
    let login_cookie = set_cookie(&form, "atlas_login");
    let token = hidden(&form.text().await.unwrap(), "login_token");
    let password = demo.password();
    let signed = http
        .post(demo.url("/ui/login"))
        .header(reqwest::header::COOKIE, login_cookie)
        .form(&[
            ("login_token", token.as_str()),
            ("user", "admin"),
            ("password", password.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 303);
    let session = set_cookie(&signed, "atlas_session");

    let action = demo.url(&format!("/ui/instances/{sid}/take_down"));
    for fields in [vec![], vec![("csrf", "0".repeat(64))]] {
        let res = http
            .post(&action)
            .header(reqwest::header::COOKIE, &session)
            .form(&fields)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403);
    }
    let record = api(&demo, &format!("/instance/{sid}")).await;
    assert_eq!(record["status"], "installed");
}
