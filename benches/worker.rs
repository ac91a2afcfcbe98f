//! Worker throughput: enqueue N no-op jobs into a `MemoryStore`, drain them
//! with a `Worker` whose handler does nothing, and report jobs/s and the
//! per-job overhead (claim + lease renewer + time limit + finish) for
//! concurrency 1 and 4, with unkeyed jobs and with jobs spread over 100
//! instance keys (per-key serialisation).
//!
//! Run: `cargo bench --bench worker` (set `ATLAS_BENCH_JOBS` to change N,
//! default 2000,10000).

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use atlas_core::{
    Batch, Clock, Handled, HandlerError, Job, JobHandler, JobSpec, MemoryStore, Store, SystemClock, Worker,
    WorkerConfig,
};
use serde_json::{json, Value};

/// Succeeds at once with no result and no follow-up writes.
#[derive(Debug)]
struct NoOp;

#[async_trait]
impl JobHandler for NoOp {
    async fn handle(&self, _job: &Job) -> Result<Handled, HandlerError> {
        Ok(Handled::result(Value::Null))
    }
}

async fn enqueue(store: &Arc<dyn Store>, clock: &dyn Clock, n: usize, keys: Option<usize>) {
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
}

async fn run(n: usize, concurrency: usize, keys: Option<usize>) -> Run {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    enqueue(&store, clock.as_ref(), n, keys).await;
    let config = WorkerConfig {
        owner: "bench".into(),
        concurrency,
        ..WorkerConfig::default()
    };
    let worker = Worker::new(store, clock, Arc::new(NoOp), config);
    let started = Instant::now();
    let jobs = worker.drain().await.expect("drain");
    Run {
        jobs,
        elapsed: started.elapsed(),
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
    println!("worker throughput (MemoryStore, no-op handler)");
    println!(
        "{:>8} {:>11} {:>12} {:>12} {:>14}",
        "jobs", "concurrency", "keys", "jobs/s", "µs per job"
    );
    // Warm-up: allocator, runtime threads.
    rt.block_on(run(500, 4, None));
    for n in sizes() {
        for keys in [None, Some(100)] {
            for concurrency in [1, 4] {
                let r = rt.block_on(run(n, concurrency, keys));
                assert_eq!(r.jobs, n, "every job ran");
                let secs = r.elapsed.as_secs_f64();
                let per_job_us = secs * 1e6 / r.jobs as f64;
                let keys = keys.map_or_else(|| "none".to_owned(), |k| k.to_string());
                println!(
                    "{:>8} {:>11} {:>12} {:>12.0} {:>14.1}",
                    r.jobs,
                    concurrency,
                    keys,
                    r.jobs as f64 / secs,
                    per_job_us
                );
            }
        }
    }
}
