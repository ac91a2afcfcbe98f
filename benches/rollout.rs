//! A no-op rollout over a fleet: 10,000 launched instances on profile
//! `express` 2.8 in update groups 0–2, inserted directly into a durable
//! `SqliteStore` (temporary directory, defaults), moved to `express` 2.9
//! by a rollout posted through the service and run through the [`App`]'s
//! worker with a `MockExecutor` whose `switch_code` does nothing.
//!
//! Printed: the time to *plan* (the first `rollout_step`: select the
//! instances still on `from`, order them, record wave 1 and queue its jobs
//! in one commit), the time to *run* the whole rollout (every wave's
//! instance jobs, each resolving its instance and storing the new code,
//! and the steps between them) and the per-wave average. The rollout's
//! record is checked at the end: `completed`, every instance done.
//!
//! Run: `cargo bench --bench rollout` (set `ATLAS_BENCH_INSTANCES` to
//! change the fleet size and `ATLAS_BENCH_WAVE_SIZE` the wave size,
//! default 50, the rollout default).

use std::sync::Arc;
use std::time::Instant;

use atlas_core::model::{Id, Resource, Rollout, RolloutState, Status, Timestamp};
use atlas_core::testing::{fixtures, MockExecutor};
use atlas_core::{generate_password, Actor, App, AppConfig, Batch, SecretKey, Store};
use atlas_sqlite::{SqliteConfig, SqliteStore};
use serde_json::json;

/// Instances per insert batch.
const CHUNK: usize = 1_000;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

/// Core, profile 2.8 (current) and 2.9, straight into the store.
async fn seed_code(store: &dyn Store, now: Timestamp) -> (Id, Id, Id) {
    let mut b = Batch::new(now);
    let (core, from, to) = (Id::generate(now), Id::generate(now), Id::generate(now));
    b.insert(
        Resource::Code,
        core,
        fixtures::code().core("drupal", "7.42").current().build(),
    );
    b.insert(
        Resource::Code,
        from,
        fixtures::code().profile("express", "2.8").current().build(),
    );
    b.insert(
        Resource::Code,
        to,
        fixtures::code().profile("express", "2.9").build(),
    );
    store.commit(b).await.expect("seed code");
    (core, from, to)
}

/// `n` launched instances on `core` and `from`, update groups `i % 3`,
/// each with a sealed database password (one, shared: the switch only
/// resolves it).
async fn seed_instances(store: &dyn Store, key: &SecretKey, now: Timestamp, n: usize, core: Id, from: Id) {
    let sealed = key.seal(&generate_password());
    let mut i = 0;
    while i < n {
        let mut b = Batch::new(now);
        for _ in 0..CHUNK.min(n - i) {
            let mut body = fixtures::instance()
                .sid(&format!("p1{i:010x}"))
                .status(Status::Launched)
                .update_group(u8::try_from(i % 3).unwrap_or(0))
                .core(core)
                .profile(from)
                .build();
            body.insert("db_key".into(), json!(sealed));
            b.insert(Resource::Instance, Id::generate(now), body);
            i += 1;
        }
        store.commit(b).await.expect("seed instances");
    }
}

fn main() {
    let n = env_usize("ATLAS_BENCH_INSTANCES", 10_000);
    let wave_size = env_usize("ATLAS_BENCH_WAVE_SIZE", 50);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async {
        let dir = tempfile::tempdir().expect("temp dir");
        let store: Arc<dyn Store> = Arc::new(
            SqliteStore::open(SqliteConfig::at(dir.path().join("atlas.db")))
                .await
                .expect("open the store"),
        );
        let key = SecretKey::from_bytes([9; 32]);
        let now = Timestamp::now();
        let started = Instant::now();
        let (core, from, to) = seed_code(store.as_ref(), now).await;
        seed_instances(store.as_ref(), &key, now, n, core, from).await;
        let seed = started.elapsed();

        let mut executor = MockExecutor::new();
        executor.expect_switch_code().returning(|_| Ok(()));
        let mut config = AppConfig::default();
        config.scheduler.enabled = false;
        let app = App::builder(store.clone())
            .executor(Arc::new(executor))
            .secret_key(key)
            .config(config)
            .build()
            .expect("app");
        let body = json!({"from": from.to_string(), "to": to.to_string(), "wave_size": wave_size});
        let id = app
            .service()
            .create(Resource::Rollout, &Actor("bench".into()), body)
            .await
            .expect("post the rollout")[0]
            .id;

        let started = Instant::now();
        app.worker()
            .run_one()
            .await
            .expect("the first step")
            .expect("queued");
        let plan = started.elapsed();
        let started = Instant::now();
        app.drain().await.expect("run the rollout");
        let run = started.elapsed();

        let doc = store
            .get(Resource::Rollout, &id)
            .await
            .expect("read")
            .expect("rollout");
        let r = Rollout::from_doc(&doc).expect("rollout view");
        assert_eq!(r.state, RolloutState::Completed, "{:?}", r.failed);
        assert_eq!(r.done, n as u64, "every instance switched");
        println!(
            "rollout: {n} launched instances, waves of {wave_size} → {} waves",
            r.wave
        );
        println!("seed  {:>9.3} s", seed.as_secs_f64());
        println!(
            "plan  {:>9.3} s  (first step: select, order, record wave 1, queue its jobs)",
            plan.as_secs_f64()
        );
        println!(
            "run   {:>9.3} s  ({:.1} ms per wave, {:.2} ms per instance)",
            run.as_secs_f64(),
            run.as_secs_f64() * 1_000.0 / r.wave.max(1) as f64,
            run.as_secs_f64() * 1_000.0 / n.max(1) as f64
        );
    });
}
