//! The core store conformance suite, run against an in-memory and a
//! file-backed `SqliteStore`.

mod in_memory {
    use atlas_sqlite::SqliteStore;

    atlas_core::store_conformance!(async { SqliteStore::open_in_memory().await.expect("open in memory") });
}

mod on_disk {
    use std::sync::Arc;

    use async_trait::async_trait;
    use atlas_core::model::{Doc, Id, Resource, Timestamp};
    use atlas_core::query::FindQuery;
    use atlas_core::StoreError;
    use atlas_core::{Batch, Committed, FindPage, JobPage, Store};
    use atlas_core::{Job, JobAction, JobChange, JobId, LeaseSpec, Outcome};
    use atlas_sqlite::SqliteStore;

    /// A file-backed store that removes its directory when dropped.
    #[derive(Debug)]
    struct TempStore {
        store: Arc<SqliteStore>,
        _dir: tempfile::TempDir,
    }

    async fn temp_store() -> TempStore {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open_path(dir.path().join("atlas.db"))
            .await
            .expect("open on disk");
        TempStore {
            store: Arc::new(store),
            _dir: dir,
        }
    }

    #[async_trait]
    impl Store for TempStore {
        async fn get(&self, res: Resource, id: &Id) -> Result<Option<Doc>, StoreError> {
            self.store.get(res, id).await
        }
        async fn find(&self, res: Resource, q: &FindQuery) -> Result<FindPage, StoreError> {
            self.store.find(res, q).await
        }
        async fn history(&self, res: Resource, id: &Id) -> Result<Vec<Doc>, StoreError> {
            self.store.history(res, id).await
        }
        async fn commit(&self, batch: Batch) -> Result<Committed, StoreError> {
            self.store.commit(batch).await
        }
        async fn claim(&self, lease: &LeaseSpec, now: Timestamp) -> Result<Option<Job>, StoreError> {
            self.store.claim(lease, now).await
        }
        async fn renew(&self, job: &JobId, owner: &str, until: Timestamp) -> Result<(), StoreError> {
            self.store.renew(job, owner, until).await
        }
        async fn finish(&self, job: &JobId, outcome: Outcome) -> Result<(), StoreError> {
            self.store.finish(job, outcome).await
        }
        async fn requeue_expired(&self, now: Timestamp) -> Result<u64, StoreError> {
            self.store.requeue_expired(now).await
        }
        async fn job(&self, id: &JobId) -> Result<Option<Job>, StoreError> {
            self.store.job(id).await
        }
        async fn find_jobs(&self, q: &FindQuery) -> Result<JobPage, StoreError> {
            self.store.find_jobs(q).await
        }
        async fn act_on_job(
            &self,
            id: &JobId,
            action: &JobAction,
            now: Timestamp,
        ) -> Result<JobChange, StoreError> {
            self.store.act_on_job(id, action, now).await
        }
    }

    atlas_core::store_conformance!(temp_store());
}
