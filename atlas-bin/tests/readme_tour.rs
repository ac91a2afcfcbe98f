//! The README's five-minute tour, run as written: its first block (`atlas
//! demo`, then `atlas serve` on the demo's configuration) with the built
//! binary in place of `cargo run --release -p atlas-bin --`, its second
//! block (curl) and then its third (the `atlas` CLI, the same replacement)
//! with `bash` against that server. Only the port differs (a free one
//! instead of 8080, so tests can run side by side). Needs `bash`, `curl`,
//! `jq` and `git` (the service name is `tour`: skipped with a printed reason
//! when one is missing, unless `ATLAS_TEST_REQUIRE` names `tour`).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use atlas_core::testing::service::require_service;

const CARGO_RUN: &str = "cargo run --release -p atlas-bin --";

/// The fenced `sh` blocks of the README section `## Five-minute tour`.
fn tour_blocks() -> Vec<String> {
    section_blocks("## Five-minute tour")
}

/// The fenced `sh` blocks of the README section headed `heading`.
fn section_blocks(heading: &str) -> Vec<String> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md")).unwrap();
    let start = readme
        .find(heading)
        .unwrap_or_else(|| panic!("the README has {heading}"));
    let rest = &readme[start + 3..];
    let section = &rest[..rest.find("\n## ").unwrap_or(rest.len())];
    let mut blocks = Vec::new();
    let mut lines = section.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "```sh" {
            let body: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
            blocks.push(body.join("\n"));
        }
    }
    blocks
}

fn missing_programs() -> Result<(), String> {
    let missing: Vec<&str> = ["bash", "curl", "jq", "git"]
        .into_iter()
        .filter(|p| {
            Command::new(p)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_err()
        })
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("missing programs: {}", missing.join(", ")))
    }
}

/// Kills the server when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn the_readme_tour_and_rollout_example_run_as_written() {
    if !require_service("tour", missing_programs()) {
        return;
    }
    let blocks = tour_blocks();
    assert_eq!(
        blocks.len(),
        3,
        "the tour has a server block, a curl block and a CLI block: {blocks:?}"
    );
    let setup: Vec<&str> = blocks[0].lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(setup.len(), 2, "demo, then serve: {setup:?}");
    let atlas = env!("CARGO_BIN_EXE_atlas");
    let as_run = |line: &str| {
        assert!(line.starts_with(CARGO_RUN), "{line}");
        line.replacen(CARGO_RUN, &format!("'{atlas}'"), 1)
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let bash = |script: &str| {
        let mut c = Command::new("bash");
        c.args(["-c", script])
            .current_dir(dir.path())
            .env("RUST_LOG", "warn")
            .env("ATLAS_HTTP__LISTEN", format!("127.0.0.1:{port}"))
            .env("ATLAS_METRICS__ENABLED", "false");
        c
    };

    let demo = bash(&as_run(setup[0])).output().unwrap();
    assert!(
        demo.status.success(),
        "{}{}",
        String::from_utf8_lossy(&demo.stdout),
        String::from_utf8_lossy(&demo.stderr)
    );
    let mut child = bash(&format!("exec {}", as_run(setup[1])))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _server = Server(child);
    let mut lines = BufReader::new(stdout).lines();
    let listening = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|l| l.starts_with("Atlas is listening on"));
    assert!(listening, "atlas serve did not start");
    std::thread::spawn(move || for _ in lines {});

    let script = blocks[1].replace("127.0.0.1:8080", &format!("127.0.0.1:{port}"));
    assert_ne!(script, blocks[1], "the tour talks to 127.0.0.1:8080");
    let cli = blocks[2]
        .replace("127.0.0.1:8080", &format!("127.0.0.1:{port}"))
        .replace(CARGO_RUN, &format!("'{atlas}'"));
    assert!(
        !cli.contains("cargo run") && cli.contains(&format!("127.0.0.1:{port}")),
        "the CLI block runs the built binary against the server: {cli}"
    );
    // The rollout example runs after the tour, with its variables.
    let rollout = section_blocks("## Rolling out a release");
    assert_eq!(rollout.len(), 1, "one rollout example: {rollout:?}");
    let script = format!("{script}\n{cli}\n{}", rollout[0]);
    let mut tour = bash(&format!("set -eu -o pipefail\n{script}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The tour polls until each step is done; a stuck step must not hang
    // the suite.
    let deadline = Instant::now() + Duration::from_secs(180);
    while tour.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = tour.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = tour.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "the tour failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("\"/mysite\""),
        "the route map lists the route: {stdout}"
    );
    assert!(
        stdout.contains("\"succeeded\": 1"),
        "the command run's summary: {stdout}"
    );
    assert!(stdout.contains("index.php"), "the command's output: {stdout}");
    assert!(
        stdout.contains(": launched") && stdout.contains("2 instance(s): 2 succeeded, 0 failed"),
        "the CLI launched the second instance and ran the command on both: {stdout}"
    );
    assert!(
        stdout.contains(": installed\n"),
        "taken down and restored: {stdout}"
    );
    assert!(
        stdout.contains("\"state\": \"completed\"") && stdout.contains("\"failed\": []"),
        "the rollout example moved every instance to the new release: {stdout}"
    );
    let map = std::fs::read_to_string(dir.path().join("atlas-demo/route-map.txt")).unwrap();
    assert!(
        map.contains("\"/othersite\""),
        "the CLI's route is published: {map}"
    );
    let calls = std::fs::read_to_string(dir.path().join("atlas-demo/stub-calls.log")).unwrap();
    assert!(calls.contains("drush"), "the install ran the stub drush: {calls}");
}
