//! HTTP load benchmark (issue 5, point 8): a Rust load generator on hyper's
//! client driving, over loopback, in one run:
//!
//! - a bare hyper "hello world" server (the ceiling of this machine),
//! - `GET /code/<id>`,
//! - `GET /instance?where={"status":"installed"}` over 10,000 instances
//!   (1,000 of them installed; Eve's default page of 500),
//! - `POST /instance` (`{"status": "pending"}`, Basic auth) with 64
//!   connections, and `POST /site` (a resource without hooks, to separate
//!   the HTTP and commit path from the instance rules),
//!
//! on `MemoryStore` and on a durable `SqliteStore` (file in a temp dir,
//! WAL, `synchronous = FULL`). Prints req/s and p50/p99 latency per
//! scenario, then the targets: GET item ≥ 50 % of bare hyper, POST ≥
//! 10,000 req/s on SQLite.
//!
//! Run: `cargo bench -p atlas-http --bench load` (release). Knobs:
//! `ATLAS_BENCH_SECS` (per scenario, default 5), `ATLAS_BENCH_CONNS`
//! (GET connections, default 64), `ATLAS_BENCH_MAX` (request cap per
//! scenario, default 500000), `ATLAS_BENCH_ONLY` (run only the scenarios
//! whose name contains it, e.g. `POST /instance`, for profiling). Client
//! and server share the machine, so
//! absolute numbers are lower than with a separate load host; the ratio to
//! bare hyper is the comparable figure.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use atlas_core::model::Status;
use atlas_core::testing::seed_fleet;
use atlas_core::{MemoryStore, SecretKey, Service, ServiceConfig, Store, SystemClock};
use atlas_http::{hash_password, AppState, HttpConfig, StaticUsers};
use atlas_sqlite::SqliteStore;
use base64::Engine as _;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::json;

/// The allocator `atlas serve` ships with (see atlas-bin's `main.rs`), so
/// the numbers are the binary's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USER: &str = "bench";
const PASSWORD: &str = "bench-password";

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One request shape.
#[derive(Clone)]
struct Scenario {
    name: String,
    store: &'static str,
    addr: SocketAddr,
    method: hyper::Method,
    path: String,
    body: Option<Bytes>,
    auth: bool,
    conns: usize,
}

#[derive(Default)]
struct Stats {
    latencies_us: Vec<u32>,
    errors: u64,
    bytes: u64,
    elapsed: Duration,
}

impl Stats {
    fn rate(&self) -> f64 {
        self.latencies_us.len() as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let i = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        f64::from(self.latencies_us[i]) / 1000.0
    }
}

fn request(s: &Scenario) -> Request<Full<Bytes>> {
    let mut b = Request::builder()
        .method(s.method.clone())
        .uri(&s.path)
        .header("host", s.addr.to_string());
    if s.auth {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
        b = b.header("authorization", format!("Basic {token}"));
    }
    if s.body.is_some() {
        b = b.header("content-type", "application/json");
    }
    b.body(Full::new(s.body.clone().unwrap_or_default()))
        .expect("valid request")
}

/// Drives `s` with `s.conns` keep-alive connections until `duration` has
/// passed or `max` requests were sent.
async fn drive(s: &Scenario, duration: Duration, max: u64) -> Stats {
    if !selected(&s.name) {
        return Stats {
            latencies_us: Vec::new(),
            errors: 0,
            bytes: 0,
            elapsed: Duration::from_secs(1),
        };
    }
    let sent = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for _ in 0..s.conns {
        let s = s.clone();
        let sent = sent.clone();
        tasks.push(tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(s.addr).await.expect("connect");
            stream.set_nodelay(true).ok();
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .expect("handshake");
            tokio::spawn(conn);
            let mut lat = Vec::new();
            let mut errors = 0u64;
            let mut bytes = 0u64;
            while Instant::now() < deadline && sent.fetch_add(1, Ordering::Relaxed) < max {
                if sender.ready().await.is_err() {
                    errors += 1;
                    break;
                }
                let t = Instant::now();
                match sender.send_request(request(&s)).await {
                    Ok(res) => {
                        let ok = res.status().is_success();
                        if let Ok(body) = res.into_body().collect().await {
                            bytes += body.to_bytes().len() as u64;
                        }
                        lat.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
                        if !ok {
                            errors += 1;
                        }
                    }
                    Err(_) => {
                        errors += 1;
                        break;
                    }
                }
            }
            (lat, errors, bytes)
        }));
    }
    let mut stats = Stats::default();
    for t in tasks {
        let (lat, errors, bytes) = t.await.expect("client task");
        stats.latencies_us.extend(lat);
        stats.errors += errors;
        stats.bytes += bytes;
    }
    stats.elapsed = start.elapsed();
    stats.latencies_us.sort_unstable();
    stats
}

/// [`drive`] after an unmeasured second of the same load (connections,
/// caches and CPU frequency settle).
async fn measure(s: &Scenario, duration: Duration, max: u64) -> Stats {
    drive(s, Duration::from_secs(1), max).await;
    drive(s, duration, max).await
}

async fn hello(_: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(b"Hello, World!"))))
}

/// A bare hyper server answering "Hello, World!".
async fn bare_hyper() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            stream.set_nodelay(true).ok();
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), hyper::service::service_fn(hello))
                    .await;
            });
        }
    });
    addr
}

/// The API served on one store, until [`Served::stop`].
struct Served {
    addr: SocketAddr,
    /// The current core's id.
    core: String,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Served {
    /// Stops the server and drops its store, so the next store's scenarios
    /// do not run beside this one's records.
    async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.expect("server task").expect("server");
    }
}

/// Seeds `store` (current core and profile, 10,000 instances of which
/// 1,000 installed) and serves the API on it.
async fn atlas(store: Arc<dyn Store>) -> Served {
    let service = Service::new(
        store,
        Arc::new(SystemClock),
        SecretKey::from_bytes([9; 32]),
        ServiceConfig::default(),
    );
    let fleet = seed_fleet(&service, 10_000, |n| match n % 10 {
        0 => Status::Installed,
        1 | 2 => Status::Available,
        _ => Status::Launched,
    })
    .await
    .expect("seed");
    let users = StaticUsers::new([(USER, hash_password(PASSWORD))]).expect("users");
    let state = AppState::new(service, Arc::new(users), HttpConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(atlas_http::serve(listener, state, async move {
        let _ = stopped.await;
    }));
    Served {
        addr,
        core: fleet.core.to_string(),
        stop,
        task,
    }
}

fn print_row(s: &Scenario, st: &Stats) {
    if !selected(&s.name) {
        return;
    }
    let per_response = st.bytes / (st.latencies_us.len() as u64).max(1);
    println!(
        "{:<46} {:<7} {:>5} {:>9} {:>6} {:>8} {:>10.0} {:>8.2} {:>8.2}",
        s.name,
        s.store,
        s.conns,
        st.latencies_us.len(),
        st.errors,
        per_response,
        st.rate(),
        st.percentile(0.50),
        st.percentile(0.99)
    );
}

/// Whether `ATLAS_BENCH_ONLY` (if set) selects the scenario `name`.
fn selected(name: &str) -> bool {
    std::env::var("ATLAS_BENCH_ONLY").map_or(true, |only| name.contains(&only))
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    let secs = env_u64("ATLAS_BENCH_SECS", 5);
    let conns = env_u64("ATLAS_BENCH_CONNS", 64) as usize;
    let max = env_u64("ATLAS_BENCH_MAX", 500_000);
    let duration = Duration::from_secs(secs);
    println!(
        "atlas-http load benchmark: {secs} s per scenario, loopback, {} CPUs",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "{:<46} {:<7} {:>5} {:>9} {:>6} {:>8} {:>10} {:>8} {:>8}",
        "scenario", "store", "conns", "requests", "errors", "B/resp", "req/s", "p50 ms", "p99 ms"
    );

    let bare = Scenario {
        name: "bare hyper hello world".into(),
        store: "-",
        addr: bare_hyper().await,
        method: hyper::Method::GET,
        path: "/".into(),
        body: None,
        auth: false,
        conns,
    };
    let bare_stats = measure(&bare, duration, max).await;
    print_row(&bare, &bare_stats);

    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = SqliteStore::open_path(dir.path().join("bench.db"))
        .await
        .expect("sqlite");
    let sqlite_stats = sqlite.clone();
    let stores: Vec<(&'static str, Arc<dyn Store>)> = vec![
        ("memory", Arc::new(MemoryStore::new())),
        ("sqlite", Arc::new(sqlite)),
    ];
    let only_store = std::env::var("ATLAS_BENCH_STORE").ok();
    let mut verdicts = Vec::new();
    for (label, store) in stores {
        if only_store.as_deref().is_some_and(|s| s != label) {
            continue;
        }
        let served = atlas(store).await;
        let get_item = Scenario {
            name: "GET /code/<id>".into(),
            store: label,
            addr: served.addr,
            method: hyper::Method::GET,
            path: format!("/code/{}", served.core),
            body: None,
            auth: false,
            conns,
        };
        let st = measure(&get_item, duration, max).await;
        print_row(&get_item, &st);
        let share = st.rate() / bare_stats.rate() * 100.0;
        if selected(&get_item.name) && selected(&bare.name) {
            verdicts.push(format!(
                "GET item on {label}: {:.0} req/s = {share:.0} % of bare hyper (target ≥ 50 %): {}",
                st.rate(),
                if share >= 50.0 { "met" } else { "NOT met" }
            ));
        }

        let where_q = Scenario {
            name: "GET /instance?where={\"status\":\"installed\"}".into(),
            path: "/instance?where={%22status%22:%22installed%22}".into(),
            ..get_item.clone()
        };
        let st = measure(&where_q, duration, max).await;
        print_row(&where_q, &st);

        let post = Scenario {
            name: "POST /instance {\"status\": \"pending\"}".into(),
            method: hyper::Method::POST,
            path: "/instance".into(),
            body: Some(Bytes::from(json!({"status": "pending"}).to_string())),
            auth: true,
            conns: 64,
            ..get_item.clone()
        };
        // One request first, so the argon2 check is cached before timing.
        let warm = drive(
            &Scenario {
                conns: 1,
                ..post.clone()
            },
            Duration::from_secs(5),
            1,
        )
        .await;
        assert!(!selected(&post.name) || warm.errors == 0, "warm-up POST failed");
        let groups_before = sqlite_stats.writer_stats();
        let st = drive(&post, duration, max).await;
        print_row(&post, &st);
        if label == "sqlite" && selected(&post.name) {
            let after = sqlite_stats.writer_stats();
            let groups = after.groups - groups_before.groups;
            let requests = after.requests - groups_before.requests;
            println!(
                "  sqlite writer: {requests} requests in {groups} transactions ({:.1} per group commit)",
                requests as f64 / groups.max(1) as f64
            );
            verdicts.push(format!(
                "POST /instance on sqlite (durable): {:.0} req/s with 64 connections (target ≥ 10,000): {}",
                st.rate(),
                if st.rate() >= 10_000.0 { "met" } else { "NOT met" }
            ));
        }
        // The same path without resource hooks: HTTP, auth, validation and
        // the durable commit only.
        let post_site = Scenario {
            name: "POST /site {\"tag\": [\"bench\"]} (no hooks)".into(),
            path: "/site".into(),
            body: Some(Bytes::from(json!({"tag": ["bench"]}).to_string())),
            ..post.clone()
        };
        let st = drive(&post_site, duration, max).await;
        print_row(&post_site, &st);
        served.stop().await;
    }
    println!();
    for v in verdicts {
        println!("{v}");
    }
    println!("reference: the original (Eve) manages ~1,800 GET and ~640 POST per second on this machine");
}
