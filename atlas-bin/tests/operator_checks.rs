//! What operators are told: `atlas serve` warns about each missing
//! prerequisite at start and lists them in `/readyz` (degraded, still
//! ready); `atlas routes check` prints how the route map differs from the
//! records and exits non-zero when it does.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

mod raw_http;

use raw_http::get;

#[test]
fn serve_warns_once_per_missing_prerequisite_and_readyz_lists_them_as_degraded() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_atlas"))
        .arg("--data-dir")
        .arg(dir.path())
        // API only: readiness needs no worker or scheduler beat first.
        .args(["serve", "--no-worker", "--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .env("NO_COLOR", "1")
        .env("ATLAS_METRICS__ENABLED", "false")
        .env("ATLAS_SHELL__PROGRAMS__GIT", "/nonexistent/bin/git")
        .env("ATLAS_SHELL__PROGRAMS__DRUSH", "/nonexistent/bin/drush")
        .env("ATLAS_SHELL__PROGRAMS__MYSQL", "/nonexistent/bin/mysql")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("atlas runs");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| {
            l.strip_prefix("Atlas is listening on http://")
                .map(|r| r.split('/').next().unwrap().to_owned())
        })
        .expect("the URL is printed");

    let ready = get(&addr, "/readyz");
    assert!(ready.starts_with("HTTP/1.1 200"), "still ready: {ready}");
    assert!(ready.contains("Content-Type: application/json"), "{ready}");
    let body = ready.split("\r\n\r\n").nth(1).unwrap();
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(json["status"], "ready");
    assert_eq!(json["degraded"], serde_json::json!(["prerequisites"]));
    let detail = json["checks"]["prerequisites"].as_str().unwrap();
    for setting in [
        "shell.programs.git = \"/nonexistent/bin/git\" is not found",
        "shell.programs.drush = \"/nonexistent/bin/drush\" is not found",
        "shell.programs.mysql = \"/nonexistent/bin/mysql\" is not found",
        "shell.database.admin_user is not set",
    ] {
        assert!(detail.contains(setting), "{setting}: {detail}");
    }
    assert_eq!(json["checks"]["hosts"], "not checked yet");

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let _: Vec<String> = lines.map_while(Result::ok).collect();
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(child.wait().unwrap().success());
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("missing prerequisite"))
        .collect();
    assert_eq!(warnings.len(), 4, "one warning each:\n{stderr}");
    for program in ["git", "drush", "mysql"] {
        assert_eq!(
            warnings
                .iter()
                .filter(|w| w.contains(&format!("install {program} or set shell.programs.{program}")))
                .count(),
            1,
            "{program}:\n{stderr}"
        );
    }
}

fn routes_check(data: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_atlas"))
        .arg("--data-dir")
        .arg(data)
        .args(["routes", "check"])
        .env("RUST_LOG", "error")
        .output()
        .expect("atlas runs")
}

#[test]
fn routes_check_prints_the_differences_and_fails_only_when_the_map_differs() {
    let dir = tempfile::tempdir().unwrap();
    let out = routes_check(dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "no routes, no map: {stdout}");
    assert!(
        stdout.contains("local: route map matches the records"),
        "{stdout}"
    );

    std::fs::write(dir.path().join("routes.map"), "\"/stale\" := \"legacy\",\n").unwrap();
    let out = routes_check(dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a differing map fails: {stdout}");
    assert!(stdout.contains("local: 1 difference(s)"), "{stdout}");
    assert!(
        stdout.contains("not in the records: \"/stale\" := \"legacy\","),
        "{stdout}"
    );
    assert!(
        stderr.contains("1 of 1 load balancer(s) differ from the records"),
        "{stderr}"
    );
}
