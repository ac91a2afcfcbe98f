//! [`BreakableStore`]: a [`MemoryStore`] that, once broken, fails every
//! operation as an unreachable backend would.

use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use atlas_core::model::{Doc, Id, Resource, Timestamp};
use atlas_core::query::FindQuery;
use atlas_core::{
    Batch, Committed, FindPage, Job, JobAction, JobChange, JobId, JobPage, LeaseSpec, MemoryStore, Outcome,
    Store, StoreError,
};

/// A [`MemoryStore`]; once [`BreakableStore::break_it`] is called every
/// operation fails with [`StoreError::Backend`] (backend `"breakable"`).
#[derive(Debug, Default)]
pub struct BreakableStore {
    inner: MemoryStore,
    broken: AtomicBool,
}

impl BreakableStore {
    /// A working, empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Fails every later operation.
    pub fn break_it(&self) {
        self.broken.store(true, Ordering::SeqCst);
    }

    fn check(&self) -> Result<(), StoreError> {
        if self.broken.load(Ordering::SeqCst) {
            Err(StoreError::Backend {
                backend: "breakable",
                source: "the database is closed".into(),
            })
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl Store for BreakableStore {
    async fn get(&self, res: Resource, id: &Id) -> Result<Option<Doc>, StoreError> {
        self.check()?;
        self.inner.get(res, id).await
    }
    async fn find(&self, res: Resource, q: &FindQuery) -> Result<FindPage, StoreError> {
        self.check()?;
        self.inner.find(res, q).await
    }
    async fn history(&self, res: Resource, id: &Id) -> Result<Vec<Doc>, StoreError> {
        self.check()?;
        self.inner.history(res, id).await
    }
    async fn commit(&self, batch: Batch) -> Result<Committed, StoreError> {
        self.check()?;
        self.inner.commit(batch).await
    }
    async fn claim(&self, lease: &LeaseSpec, now: Timestamp) -> Result<Option<Job>, StoreError> {
        self.check()?;
        self.inner.claim(lease, now).await
    }
    async fn renew(&self, job: &JobId, owner: &str, until: Timestamp) -> Result<(), StoreError> {
        self.check()?;
        self.inner.renew(job, owner, until).await
    }
    async fn finish(&self, job: &JobId, outcome: Outcome) -> Result<(), StoreError> {
        self.check()?;
        self.inner.finish(job, outcome).await
    }
    async fn requeue_expired(&self, now: Timestamp) -> Result<u64, StoreError> {
        self.check()?;
        self.inner.requeue_expired(now).await
    }
    async fn job(&self, id: &JobId) -> Result<Option<Job>, StoreError> {
        self.check()?;
        self.inner.job(id).await
    }
    async fn find_jobs(&self, q: &FindQuery) -> Result<JobPage, StoreError> {
        self.check()?;
        self.inner.find_jobs(q).await
    }

    async fn act_on_job(
        &self,
        id: &JobId,
        action: &JobAction,
        now: Timestamp,
    ) -> Result<JobChange, StoreError> {
        self.check()?;
        self.inner.act_on_job(id, action, now).await
    }
}
