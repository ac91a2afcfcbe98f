//! Where the time of one write goes: a single caller runs each operation
//! back to back on a `SqliteStore` (file in a temp dir, `synchronous =
//! normal`, so the disk's fsync time does not hide the CPU cost) and on the
//! `MemoryStore`, and the median µs per operation over several rounds is
//! printed:
//!
//! - `store.get` of a code item and `store.find` of the current core and
//!   profile (the lookup every instance create makes when the request names
//!   neither),
//! - `Service::create` of an instance (`{"status": "pending"}`: defaults,
//!   sealed database password, statistics record and provision job in one
//!   batch) and of a site (no hooks, one write), with 10,000 instances
//!   already stored.
//!
//! The HTTP load benchmark (`cargo bench -p atlas-http --bench load`)
//! measures the same writes under 64 concurrent clients on the durable
//! store; this one tells which part of a create to make cheaper.
//!
//! Run: `cargo bench --bench service_write` (`ATLAS_BENCH_OPS` per round,
//! default 2000; `ATLAS_BENCH_INSTANCES` stored before, default 10000;
//! `ATLAS_BENCH_STORE=sqlite|memory` for one store only;
//! `ATLAS_BENCH_ONLY=<substring>` for the operations whose name holds it).

use std::sync::Arc;
use std::time::Instant;

use atlas_core::model::{Id, Resource, Status};
use atlas_core::query::{Filter, FindQuery};
use atlas_core::testing::seed_fleet;
use atlas_core::{Actor, MemoryStore, SecretKey, Service, ServiceConfig, Store, SystemClock};
use atlas_sqlite::{SqliteConfig, SqliteStore, Synchronous};
use serde_json::json;

const ROUNDS: usize = 5;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A service on `store` with a current core and profile and `instances`
/// launched instances; returns it and the core's id.
async fn seeded(store: Arc<dyn Store>, instances: u32) -> (Service, Id) {
    let service = Service::new(
        store,
        Arc::new(SystemClock),
        SecretKey::from_bytes([9; 32]),
        ServiceConfig::default(),
    );
    let fleet = seed_fleet(&service, instances, |_| Status::Launched)
        .await
        .expect("seed");
    (service, fleet.core)
}

/// Median µs per call of `op` over [`ROUNDS`] rounds of `n` calls.
async fn time<F, Fut>(n: usize, mut op: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut per_op = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let start = Instant::now();
        for _ in 0..n {
            op().await;
        }
        per_op.push(start.elapsed().as_secs_f64() * 1e6 / n as f64);
    }
    per_op.sort_by(f64::total_cmp);
    per_op[ROUNDS / 2]
}

/// Times `op` (see [`time`]) into `rows` when `ATLAS_BENCH_ONLY` is unset
/// or part of `name`.
async fn timed<F, Fut>(rows: &mut Vec<(&'static str, f64)>, name: &'static str, n: usize, op: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let only = std::env::var("ATLAS_BENCH_ONLY").ok();
    if only.as_deref().is_none_or(|o| name.contains(o)) {
        rows.push((name, time(n, op).await));
    }
}

async fn run_store(label: &str, store: Arc<dyn Store>, n: usize) {
    let instances = std::env::var("ATLAS_BENCH_INSTANCES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let (service, core) = seeded(store.clone(), instances).await;
    let actor = Actor::system();
    let current = FindQuery::all_matching(Filter::and(vec![
        Filter::eq("meta.is_current", true),
        Filter::or(vec![
            Filter::eq("meta.code_type", "core"),
            Filter::eq("meta.code_type", "profile"),
        ]),
    ]));
    let mut rows = Vec::new();
    timed(&mut rows, "store.get code", n, || async {
        store
            .get(Resource::Code, &core)
            .await
            .expect("get")
            .expect("found");
    })
    .await;
    timed(&mut rows, "store.find current core+profile", n, || async {
        let page = store.find(Resource::Code, &current).await.expect("find");
        assert_eq!(page.items.len(), 2);
    })
    .await;
    timed(&mut rows, "Service::create instance", n, || async {
        service
            .create(Resource::Instance, &actor, json!({"status": "pending"}))
            .await
            .expect("create instance");
    })
    .await;
    timed(&mut rows, "Service::create site", n, || async {
        service
            .create(Resource::Site, &actor, json!({"tag": ["bench"]}))
            .await
            .expect("create site");
    })
    .await;
    for (name, us) in rows {
        println!("{label:<8} {name:<34} {us:>9.1} µs/op");
    }
}

fn main() {
    let n: usize = std::env::var("ATLAS_BENCH_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        println!("one caller, {n} operations per round, median of {ROUNDS} rounds");
        let dir = tempfile::tempdir().expect("temp dir");
        let config = SqliteConfig {
            synchronous: Synchronous::Normal,
            ..SqliteConfig::at(dir.path().join("bench.db"))
        };
        let only = std::env::var("ATLAS_BENCH_STORE").ok();
        let wanted = |s: &str| only.as_deref().is_none_or(|o| o == s);
        if wanted("sqlite") {
            let sqlite = SqliteStore::open(config).await.expect("sqlite");
            run_store("sqlite", Arc::new(sqlite), n).await;
        }
        if wanted("memory") {
            run_store("memory", Arc::new(MemoryStore::new()), n).await;
        }
    });
}
