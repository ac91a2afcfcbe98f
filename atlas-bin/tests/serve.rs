//! `atlas serve` as a newcomer runs it: a fresh data directory, the first
//! user printed once, the seed's code sample accepted, a graceful stop on
//! SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

mod raw_http;

use raw_http::get;

fn post(addr: &str, path: &str, user: &str, password: &str, body: &str) -> String {
    let headers = [
        raw_http::basic(user, password),
        "Content-Type: application/json".to_owned(),
    ];
    raw_http::request(addr, "POST", path, &headers, body)
}

#[test]
fn serve_starts_on_a_fresh_data_dir_accepts_the_seed_code_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_atlas"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .env("ATLAS_METRICS__LISTEN", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("atlas runs");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut password = None;
    let mut addr = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("Created the first API user: admin / ") {
            password = Some(rest.trim().to_owned());
        }
        if let Some(rest) = line.strip_prefix("Atlas is listening on http://") {
            addr = Some(rest.split('/').next().unwrap().to_owned());
            break;
        }
    }
    let password = password.expect("the first user's password is printed");
    let addr = addr.expect("the URL is printed");

    let seed = r#"{"git_url": "/nonexistent/drupal.git", "commit_hash": "9ee4a3a7c0b5c9b7f2a5a38dd6c3f1a1c2b5e4d1",
                   "meta": {"name": "drupal", "version": "7.42", "code_type": "core", "is_current": true}}"#;
    let answer = post(&addr, "/code", "admin", &password, seed);
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    let wrong = post(&addr, "/code", "admin", "not-the-password", seed);
    assert!(wrong.starts_with("HTTP/1.1 401"), "{wrong}");

    let users = std::fs::read_to_string(dir.path().join("users.toml")).unwrap();
    assert!(!users.contains(&password), "only the hash is stored");
    assert!(dir.path().join("atlas.db").exists());
    assert!(dir.path().join("secret.key").exists());

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    assert!(status.success(), "exit status {status:?}");
    assert!(rest.iter().any(|l| l == "Atlas stopped."), "{rest:?}");
}

#[test]
fn config_default_prints_a_config_that_check_accepts_apart_from_missing_programs() {
    let out = Command::new(env!("CARGO_BIN_EXE_atlas"))
        .args(["config", "default"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("[scheduler.tasks]"));
    assert!(text.contains("[ui]\n"), "the dashboard's settings are shown");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("atlas.toml");
    std::fs::write(&file, &text).unwrap();
    let check = Command::new(env!("CARGO_BIN_EXE_atlas"))
        .arg("--config")
        .arg(&file)
        .arg("--data-dir")
        .arg(dir.path())
        .args(["config", "check"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&check.stdout);
    // drush and mysql are not installed here; everything else passes.
    for line in stdout.lines().filter(|l| l.starts_with("problem:")) {
        assert!(line.contains("drush") || line.contains("mysql"), "{line}");
    }
}

#[test]
fn serve_without_a_worker_serves_the_dashboard_under_the_base_path_and_the_api_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_atlas"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["serve", "--no-worker", "--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .env("ATLAS_METRICS__ENABLED", "false")
        .env("ATLAS_HTTP__BASE_PATH", "/atlas")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("atlas runs");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut addr = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("Atlas is listening on http://") {
            addr = Some(rest.split('/').next().unwrap().to_owned());
        }
        if line.starts_with("Dashboard on http://") {
            assert!(line.ends_with("/atlas/ui/"), "{line}");
            break;
        }
    }
    let addr = addr.expect("the URL is printed");
    std::thread::spawn(move || for _ in lines {});
    let page = get(&addr, "/atlas/ui/");
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("<h1>Fleet overview</h1>"), "{page}");
    let api = get(&addr, "/atlas/");
    assert!(api.starts_with("HTTP/1.1 200") && api.contains("_links"), "{api}");
    assert!(get(&addr, "/ui/").starts_with("HTTP/1.1 404"));
    let _ = child.kill();
    let _ = child.wait();
}
