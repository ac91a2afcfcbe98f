//! Two `atlas serve` processes on one PostgreSQL database (a fresh schema
//! per test, on `ATLAS_TEST_POSTGRES_URL`; skipped with a printed reason
//! when the server is unreachable, unless `ATLAS_TEST_REQUIRE` names
//! `postgres`): jobs created through one node run exactly once across both,
//! and an etag race between the nodes gives one 200 and one 412.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use atlas_core::query::{Filter, FindQuery, Paging};
use atlas_core::{JobStatus, Store};
use atlas_postgres::testing::TestSchema;
use serde_json::Value;

mod raw_http;

/// One `atlas serve` process; killed when dropped.
struct Node {
    child: Child,
    addr: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `atlas serve` on `schema` with `dir` as data directory; returns
/// the node and the first user's password when this start created it.
fn start(schema: &TestSchema, dir: &Path, name: &str) -> (Node, Option<String>) {
    start_with(schema, dir, name, &[])
}

/// [`start`] with extra `ATLAS_*` settings.
fn start_with(schema: &TestSchema, dir: &Path, name: &str, env: &[(&str, &str)]) -> (Node, Option<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_atlas"))
        .envs(env.iter().copied())
        .arg("--data-dir")
        .arg(dir)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .env("ATLAS_METRICS__ENABLED", "false")
        .env("ATLAS_STORE__BACKEND", "postgres")
        .env("ATLAS_STORE__POSTGRES__URL", schema.url())
        .env("ATLAS_STORE__POSTGRES__SCHEMA", schema.name())
        .env("ATLAS_STORE__POSTGRES__POOL_SIZE", "4")
        .env("ATLAS_WORKER__OWNER", name)
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
    // Keep reading stdout so the node never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    let addr = addr.unwrap_or_else(|| panic!("{name} printed no URL"));
    (Node { child, addr }, password)
}

/// Sends one request; answers the status code and the JSON body.
fn request(
    addr: &str,
    method: &str,
    path: &str,
    password: &str,
    if_match: Option<&str>,
    body: &str,
) -> (u16, Value) {
    let mut headers = vec![
        raw_http::basic("admin", password),
        "Content-Type: application/json".to_owned(),
    ];
    headers.extend(if_match.map(|e| format!("If-Match: {e}")));
    let answer = raw_http::request(addr, method, path, &headers, body);
    let json = serde_json::from_str(raw_http::body(&answer)).unwrap_or(Value::Null);
    (raw_http::status(&answer), json)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Two nodes on a fresh schema sharing one data directory (users, key).
fn two_nodes(rt: &tokio::runtime::Runtime) -> Option<(TestSchema, tempfile::TempDir, Node, Node, String)> {
    let schema = rt.block_on(TestSchema::create())?;
    let dir = tempfile::tempdir().unwrap();
    let (a, password) = start(&schema, dir.path(), "node-a");
    let (b, _) = start(&schema, dir.path(), "node-b");
    Some((
        schema,
        dir,
        a,
        b,
        password.expect("the first start prints the password"),
    ))
}

#[test]
fn jobs_created_through_node_a_run_exactly_once_across_both_nodes() {
    let rt = runtime();
    let Some((schema, _dir, a, _b, pw)) = two_nodes(&rt) else {
        return;
    };
    let n = 30;
    for i in 0..n {
        let body = format!(r#"{{"name": "noop-{i}", "command": "cc all", "query": "{{}}"}}"#);
        let (status, created) = request(&a.addr, "POST", "/commands", &pw, None, &body);
        assert_eq!(status, 201, "{created}");
        let id = created["_id"].as_str().unwrap().to_owned();
        let (status, job) = request(&a.addr, "POST", &format!("/commands/{id}/execute"), &pw, None, "");
        assert!(status == 200 || status == 201 || status == 202, "{status} {job}");
    }
    let store = rt.block_on(schema.store());
    let q = FindQuery {
        filter: Filter::eq("kind", "command_run"),
        paging: Paging::all(),
        ..FindQuery::default()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let jobs = loop {
        let jobs = rt.block_on(store.find_jobs(&q)).unwrap().items;
        if jobs.len() == n && jobs.iter().all(|j| j.status == JobStatus::Succeeded) {
            break jobs;
        }
        assert!(Instant::now() < deadline, "jobs not done: {jobs:?}");
        std::thread::sleep(Duration::from_millis(200));
    };
    for j in &jobs {
        assert_eq!(j.attempts, 1, "job {} was claimed {} times", j.id, j.attempts);
    }
}

#[test]
fn an_etag_race_between_two_nodes_gives_one_200_and_one_412() {
    let rt = runtime();
    let Some((_schema, _dir, a, b, pw)) = two_nodes(&rt) else {
        return;
    };
    for round in 0..5 {
        let body = format!(r#"{{"name": "race-{round}", "command": "cc all", "query": "{{}}"}}"#);
        let (status, created) = request(&a.addr, "POST", "/commands", &pw, None, &body);
        assert_eq!(status, 201, "{created}");
        let id = created["_id"].as_str().unwrap().to_owned();
        let etag = created["_etag"].as_str().unwrap().to_owned();
        let path = format!("/commands/{id}");
        let racers: Vec<_> = [a.addr.clone(), b.addr.clone()]
            .into_iter()
            .enumerate()
            .map(|(k, addr)| {
                let (pw, path, etag) = (pw.clone(), path.clone(), etag.clone());
                std::thread::spawn(move || {
                    let body = format!(r#"{{"command": "racer {k}"}}"#);
                    request(&addr, "PATCH", &path, &pw, Some(&etag), &body).0
                })
            })
            .collect();
        let mut codes: Vec<u16> = racers.into_iter().map(|t| t.join().unwrap()).collect();
        codes.sort_unstable();
        assert_eq!(codes, [200, 412], "round {round}");
    }
}

/// A bare git repository with one commit under `dir`; answers its commit.
fn bare_repo(dir: &Path) -> String {
    let git = |args: &[&str], cwd: &Path| {
        let out = Command::new("git")
            .args(args)
            .current_dir(cwd)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
            .output()
            .expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    git(&["init", "-q"], &work);
    std::fs::write(work.join("index.php"), "<?php\n").unwrap();
    git(&["add", "."], &work);
    git(&["commit", "-qm", "one"], &work);
    git(&["clone", "-q", "--bare", "work", "drupal.git"], dir);
    git(&["rev-parse", "HEAD"], &work)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A git server on loopback whose first connection hangs (the clone of the
/// first attempt never ends) and whose later ones reach `git daemon`
/// serving `base`. Answers the port, the daemon process, and a receiver
/// that gets one message once the first connection is held.
fn stalling_git_server(base: &Path) -> (u16, Child, std::sync::mpsc::Receiver<()>) {
    let daemon_port = free_port();
    let daemon = Command::new("git")
        .args(["daemon", "--reuseaddr", "--export-all", "--listen=127.0.0.1"])
        .arg(format!("--port={daemon_port}"))
        .arg(format!("--base-path={}", base.display()))
        .arg(base)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("git daemon runs");
    let proxy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = proxy.local_addr().unwrap().port();
    let (first_held, held_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for (n, conn) in proxy.incoming().enumerate() {
            let Ok(client) = conn else { continue };
            if n == 0 {
                held.push(client);
                let _ = first_held.send(());
                continue;
            }
            let Ok(server) = TcpStream::connect(("127.0.0.1", daemon_port)) else {
                continue;
            };
            let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let (mut c1, mut s1) = (client, server);
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut c1, &mut s1);
                let _ = s1.shutdown(std::net::Shutdown::Write);
            });
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut s2, &mut c2);
                let _ = c2.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    // Wait for the daemon to listen.
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", daemon_port)).is_err() {
        assert!(Instant::now() < deadline, "git daemon did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    (port, daemon, held_rx)
}

#[test]
fn after_sigkill_of_the_node_holding_a_lease_the_other_node_finishes_the_job() {
    let rt = runtime();
    let Some(schema) = rt.block_on(TestSchema::create()) else {
        return;
    };
    let repos = tempfile::tempdir().unwrap();
    let commit = bare_repo(repos.path());
    let (port, mut daemon, first_held) = stalling_git_server(repos.path());
    let dir = tempfile::tempdir().unwrap();
    // Short leases, reaped every second.
    let env = [("ATLAS_WORKER__LEASE", "4"), ("ATLAS_WORKER__REAP_INTERVAL", "1")];
    let spawn = |name: &str| start_with(&schema, dir.path(), name, &env);
    let (a, pw) = spawn("node-a");
    let (b, _) = spawn("node-b");
    let pw = pw.expect("password");
    let body = format!(
        r#"{{"git_url": "git://127.0.0.1:{port}/drupal.git", "commit_hash": "{commit}",
            "meta": {{"name": "drupal", "version": "7.42", "code_type": "core", "is_current": true}}}}"#
    );
    let (status, created) = request(&a.addr, "POST", "/code", &pw, None, &body);
    assert_eq!(status, 201, "{created}");

    let store = rt.block_on(schema.store());
    let q = FindQuery {
        filter: Filter::eq("kind", "code_deploy"),
        paging: Paging::all(),
        ..FindQuery::default()
    };
    let find = || rt.block_on(store.find_jobs(&q)).unwrap().items;
    // Wait for a node to lease the job (its clone hangs on the first connection).
    let deadline = Instant::now() + Duration::from_secs(30);
    let (job, holder, leased_until) = loop {
        if let Some(j) = find().into_iter().find(|j| j.status == JobStatus::Running) {
            break (j.id, j.lease_owner.clone().unwrap(), j.lease_until.unwrap());
        }
        assert!(
            Instant::now() < deadline,
            "no node claimed the deploy: {:?}",
            find()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    // Kill the holder only once its clone is stuck on the held connection:
    // killed earlier, the survivor's clone would be the first connection
    // and hang instead.
    first_held
        .recv_timeout(Duration::from_secs(30))
        .expect("the first attempt's clone never connected");
    let (mut victim, survivor) = if holder == "node-a" { (a, b) } else { (b, a) };
    victim.child.kill().expect("SIGKILL");
    victim.child.wait().unwrap();

    let deadline = Instant::now() + Duration::from_secs(60);
    let done = loop {
        let j = rt.block_on(store.job(&job)).unwrap().unwrap();
        if j.status == JobStatus::Succeeded {
            break j;
        }
        assert!(Instant::now() < deadline, "the job was not finished: {j:?}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(done.attempts, 2, "{done:?}");
    // The dead node's lease may have been renewed once more before it died.
    assert!(
        done.started.unwrap() >= leased_until,
        "the second attempt started after the lease ran out: {done:?}"
    );
    let (status, _) = request(&survivor.addr, "GET", "/code", &pw, None, "");
    assert_eq!(status, 200);
    let _ = daemon.kill();
    let _ = daemon.wait();
}
