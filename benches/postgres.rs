//! PostgreSQL against SQLite in one run (issue 17): over loopback HTTP with
//! a Rust load generator on hyper's client,
//!
//! - `POST /instance` (`{"status": "pending"}`, durable) with 1 connection
//!   (the latency of one create) and with 64 connections,
//! - `GET /instance/<id>` (an item),
//! - `GET /instance?where={"sid": …}` (an indexed find) over 100,000
//!   instances, p50,
//!
//! each with the CPU time per request of this process (server and load
//! generator: `bench µs`) and of all `postgres` processes (`pg µs`, read
//! from `/proc`; other users of the server count too), which compare runs
//! on a shared machine better than the rates do;
//!
//! then worker throughput on PostgreSQL: 1, 2 and 4 workers, each with its
//! own connection pool (as separate processes would have), claiming and
//! finishing 2,000 no-op jobs; SQLite with one worker for comparison.
//!
//! Run: `cargo bench --bench postgres --features postgres` (release; the
//! server is `ATLAS_TEST_POSTGRES_URL`, default
//! `postgres://root@127.0.0.1:5432/test`, on a fresh schema). Knobs:
//! `ATLAS_BENCH_SECS` (per scenario, default 5), `ATLAS_BENCH_INSTANCES`
//! (default 100000), `ATLAS_BENCH_ONLY` (run only the HTTP scenarios whose
//! name contains it, e.g. `POST /instance`; the worker throughput is
//! skipped then), `ATLAS_BENCH_STORE` (`sqlite` or `postgres` for one
//! store only), for profiling.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use atlas_core::model::{Resource, Status, Timestamp};
use atlas_core::query::FindQuery;
use atlas_core::testing::seed_fleet;
use atlas_core::{Batch, JobSpec, LeaseSpec, Outcome, SecretKey, Service, ServiceConfig, Store, SystemClock};
use atlas_http::{hash_password, AppState, HttpConfig, StaticUsers};
use atlas_postgres::testing::TestSchema;
use atlas_sqlite::SqliteStore;
use base64::Engine as _;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::json;

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

/// Requests per second and latencies (µs, sorted) of one scenario.
struct Stats {
    lat: Vec<u32>,
    errors: u64,
    elapsed: Duration,
}

impl Stats {
    fn rate(&self) -> f64 {
        self.lat.len() as f64 / self.elapsed.as_secs_f64()
    }
    fn p(&self, q: f64) -> f64 {
        if self.lat.is_empty() {
            return 0.0;
        }
        f64::from(self.lat[((self.lat.len() as f64 - 1.0) * q).round() as usize]) / 1000.0
    }
}

/// Drives `method path` with `conns` keep-alive connections for `secs`.
async fn drive(
    addr: std::net::SocketAddr,
    method: hyper::Method,
    path: String,
    body: Option<&'static str>,
    conns: usize,
    secs: Duration,
) -> Stats {
    let start = Instant::now();
    let deadline = start + secs;
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let (method, path, token) = (method.clone(), path.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
            stream.set_nodelay(true).ok();
            let (mut tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .expect("handshake");
            tokio::spawn(conn);
            let (mut lat, mut errors) = (Vec::new(), 0u64);
            while Instant::now() < deadline {
                if tx.ready().await.is_err() {
                    errors += 1;
                    break;
                }
                let req = Request::builder()
                    .method(method.clone())
                    .uri(&path)
                    .header("host", addr.to_string())
                    .header("authorization", format!("Basic {token}"))
                    .header("content-type", "application/json")
                    .body(Full::new(Bytes::from_static(body.unwrap_or("").as_bytes())))
                    .expect("request");
                let t = Instant::now();
                match tx.send_request(req).await {
                    Ok(res) => {
                        let ok = res.status().is_success();
                        let _ = res.into_body().collect().await;
                        lat.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
                        errors += u64::from(!ok);
                    }
                    Err(_) => {
                        errors += 1;
                        break;
                    }
                }
            }
            (lat, errors)
        }));
    }
    let mut st = Stats {
        lat: Vec::new(),
        errors: 0,
        elapsed: Duration::ZERO,
    };
    for t in tasks {
        let (lat, errors) = t.await.expect("client");
        st.lat.extend(lat);
        st.errors += errors;
    }
    st.elapsed = start.elapsed();
    st.lat.sort_unstable();
    st
}

/// Seeds `store` and serves the API on it; answers the address, an
/// instance id and its sid.
async fn serve(store: Arc<dyn Store>, instances: u32) -> (std::net::SocketAddr, String, String) {
    let service = Service::new(
        store.clone(),
        Arc::new(SystemClock),
        SecretKey::from_bytes([9; 32]),
        ServiceConfig::default(),
    );
    seed_fleet(&service, instances, |n| {
        if n % 10 == 0 {
            Status::Installed
        } else {
            Status::Launched
        }
    })
    .await
    .expect("seed");
    let one = store
        .find(Resource::Instance, &FindQuery::default())
        .await
        .expect("find")
        .items
        .remove(0);
    let sid = one.str_field("sid").expect("a sid").to_owned();
    let users = StaticUsers::new([(USER, hash_password(PASSWORD))]).expect("users");
    let state = AppState::new(service, Arc::new(users), HttpConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(atlas_http::serve(listener, state, std::future::pending::<()>()));
    (addr, one.id.to_string(), sid)
}

fn row(scenario: &str, store: &str, conns: usize, st: &Stats, cpu: (f64, f64)) {
    let per = |secs: f64| secs * 1e6 / st.lat.len().max(1) as f64;
    println!(
        "{scenario:<40} {store:<9} {conns:>5} {:>8} {:>6} {:>9.0} {:>8.2} {:>8.2} {:>9.0} {:>9.0}",
        st.lat.len(),
        st.errors,
        st.rate(),
        st.p(0.5),
        st.p(0.99),
        per(cpu.0),
        per(cpu.1)
    );
}

/// CPU seconds (user + system) used so far by this process and by every
/// `postgres` process (the server's backends; other databases' too), from
/// `/proc` (zero where there is none). The machine is shared, so the CPU
/// a request costs compares runs better than the rate.
fn cpu_seconds() -> (f64, f64) {
    fn ticks(stat: &str) -> Option<(String, f64)> {
        let (head, rest) = stat.rsplit_once(')')?;
        let comm = head.split_once('(')?.1.to_owned();
        let f: Vec<&str> = rest.split_whitespace().collect();
        let t = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
        Some((comm, t / 100.0))
    }
    let own = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| ticks(&s))
        .map_or(0.0, |(_, t)| t);
    let mut server = 0.0;
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        if let Some((comm, t)) = std::fs::read_to_string(entry.path().join("stat"))
            .ok()
            .and_then(|s| ticks(&s))
        {
            if comm == "postgres" {
                server += t;
            }
        }
    }
    (own, server)
}

/// `workers` workers (each its own store handle from `open`) claiming and
/// finishing `jobs` no-op jobs; answers jobs per second.
async fn worker_throughput<S: Store + Clone>(stores: Vec<S>, jobs: u64) -> f64 {
    let now = Timestamp::now();
    for chunk in 0..jobs / 100 {
        let mut b = Batch::new(now);
        for n in 0..100 {
            b.enqueue(JobSpec::new("noop", json!({"n": chunk * 100 + n}), now));
        }
        stores[0].commit(b).await.expect("enqueue");
    }
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (w, store) in stores.into_iter().enumerate() {
        for c in 0..4 {
            let (store, done) = (store.clone(), done.clone());
            tasks.push(tokio::spawn(async move {
                let owner = format!("w{w}-{c}");
                let lease = LeaseSpec {
                    owner: owner.clone(),
                    duration: Duration::from_secs(60),
                };
                while let Some(job) = store.claim(&lease, Timestamp::now()).await.expect("claim") {
                    let now = Timestamp::now();
                    let outcome = Outcome {
                        owner: owner.clone(),
                        now,
                        result: Ok(json!({})),
                        follow_up: Batch::new(now),
                    };
                    store.finish(&job.id, outcome).await.expect("finish");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
    }
    for t in tasks {
        t.await.expect("worker");
    }
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run());
}

async fn run() {
    let secs = Duration::from_secs(env_u64("ATLAS_BENCH_SECS", 5));
    let instances = u32::try_from(env_u64("ATLAS_BENCH_INSTANCES", 100_000)).unwrap_or(100_000);
    println!(
        "PostgreSQL vs SQLite: {} s per scenario, {instances} instances, {} CPUs",
        secs.as_secs(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "{:<40} {:<9} {:>5} {:>8} {:>6} {:>9} {:>8} {:>8} {:>9} {:>9}",
        "scenario", "store", "conns", "requests", "errors", "req/s", "p50 ms", "p99 ms", "bench µs", "pg µs"
    );
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = SqliteStore::open_path(dir.path().join("bench.db"))
        .await
        .expect("sqlite");
    let pg = atlas_postgres::PgStore::open(schema.config(32))
        .await
        .expect("postgres");
    let stores: Vec<(&str, Arc<dyn Store>)> = vec![
        ("sqlite", Arc::new(sqlite.clone())),
        ("postgres", Arc::new(pg.clone())),
    ];
    let only = std::env::var("ATLAS_BENCH_ONLY").ok();
    let wanted = |scenario: &str| only.as_deref().is_none_or(|o| scenario.contains(o));
    let one_store = std::env::var("ATLAS_BENCH_STORE").ok();
    for (label, store) in stores {
        if one_store.as_deref().is_some_and(|s| s != label) {
            continue;
        }
        let (addr, id, sid) = serve(store, instances).await;
        let get = hyper::Method::GET;
        let find = format!("/instance?where={{%22sid%22:%22{sid}%22}}");
        let scenarios: [(&str, hyper::Method, String, Option<&'static str>, usize); 5] = [
            (
                "GET /instance/<id>",
                get.clone(),
                format!("/instance/{id}"),
                None,
                64,
            ),
            (
                "GET /instance?where={\"sid\":…} (1 conn)",
                get.clone(),
                find.clone(),
                None,
                1,
            ),
            ("GET /instance?where={\"sid\":…}", get, find, None, 64),
            (
                "POST /instance (durable, 1 conn)",
                hyper::Method::POST,
                "/instance".into(),
                Some(r#"{"status": "pending"}"#),
                1,
            ),
            (
                "POST /instance (durable)",
                hyper::Method::POST,
                "/instance".into(),
                Some(r#"{"status": "pending"}"#),
                64,
            ),
        ];
        for (scenario, method, path, body, conns) in scenarios {
            if wanted(scenario) {
                let before = cpu_seconds();
                let st = drive(addr, method, path, body, conns, secs).await;
                let after = cpu_seconds();
                row(
                    scenario,
                    label,
                    conns,
                    &st,
                    (after.0 - before.0, after.1 - before.1),
                );
            }
        }
    }
    println!();
    if only.is_some() {
        return;
    }
    let jobs = 2_000;
    let rate = worker_throughput(vec![sqlite.clone()], jobs).await;
    println!("worker throughput   sqlite   1 worker : {rate:>8.0} jobs/s");
    for workers in [1usize, 2, 4] {
        let mut handles = Vec::new();
        for _ in 0..workers {
            handles.push(
                atlas_postgres::PgStore::open(schema.config(4))
                    .await
                    .expect("pool"),
            );
        }
        let rate = worker_throughput(handles, jobs).await;
        println!("worker throughput   postgres {workers} workers: {rate:>8.0} jobs/s (each its own pool, 4 claimers)");
    }
}
