//! [`FailingStore`]: a [`Store`] wrapper that fails chosen `commit` calls
//! with a [`StoreError::Backend`], for testing how callers (the worker's
//! retries, the service's error mapping) survive a store outage.

use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;

use crate::batch::{Batch, Committed};
use crate::error::StoreError;
use crate::jobs::{Job, JobAction, JobChange, JobId, LeaseSpec};
use crate::model::{Doc, Id, Resource, Timestamp};
use crate::query::FindQuery;
use crate::store::Outcome;
use crate::store::{FindPage, JobPage, Store};

/// The error a [`FailingStore`] injects.
#[derive(Debug, thiserror::Error)]
#[error("injected failure of commit #{0}")]
pub struct InjectedFailure(pub usize);

/// Wraps a store and fails its `nth` `commit` (1-based) — and, with
/// [`FailingStore::and_every_later_commit`], every commit after it — with
/// [`StoreError::Backend`] (backend `"failing"`). A failed commit never
/// reaches the inner store. Every other method is forwarded unchanged.
#[derive(Debug)]
pub struct FailingStore<S> {
    inner: S,
    nth: usize,
    sticky: bool,
    commits: AtomicUsize,
}

impl<S: Store> FailingStore<S> {
    /// Fails the `nth` commit (1-based; `0` never fails).
    pub fn new(inner: S, nth: usize) -> Self {
        Self {
            inner,
            nth,
            sticky: false,
            commits: AtomicUsize::new(0),
        }
    }

    /// Also fails every commit after the `nth`.
    pub fn and_every_later_commit(mut self) -> Self {
        self.sticky = true;
        self
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// How many commits were attempted so far (failed ones included).
    pub fn commits(&self) -> usize {
        self.commits.load(Ordering::SeqCst)
    }

    fn fails(&self, n: usize) -> bool {
        self.nth != 0 && (n == self.nth || (self.sticky && n > self.nth))
    }
}

#[async_trait]
impl<S: Store> Store for FailingStore<S> {
    async fn get(&self, res: Resource, id: &Id) -> Result<Option<Doc>, StoreError> {
        self.inner.get(res, id).await
    }
    async fn find(&self, res: Resource, q: &FindQuery) -> Result<FindPage, StoreError> {
        self.inner.find(res, q).await
    }
    async fn history(&self, res: Resource, id: &Id) -> Result<Vec<Doc>, StoreError> {
        self.inner.history(res, id).await
    }
    async fn commit(&self, batch: Batch) -> Result<Committed, StoreError> {
        let n = self.commits.fetch_add(1, Ordering::SeqCst) + 1;
        if self.fails(n) {
            return Err(StoreError::Backend {
                backend: "failing",
                source: Box::new(InjectedFailure(n)),
            });
        }
        self.inner.commit(batch).await
    }
    async fn claim(&self, lease: &LeaseSpec, now: Timestamp) -> Result<Option<Job>, StoreError> {
        self.inner.claim(lease, now).await
    }
    async fn renew(&self, job: &JobId, owner: &str, until: Timestamp) -> Result<(), StoreError> {
        self.inner.renew(job, owner, until).await
    }
    async fn finish(&self, job: &JobId, outcome: Outcome) -> Result<(), StoreError> {
        self.inner.finish(job, outcome).await
    }
    async fn requeue_expired(&self, now: Timestamp) -> Result<u64, StoreError> {
        self.inner.requeue_expired(now).await
    }
    async fn job(&self, id: &JobId) -> Result<Option<Job>, StoreError> {
        self.inner.job(id).await
    }
    async fn find_jobs(&self, q: &FindQuery) -> Result<JobPage, StoreError> {
        self.inner.find_jobs(q).await
    }
    async fn lead(
        &self,
        role: &str,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StoreError> {
        self.inner.lead(role, owner, now, until).await
    }
    async fn act_on_job(
        &self,
        id: &JobId,
        action: &JobAction,
        now: Timestamp,
    ) -> Result<JobChange, StoreError> {
        self.inner.act_on_job(id, action, now).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryStore;
    use crate::testing::fixtures;

    fn batch(n: i64) -> Batch {
        let now = Timestamp::from_unix(1_795_564_800 + n);
        let mut b = Batch::new(now);
        b.insert(
            Resource::Instance,
            Id::generate(now),
            fixtures::instance().build(),
        );
        b
    }

    #[tokio::test]
    async fn failing_store_fails_only_the_nth_commit_and_leaves_the_inner_store_untouched() {
        let store = FailingStore::new(MemoryStore::new(), 2);
        assert!(store.commit(batch(1)).await.is_ok());
        let err = store.commit(batch(2)).await.unwrap_err();
        assert!(matches!(
            err,
            StoreError::Backend {
                backend: "failing",
                ..
            }
        ));
        assert!(store.commit(batch(3)).await.is_ok());
        assert_eq!(store.commits(), 3);
        let all = FindQuery::all_matching(crate::query::Filter::All);
        let page = store.inner().find(Resource::Instance, &all).await.unwrap();
        assert_eq!(page.total, 2);
    }

    #[tokio::test]
    async fn failing_store_keeps_failing_after_the_nth_when_sticky() {
        let store = FailingStore::new(MemoryStore::new(), 1).and_every_later_commit();
        for n in 0..3 {
            assert!(store.commit(batch(n)).await.is_err());
        }
        assert_eq!(store.commits(), 3);
    }
}
