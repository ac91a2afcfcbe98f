//! Embedding Atlas in your own Rust service: the core on the in-memory
//! store with a mocked executor (what a unit test of your automation
//! would use; swap in `atlas::shell::ShellExecutor` to act on servers),
//! driving an instance from `pending` to `available` through the same
//! rules the API applies.
//!
//! Run it with `cargo run --example embedding`.

use std::sync::Arc;

use atlas::core::model::{Instance, Resource, Status};
use atlas::core::testing::MockExecutor;
use atlas::core::{Actor, App, MemoryStore};
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The executor steps a new instance needs: deploy its code, provision,
    // install. Any other call fails the example.
    let mut executor = MockExecutor::new();
    executor.expect_deploy_code().times(2).returning(|_| Ok(()));
    executor.expect_provision().times(1).returning(|_| Ok(()));
    executor.expect_install().times(1).returning(|_| Ok(()));

    let app = App::builder(Arc::new(MemoryStore::new()))
        .executor(Arc::new(executor))
        .build()?;
    let me = Actor("embedder".into());

    // Code items first, as the operator guide says: a current core and profile.
    for (name, version, code_type, hash) in [
        (
            "drupal",
            "7.42",
            "core",
            "9ee4a3a7c0b5c9b7f2a5a38dd6c3f1a1c2b5e4d1",
        ),
        (
            "express",
            "2.2.5",
            "profile",
            "5d9b5e2b7f3c1a0e4d6f8a9b0c1d2e3f4a5b6c7d",
        ),
    ] {
        let body = json!({
            "git_url": format!("https://git.example.edu/{name}.git"),
            "commit_hash": hash,
            "meta": {"name": name, "version": version, "code_type": code_type, "is_current": true}
        });
        app.service().create(Resource::Code, &me, body).await?;
    }
    let created = app
        .service()
        .create(Resource::Instance, &me, json!({"status": "pending"}))
        .await?
        .remove(0)
        .view::<Instance>()?;
    println!("created {} ({})", created.sid, created.status);

    // Run the queued jobs: the two code deploys, then the provision.
    let ran = app.drain().await?;
    let now = app
        .service()
        .get(Resource::Instance, &created.id.to_string())
        .await?
        .view::<Instance>()?;
    println!("ran {ran} jobs; {} is now {}", now.sid, now.status);
    assert_eq!(now.status, Status::Available);
    Ok(())
}
