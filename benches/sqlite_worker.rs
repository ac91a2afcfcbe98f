//! Worker throughput on the durable SQLite store: enqueue N no-op jobs into
//! a `SqliteStore` opened on a temporary directory with the defaults
//! (`synchronous = full`: every claim and every finish is fsynced before it
//! is answered), drain them with a `Worker` whose handler does nothing, and
//! report jobs/s and µs per job for concurrency 1 and 4, with unkeyed jobs
//! and with jobs spread over 100 instance keys (per-key serialisation).
//! The writer's group-commit factor (requests per transaction) is printed
//! too: it is what lets concurrent workers share one fsync.
//!
//! Target (issue 7): ≥ 2,000 no-op jobs/s.
//!
//! Run: `cargo bench --bench sqlite_worker` (set `ATLAS_BENCH_JOBS` to
//! change N, default 2000,10000).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use atlas_core::{
    Batch, Clock, Handled, HandlerError, Job, JobHandler, JobSpec, Store, SystemClock, Worker, WorkerConfig,
};
use atlas_sqlite::{SqliteConfig, SqliteStore};
use serde_json::{json, Value};
use tokio::sync::Notify;

/// The throughput the issue asks for.
const TARGET_JOBS_PER_SEC: f64 = 2_000.0;

/// Succeeds at once with no result and no follow-up writes; counts the
/// jobs it ran and says when `expected` have.
#[derive(Debug)]
struct NoOp {
    ran: AtomicUsize,
    expected: usize,
    all_ran: Notify,
}

impl NoOp {
    fn new(expected: usize) -> Self {
        Self {
            ran: AtomicUsize::new(0),
            expected,
            all_ran: Notify::new(),
        }
    }
}

#[async_trait]
impl JobHandler for NoOp {
    async fn handle(&self, _job: &Job) -> Result<Handled, HandlerError> {
        if self.ran.fetch_add(1, Ordering::SeqCst) + 1 == self.expected {
            self.all_ran.notify_one();
        }
        Ok(Handled::result(Value::Null))
    }
}

/// How the worker is driven.
#[derive(Debug, Clone, Copy)]
enum Mode {
    /// `Worker::drain`: run until nothing is claimable.
    Drain,
    /// `Worker::run` (the service loop), shut down once every job ran; it
    /// returns after the last job's outcome is recorded.
    Run,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Drain => "drain",
            Mode::Run => "run",
        }
    }
}

async fn enqueue(store: &dyn Store, clock: &dyn Clock, n: usize, keys: Option<usize>) {
    let mut left = n;
    let mut i = 0;
    while left > 0 {
        let now = clock.now();
        let mut batch = Batch::new(now);
        for _ in 0..left.min(1000) {
            let spec = JobSpec::new("noop", json!({ "i": i }), now);
            batch.enqueue(match keys {
                Some(k) => spec.keyed(format!("instance:{}", i % k)),
                None => spec,
            });
            i += 1;
        }
        left -= batch.writes.len();
        store.commit(batch).await.expect("enqueue");
    }
}

struct Run {
    jobs: usize,
    elapsed: Duration,
    /// Writer requests per transaction during the drain.
    group: f64,
}

async fn run(mode: Mode, n: usize, concurrency: usize, keys: Option<usize>) -> Run {
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = SqliteStore::open(SqliteConfig::at(dir.path().join("atlas.db")))
        .await
        .expect("open the store");
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    enqueue(&sqlite, clock.as_ref(), n, keys).await;
    let before = sqlite.writer_stats();
    let store: Arc<dyn Store> = Arc::new(sqlite.clone());
    let config = WorkerConfig {
        owner: "bench".into(),
        concurrency,
        ..WorkerConfig::default()
    };
    let handler = Arc::new(NoOp::new(n));
    let worker = Worker::new(store, clock, handler.clone(), config);
    let started = Instant::now();
    let jobs = match mode {
        Mode::Drain => worker.drain().await.expect("drain"),
        Mode::Run => {
            worker.run(handler.all_ran.notified()).await.expect("run");
            handler.ran.load(Ordering::SeqCst)
        }
    };
    let elapsed = started.elapsed();
    let after = sqlite.writer_stats();
    let transactions = after.groups.saturating_sub(before.groups).max(1);
    let requests = after.requests.saturating_sub(before.requests);
    Run {
        jobs,
        elapsed,
        group: requests as f64 / transactions as f64,
    }
}

fn sizes() -> Vec<usize> {
    std::env::var("ATLAS_BENCH_JOBS")
        .ok()
        .map(|s| {
            s.split(',')
                .filter_map(|p| p.trim().parse().ok())
                .collect::<Vec<usize>>()
        })
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| vec![2_000, 10_000])
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    println!("worker throughput (SqliteStore on disk, synchronous = full, no-op handler)");
    println!(
        "{:>6} {:>8} {:>11} {:>6} {:>10} {:>11} {:>10} {:>8}",
        "mode", "jobs", "concurrency", "keys", "jobs/s", "µs per job", "req/txn", "target"
    );
    // Warm-up: allocator, runtime threads, the file system.
    rt.block_on(run(Mode::Drain, 300, 4, None));
    for n in sizes() {
        for mode in [Mode::Drain, Mode::Run] {
            for keys in [None, Some(100)] {
                for concurrency in [1, 4] {
                    let r = rt.block_on(run(mode, n, concurrency, keys));
                    assert_eq!(r.jobs, n, "every job ran");
                    let secs = r.elapsed.as_secs_f64();
                    let rate = r.jobs as f64 / secs;
                    let keys = keys.map_or_else(|| "none".to_owned(), |k| k.to_string());
                    println!(
                        "{:>6} {:>8} {:>11} {:>6} {:>10.0} {:>11.1} {:>10.2} {:>8}",
                        mode.name(),
                        r.jobs,
                        concurrency,
                        keys,
                        rate,
                        secs * 1e6 / r.jobs as f64,
                        r.group,
                        if rate >= TARGET_JOBS_PER_SEC {
                            "met"
                        } else {
                            "missed"
                        }
                    );
                }
            }
        }
    }
}
