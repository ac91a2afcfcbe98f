//! Embedding Atlas in your own Rust service: the core with the in-memory
//! store and a recording executor (no servers touched), driving an instance
//! from `pending` to `available` through the same rules the API uses.
//!
//! Run it with `cargo run --example embedding`.

use std::sync::Arc;

use atlas::core::clock::SystemClock;
use atlas::core::model::Resource;
use atlas::core::notify::NullNotifier;
use atlas::core::secrets::SecretKey;
use atlas::core::service::{Actor, Service, ServiceConfig};
use atlas::core::testing::RecordingExecutor;
use atlas::core::worker::{Worker, WorkerConfig};
use atlas::core::{Engine, MemoryStore, Store};
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let clock = Arc::new(SystemClock);
    let svc = Service::new(
        store.clone(),
        clock.clone(),
        SecretKey::generate().0,
        ServiceConfig::default(),
    );
    let executor = RecordingExecutor::new();
    let engine = Engine::new(svc.clone(), Arc::new(executor.clone()), Arc::new(NullNotifier));
    let worker = Worker::new(store, clock, Arc::new(engine), WorkerConfig::default());
    let me = Actor("embedder".into());

    // Code items first, as the operator guide says.
    for (name, version, code_type) in [("drupal", "7.42", "core"), ("express", "2.2.5", "profile")] {
        svc.create(
            Resource::Code,
            &me,
            json!({
                "git_url": format!("https://git.example.edu/{name}.git"),
                "commit_hash": format!("{:0>40}", version.replace('.', "")),
                "meta": {"name": name, "version": version, "code_type": code_type, "is_current": true}
            }),
        )
        .await?;
    }
    let instance = svc
        .create(Resource::Instance, &me, json!({"status": "pending"}))
        .await?
        .remove(0);
    println!(
        "created {} ({})",
        instance.str_field("sid").unwrap_or("?"),
        instance.str_field("status").unwrap_or("?")
    );

    // Run the queued jobs: code deploys, then the provision.
    let ran = worker.drain().await?;
    let now = svc.get(Resource::Instance, &instance.id.to_string()).await?;
    println!(
        "ran {ran} jobs; the instance is now {}",
        now.str_field("status").unwrap_or("?")
    );
    println!("executor calls: {:?}", executor.operations());
    assert_eq!(now.str_field("status"), Some("available"));
    Ok(())
}
