//! The load benchmark of the shipped server (issue 20): the release `atlas`
//! binary of this package (or `LOAD_BIN`) started as a user starts it —
//! `atlas serve` on loopback with a fresh data directory, the default
//! configuration but for the listen ports (API and metrics), log level
//! `warn` — driven from
//! outside by `wrk` (Debian's `wrk` package; 2 threads, 64 connections),
//! every scenario alternating with a bare hyper hello-world server in this
//! process (the ceiling of the machine, measured by the same generator in
//! the same minute). Reports the median of `LOAD_ROUNDS` rounds per
//! scenario and its ratio to bare hyper's median.
//!
//! ```sh
//! cargo bench -p atlas-bin --bench shipped_load
//! LOAD_SECS=8 LOAD_ROUNDS=3 LOAD_INSTANCES=155000 cargo bench -p atlas-bin --bench shipped_load
//! LOAD_ONLY=GET,site cargo bench -p atlas-bin --bench shipped_load   # scenarios naming GET or site
//! ```
//!
//! Scenarios: `GET /code/<id>`, `GET /instance/<id>`, `POST /site` (no
//! jobs), `POST /instance` with the worker on (the default) and on an
//! API-only server (`serve --no-worker`; the worker-on server is stopped
//! first, as its worker goes on retrying the failed provisions in the
//! background), then, once the API-only server
//! holds `LOAD_INSTANCES` pending instances, `GET /instance?where=
//! {"status":"pending"}&max_results=25` with 1 and with 64 connections
//! (then again, restarted with `http.optimize_pagination_for_speed`),
//! and the servers' peak RSS.
//!
//! wrk runs on the same two cores as the server, so absolute numbers are
//! lower than with a separate load host; the ratio to bare hyper is the
//! comparable figure. Bounded in time; loopback only.

use std::convert::Infallible;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use base64::Engine as _;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A running `atlas serve`.
struct Server {
    child: Child,
    addr: String,
    auth: String,
}

impl Server {
    /// Starts `bin serve` on a free loopback port with `dir` as data
    /// directory; `extra` are more `serve` arguments.
    fn start(bin: &str, dir: &Path, extra: &[&str]) -> Self {
        Self::spawn(bin, dir, extra, &[], None)
    }

    /// Stops this server and starts `bin serve` again on its data
    /// directory `dir` (same user), with `env` set.
    fn restart(self, bin: &str, dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Self {
        let auth = self.auth.clone();
        drop(self);
        Self::spawn(bin, dir, extra, env, Some(auth))
    }

    /// `auth`: the `Authorization` value of a data directory's existing
    /// first user (`None`: a fresh directory, whose first user is read
    /// from the output).
    fn spawn(bin: &str, dir: &Path, extra: &[&str], env: &[(&str, &str)], auth: Option<String>) -> Self {
        let mut child = Command::new(bin)
            .arg("--data-dir")
            .arg(dir)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .envs(env.iter().copied())
            .env("RUST_LOG", "warn")
            // Two servers on one host: each its own metrics port.
            .env("ATLAS_METRICS__LISTEN", "127.0.0.1:0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("atlas serve starts");
        let mut out = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut password = None;
        while let Some(line) = out.next() {
            let line = line.expect("stdout");
            if let Some(rest) = line.strip_prefix("Created the first API user: admin / ") {
                password = Some(rest.trim().to_owned());
            }
            if let Some(rest) = line.strip_prefix("Atlas is listening on http://") {
                let addr = rest.split('/').next().unwrap_or_default().to_owned();
                let auth = auth.unwrap_or_else(|| {
                    let password = password.expect("a fresh data directory creates the first user");
                    base64::engine::general_purpose::STANDARD.encode(format!("admin:{password}"))
                });
                // Keep reading: a closed pipe would fail the server's next
                // line of output.
                std::thread::spawn(move || out.for_each(drop));
                return Self { child, addr, auth };
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("atlas serve did not report its address");
    }

    /// Sends one request; the status and body.
    fn call(&self, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        let mut s = TcpStream::connect(&self.addr).expect("connect");
        let body = body.unwrap_or("");
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Basic {}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.addr,
            self.auth,
            body.len()
        );
        s.write_all(req.as_bytes()).expect("send");
        let mut answer = String::new();
        s.read_to_string(&mut answer).expect("read");
        let status = answer.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        (status, body.to_owned())
    }

    /// POSTs `body` to `path` and returns the new record's `_id`.
    fn create(&self, path: &str, body: &str) -> String {
        let (status, answer) = self.call("POST", path, Some(body));
        assert_eq!(status, 201, "POST {path} answered {status}: {answer}");
        let doc: serde_json::Value = serde_json::from_str(&answer).expect("JSON");
        doc["_id"].as_str().expect("_id").to_owned()
    }

    /// `_meta.total` of `GET path`.
    fn total(&self, path: &str) -> u64 {
        let (_, answer) = self.call("GET", path, None);
        let doc: serde_json::Value = serde_json::from_str(&answer).expect("JSON");
        doc["_meta"]["total"].as_u64().unwrap_or(0)
    }

    /// Peak resident set size in MiB.
    fn peak_rss_mib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0)
            / 1024
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What one wrk run measured.
#[derive(Debug, Clone, Copy, Default)]
struct Run {
    rate: f64,
    p50_ms: f64,
    errors: u64,
}

/// One request shape for wrk.
struct Scenario {
    name: String,
    url: String,
    /// `POST` body (JSON) with Basic credentials; `None` for a GET.
    post: Option<(String, String)>,
    conns: u64,
}

/// Runs wrk on `s` for `secs` seconds.
fn wrk(s: &Scenario, secs: u64, script_dir: &Path) -> Run {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t", &s.conns.min(2).to_string()])
        .args(["-c", &s.conns.to_string()])
        .args(["-d", &format!("{secs}s")])
        .arg("--latency");
    if let Some((body, auth)) = &s.post {
        let script = script_dir.join("post.lua");
        std::fs::write(
            &script,
            format!(
                "wrk.method = \"POST\"\nwrk.body = '{body}'\n\
                 wrk.headers[\"Content-Type\"] = \"application/json\"\n\
                 wrk.headers[\"Authorization\"] = \"Basic {auth}\"\n"
            ),
        )
        .expect("write the wrk script");
        cmd.arg("-s").arg(&script);
    }
    let out = cmd.arg(&s.url).output().expect("wrk runs (apt-get install wrk)");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut run = Run::default();
    for line in text.lines() {
        let line = line.trim();
        if let Some(v) = line.strip_prefix("Requests/sec:") {
            run.rate = v.trim().parse().unwrap_or(0.0);
        } else if let Some(v) = line.strip_prefix("50%") {
            run.p50_ms = millis(v.trim());
        } else if let Some(v) = line.strip_prefix("Non-2xx or 3xx responses:") {
            run.errors += v.trim().parse().unwrap_or(0);
        } else if let Some(v) = line.strip_prefix("Socket errors:") {
            run.errors += v
                .split(',')
                .filter_map(|p| p.split_whitespace().last()?.parse::<u64>().ok())
                .sum::<u64>();
        }
    }
    run
}

/// wrk's latency (`812.00us`, `9.41ms`, `1.20s`) in milliseconds.
fn millis(v: &str) -> f64 {
    let (num, unit) = v.split_at(v.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(v.len()));
    let n: f64 = num.parse().unwrap_or(0.0);
    match unit {
        "us" => n / 1000.0,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        _ => n,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

async fn hello(_: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(b"Hello, World!"))))
}

/// A bare hyper HTTP/1.1 server on a 2-worker runtime of its own thread.
fn bare_hyper() -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
            tx.send(listener.local_addr().expect("addr")).expect("send");
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), hyper::service::service_fn(hello))
                        .await;
                });
            }
        });
    });
    rx.recv().expect("bare hyper starts")
}

/// Grows the API-only server's pending instances to `want` with wrk POSTs.
fn fill(api: &Server, want: u64, script_dir: &Path) {
    let post = Scenario {
        name: "fill".into(),
        url: format!("http://{}/instance", api.addr),
        post: Some((r#"{"status": "pending"}"#.into(), api.auth.clone())),
        conns: 64,
    };
    loop {
        let have = api.total("/instance?max_results=1");
        if have >= want {
            println!("  ({have} instances on the API-only server)");
            return;
        }
        // About 10,000 per second at best: ask for what is missing.
        let secs = ((want - have) / 8_000).clamp(2, 30);
        let run = wrk(&post, secs, script_dir);
        assert!(run.rate > 0.0, "wrk could not POST instances to fill the server");
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("shipped_load: bench");
        return;
    }
    if Command::new("wrk").arg("--version").output().is_err() {
        eprintln!("shipped_load needs wrk: apt-get install wrk");
        std::process::exit(2);
    }
    let bin = std::env::var("LOAD_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_atlas").to_owned());
    let secs = env_or("LOAD_SECS", 8).clamp(1, 60);
    let rounds = env_or("LOAD_ROUNDS", 3).clamp(1, 9);
    let instances = env_or("LOAD_INSTANCES", 155_000);
    let scripts = tempfile::tempdir().expect("temp dir");
    // `LOAD_ONLY`: comma-separated parts of scenario names to run (all
    // when unset); the pending-page scenarios fill the server only when
    // one of them is chosen.
    let only: Vec<String> = std::env::var("LOAD_ONLY")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    let chosen = |s: &Scenario| only.is_empty() || only.iter().any(|p| s.name.contains(p.as_str()));

    let bare = bare_hyper();
    let (full_dir, api_dir) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let full = Server::start(&bin, full_dir.path(), &[]);
    let api = Server::start(&bin, api_dir.path(), &["--no-worker"]);
    // Current code items (instances need them), whose repositories do not
    // exist: their deploys fail, and so does every provision, fast — the
    // case the worker-on scenario measures.
    let core = r#"{"git_url": "https://example.invalid/drupal.git",
        "commit_hash": "0123456789abcdef0123456789abcdef01234567",
        "meta": {"name": "drupal", "version": "7.42", "code_type": "core", "is_current": true}}"#;
    let profile = r#"{"git_url": "https://example.invalid/express.git",
        "commit_hash": "89abcdef0123456789abcdef0123456789abcdef",
        "meta": {"name": "express", "version": "2.2.5", "code_type": "profile", "is_current": true}}"#;
    let code = full.create("/code", core);
    full.create("/code", profile);
    api.create("/code", core);
    api.create("/code", profile);
    let instance = full.create("/instance", r#"{"status": "pending"}"#);

    let hello = Scenario {
        name: "bare hyper hello world".into(),
        url: format!("http://{bare}/"),
        post: None,
        conns: 64,
    };
    let scenario = |name: &str, server: &Server, path: &str, body: Option<&str>, conns: u64| Scenario {
        name: name.into(),
        url: format!("http://{}{path}", server.addr),
        post: body.map(|b| (b.to_owned(), server.auth.clone())),
        conns,
    };
    let first = vec![
        scenario("GET /code/<id>", &full, &format!("/code/{code}"), None, 64),
        scenario(
            "GET /instance/<id>",
            &full,
            &format!("/instance/{instance}"),
            None,
            64,
        ),
        scenario(
            "POST /site (no jobs)",
            &full,
            "/site",
            Some(r#"{"tag": ["bench"]}"#),
            64,
        ),
        scenario(
            "POST /instance, worker on (default)",
            &full,
            "/instance",
            Some(r#"{"status": "pending"}"#),
            64,
        ),
    ];
    let api_only = vec![scenario(
        "POST /instance, API only (--no-worker)",
        &api,
        "/instance",
        Some(r#"{"status": "pending"}"#),
        64,
    )];
    let page = "/instance?where=%7B%22status%22%3A%22pending%22%7D&max_results=25";
    let second = vec![
        scenario("GET pending page of 25, 1 conn", &api, page, None, 1),
        scenario("GET pending page of 25, 64 conns", &api, page, None, 64),
    ];

    println!(
        "shipped_load: {bin}\n  wrk, {secs} s per run, {rounds} rounds, each scenario right after bare hyper; medians"
    );
    let mut hello_rates = Vec::new();
    let mut rows = Vec::new();
    let mut measure = |list: &[Scenario], rows: &mut Vec<(String, u64, f64, f64, u64)>| {
        for s in list.iter().filter(|s| chosen(s)) {
            let (mut rates, mut p50s, mut errors) = (Vec::new(), Vec::new(), 0);
            for _ in 0..rounds {
                hello_rates.push(wrk(&hello, secs, scripts.path()).rate);
                let run = wrk(s, secs, scripts.path());
                rates.push(run.rate);
                p50s.push(run.p50_ms);
                errors += run.errors;
            }
            rows.push((s.name.clone(), s.conns, median(rates), median(p50s), errors));
        }
    };
    measure(&first, &mut rows);
    // The worker-on server keeps retrying the provisions that failed (with
    // backoff) for minutes: stopped here, so that it takes no CPU from the
    // API-only server's scenarios.
    let full_rss = full.peak_rss_mib();
    drop(full);
    measure(&api_only, &mut rows);
    let paged = second.iter().any(&chosen);
    if paged {
        fill(&api, instances, scripts.path());
    }
    measure(&second, &mut rows);
    let api_rss = api.peak_rss_mib();
    let have = api.total("/instance?max_results=1");
    // The same instances, served without counting the matches.
    let fast = api.restart(
        &bin,
        api_dir.path(),
        &["--no-worker"],
        &[("ATLAS_HTTP__OPTIMIZE_PAGINATION_FOR_SPEED", "true")],
    );
    let third = vec![
        scenario(
            "same, uncounted (optimize_pagination), 1 conn",
            &fast,
            page,
            None,
            1,
        ),
        scenario(
            "same, uncounted (optimize_pagination), 64 conns",
            &fast,
            page,
            None,
            64,
        ),
    ];
    measure(&third, &mut rows);

    let ceiling = median(hello_rates);
    println!(
        "\n{:<42} {:>5} {:>10} {:>8} {:>8} {:>7}",
        "scenario", "conns", "req/s", "% bare", "p50 ms", "errors"
    );
    println!(
        "{:<42} {:>5} {:>10.0} {:>8} {:>8} {:>7}",
        hello.name, 64, ceiling, "100 %", "-", "-"
    );
    for (name, conns, rate, p50, errors) in rows {
        println!(
            "{name:<42} {conns:>5} {rate:>10.0} {:>6.0} % {p50:>8.2} {errors:>7}",
            rate / ceiling * 100.0
        );
    }
    println!("\npeak RSS: {full_rss} MiB (worker on), {api_rss} MiB (API only, {have} instances)");
}
