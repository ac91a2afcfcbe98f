//! `atlas migrate --from sqlite:PATH` copies a SQLite database into an
//! empty PostgreSQL schema: records with every version and etag, deleted
//! records, and queued jobs; a second copy into the same schema is refused.

use std::process::Command;

use atlas_core::model::{Id, Resource, Timestamp};
use atlas_core::{Batch, JobSpec, Store};
use atlas_postgres::testing::TestSchema;
use atlas_sqlite::SqliteStore;
use serde_json::json;

#[test]
fn a_sqlite_database_moves_to_postgres_with_versions_and_pending_jobs() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let Some(schema) = rt.block_on(TestSchema::create()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("atlas.db");
    let now = Timestamp::from_unix(1_795_564_800);
    let (kept, gone) = (Id::generate(now), Id::generate(now));
    let (kept_doc, job) = rt.block_on(async {
        let sqlite = SqliteStore::open_path(&db).await.unwrap();
        let mut b = Batch::new(now);
        b.insert(
            Resource::Site,
            kept,
            json!({"n": 1}).as_object().cloned().unwrap(),
        );
        b.insert(
            Resource::Site,
            gone,
            json!({"n": 2}).as_object().cloned().unwrap(),
        );
        b.enqueue(JobSpec::new("command_run", json!({"command": "x"}), now).keyed("k"));
        let job = sqlite.commit(b).await.unwrap().jobs().next().unwrap();
        let mut b = Batch::new(now.plus(std::time::Duration::from_secs(60)));
        b.update(
            Resource::Site,
            kept,
            json!({"n": 3}).as_object().cloned().unwrap(),
            None,
        );
        b.delete(Resource::Site, gone, None);
        sqlite.commit(b).await.unwrap();
        (sqlite.get(Resource::Site, &kept).await.unwrap().unwrap(), job)
    });

    let migrate = || {
        Command::new(env!("CARGO_BIN_EXE_atlas"))
            .arg("--data-dir")
            .arg(dir.path())
            .args(["migrate", "--from"])
            .arg(format!("sqlite:{}", db.display()))
            .env("RUST_LOG", "warn")
            .env("ATLAS_STORE__BACKEND", "postgres")
            .env("ATLAS_STORE__POSTGRES__URL", schema.url())
            .env("ATLAS_STORE__POSTGRES__SCHEMA", schema.name())
            .output()
            .unwrap()
    };
    let out = migrate();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("copied 2 records"));

    rt.block_on(async {
        let pg = schema.store().await;
        assert_eq!(pg.get(Resource::Site, &kept).await.unwrap().unwrap(), kept_doc);
        assert_eq!(pg.history(Resource::Site, &kept).await.unwrap().len(), 2);
        assert!(pg.get(Resource::Site, &gone).await.unwrap().unwrap().deleted);
        let copied = pg.job(&job).await.unwrap().expect("the queued job is copied");
        assert_eq!(copied.key.as_deref(), Some("k"));
    });

    let again = migrate();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds"));
}
