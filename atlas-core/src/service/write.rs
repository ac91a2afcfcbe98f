//! Writes: the generic create / update / replace / delete flows. Each
//! validates, runs the resource's hook (rules, server fields, planned jobs),
//! checks unique and relation rules against the store, and commits one
//! batch. Store-level clashes found at commit (a race lost) are reported
//! like validation issues.

use serde_json::Value;

use crate::batch::{Batch, Committed, Write, Written};
use crate::error::StoreError;
use crate::model::{merge_patch, Doc, Etag, Id, Resource, Timestamp};
use crate::schema::{self, issues as msg, Issues};
use crate::service::check;
use crate::service::hooks::{self, Ctx};
use crate::service::plan::Plan;
use crate::service::read::redact;
use crate::service::{Actor, Invalid, Service, ServiceError};
use crate::store::StoreExt;

/// The operator guide updates an instance's code with
/// `{"meta": {"core": …, "profile": …}}`, while the schema keeps them under
/// `code`: such a `meta` (holding only `core`/`profile`) is read as `code`.
fn guide_compat(res: Resource, mut body: Value) -> Value {
    if res != Resource::Instance {
        return body;
    }
    let Some(obj) = body.as_object_mut() else {
        return body;
    };
    let is_guide_meta = obj
        .get("meta")
        .and_then(Value::as_object)
        .is_some_and(|m| !m.is_empty() && m.keys().all(|k| k == "core" || k == "profile"));
    if is_guide_meta {
        if let Some(Value::Object(meta)) = obj.shift_remove("meta") {
            let code = obj
                .entry("code")
                .or_insert_with(|| Value::Object(Default::default()));
            if let Some(code) = code.as_object_mut() {
                for (k, v) in meta {
                    code.entry(k).or_insert(v);
                }
            }
        }
    }
    body
}

/// Which item each write of a batch belongs to, and where its main write is.
struct Layout {
    owner: Vec<usize>,
    main: Vec<usize>,
}

impl Layout {
    fn new() -> Self {
        Self {
            owner: Vec::new(),
            main: Vec::new(),
        }
    }

    fn push_plan(&mut self, batch: &mut Batch, item: usize, plan: Plan, main: Write) {
        for w in plan.before {
            batch.push(w);
            self.owner.push(item);
        }
        self.main.push(batch.writes.len());
        batch.push(main);
        self.owner.push(item);
        for w in plan.after {
            batch.push(w);
            self.owner.push(item);
        }
    }
}

fn main_doc(c: &Committed, index: usize) -> Option<Doc> {
    match c.results.get(index) {
        Some(Written::Doc(d)) => Some(d.clone()),
        _ => None,
    }
}

impl Service {
    /// The context hooks of one write by `actor` at `now` get; `replace`
    /// for a PUT.
    fn ctx<'a>(&'a self, actor: &'a Actor, now: Timestamp, replace: bool) -> Ctx<'a> {
        Ctx {
            svc: self,
            actor,
            now,
            replace,
            force: false,
        }
    }

    /// Creates one record (`body` an object) or several at once (`body` a
    /// list: all-or-nothing).
    ///
    /// # Errors
    /// [`ServiceError::BadRequest`] for an empty list or a non-object;
    /// [`ServiceError::TooManyItems`] for a list longer than
    /// `max_bulk_items`; [`ServiceError::Invalid`] with per-document issues;
    /// [`ServiceError::Conflict`] when a rule refuses; store failures.
    #[tracing::instrument(skip_all, fields(res = %res, user = %actor))]
    pub async fn create(&self, res: Resource, actor: &Actor, body: Value) -> Result<Vec<Doc>, ServiceError> {
        let (items, bulk) = match body {
            Value::Array(items) if items.is_empty() => {
                return Err(ServiceError::BadRequest("Empty bulk insert".into()))
            }
            Value::Array(items) if items.len() > self.config().max_bulk_items => {
                return Err(ServiceError::TooManyItems {
                    max: self.config().max_bulk_items,
                    got: items.len(),
                })
            }
            Value::Array(items) => (items, true),
            obj @ Value::Object(_) => (vec![obj], false),
            _ => {
                return Err(ServiceError::BadRequest(
                    "the request body must be a JSON object or a list of JSON objects".into(),
                ))
            }
        };
        let now = self.clock().now();
        let mut all_issues = vec![Issues::new(); items.len()];
        let mut batch = Batch::new(now);
        let mut layout = Layout::new();
        let mut enqueues = false;
        for (i, raw) in items.iter().enumerate() {
            let validated = match schema::validate_create(res, raw) {
                Ok(v) => v,
                Err(issues) => {
                    all_issues[i] = issues;
                    continue;
                }
            };
            let mut issues = Issues::new();
            let id = match validated.id {
                Some(id) if self.store().get(res, &id).await?.is_some() => {
                    issues.add("_id", msg::not_unique(&id.to_string()));
                    id
                }
                Some(id) => id,
                None => Id::generate(now),
            };
            let mut body = validated.body;
            let mut plan = Plan::default();
            let ctx = self.ctx(actor, now, false);
            hooks::before_create(&ctx, res, &id, &mut body, &mut issues, &mut plan).await?;
            let store = self.store().as_ref();
            issues.merge(check::check_against_store_except(store, res, &body, None, &plan.verified).await?);
            if !issues.is_empty() {
                all_issues[i] = issues;
                continue;
            }
            enqueues |= plan.has_jobs();
            // An identical write already planned by an earlier item of a bulk
            // (un-currenting the same previous code item) is made once; the
            // second would fail its etag and refuse the whole request.
            plan.before.retain(|w| !batch.writes.contains(w));
            layout.push_plan(&mut batch, i, plan, Write::Insert { res, id, body });
        }
        if all_issues.iter().any(|i| !i.is_empty()) {
            return Err(ServiceError::Invalid(Invalid {
                items: all_issues,
                bulk,
            }));
        }
        let committed = self.commit_mapped(batch, &layout, all_issues, bulk).await?;
        if enqueues {
            self.inner.jobs_enqueued.notify_one();
        }
        Ok(layout
            .main
            .iter()
            .filter_map(|m| main_doc(&committed, *m))
            .map(|d| redact(res, d))
            .collect())
    }

    /// Applies a PATCH (Eve merge semantics, dotted keys allowed).
    ///
    /// # Errors
    /// [`ServiceError::PreconditionRequired`] / [`ServiceError::PreconditionFailed`]
    /// for a missing or stale etag; [`ServiceError::NotFound`];
    /// [`ServiceError::Invalid`]; [`ServiceError::Conflict`] when a rule
    /// refuses (a refused transition, code in use, …).
    #[tracing::instrument(skip_all, fields(res = %res, id = %id, user = %actor))]
    pub async fn update(
        &self,
        res: Resource,
        id: &str,
        if_match: Option<&Etag>,
        actor: &Actor,
        patch: Value,
    ) -> Result<Doc, ServiceError> {
        let old = self.live_for_write(res, id, if_match).await?;
        let patch = guide_compat(res, patch);
        let mut patch = schema::validate_patch(res, &patch).map_err(invalid)?;
        let now = self.clock().now();
        let mut plan = Plan::default();
        let ctx = self.ctx(actor, now, false);
        hooks::before_update(&ctx, res, &old, &mut patch, &mut plan).await?;
        let mut merged = old.body.clone();
        merge_patch(&mut merged, &patch);
        let issues =
            check::check_changes_against_store(self.store().as_ref(), res, &merged, &patch, &old.id).await?;
        refuse(issues)?;
        let write = Write::Update {
            res,
            id: old.id,
            patch,
            expect: Some(old.etag.clone()),
        };
        self.commit_one(res, plan, write).await
    }

    /// Applies a PUT: the body replaces the record (defaults re-applied,
    /// `_created` kept). Fields the server manages (an instance's `sid`,
    /// `status`, `dates`, `db_key`, …) are kept when the body leaves them out.
    ///
    /// # Errors
    /// As [`Service::update`].
    #[tracing::instrument(skip_all, fields(res = %res, id = %id, user = %actor))]
    pub async fn replace(
        &self,
        res: Resource,
        id: &str,
        if_match: Option<&Etag>,
        actor: &Actor,
        raw: Value,
    ) -> Result<Doc, ServiceError> {
        let old = self.live_for_write(res, id, if_match).await?;
        let raw = guide_compat(res, raw);
        let validated = schema::validate_replace(res, &raw).map_err(invalid)?;
        if validated.id.is_some_and(|given| given != old.id) {
            let mut issues = Issues::new();
            issues.add("_id", "the _id of a record cannot change");
            refuse(issues)?;
        }
        let mut body = validated.body;
        hooks::keep_server_fields(res, &old, &raw, &mut body);
        let now = self.clock().now();
        let mut plan = Plan::default();
        let ctx = self.ctx(actor, now, true);
        hooks::before_update(&ctx, res, &old, &mut body, &mut plan).await?;
        let issues = check::check_against_store(self.store().as_ref(), res, &body, Some(&old.id)).await?;
        refuse(issues)?;
        let write = Write::Replace {
            res,
            id: old.id,
            body,
            expect: Some(old.etag.clone()),
        };
        self.commit_one(res, plan, write).await
    }

    /// Soft-deletes a record (and plans what its removal needs), without
    /// `force`: see [`Service::delete_with`].
    ///
    /// # Errors
    /// As [`Service::delete_with`].
    pub async fn delete(
        &self,
        res: Resource,
        id: &str,
        if_match: Option<&Etag>,
        actor: &Actor,
    ) -> Result<(), ServiceError> {
        self.delete_with(res, id, if_match, actor, false).await
    }

    /// Soft-deletes a record (and plans what its removal needs). A
    /// `launched` instance is only deleted with `force` (`DELETE
    /// /instance/<id>?force=true`): it is live on its routes.
    ///
    /// # Errors
    /// As [`Service::update`]; [`ServiceError::Conflict`] for code in use
    /// or a launched instance without `force`.
    #[tracing::instrument(skip_all, fields(res = %res, id = %id, user = %actor, force))]
    pub async fn delete_with(
        &self,
        res: Resource,
        id: &str,
        if_match: Option<&Etag>,
        actor: &Actor,
        force: bool,
    ) -> Result<(), ServiceError> {
        let old = self.live_for_write(res, id, if_match).await?;
        let now = self.clock().now();
        let mut plan = Plan::default();
        let mut ctx = self.ctx(actor, now, false);
        ctx.force = force;
        hooks::before_delete(&ctx, res, &old, &mut plan).await?;
        let write = Write::Delete {
            res,
            id: old.id,
            expect: Some(old.etag.clone()),
        };
        self.commit_one(res, plan, write).await.map(|_| ())
    }

    /// The live record addressed by an item URL, after the etag checks.
    async fn live_for_write(
        &self,
        res: Resource,
        id: &str,
        if_match: Option<&Etag>,
    ) -> Result<Doc, ServiceError> {
        let parsed = Self::parse_id(res, id)?;
        let old = self
            .store()
            .get_live(res, &parsed)
            .await?
            .ok_or_else(|| ServiceError::not_found(res, id))?;
        match if_match {
            None => Err(ServiceError::PreconditionRequired),
            Some(e) if *e != old.etag => Err(ServiceError::PreconditionFailed),
            Some(_) => Ok(old),
        }
    }

    async fn commit_one(&self, res: Resource, plan: Plan, main: Write) -> Result<Doc, ServiceError> {
        let enqueues = plan.has_jobs();
        let mut batch = Batch::new(self.clock().now());
        let mut layout = Layout::new();
        layout.push_plan(&mut batch, 0, plan, main);
        let committed = self
            .commit_mapped(batch, &layout, vec![Issues::new()], false)
            .await?;
        if enqueues {
            self.inner.jobs_enqueued.notify_one();
        }
        let doc = main_doc(&committed, layout.main[0]).ok_or_else(|| {
            ServiceError::Store(StoreError::Backend {
                backend: "service",
                source: "the store returned no record for the main write".into(),
            })
        })?;
        Ok(redact(res, doc))
    }

    /// Commits, turning store-level rule failures into API errors: a unique
    /// clash becomes the owning document's issue; a stale etag on the main
    /// write a 412; a related record changing meanwhile a 409.
    async fn commit_mapped(
        &self,
        batch: Batch,
        layout: &Layout,
        mut issues: Vec<Issues>,
        bulk: bool,
    ) -> Result<Committed, ServiceError> {
        match self.store().commit(batch).await {
            Ok(c) => Ok(c),
            Err(StoreError::Unique {
                write, field, value, ..
            }) => {
                let item = layout.owner.get(write).copied().unwrap_or(0);
                issues[item].add(&field, msg::not_unique(&value));
                Err(ServiceError::Invalid(Invalid { items: issues, bulk }))
            }
            Err(e @ (StoreError::PreconditionFailed { .. } | StoreError::WriteTargetMissing { .. })) => {
                let write = e.write_index().unwrap_or(0);
                if layout.main.contains(&write) {
                    Err(ServiceError::PreconditionFailed)
                } else {
                    Err(ServiceError::conflict(
                        "_etag",
                        format!("a related record changed while this request ran ({e}); retry the request"),
                    ))
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Seals a secret for storage.
    pub(crate) fn seal(&self, secret: &crate::model::Secret) -> String {
        self.secret_key().seal(secret)
    }
}

/// A single-item validation failure.
fn invalid(issues: Issues) -> ServiceError {
    ServiceError::Invalid(Invalid::single(issues))
}

/// Refuses a write whose checks found `issues`.
fn refuse(issues: Issues) -> Result<(), ServiceError> {
    if issues.is_empty() {
        Ok(())
    } else {
        Err(invalid(issues))
    }
}
