//! Criterion benchmarks of the pure core paths every request takes: `where`
//! parsing and evaluation over realistic instance documents (and a whole
//! in-memory `find`), schema validation of instance and code bodies, and
//! etag computation of a realistic stored document.
//!
//! Run: `cargo bench --bench core` (about 40 s; pass a name filter after
//! `--` to run a subset, e.g. `cargo bench --bench core -- etag`).

use std::hint::black_box;
use std::time::Duration;

use atlas_core::model::{canonical_json, Doc, Etag, Id, Resource, Status, Timestamp};
use atlas_core::query::{parse_sort, parse_where, select, FindQuery, Paging};
use atlas_core::schema::{validate_create, validate_patch};
use atlas_core::testing::fixtures;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use serde_json::{json, Value};

/// Documents each evaluation benchmark filters.
const DOCS: usize = 1_000;
/// Distinct packages spread over the instances.
const PACKAGES: usize = 50;

fn now() -> Timestamp {
    fixtures::fixture_time()
}

/// A fleet of instance documents as stores hold them (`Doc::to_json`): a
/// mix of statuses, three packages each, tags, creation dates spread over
/// 100 days, a primary route on launched instances.
fn fleet(packages: &[Id]) -> Vec<Value> {
    (0..DOCS)
        .map(|n| {
            let status = match n % 5 {
                0 | 1 => Status::Launched,
                2 => Status::Installed,
                3 => Status::Available,
                _ => Status::TakeDown,
            };
            let created = now().minus(Duration::from_secs((n as u64 % 100) * 86_400));
            let mut b = fixtures::instance()
                .sid(&format!("p1{n:010x}"))
                .status(status)
                .update_group((n % 10) as u8)
                .core(packages[0])
                .profile(packages[1])
                .packages([
                    packages[n % PACKAGES],
                    packages[(n * 7 + 1) % PACKAGES],
                    packages[(n * 13 + 2) % PACKAGES],
                ])
                .tag(if n % 3 == 0 { "news" } else { "lab" })
                .created(created);
            if status == Status::Launched {
                b = b.primary_route(Id::generate(now())).date("launched", created);
            }
            Doc::new(Id::generate(created), b.build(), created).to_json()
        })
        .collect()
}

fn package_ids() -> Vec<Id> {
    (0..PACKAGES).map(|_| Id::generate(now())).collect()
}

/// The `where` clauses benchmarked: what the cron fan-out, the pool and the
/// clients' typical lookups send.
fn clauses(packages: &[Id]) -> Vec<(&'static str, String)> {
    vec![
        ("status_eq", json!({ "status": "installed" }).to_string()),
        (
            "cron_launched",
            json!({ "$and": [
                { "status": "launched" },
                { "type": "express" },
                { "code.package": { "$nin": [packages[3].to_string(), packages[4].to_string()] } }
            ]})
            .to_string(),
        ),
        (
            "package_contains",
            json!({ "code.package": packages[7].to_string() }).to_string(),
        ),
        (
            "or_dates_tags",
            json!({
                "$or": [
                    { "status": { "$in": ["pending", "available"] } },
                    { "dates.created": { "$lt": "2026-10-01 00:00:00 GMT" } }
                ],
                "tag": { "$in": ["news"] },
                "update_group": { "$gte": 3, "$lte": 7 }
            })
            .to_string(),
        ),
        (
            "sid_regex",
            json!({ "sid": { "$regex": "^p1000000002" } }).to_string(),
        ),
    ]
}

fn bench_filter(c: &mut Criterion) {
    let packages = package_ids();
    let docs = fleet(&packages);
    let clauses = clauses(&packages);

    let mut g = c.benchmark_group("filter_parse");
    for (name, text) in &clauses {
        g.bench_function(*name, |b| {
            b.iter(|| parse_where(black_box(text)).expect("valid where"))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("filter_matches");
    g.throughput(Throughput::Elements(DOCS as u64));
    for (name, text) in &clauses {
        let filter = parse_where(text).expect("valid where");
        let hits = docs.iter().filter(|d| filter.matches(d)).count();
        assert!(hits > 0 && hits < DOCS, "{name} selects some documents ({hits})");
        g.bench_function(*name, |b| {
            b.iter(|| docs.iter().filter(|d| filter.matches(black_box(d))).count())
        });
    }
    g.finish();

    // A whole `find` as MemoryStore runs it: filter, sort, one page, total.
    let mut g = c.benchmark_group("select");
    g.throughput(Throughput::Elements(DOCS as u64));
    let q = FindQuery {
        filter: parse_where(&clauses[1].1).expect("valid where"),
        sort: parse_sort("[(\"dates.created\", -1)]").expect("valid sort"),
        paging: Paging {
            page: 2,
            max_results: 25,
        },
        show_deleted: false,
        count: true,
    };
    g.bench_function("cron_launched_sorted_page", |b| {
        b.iter_batched(
            || docs.iter().cloned().enumerate().collect::<Vec<_>>(),
            |items| select(items, black_box(&q)),
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn bench_validation(c: &mut Criterion) {
    let mut g = c.benchmark_group("validate");
    let core = Id::generate(now());
    let profile = Id::generate(now());
    // What a client POSTs for an instance, and a full stored body (PUT).
    let instance_post = json!({
        "status": "pending",
        "code": { "core": core.to_string(), "profile": profile.to_string() },
        "settings": { "page_cache_maximum_age": 300 },
        "tag": ["news"]
    });
    let mut full = fixtures::instance()
        .status(Status::Installed)
        .core(core)
        .profile(profile)
        .packages([Id::generate(now()), Id::generate(now())])
        .tag("lab")
        .build();
    // `created_by` is written by the service, not accepted from clients.
    full.remove("created_by");
    let instance_full = Value::Object(full);
    let code_post = Value::Object(
        fixtures::code()
            .module("google_analytics", "7.x-2.3")
            .label("Google Analytics")
            .tag("analytics")
            .dependencies([Id::generate(now())])
            .build(),
    );
    let instance_patch = json!({
        "status": "launched",
        "settings.page_cache_maximum_age": 600,
        "code.package": [Id::generate(now()).to_string()]
    });
    for (name, body) in [
        ("instance_post", &instance_post),
        ("instance_full", &instance_full),
        ("code_post", &code_post),
    ] {
        let res = if name.starts_with("code") {
            Resource::Code
        } else {
            Resource::Instance
        };
        if let Err(issues) = validate_create(res, body) {
            panic!("{name} is valid: {}", issues.to_json());
        }
        g.bench_function(name, |b| b.iter(|| validate_create(res, black_box(body))));
    }
    if let Err(issues) = validate_patch(Resource::Instance, &instance_patch) {
        panic!("instance_patch is valid: {}", issues.to_json());
    }
    g.bench_function("instance_patch", |b| {
        b.iter(|| validate_patch(Resource::Instance, black_box(&instance_patch)))
    });
    // A body with many issues: every one is collected.
    let invalid = json!({
        "status": "flying", "type": 3, "sid": "x", "unknown": true,
        "settings": { "page_cache_maximum_age": "soon" },
        "code": { "core": "not-an-id", "package": ["nope"] }
    });
    assert!(validate_create(Resource::Instance, &invalid).is_err());
    g.bench_function("instance_invalid", |b| {
        b.iter(|| validate_create(Resource::Instance, black_box(&invalid)))
    });
    g.finish();
}

fn bench_etag(c: &mut Criterion) {
    let mut g = c.benchmark_group("etag");
    let body = fixtures::instance()
        .status(Status::Launched)
        .core(Id::generate(now()))
        .profile(Id::generate(now()))
        .packages((0..8).map(|_| Id::generate(now())))
        .primary_route(Id::generate(now()))
        .statistics(Id::generate(now()))
        .tag("news")
        .tag("lab")
        .date("launched", now())
        .siteimprove_site(1234)
        .build();
    let doc = Doc::new(Id::generate(now()), body, now());
    let json = doc.to_json();
    g.throughput(Throughput::Bytes(canonical_json(&json).len() as u64));
    g.bench_function("doc_compute_etag", |b| b.iter(|| black_box(&doc).compute_etag()));
    g.bench_function("etag_of_json", |b| b.iter(|| Etag::of(black_box(&json))));
    g.bench_function("canonical_json", |b| b.iter(|| canonical_json(black_box(&json))));
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(1500))
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_filter, bench_validation, bench_etag
}
criterion_main!(benches);
