//! Quickstart: walks the operator guide end to end in one process.
//!
//! On a temporary directory and a random port it starts the whole of Atlas
//! — SQLite store, REST API, worker, scheduler and the shell executor — with
//! real git repositories it creates and stub `drush`/`mysql`/`mysqldump`
//! programs, then
//! talks to the API over HTTP like an operator would:
//!
//! POST a current core and profile → the pool fills with `available`
//! instances → PATCH one to `installing` → `installed` → POST a route and
//! PATCH `launching` → `launched` (the route map lists the route) →
//! `take_down` → `down` → `restore` → `installed` → DELETE.
//!
//! Each step prints its HTTP exchange; any deviation exits non-zero.
//! Run it with `cargo run --example quickstart`.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use atlas::core::model::Environment;
use atlas::core::{App, AppConfig, ServiceConfig, WorkerConfig};
use atlas::http::{AppState, HttpConfig, StaticUsers};
use atlas::shell::{ShellConfig, ShellExecutor};
use atlas::sqlite::{SqliteConfig, SqliteStore};
use serde_json::{json, Value};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

const USER: &str = "admin";
const PASSWORD: &str = "quickstart-password";
const WAIT: Duration = Duration::from_secs(90);

fn fail(msg: impl Into<String>) -> Box<dyn Error> {
    msg.into().into()
}

/// Runs git with an argument vector.
fn git(dir: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Atlas Quickstart")
        .env("GIT_AUTHOR_EMAIL", "quickstart@example.invalid")
        .env("GIT_COMMITTER_NAME", "Atlas Quickstart")
        .env("GIT_COMMITTER_EMAIL", "quickstart@example.invalid")
        .output()?;
    if !out.status.success() {
        return Err(fail(format!(
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(String::from_utf8(out.stdout)?.trim().to_owned())
}

/// A bare repository `<root>/<name>.git` holding `files`; returns its path
/// and commit.
fn repository(root: &Path, name: &str, files: &[(&str, &str)]) -> Result<(PathBuf, String)> {
    let work = root.join("work").join(name);
    for (path, text) in files {
        let p = work.join(path);
        std::fs::create_dir_all(p.parent().ok_or("no parent")?)?;
        std::fs::write(p, text)?;
    }
    git(&work, &["init", "-q"])?;
    git(&work, &["add", "."])?;
    git(&work, &["commit", "-q", "-m", "initial"])?;
    let commit = git(&work, &["rev-parse", "HEAD"])?;
    let bare = root.join(format!("{name}.git"));
    git(
        root,
        &[
            "clone",
            "-q",
            "--bare",
            work.to_str().ok_or("path")?,
            bare.to_str().ok_or("path")?,
        ],
    )?;
    Ok((bare, commit))
}

/// A stub program that records its arguments and succeeds.
fn stub(dir: &Path, name: &str, log: &Path) -> Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    let script = format!(
        "#!/bin/sh\necho \"{name} $*\" >> '{}'\ncat > /dev/null 2>&1 || true\nexit 0\n",
        log.display()
    );
    std::fs::write(&p, script)?;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755))?;
    Ok(p)
}

/// A tiny HTTP client that prints every exchange.
struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    async fn send(
        &self,
        method: &str,
        path: &str,
        etag: Option<&str>,
        body: Option<Value>,
    ) -> Result<(u16, Value)> {
        let url = format!("{}/{path}", self.base);
        let m = reqwest::Method::from_bytes(method.as_bytes())?;
        let mut req = self.http.request(m, &url);
        if method != "GET" {
            req = req.basic_auth(USER, Some(PASSWORD));
        }
        if let Some(e) = etag {
            req = req.header("If-Match", e);
        }
        print!("→ {method} /{path}");
        if let Some(e) = etag {
            print!("  If-Match: {e}");
        }
        if let Some(b) = &body {
            print!("  {b}");
            req = req.json(b);
        }
        println!();
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let text = resp.text().await?;
        let value: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)?
        };
        let shown = if text.len() > 300 {
            format!("{}…", &text[..300])
        } else {
            text
        };
        println!("← {status} {shown}");
        Ok((status, value))
    }

    async fn expect(
        &self,
        want: u16,
        method: &str,
        path: &str,
        etag: Option<&str>,
        body: Option<Value>,
    ) -> Result<Value> {
        let (status, v) = self.send(method, path, etag, body).await?;
        if status != want {
            return Err(fail(format!(
                "{method} /{path}: expected {want}, got {status}: {v}"
            )));
        }
        Ok(v)
    }

    /// Polls `path` quietly until `done` holds.
    async fn wait_for(&self, what: &str, path: &str, done: impl Fn(&Value) -> bool) -> Result<Value> {
        println!("… waiting until {what}");
        let start = Instant::now();
        loop {
            let v: Value = self
                .http
                .get(format!("{}/{path}", self.base))
                .basic_auth(USER, Some(PASSWORD))
                .send()
                .await?
                .json()
                .await?;
            if done(&v) {
                println!("✓ {what} ({:.1} s)", start.elapsed().as_secs_f64());
                return Ok(v);
            }
            if start.elapsed() > WAIT {
                return Err(fail(format!("timed out waiting until {what}; last answer: {v}")));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn wait_status(&self, id: &str, status: &str) -> Result<Value> {
        self.wait_for(
            &format!("instance is '{status}'"),
            &format!("instance/{id}"),
            |v| v["status"] == status,
        )
        .await
    }
}

fn str_of<'a>(v: &'a Value, key: &str) -> Result<&'a str> {
    v[key]
        .as_str()
        .ok_or_else(|| fail(format!("response has no '{key}': {v}")))
}

async fn run() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let root = tmp.path();
    println!("# Atlas quickstart in {}", root.display());

    // Real git repositories for a core and a profile.
    let (core_repo, core_commit) = repository(
        root,
        "drupal",
        &[
            ("index.php", "<?php // Drupal\n"),
            ("includes/bootstrap.inc", "<?php\n"),
            ("modules/system/system.module", "<?php\n"),
            ("sites/default/default.settings.php", "<?php\n"),
        ],
    )?;
    let (profile_repo, profile_commit) =
        repository(root, "express", &[("express.info", "name = Express\n")])?;

    // Stub drush, mysql and mysqldump recording their calls (a deleted
    // instance is backed up first: the stub dump is empty).
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin)?;
    let calls = root.join("calls.log");
    let drush = stub(&bin, "drush", &calls)?;
    let mysql = stub(&bin, "mysql", &calls)?;
    let mysqldump = stub(&bin, "mysqldump", &calls)?;

    // The shell executor, rooted in the temporary directory.
    let mut shell = ShellConfig {
        code_root: root.join("code"),
        instances_code_root: root.join("instances"),
        instances_web_root: root.join("web"),
        files_root: root.join("files"),
        down_page: root.join("down"),
        ..ShellConfig::default()
    };
    shell.route_map.path = root.join("route-map.txt");
    shell.programs.drush = drush.display().to_string();
    shell.programs.mysql = mysql.display().to_string();
    shell.programs.mysqldump = mysqldump.display().to_string();
    shell.database.admin_user = "atlas".into();
    for dir in [
        &shell.code_root,
        &shell.instances_code_root,
        &shell.instances_web_root,
        &shell.files_root,
        &shell.down_page,
    ] {
        std::fs::create_dir_all(dir)?;
    }
    let route_map = shell.route_map.path.clone();
    let executor = Arc::new(ShellExecutor::new(shell)?);

    // Store, then the app: service, engine, worker and scheduler.
    let store = Arc::new(SqliteStore::open(SqliteConfig::at(root.join("atlas.db"))).await?);
    let mut config = AppConfig {
        service: ServiceConfig {
            environment: Environment::Local,
            pool_size: Some(2),
            ..ServiceConfig::default()
        },
        worker: WorkerConfig {
            concurrency: 4,
            poll_interval: Duration::from_millis(100),
            ..WorkerConfig::default()
        },
        ..AppConfig::default()
    };
    config.scheduler.tick_secs = 1;
    config
        .scheduler
        .tasks
        .insert("pool_top_up".into(), "*/2 * * * * *".into());
    let app = App::builder(store).executor(executor).config(config).build()?;

    // The API on a random port.
    let users = StaticUsers::new([(USER, atlas::http::hash_password(PASSWORD))])?;
    let state = AppState::new(app.service().clone(), Arc::new(users), HttpConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let until = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let server = tokio::spawn(atlas::http::serve(listener, state, until(stop_rx.clone())));
    let background = tokio::spawn({
        let app = app.clone();
        let rx = stop_rx.clone();
        async move { app.run(until(rx)).await }
    });
    println!("# Atlas is listening on {base}\n");
    let c = Client {
        http: reqwest::Client::new(),
        base,
    };

    println!("## 1. Code items need to be created before instances");
    let core = c
        .expect(
            201,
            "POST",
            "code",
            None,
            Some(json!({
                "git_url": core_repo.display().to_string(),
                "commit_hash": core_commit,
                "meta": {"name": "drupal", "version": "7.42", "code_type": "core", "is_current": true}
            })),
        )
        .await?;
    c.expect(
        201,
        "POST",
        "code",
        None,
        Some(json!({
            "git_url": profile_repo.display().to_string(),
            "commit_hash": profile_commit,
            "meta": {"name": "express", "version": "2.2.5", "code_type": "profile", "is_current": true}
        })),
    )
    .await?;
    c.expect(200, "GET", &format!("code/{}", str_of(&core, "_id")?), None, None)
        .await?;
    c.wait_for(
        "both code items are deployed",
        r#"jobs?where={"kind":"code_deploy","status":"succeeded"}"#,
        |v| v["_meta"]["total"] == 2,
    )
    .await?;

    println!("\n## 2. Atlas provisions a pool of available instances");
    let pool = c
        .wait_for(
            "the pool holds 2 available instances",
            r#"instance?where={"status":"available"}"#,
            |v| v["_meta"]["total"].as_u64().unwrap_or(0) >= 2,
        )
        .await?;
    let id = pool["_items"][0]["_id"]
        .as_str()
        .ok_or("no instance id")?
        .to_owned();
    let sid = pool["_items"][0]["sid"].as_str().ok_or("no sid")?.to_owned();
    println!("using instance {sid} ({id})");

    println!("\n## 3. Allocate it: installing → installed");
    let inst = c
        .expect(200, "GET", &format!("instance/{id}"), None, None)
        .await?;
    c.expect(
        200,
        "PATCH",
        &format!("instance/{id}"),
        Some(str_of(&inst, "_etag")?),
        Some(json!({"status": "installing"})),
    )
    .await?;
    c.wait_status(&id, "installed").await?;

    println!("\n## 4. Launch it on a route: launching → launched");
    let route = c
        .expect(
            201,
            "POST",
            "route",
            None,
            Some(json!({
                "route_type": "poolb-express",
                "source": "quickstart",
                "instance_id": id,
                "active_on_launch": true
            })),
        )
        .await?;
    let route_id = str_of(&route, "_id")?.to_owned();
    let inst = c
        .expect(200, "GET", &format!("instance/{id}"), None, None)
        .await?;
    let inst = c
        .expect(
            200,
            "PATCH",
            &format!("instance/{id}"),
            Some(str_of(&inst, "_etag")?),
            Some(json!({"routes": {"primary_route": route_id}})),
        )
        .await?;
    c.expect(
        200,
        "PATCH",
        &format!("instance/{id}"),
        Some(str_of(&inst, "_etag")?),
        Some(json!({"status": "launching"})),
    )
    .await?;
    c.wait_status(&id, "launched").await?;
    let r = c
        .expect(200, "GET", &format!("route/{route_id}"), None, None)
        .await?;
    if r["route_status"] != "active" {
        return Err(fail(format!("the route is not active after the launch: {r}")));
    }
    let map = std::fs::read_to_string(&route_map)
        .map_err(|e| fail(format!("no route map at {}: {e}", route_map.display())))?;
    println!("route map {}:\n{map}", route_map.display());
    if !map.contains("/quickstart") {
        return Err(fail("the route map does not list /quickstart"));
    }

    println!("\n## 5. Take it down, then restore it");
    let inst = c
        .expect(200, "GET", &format!("instance/{id}"), None, None)
        .await?;
    c.expect(
        200,
        "PATCH",
        &format!("instance/{id}"),
        Some(str_of(&inst, "_etag")?),
        Some(json!({"status": "take_down"})),
    )
    .await?;
    c.wait_status(&id, "down").await?;
    let inst = c
        .expect(200, "GET", &format!("instance/{id}"), None, None)
        .await?;
    c.expect(
        200,
        "PATCH",
        &format!("instance/{id}"),
        Some(str_of(&inst, "_etag")?),
        Some(json!({"status": "restore"})),
    )
    .await?;
    c.wait_status(&id, "installed").await?;

    println!("\n## 6. Delete it");
    let inst = c
        .expect(200, "GET", &format!("instance/{id}"), None, None)
        .await?;
    c.expect(
        204,
        "DELETE",
        &format!("instance/{id}"),
        Some(str_of(&inst, "_etag")?),
        None,
    )
    .await?;
    c.expect(404, "GET", &format!("instance/{id}"), None, None)
        .await?;
    c.wait_for(
        "the instance is removed from the server",
        r#"jobs?where={"kind":"instance_remove","status":"succeeded"}"#,
        |v| v["_meta"]["total"].as_u64().unwrap_or(0) >= 1,
    )
    .await?;

    let log = std::fs::read_to_string(&calls).unwrap_or_default();
    println!(
        "\nstub programs were called {} times (drush, mysql, mysqldump)",
        log.lines().count()
    );
    let _ = stop_tx.send(true);
    server.await??;
    background.await??;
    println!("\nquickstart completed: every step behaved as the operator guide says");
    Ok(())
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("\nquickstart FAILED: {e}");
        std::process::exit(1);
    }
}
