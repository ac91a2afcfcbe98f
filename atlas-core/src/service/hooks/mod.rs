//! Per-resource hooks: the original's event hooks done right. Each fills
//! server-managed fields, enforces the resource's rules and plans the writes
//! and jobs that go into the same batch as the main write.

mod backup;
mod code;
mod commands;
mod instance;
mod rollout;
mod route;
pub(crate) use backup::gone_code_item;
pub use rollout::FailedChoice;

use serde_json::Value;

use crate::model::{Body, Doc, Id, Resource, Timestamp, ViewError};
use crate::schema::{self, Issues};
use crate::service::plan::Plan;
use crate::service::{Actor, Service, ServiceError};

/// What every hook gets.
pub(crate) struct Ctx<'a> {
    pub(crate) svc: &'a Service,
    pub(crate) actor: &'a Actor,
    pub(crate) now: Timestamp,
    /// A PUT: the `change` an update hook gets is the whole new body, and
    /// fields it leaves out are dropped.
    pub(crate) replace: bool,
    /// A DELETE with `?force=true`: deleting a `launched` instance is
    /// allowed.
    pub(crate) force: bool,
}

impl Ctx<'_> {
    /// `old` as the write leaves it: `change` merged in (PATCH), or
    /// `change` as the whole new body (PUT).
    pub(crate) fn after(&self, old: &Doc, change: &Body) -> Doc {
        if self.replace {
            let mut d = old.clone();
            d.body = change.clone();
            d
        } else {
            merged_doc(old, change)
        }
    }
}

fn has_field(res: Resource, name: &str) -> bool {
    schema::schema(res).field(name).is_some()
}

fn stamp_user(res: Resource, body: &mut Body, field: &str, actor: &Actor) {
    if has_field(res, field) {
        body.insert(field.into(), Value::String(actor.name().into()));
    }
}

/// A stored record that no longer reads as its view: report which field.
pub(crate) fn view_error(e: ViewError) -> ServiceError {
    ServiceError::conflict(e.field().to_owned(), e.to_string())
}

/// `old` with `patch` merged in, as a document (for views of the result).
pub(crate) fn merged_doc(old: &Doc, patch: &Body) -> Doc {
    let mut d = old.clone();
    crate::model::merge_patch(&mut d.body, patch);
    d
}

pub(crate) async fn before_create(
    ctx: &Ctx<'_>,
    res: Resource,
    id: &Id,
    body: &mut Body,
    issues: &mut Issues,
    plan: &mut Plan,
) -> Result<(), ServiceError> {
    stamp_user(res, body, "created_by", ctx.actor);
    match res {
        Resource::Code => code::before_create(ctx, id, body, plan).await,
        Resource::Instance => instance::before_create(ctx, id, body, issues, plan).await,
        Resource::Route => route::before_create(ctx, id, body, plan).await,
        Resource::Commands => {
            commands::check_query(body, issues);
            Ok(())
        }
        Resource::Backup => backup::before_create(ctx, id, body, plan).await,
        Resource::Rollout => rollout::before_create(ctx, id, body, issues, plan).await,
        Resource::Statistics | Resource::Site => Ok(()),
    }
}

/// For PATCH (`change` is the validated patch) and PUT (`change` is the
/// whole new body, see [`Ctx::replace`]): hooks judge the record as the
/// write leaves it ([`Ctx::after`]).
pub(crate) async fn before_update(
    ctx: &Ctx<'_>,
    res: Resource,
    old: &Doc,
    change: &mut Body,
    plan: &mut Plan,
) -> Result<(), ServiceError> {
    stamp_user(res, change, "modified_by", ctx.actor);
    match res {
        Resource::Code => code::before_update(ctx, old, change, plan).await,
        Resource::Instance => instance::before_update(ctx, old, change, plan).await,
        Resource::Route => route::before_update(ctx, old, change, plan).await,
        Resource::Commands => {
            let mut issues = Issues::new();
            commands::check_query(change, &mut issues);
            if !issues.is_empty() {
                return Err(ServiceError::Invalid(crate::service::Invalid::single(issues)));
            }
            commands::plan_run(ctx, &old.id, plan);
            Ok(())
        }
        Resource::Backup => backup::before_update(ctx, old, change),
        Resource::Rollout => rollout::before_update(ctx, old, change),
        Resource::Statistics | Resource::Site => Ok(()),
    }
}

pub(crate) async fn before_delete(
    ctx: &Ctx<'_>,
    res: Resource,
    old: &Doc,
    plan: &mut Plan,
) -> Result<(), ServiceError> {
    match res {
        Resource::Code => code::before_delete(ctx, old, plan).await,
        Resource::Instance => instance::before_delete(ctx, old, plan).await,
        Resource::Route => route::before_delete(ctx, old, plan),
        Resource::Backup => backup::before_delete(ctx, old, plan),
        Resource::Rollout => rollout::before_delete(old),
        Resource::Commands | Resource::Statistics | Resource::Site => Ok(()),
    }
}

/// Fields a PUT keeps from the stored record when the client's body (`sent`,
/// before defaults were applied) leaves them out: identity, lifecycle and
/// server-managed fields a client cannot know. A kept value wins over a
/// schema default (`status`), which would otherwise request a transition.
pub(crate) fn keep_server_fields(res: Resource, old: &Doc, sent: &Value, body: &mut Body) {
    let keep: &[&str] = match res {
        Resource::Instance => &[
            "sid",
            "path",
            "status",
            "dates",
            "statistics",
            "db_key",
            "update_group",
            "code",
            "created_by",
            "last_error",
        ],
        Resource::Route => &["dates", "created_by"],
        Resource::Backup => &[
            "instance",
            "sid",
            "kind",
            "state",
            "finished",
            "size",
            "host",
            "dir",
            "parts",
            "code",
            "error",
            "created_by",
        ],
        Resource::Rollout => &[
            "state",
            "wave",
            "current",
            "done",
            "failed",
            "skipped",
            "started",
            "finished",
            "created_by",
        ],
        _ => &["created_by"],
    };
    for f in keep.iter().chain(schema::hidden_fields(res)) {
        if sent.get(*f).is_none() {
            if let Some(v) = old.body.get(*f) {
                body.insert((*f).to_owned(), v.clone());
            }
        }
    }
}
