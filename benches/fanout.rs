//! The cron fan-out: 10,000 `launched` express instances, inserted directly
//! into a store in bulk batches, then the `cron_launched` periodic job run
//! through the [`Engine`] by a [`Worker`] (`run_one`: claim, handler,
//! finish). The handler selects the instances and returns one `drush_cron`
//! job per instance as its follow-up batch, committed with the job's
//! outcome; the timing runs from the claim to that commit. The executor is a
//! `RecordingExecutor`, though the fan-out itself calls nothing.
//!
//! Measured on the durable `SqliteStore` (temporary directory, defaults:
//! `synchronous = full`) and on `MemoryStore` for comparison, each on a
//! fresh store per round; best and median of the rounds, plus a breakdown
//! (the `find` of the selected instances alone, the enqueue of 10,000 jobs
//! alone) and the time seeding the fleet took.
//!
//! Target (issue 7): fan-out of 10,000 in ≤ 1 s.
//!
//! Run: `cargo bench --bench fanout` (set `ATLAS_BENCH_INSTANCES` to change
//! the fleet size, `ATLAS_BENCH_ROUNDS` the SQLite rounds, default 3, and
//! `ATLAS_BENCH_MEMORY_ROUNDS` the `MemoryStore` ones, default 1: seeding
//! `MemoryStore` is slow, its unique checks scan every record).

use std::sync::Arc;
use std::time::{Duration, Instant};

use atlas_core::model::{Body, Id, Resource, Status, Timestamp};
use atlas_core::query::{Filter, FindQuery, Paging};
use atlas_core::testing::{fixtures, RecordingExecutor};
use atlas_core::{
    App, AppConfig, Batch, JobSpec, MemoryStore, PeriodicTask, Store, Task, Worker, WorkerConfig,
};
use atlas_sqlite::{SqliteConfig, SqliteStore};
use serde_json::json;

/// The fan-out time the issue asks for.
const TARGET: Duration = Duration::from_secs(1);
/// Instances per insert batch.
const CHUNK: usize = 1_000;
/// Module packages spread over the instances.
const PACKAGES: usize = 20;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

/// Code items: current core and profile, `PACKAGES` modules and the classes
/// bundle (so the fan-out's `$nin` has a real operand, as in production).
async fn seed_code(store: &dyn Store, now: Timestamp) -> (Id, Id, Vec<Id>) {
    let mut b = Batch::new(now);
    let add = |b: &mut Batch, body: Body| {
        let id = Id::generate(now);
        b.insert(Resource::Code, id, body);
        id
    };
    let core = add(&mut b, fixtures::code().core("drupal", "7.42").current().build());
    let profile = add(
        &mut b,
        fixtures::code().profile("express", "2.8").current().build(),
    );
    let modules = (0..PACKAGES)
        .map(|i| {
            add(
                &mut b,
                fixtures::code().module(&format!("mod_{i:02}"), "7.x-1.0").build(),
            )
        })
        .collect();
    add(
        &mut b,
        fixtures::code().module("cu_classes_bundle", "7.x-1.0").build(),
    );
    store.commit(b).await.expect("seed code");
    (core, profile, modules)
}

/// `n` launched express instances, `CHUNK` per commit.
async fn seed_instances(store: &dyn Store, now: Timestamp, n: usize) {
    let (core, profile, modules) = seed_code(store, now).await;
    let mut i = 0;
    while i < n {
        let mut b = Batch::new(now);
        for _ in 0..CHUNK.min(n - i) {
            let body = fixtures::instance()
                .sid(&format!("p1{i:010x}"))
                .status(Status::Launched)
                .core(core)
                .profile(profile)
                .packages([modules[i % PACKAGES], modules[(i * 7 + 3) % PACKAGES]])
                .primary_route(Id::generate(now))
                .date("launched", now)
                .build();
            b.insert(Resource::Instance, Id::generate(now), body);
            i += 1;
        }
        store.commit(b).await.expect("seed instances");
    }
}

fn engine_worker(store: Arc<dyn Store>) -> Worker {
    let config = AppConfig {
        worker: WorkerConfig {
            owner: "bench".into(),
            ..WorkerConfig::default()
        },
        ..AppConfig::default()
    };
    let app = App::builder(store)
        .executor(Arc::new(RecordingExecutor::new()))
        .config(config)
        .build()
        .expect("app");
    app.worker().clone()
}

struct Round {
    /// Inserting the fleet.
    seed: Duration,
    /// Claim + handler + finish (follow-up committed).
    fan_out: Duration,
    /// The `find` of the selected instances alone.
    find: Duration,
    /// Committing `n` `drush_cron` jobs alone.
    enqueue: Duration,
}

async fn round(store: Arc<dyn Store>, n: usize) -> Round {
    let now = Timestamp::now();
    let started = Instant::now();
    seed_instances(store.as_ref(), now, n).await;
    let seed = started.elapsed();

    let filter = Filter::and(vec![
        Filter::eq("status", "launched"),
        Filter::eq("type", "express"),
    ]);
    let started = Instant::now();
    let found = store
        .find(Resource::Instance, &FindQuery::all_matching(filter))
        .await
        .expect("find");
    let find = started.elapsed();
    assert_eq!(found.items.len(), n);

    let task = PeriodicTask::CronLaunched;
    let mut b = Batch::new(now);
    b.enqueue(Task::Periodic { task }.spec(now));
    let periodic = store.commit(b).await.expect("enqueue the periodic job");
    let periodic = periodic.jobs().next().expect("one job");

    let worker = engine_worker(store.clone());
    let started = Instant::now();
    let ran = worker.run_one().await.expect("run the periodic job");
    let fan_out = started.elapsed();
    assert_eq!(ran, Some(periodic), "the periodic job ran");

    let job = store.job(&periodic).await.expect("read").expect("job");
    let result = job.result.clone().unwrap_or_default();
    assert_eq!(
        result["instances"],
        json!(n),
        "every instance selected ({:?}, {:?})",
        job.status,
        job.last_error
    );
    let q = FindQuery {
        filter: Filter::eq("kind", "drush_cron"),
        paging: Paging {
            page: 1,
            max_results: 1,
        },
        ..FindQuery::default()
    };
    let queued = store.find_jobs(&q).await.expect("count jobs").total;
    assert_eq!(queued, n as u64, "one drush_cron job per instance");

    // The enqueue alone: the same number of jobs in one commit.
    let now = Timestamp::now();
    let mut b = Batch::new(now);
    for i in 0..n {
        b.enqueue(JobSpec::new("noop", json!({ "i": i }), now).max_attempts(1));
    }
    let started = Instant::now();
    store.commit(b).await.expect("enqueue");
    let enqueue = started.elapsed();

    Round {
        seed,
        fan_out,
        find,
        enqueue,
    }
}

fn best_and_median(mut xs: Vec<Duration>) -> (Duration, Duration) {
    xs.sort();
    (xs[0], xs[xs.len() / 2])
}

fn report(name: &str, n: usize, rounds: Vec<Round>) {
    let count = rounds.len();
    let (best, median) = best_and_median(rounds.iter().map(|r| r.fan_out).collect());
    let (_, find) = best_and_median(rounds.iter().map(|r| r.find).collect());
    let (_, enqueue) = best_and_median(rounds.iter().map(|r| r.enqueue).collect());
    let (_, seed) = best_and_median(rounds.iter().map(|r| r.seed).collect());
    println!(
        "{:<8} {:>9} {:>6} {:>9.3} {:>9.3} {:>8.3} {:>10.3} {:>8.2} {:>7}",
        name,
        n,
        count,
        best.as_secs_f64(),
        median.as_secs_f64(),
        find.as_secs_f64(),
        enqueue.as_secs_f64(),
        seed.as_secs_f64(),
        if median <= TARGET { "met" } else { "missed" }
    );
}

fn main() {
    let n = env_usize("ATLAS_BENCH_INSTANCES", 10_000);
    let rounds = env_usize("ATLAS_BENCH_ROUNDS", 3);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    println!("cron fan-out: {n} launched express instances → {n} drush_cron jobs");
    println!(
        "{:<8} {:>9} {:>6} {:>9} {:>9} {:>8} {:>10} {:>8} {:>7}",
        "store", "instances", "rounds", "best s", "median s", "find s", "enqueue s", "seed s", "target"
    );
    let sqlite: Vec<Round> = (0..rounds)
        .map(|_| {
            rt.block_on(async {
                let dir = tempfile::tempdir().expect("temp dir");
                let store = SqliteStore::open(SqliteConfig::at(dir.path().join("atlas.db")))
                    .await
                    .expect("open the store");
                round(Arc::new(store), n).await
            })
        })
        .collect();
    report("sqlite", n, sqlite);
    // MemoryStore checks unique keys by scanning, so seeding it is slow
    // (tens of seconds for 10,000): one round unless asked for more.
    let memory_rounds = env_usize("ATLAS_BENCH_MEMORY_ROUNDS", 1);
    let memory: Vec<Round> = (0..memory_rounds)
        .map(|_| rt.block_on(round(Arc::new(MemoryStore::new()), n)))
        .collect();
    report("memory", n, memory);
}
