//! [`MemoryStore`]: the reference in-memory [`Store`]. It defines by example
//! what every backend must do (and the conformance suite checks): atomic
//! batches over a scratch overlay, etag preconditions, unique keys among live
//! records, full version history, and the job queue of [`crate::jobs`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use serde_json::Value;

use crate::batch::{Batch, Committed, Write, Written};
use crate::error::StoreError;
use crate::jobs::{Job, JobAction, JobChange, JobId, JobStatus, LeaseSpec};
use crate::model::{canonical_json, merge_patch, Doc, Id, Resource, Timestamp};
use crate::query::{select, Filter, FindQuery, Op, Operand};
use crate::schema::{unique_keys, unique_values, UniqueValues};
use crate::store::Outcome;
use crate::store::{FindPage, JobPage, Store};

/// Backend name used in [`StoreError::Backend`].
const BACKEND: &str = "memory";

/// The in-memory store: records with their full version history, and jobs.
///
/// Clones share the same data (like an `Arc`). Every operation takes one
/// lock, so each is atomic with respect to the others.
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
}

/// What the store holds.
#[derive(Debug, Default)]
struct State {
    /// Every version of every record, oldest first, per resource.
    records: HashMap<Resource, BTreeMap<Id, Vec<Doc>>>,
    /// Every job.
    jobs: BTreeMap<JobId, Job>,
    /// Per resource and unique key (its index in `unique_keys`), which live
    /// record holds each value ([`key_text`]): unique checks look values up
    /// instead of scanning every record.
    unique: HashMap<(Resource, usize), HashMap<String, Id>>,
    /// The JSON ([`Doc::to_json`]) of every current version, which finds
    /// evaluate filters and sorts on, made once per write instead of once
    /// per record and find.
    views: HashMap<Resource, BTreeMap<Id, Value>>,
}

/// The lock was poisoned by a panic while it was held.
#[derive(Debug, thiserror::Error)]
#[error("the memory store's lock was poisoned by a panicking writer")]
struct Poisoned;

impl State {
    /// The current version of a record.
    fn current(&self, res: Resource, id: &Id) -> Option<&Doc> {
        self.records.get(&res)?.get(id)?.last()
    }

    /// The current versions of every record of `res`, in id order, each
    /// with its JSON.
    fn currents(&self, res: Resource) -> impl Iterator<Item = (&Doc, &Value)> {
        let views = self.views.get(&res);
        self.records.get(&res).into_iter().flat_map(move |m| {
            m.iter()
                .filter_map(move |(id, v)| Some((v.last()?, views?.get(id)?)))
        })
    }

    /// The live record (other than `id`) holding `text` for unique key
    /// `key` of `res`.
    fn unique_owner(&self, res: Resource, key: usize, text: &str, id: &Id) -> Option<Id> {
        let owner = *self.unique.get(&(res, key))?.get(text)?;
        (owner != *id).then_some(owner)
    }

    /// Makes `doc` the current version of its record, keeping the unique
    /// index in step.
    fn push(&mut self, res: Resource, doc: Doc) {
        let keys = unique_keys(res);
        if let Some(prev) = self.current(res, &doc.id).filter(|d| !d.deleted) {
            let held: Vec<(usize, String)> = keys
                .iter()
                .enumerate()
                .filter_map(|(i, k)| unique_values(k, prev).map(|v| (i, key_text(&v))))
                .collect();
            for (i, text) in held {
                if let Some(index) = self.unique.get_mut(&(res, i)) {
                    if index.get(&text) == Some(&doc.id) {
                        index.remove(&text);
                    }
                }
            }
        }
        if !doc.deleted {
            for (i, k) in keys.iter().enumerate() {
                if let Some(v) = unique_values(k, &doc) {
                    self.unique
                        .entry((res, i))
                        .or_default()
                        .insert(key_text(&v), doc.id);
                }
            }
        }
        self.views.entry(res).or_default().insert(doc.id, doc.to_json());
        self.records
            .entry(res)
            .or_default()
            .entry(doc.id)
            .or_default()
            .push(doc);
    }
}

/// Pending changes of a batch, seen through by later writes of the batch.
struct Scratch<'a> {
    base: &'a State,
    /// The newest pending version of each record the batch wrote.
    latest: HashMap<(Resource, Id), Doc>,
    /// Every pending version, in write order.
    versions: Vec<(Resource, Doc)>,
    /// Jobs to add or replace.
    jobs: Vec<Job>,
}

impl<'a> Scratch<'a> {
    fn new(base: &'a State) -> Self {
        Self {
            base,
            latest: HashMap::new(),
            versions: Vec::new(),
            jobs: Vec::new(),
        }
    }

    /// The current version of a record as the batch sees it.
    fn current(&self, res: Resource, id: &Id) -> Option<&Doc> {
        self.latest
            .get(&(res, *id))
            .or_else(|| self.base.current(res, id))
    }

    /// Records a new version.
    fn put(&mut self, res: Resource, doc: Doc) {
        self.latest.insert((res, doc.id), doc.clone());
        self.versions.push((res, doc));
    }

    /// Applies `batch`'s writes in order; the first failing write aborts.
    fn apply(&mut self, batch: Batch) -> Result<Committed, StoreError> {
        let now = batch.now;
        let mut results = Vec::with_capacity(batch.writes.len());
        for (write, w) in batch.writes.into_iter().enumerate() {
            results.push(self.apply_one(write, w, now)?);
        }
        Ok(Committed { results })
    }

    fn apply_one(&mut self, write: usize, w: Write, now: Timestamp) -> Result<Written, StoreError> {
        match w {
            Write::Insert { res, id, body } => {
                if self.current(res, &id).is_some() {
                    return Err(StoreError::Unique {
                        write,
                        res,
                        field: "_id".into(),
                        value: id.to_string(),
                    });
                }
                let doc = Doc::new(id, body, now);
                self.check_unique(write, res, &doc)?;
                self.put(res, doc.clone());
                Ok(Written::Doc(doc))
            }
            Write::Update {
                res,
                id,
                patch,
                expect,
            } => {
                let mut doc = self.live_target(write, res, &id, expect.as_ref())?;
                merge_patch(&mut doc.body, &patch);
                self.write_version(write, res, doc, now)
            }
            Write::Replace {
                res,
                id,
                body,
                expect,
            } => {
                let mut doc = self.live_target(write, res, &id, expect.as_ref())?;
                doc.body = body;
                self.write_version(write, res, doc, now)
            }
            Write::Delete { res, id, expect } => {
                let found = self.current(res, &id);
                if let Some(gone) = found.filter(|d| d.deleted) {
                    return Ok(Written::Doc(gone.clone()));
                }
                let mut doc = crate::store::write_target(found, write, res, &id, expect.as_ref())?.clone();
                doc.deleted = true;
                self.write_version(write, res, doc, now)
            }
            Write::Enqueue(spec) => {
                let job = Job::from_spec(JobId(Id::generate(now)), spec, now);
                let id = job.id;
                self.jobs.push(job);
                Ok(Written::Job(id))
            }
        }
    }

    /// The live current version of a write's target, its etag checked.
    fn live_target(
        &self,
        write: usize,
        res: Resource,
        id: &Id,
        expect: Option<&crate::model::Etag>,
    ) -> Result<Doc, StoreError> {
        crate::store::write_target(self.current(res, id), write, res, id, expect).cloned()
    }

    /// Stamps `doc` as the next version at `now`, checks unique keys and
    /// records it.
    fn write_version(
        &mut self,
        write: usize,
        res: Resource,
        mut doc: Doc,
        now: Timestamp,
    ) -> Result<Written, StoreError> {
        doc.version += 1;
        doc.updated = now;
        doc.etag = doc.compute_etag();
        if !doc.deleted {
            self.check_unique(write, res, &doc)?;
        }
        self.put(res, doc.clone());
        Ok(Written::Doc(doc))
    }

    /// Fails when `doc` (live) clashes with another live record of `res` on
    /// any unique key: a stored record (through the unique index) that this
    /// batch has not rewritten, or a record this batch wrote.
    fn check_unique(&self, write: usize, res: Resource, doc: &Doc) -> Result<(), StoreError> {
        for (i, key) in unique_keys(res).iter().enumerate() {
            let Some(values) = unique_values(key, doc) else {
                continue;
            };
            let stored = self
                .base
                .unique_owner(res, i, &key_text(&values), &doc.id)
                .is_some_and(|owner| !self.latest.contains_key(&(res, owner)));
            let clash = stored
                || self
                    .latest
                    .iter()
                    .filter(|((r, id), d)| *r == res && *id != doc.id && !d.deleted)
                    .any(|(_, other)| unique_values(key, other).is_some_and(|v| v == values));
            if clash {
                return Err(StoreError::Unique {
                    write,
                    res,
                    field: key.field.to_owned(),
                    value: values.to_string(),
                });
            }
        }
        Ok(())
    }

    /// Moves the pending changes into `state`.
    fn into_changes(self) -> Changes {
        Changes {
            versions: self.versions,
            jobs: self.jobs,
        }
    }
}

/// The changes of a successful batch, detached from the state's borrow.
struct Changes {
    versions: Vec<(Resource, Doc)>,
    jobs: Vec<Job>,
}

impl Changes {
    fn apply_to(self, state: &mut State) {
        for (res, doc) in self.versions {
            state.push(res, doc);
        }
        for job in self.jobs {
            state.jobs.insert(job.id, job);
        }
    }
}

/// The unique index's key for `values`: their canonical JSON, equal when
/// the values are (whatever the key order of objects among them).
fn key_text(values: &UniqueValues<'_>) -> String {
    values
        .as_slice()
        .iter()
        .map(|v| canonical_json(v))
        .collect::<Vec<_>>()
        .join(",")
}

/// The text `f` requires `path` to equal at its top level (alone or in an
/// `and`): a document without it cannot match.
fn required_text<'f>(f: &'f Filter, path: &str) -> Option<&'f str> {
    match f {
        Filter::Field {
            path: p,
            op: Op::Eq(Operand::Json(Value::String(s))),
        } if p == path => Some(s),
        Filter::And(all) => all.iter().find_map(|f| required_text(f, path)),
        _ => None,
    }
}

/// The jobs that may be claimed at `now` (see [`crate::jobs`]): queued and
/// due, with no running job of their key and no queued job of their key
/// created before them.
fn claimable(jobs: &BTreeMap<JobId, Job>, now: Timestamp) -> impl Iterator<Item = &Job> {
    let mut busy_keys: BTreeSet<&str> = BTreeSet::new();
    let mut heads: BTreeMap<&str, &Job> = BTreeMap::new();
    for job in jobs.values() {
        let Some(key) = job.key.as_deref() else {
            continue;
        };
        match job.status {
            JobStatus::Running => {
                busy_keys.insert(key);
            }
            JobStatus::Queued => {
                let head = heads.entry(key).or_insert(job);
                if (job.created, job.id) < (head.created, head.id) {
                    *head = job;
                }
            }
            JobStatus::Succeeded | JobStatus::Dead => {}
        }
    }
    jobs.values().filter(move |job| {
        job.status == JobStatus::Queued
            && job.run_at <= now
            && match job.key.as_deref() {
                None => true,
                Some(key) => !busy_keys.contains(key) && heads.get(key).is_some_and(|h| h.id == job.id),
            }
    })
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<MutexGuard<'_, State>, StoreError> {
        self.state.lock().map_err(|_| StoreError::Backend {
            backend: BACKEND,
            source: Box::new(Poisoned),
        })
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn get(&self, res: Resource, id: &Id) -> Result<Option<Doc>, StoreError> {
        Ok(self.lock()?.current(res, id).cloned())
    }

    async fn find(&self, res: Resource, q: &FindQuery) -> Result<FindPage, StoreError> {
        let state = self.lock()?;
        // Only the page's documents are cloned.
        let (page, total) = select(state.currents(res), q);
        let items = page.into_iter().cloned().collect();
        Ok(FindPage { items, total })
    }

    async fn history(&self, res: Resource, id: &Id) -> Result<Vec<Doc>, StoreError> {
        self.lock()?
            .records
            .get(&res)
            .and_then(|m| m.get(id))
            .cloned()
            .ok_or_else(|| StoreError::not_found(res, id))
    }

    #[tracing::instrument(skip_all, fields(writes = batch.writes.len()))]
    async fn commit(&self, batch: Batch) -> Result<Committed, StoreError> {
        let mut state = self.lock()?;
        let mut scratch = Scratch::new(&state);
        let committed = scratch.apply(batch)?;
        let changes = scratch.into_changes();
        changes.apply_to(&mut state);
        Ok(committed)
    }

    #[tracing::instrument(skip_all, fields(owner = %lease.owner))]
    async fn claim(&self, lease: &LeaseSpec, now: Timestamp) -> Result<Option<Job>, StoreError> {
        let mut state = self.lock()?;
        let next = claimable(&state.jobs, now)
            .min_by_key(|j| (j.run_at, j.created, j.id))
            .map(|j| j.id);
        Ok(next.and_then(|id| {
            let job = state.jobs.get_mut(&id)?;
            job.claim(lease, now);
            Some(job.clone())
        }))
    }

    async fn renew(&self, job: &JobId, owner: &str, until: Timestamp) -> Result<(), StoreError> {
        let mut state = self.lock()?;
        let j = state.jobs.get_mut(job).ok_or(StoreError::JobNotFound(*job))?;
        j.check_lease(owner)?;
        j.lease_until = Some(until);
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(job.id = %job, owner = %outcome.owner))]
    async fn finish(&self, job: &JobId, outcome: Outcome) -> Result<(), StoreError> {
        let mut state = self.lock()?;
        let mut finished = state
            .jobs
            .get(job)
            .cloned()
            .ok_or(StoreError::JobNotFound(*job))?;
        finished.check_lease(&outcome.owner)?;
        finished.finish(outcome.now, &outcome.result);
        let mut scratch = Scratch::new(&state);
        scratch.apply(outcome.follow_up)?;
        let mut changes = scratch.into_changes();
        changes.jobs.push(finished);
        changes.apply_to(&mut state);
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn requeue_expired(&self, now: Timestamp) -> Result<u64, StoreError> {
        let mut state = self.lock()?;
        let mut n = 0;
        for job in state.jobs.values_mut() {
            if job.status == JobStatus::Running && job.lease_until.is_some_and(|t| t <= now) {
                tracing::warn!(job.id = %job.id, job.kind = %job.kind, "lease expired; requeueing");
                job.expire_lease(now);
                n += 1;
            }
        }
        Ok(n)
    }

    async fn job(&self, id: &JobId) -> Result<Option<Job>, StoreError> {
        Ok(self.lock()?.jobs.get(id).cloned())
    }

    async fn find_jobs(&self, q: &FindQuery) -> Result<JobPage, StoreError> {
        let state = self.lock()?;
        // Most job queries name a key or a kind: skip rendering the JSON of
        // the jobs that cannot match.
        let (key, kind) = (required_text(&q.filter, "key"), required_text(&q.filter, "kind"));
        let candidates = state
            .jobs
            .values()
            .filter(|j| key.is_none_or(|k| j.key.as_deref() == Some(k)) && kind.is_none_or(|k| j.kind == k));
        let (page, total) = select(candidates.map(|j| (j, j.to_json())), q);
        let items = page.into_iter().cloned().collect();
        Ok(JobPage { items, total })
    }

    async fn act_on_job(
        &self,
        id: &JobId,
        action: &JobAction,
        now: Timestamp,
    ) -> Result<JobChange, StoreError> {
        let mut state = self.lock()?;
        let Some(job) = state.jobs.get_mut(id) else {
            return Ok(JobChange::Missing);
        };
        Ok(if job.act(action, now) {
            JobChange::Applied(job.clone())
        } else {
            JobChange::Refused(job.clone())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::fixtures;

    #[tokio::test]
    async fn clones_share_the_same_records() {
        let a = MemoryStore::new();
        let b = a.clone();
        let now = Timestamp::from_unix(1_795_564_800);
        let mut batch = Batch::new(now);
        let id = Id::generate(now);
        batch.insert(Resource::Route, id, fixtures::route().build());
        a.commit(batch).await.unwrap();
        assert!(b.get(Resource::Route, &id).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn poisoned_lock_is_a_backend_error() {
        let store = MemoryStore::new();
        let inner = store.clone();
        let _ = std::thread::spawn(move || {
            let _guard = inner.state.lock();
            panic!("poison the lock (expected in this test)");
        })
        .join();
        let err = store.job(&JobId(Id::from_bytes([0; 12]))).await.unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Backend {
                    backend: "memory",
                    ..
                }
            ),
            "{err:?}"
        );
    }
}

#[cfg(test)]
crate::store_conformance!(async { MemoryStore::new() });
