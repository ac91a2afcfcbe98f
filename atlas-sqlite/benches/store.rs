//! `SqliteStore` benchmarks (issue 4, point 7): a plain binary printing its
//! measurements. Run with `cargo bench -p atlas-sqlite --bench store`.
//!
//! - durable (`synchronous = full`) single-document inserts/s with 1 and
//!   with 64 concurrent callers;
//! - CAS updates/s (update conditioned on the etag) with 1 and 64 callers;
//! - point `get`/s;
//! - `find` `status = installed` (first page of 25 + total) and
//!   `code.package` contains, over 100,000 instances: p50 / p90 / p99.
//!
//! `ATLAS_BENCH_ONLY=inserts` stops after the insert measurements;
//! `ATLAS_BENCH_ONLY=reads` runs only the read measurements.

use std::sync::Arc;
use std::time::{Duration, Instant};

use atlas_core::model::{Id, Resource, Status, Timestamp};
use atlas_core::query::{Filter, FindQuery, Paging};
use atlas_core::testing::fixtures;
use atlas_core::{Batch, Store};
use atlas_sqlite::SqliteStore;
use rand::Rng;

const INSTANCES: usize = 100_000;
const PACKAGES: usize = 200;

fn now() -> Timestamp {
    Timestamp::from_unix(1_795_564_800)
}

static SIDS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn instance(n: usize, packages: &[Id]) -> atlas_core::model::Body {
    let sid = format!(
        "p1{:010x}",
        SIDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let status = match n % 4 {
        0 | 1 => Status::Installed,
        2 => Status::Launched,
        _ => Status::Available,
    };
    fixtures::instance()
        .sid(&sid)
        .status(status)
        .packages([
            packages[n % PACKAGES],
            packages[(n * 7 + 1) % PACKAGES],
            packages[(n * 13 + 2) % PACKAGES],
        ])
        .tag("bench")
        .build()
}

/// Repetitions of each throughput measurement (the machine is shared, so
/// the best and the median of several runs are reported).
const ROUNDS: usize = 3;

fn best_and_median(xs: &mut [f64]) -> (f64, f64) {
    xs.sort_by(f64::total_cmp);
    (
        xs.last().copied().unwrap_or(0.0),
        xs.get(xs.len() / 2).copied().unwrap_or(0.0),
    )
}

fn show(best: f64, median: f64, unit: &str) -> String {
    format!("{best:>8.0} {unit} best, {median:>8.0} median of {ROUNDS}")
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

async fn inserts(
    store: &Arc<SqliteStore>,
    callers: usize,
    per_caller: usize,
    packages: &Arc<Vec<Id>>,
) -> f64 {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..callers {
        let (store, packages) = (Arc::clone(store), Arc::clone(packages));
        tasks.push(tokio::spawn(async move {
            for i in 0..per_caller {
                let mut b = Batch::new(now());
                b.insert(
                    Resource::Instance,
                    Id::generate(now()),
                    instance(c * per_caller + i, &packages),
                );
                store.commit(b).await.expect("insert");
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    rate(callers * per_caller, start.elapsed())
}

async fn cas_updates(
    store: &Arc<SqliteStore>,
    callers: usize,
    per_caller: usize,
    packages: &Arc<Vec<Id>>,
) -> f64 {
    let mut docs = Vec::new();
    for c in 0..callers {
        let mut b = Batch::new(now());
        b.insert(Resource::Instance, Id::generate(now()), instance(c, packages));
        let committed = store.commit(b).await.expect("insert");
        docs.push(committed.docs().next().cloned().expect("doc"));
    }
    let start = Instant::now();
    let mut tasks = Vec::new();
    for doc in docs {
        let store = Arc::clone(store);
        tasks.push(tokio::spawn(async move {
            let mut doc = doc;
            for i in 0..per_caller {
                let mut b = Batch::new(now());
                let patch = serde_json::json!({"update_group": i % 3})
                    .as_object()
                    .cloned()
                    .unwrap_or_default();
                b.update(Resource::Instance, doc.id, patch, Some(doc.etag.clone()));
                let c = store.commit(b).await.expect("cas update");
                doc = c.docs().next().cloned().expect("doc");
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    rate(callers * per_caller, start.elapsed())
}

async fn gets(store: &Arc<SqliteStore>, ids: &Arc<Vec<Id>>, callers: usize, per_caller: usize) -> f64 {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..callers {
        let (store, ids) = (Arc::clone(store), Arc::clone(ids));
        tasks.push(tokio::spawn(async move {
            let picks: Vec<usize> = {
                let mut rng = rand::thread_rng();
                (0..per_caller).map(|_| rng.gen_range(0..ids.len())).collect()
            };
            for i in picks {
                let id = ids[i];
                let d = store.get(Resource::Instance, &id).await.expect("get");
                assert!(d.is_some());
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    rate(callers * per_caller, start.elapsed())
}

async fn latencies(store: &SqliteStore, q: &FindQuery, runs: usize) -> (Duration, Duration, Duration, u64) {
    let mut times = Vec::with_capacity(runs);
    let mut total = 0;
    for _ in 0..runs {
        let start = Instant::now();
        let page = store.find(Resource::Instance, q).await.expect("find");
        times.push(start.elapsed());
        total = page.total;
    }
    times.sort();
    let at = |p: f64| times[((runs as f64 - 1.0) * p) as usize];
    (at(0.5), at(0.9), at(0.99), total)
}

fn first_page(filter: Filter) -> FindQuery {
    FindQuery {
        filter,
        paging: Paging {
            page: 1,
            max_results: 25,
        },
        ..FindQuery::default()
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run());
}

async fn run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(
        SqliteStore::open_path(dir.path().join("bench.db"))
            .await
            .expect("open"),
    );
    println!(
        "atlas-sqlite benchmarks (synchronous = full, WAL, {:?})",
        dir.path()
    );
    let packages: Arc<Vec<Id>> = Arc::new((0..PACKAGES).map(|_| Id::generate(now())).collect());

    if std::env::var("ATLAS_BENCH_ONLY").map_or(true, |v| v != "reads") {
        writes(&store, &packages).await;
        if std::env::var("ATLAS_BENCH_ONLY").is_ok_and(|v| v == "inserts") {
            return;
        }
    }
    drop(store);

    // The read benchmarks run on a second database holding exactly 100,000
    // instances, bulk-loaded in 1000-document batches.
    let store = Arc::new(
        SqliteStore::open_path(dir.path().join("reads.db"))
            .await
            .expect("open"),
    );
    let start = Instant::now();
    let mut ids = Vec::with_capacity(INSTANCES);
    while ids.len() < INSTANCES {
        let mut b = Batch::new(now());
        for _ in 0..1_000 {
            let id = Id::generate(now());
            b.insert(Resource::Instance, id, instance(ids.len(), &packages));
            ids.push(id);
        }
        store.commit(b).await.expect("bulk insert");
    }
    println!(
        "bulk load of {INSTANCES} instances: {:.1}s ({:.0} docs/s in 1000-doc batches)",
        start.elapsed().as_secs_f64(),
        rate(INSTANCES, start.elapsed())
    );
    let ids = Arc::new(ids);

    for callers in [1, 4] {
        let mut rates = Vec::new();
        for _ in 0..ROUNDS {
            rates.push(gets(&store, &ids, callers, 60_000 / callers).await);
        }
        let (b, m) = best_and_median(&mut rates);
        println!(
            "point get, {callers} caller(s):      {}  (target >= 150000/s)",
            show(b, m, "gets/s")
        );
    }

    let installed = first_page(Filter::eq("status", "installed"));
    let (p50, p90, p99, total) = latencies(&store, &installed, 200).await;
    println!(
        "find status = installed (25 + total {total}): p50 {p50:?}  p90 {p90:?}  p99 {p99:?}  (target p50 <= 5ms)"
    );
    let pkg = first_page(Filter::eq("code.package", packages[17].to_string()));
    let (p50, p90, p99, total) = latencies(&store, &pkg, 200).await;
    println!("find code.package holds X (25 + total {total}): p50 {p50:?}  p90 {p90:?}  p99 {p99:?}");
    let scan = first_page(Filter::eq("pool", "poolb-express"));
    let (p50, _, _, total) = latencies(&store, &scan, 20).await;
    println!("(for comparison, unindexed find pool = poolb-express (25 + total {total}): p50 {p50:?})");
}

/// The write benchmarks: inserts with 1 and 64 callers, CAS updates.
async fn writes(store: &Arc<SqliteStore>, packages: &Arc<Vec<Id>>) {
    let mut one = Vec::new();
    let mut many = Vec::new();
    let mut factor = Vec::new();
    for _ in 0..ROUNDS {
        one.push(inserts(store, 1, 1_000, packages).await);
        let before = store.writer_stats();
        many.push(inserts(store, 64, 500, packages).await);
        let after = store.writer_stats();
        factor.push((after.requests - before.requests) as f64 / (after.groups - before.groups).max(1) as f64);
    }
    let (one_best, one_median) = best_and_median(&mut one);
    let (many_best, many_median) = best_and_median(&mut many);
    println!(
        "durable inserts, 1 caller:    {}",
        show(one_best, one_median, "batches/s")
    );
    println!(
        "durable inserts, 64 callers:  {}  (median {:.1}x the 1-caller median; targets: >= 3x and >= 20000/s)",
        show(many_best, many_median, "batches/s"),
        many_median / one_median
    );
    println!(
        "  group commit: {:.1} batches per transaction (median)",
        best_and_median(&mut factor).1
    );
    if std::env::var("ATLAS_BENCH_ONLY").is_ok_and(|v| v == "inserts") {
        return;
    }
    let mut cas_one = Vec::new();
    let mut cas_many = Vec::new();
    for _ in 0..ROUNDS {
        cas_one.push(cas_updates(store, 1, 1_000, packages).await);
        cas_many.push(cas_updates(store, 64, 300, packages).await);
    }
    let (b, m) = best_and_median(&mut cas_one);
    println!("CAS updates, 1 caller:        {}", show(b, m, "updates/s"));
    let (b, m) = best_and_median(&mut cas_many);
    println!("CAS updates, 64 callers:      {}", show(b, m, "updates/s"));
}
