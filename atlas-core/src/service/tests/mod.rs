//! Behaviour of the API service against `MemoryStore` and a `ManualClock`:
//! the records each operation stores and the jobs it enqueues (running
//! those jobs is the engine's business and is tested there).
//!
//! One file per resource or concern; this file holds the shared
//! environment ([`Env`]) and realistic bodies taken from the seed samples.

mod backup;
mod code;
mod commands;
mod generic;
mod instance;
mod route;
mod secrets;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::batch::{Batch, Write, Written};
use crate::clock::{Clock, ManualClock};
use crate::jobs::Job;
use crate::model::{Body, Doc, Id, Resource, Status, Timestamp};
use crate::query::FindQuery;
use crate::secrets::SecretKey;
use crate::service::{Actor, Invalid, Service, ServiceConfig, ServiceError};
use crate::store::{Store, StoreExt};
use crate::MemoryStore;

/// The time every test starts at.
pub(super) fn t0() -> Timestamp {
    Timestamp::parse("2026-11-25 01:36:55 GMT").expect("valid timestamp")
}

/// The acting user of most tests.
pub(super) fn alice() -> Actor {
    Actor("alice".into())
}

/// A fresh 40-hex commit hash.
pub(super) fn commit_hash() -> String {
    let bytes: [u8; 20] = rand::random();
    hex::encode(bytes)
}

/// A code body as the seed posts it.
pub(super) fn code_body(code_type: &str, name: &str, version: &str, current: bool) -> Value {
    let git_url = if name == "drupal" {
        "https://github.com/drupal/drupal.git".to_owned()
    } else {
        format!("https://github.com/CuBoulder/{name}.git")
    };
    json!({
        "git_url": git_url,
        "commit_hash": commit_hash(),
        "meta": {"name": name, "version": version, "code_type": code_type, "is_current": current},
    })
}

/// Drupal core `version`.
pub(super) fn core_body(version: &str, current: bool) -> Value {
    code_body("core", "drupal", version, current)
}

/// The `express` install profile `version`.
pub(super) fn profile_body(version: &str, current: bool) -> Value {
    code_body("profile", "express", version, current)
}

/// A non-current module.
pub(super) fn module_body(name: &str, version: &str) -> Value {
    code_body("module", name, version, false)
}

/// A route body for `instance` at `source`.
pub(super) fn route_body(source: &str, instance: &Id, status: &str, active_on_launch: bool) -> Value {
    json!({
        "route_type": "poolb-express",
        "source": source,
        "route_status": status,
        "active_on_launch": active_on_launch,
        "instance_id": instance.to_string(),
    })
}

/// The service under test with its store and clock.
pub(super) struct Env {
    pub(super) svc: Service,
    pub(super) store: Arc<dyn Store>,
    pub(super) clock: ManualClock,
}

impl Env {
    /// A service over an empty `MemoryStore` at [`t0`].
    pub(super) fn new() -> Self {
        Self::over(Arc::new(MemoryStore::new()))
    }

    /// A service over `store` at [`t0`].
    pub(super) fn over(store: Arc<dyn Store>) -> Self {
        let clock = ManualClock::at(t0());
        let svc = Service::new(
            store.clone(),
            Arc::new(clock.clone()),
            SecretKey::generate().0,
            ServiceConfig::default(),
        );
        Self { svc, store, clock }
    }

    /// Moves the clock forward by `secs` seconds.
    pub(super) fn advance(&self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs));
    }

    /// Creates one record as alice; panics on refusal.
    pub(super) async fn create(&self, res: Resource, body: Value) -> Doc {
        let mut docs = match self.svc.create(res, &alice(), body).await {
            Ok(docs) => docs,
            Err(e) => panic!("create {res} refused: {e:?}"),
        };
        assert_eq!(docs.len(), 1);
        docs.remove(0)
    }

    /// The error a create of one record fails with; panics when it passes.
    pub(super) async fn create_err(&self, res: Resource, body: Value) -> ServiceError {
        match self.svc.create(res, &alice(), body).await {
            Ok(docs) => panic!("create {res} accepted: {docs:?}"),
            Err(e) => e,
        }
    }

    /// PATCHes `doc` as alice with its current etag.
    pub(super) async fn patch(&self, res: Resource, doc: &Doc, patch: Value) -> Result<Doc, ServiceError> {
        self.svc
            .update(res, &doc.id.to_string(), Some(&doc.etag), &alice(), patch)
            .await
    }

    /// DELETEs `doc` as alice with its current etag.
    pub(super) async fn delete(&self, res: Resource, doc: &Doc) -> Result<(), ServiceError> {
        self.svc
            .delete(res, &doc.id.to_string(), Some(&doc.etag), &alice())
            .await
    }

    /// Deletes with `?force=true` (a launched instance).
    pub(super) async fn delete_forced(&self, res: Resource, doc: &Doc) -> Result<(), ServiceError> {
        self.svc
            .delete_with(res, &doc.id.to_string(), Some(&doc.etag), &alice(), true)
            .await
    }

    /// The record as stored (hidden fields included, deleted ones too).
    pub(super) async fn stored(&self, res: Resource, id: &Id) -> Doc {
        self.store.require(res, id).await.expect("record is stored")
    }

    /// Every live record of `res`.
    pub(super) async fn all(&self, res: Resource) -> Vec<Doc> {
        let q = FindQuery::all_matching(crate::query::Filter::All);
        self.store.find(res, &q).await.expect("find").items
    }

    /// The current core (`drupal` 7.42) and profile (`express` 2.2.5).
    pub(super) async fn current_code(&self) -> (Doc, Doc) {
        let core = self.create(Resource::Code, core_body("7.42", true)).await;
        let profile = self.create(Resource::Code, profile_body("2.2.5", true)).await;
        (core, profile)
    }

    /// A new `pending` instance (current code must exist).
    pub(super) async fn instance(&self) -> Doc {
        self.create(Resource::Instance, json!({"status": "pending"}))
            .await
    }

    /// Writes `patch` straight to the store without an etag, as the engine
    /// does when a job settles; returns the record as written.
    pub(super) async fn force(&self, res: Resource, id: &Id, patch: Value) -> Doc {
        let Value::Object(patch) = patch else {
            panic!("patch must be an object")
        };
        let mut batch = Batch::new(self.clock.now());
        batch.push(Write::Update {
            res,
            id: *id,
            patch: patch as Body,
            expect: None,
        });
        let committed = self.store.commit(batch).await.expect("forced write");
        match committed.results.into_iter().next() {
            Some(Written::Doc(d)) => d,
            other => panic!("forced write returned {other:?}"),
        }
    }

    /// A new instance (with current code) settled in `status` by the engine.
    pub(super) async fn instance_in(&self, status: Status) -> Doc {
        if self.all(Resource::Code).await.is_empty() {
            self.current_code().await;
        }
        let created = self.instance().await;
        self.force(
            Resource::Instance,
            &created.id,
            json!({"status": status.as_str()}),
        )
        .await
    }

    /// Every job enqueued so far, oldest first.
    pub(super) async fn jobs(&self) -> Vec<Job> {
        self.store
            .find_jobs(&FindQuery::default())
            .await
            .expect("find jobs")
            .items
    }

    /// The jobs of one kind, oldest first.
    pub(super) async fn jobs_of(&self, kind: &str) -> Vec<Job> {
        self.jobs().await.into_iter().filter(|j| j.kind == kind).collect()
    }
}

/// The field and message of a [`ServiceError::Conflict`]; panics otherwise.
pub(super) fn conflict(e: ServiceError) -> (String, String) {
    match e {
        ServiceError::Conflict { field, message } => (field, message),
        other => panic!("expected a conflict, got {other:?}"),
    }
}

/// The issues of a [`ServiceError::Invalid`]; panics otherwise.
pub(super) fn invalid(e: ServiceError) -> Invalid {
    match e {
        ServiceError::Invalid(i) => i,
        other => panic!("expected validation issues, got {other:?}"),
    }
}

/// The messages of a single-document [`ServiceError::Invalid`] at `path`.
pub(super) fn issues_at(e: ServiceError, path: &str) -> Vec<String> {
    let inv = invalid(e);
    let first = inv.first().expect("one document has issues");
    first.messages_at(path).into_iter().map(str::to_owned).collect()
}

/// Asserts `e` is a [`ServiceError::NotFound`].
pub(super) fn assert_not_found(e: ServiceError) {
    assert!(matches!(e, ServiceError::NotFound { .. }), "{e:?}");
}
