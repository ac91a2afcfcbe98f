//! Route hooks: an `active` route may only point at a `launched` instance —
//! except that an `active` + `active_on_launch` route for an `installed`
//! instance launches that instance (what the original tried to do); any
//! change touching an active route republishes the route map.

use serde_json::json;

use crate::batch::Write;
use crate::lifecycle::{self, TransitionContext};
use crate::model::{Body, Doc, Id, Instance, Resource, Route, RouteStatus, Status};
use crate::query::{Filter, FindQuery};
use crate::schema::Issues;
use crate::service::hooks::{view_error, Ctx};
use crate::service::plan::Plan;
use crate::service::{Invalid, ServiceError};
use crate::store::StoreExt;
use crate::task::Task;

/// Refuses a route `source` that is another instance's `sid` or `path`:
/// launching the route would re-point that instance's web link (and
/// deleting the route's instance would remove it). `owner` is the route's
/// own instance, whose sid and path it may use.
async fn refuse_taken_source(ctx: &Ctx<'_>, source: &str, owner: Option<&Id>) -> Result<(), ServiceError> {
    let q = FindQuery::all_matching(Filter::or(vec![
        Filter::eq("sid", source),
        Filter::eq("path", source),
    ]));
    let page = ctx.svc.store().find(Resource::Instance, &q).await?;
    let Some(taken) = page.items.iter().find(|d| Some(&d.id) != owner) else {
        return Ok(());
    };
    let other = Instance::from_doc(taken).map_err(view_error)?;
    let what = if other.sid.as_str() == source {
        "sid"
    } else {
        "path"
    };
    let mut issues = Issues::new();
    issues.add(
        "source",
        format!(
            "value '{source}' is the {what} of instance '{}' ({}): a route may not take over another \
             instance's web link; choose another source",
            other.sid, other.id
        ),
    );
    Err(ServiceError::Invalid(Invalid::single(issues)))
}

/// Refuses an instance `path` that is the source of another instance's
/// route (the mirror of [`refuse_taken_source`]).
pub(super) async fn refuse_routed_path(ctx: &Ctx<'_>, path: &str, instance: &Id) -> Result<(), ServiceError> {
    let q = FindQuery::all_matching(Filter::eq("source", path));
    let page = ctx.svc.store().find(Resource::Route, &q).await?;
    let Some(taken) = page
        .items
        .iter()
        .find(|d| d.str_field("instance_id") != Some(&instance.to_string()))
    else {
        return Ok(());
    };
    let mut issues = Issues::new();
    issues.add(
        "path",
        format!(
            "value '{path}' is the source of route {} of another instance: choose another path",
            taken.id
        ),
    );
    Err(ServiceError::Invalid(Invalid::single(issues)))
}

/// Applies the activation rule to `route` (as it will be stored, with id
/// `id`). Returns whether the route stays active.
async fn activation(
    ctx: &Ctx<'_>,
    id: &Id,
    route: &Route,
    change: &mut Body,
    plan: &mut Plan,
) -> Result<bool, ServiceError> {
    if route.route_status != RouteStatus::Active {
        return Ok(false);
    }
    let Some(instance_id) = route.instance_id else {
        return Ok(true);
    };
    let Some(doc) = ctx.svc.store().get_live(Resource::Instance, &instance_id).await? else {
        // The relation check reports the missing instance.
        return Ok(true);
    };
    let instance = Instance::from_doc(&doc).map_err(view_error)?;
    if instance.status == Status::Installed && route.active_on_launch {
        launch_for_route(ctx, id, &doc, &instance, plan)?;
        // The launch activates it once the instance is launched.
        change.insert("route_status".into(), json!(RouteStatus::Inactive.as_str()));
        return Ok(false);
    }
    lifecycle::check_route_activation(RouteStatus::Active, Some(instance.status))
        .map_err(|e| ServiceError::conflict(e.field(), format!("route '{}': {e}", route.source)))?;
    Ok(true)
}

fn launch_for_route(
    ctx: &Ctx<'_>,
    route: &Id,
    doc: &Doc,
    instance: &Instance,
    plan: &mut Plan,
) -> Result<(), ServiceError> {
    let ctx_t = TransitionContext {
        has_primary_route: true,
    };
    let t = lifecycle::plan(instance.status, Status::Launching, &ctx_t)
        .map_err(|e| ServiceError::conflict(e.field(), e.to_string()))?
        .ok_or_else(|| ServiceError::conflict("status", "the instance is already launching"))?;
    let mut patch = t.request_patch();
    if instance.routes.primary_route.is_none() {
        patch.insert("routes".into(), json!({ "primary_route": route.to_string() }));
    }
    // After the route insert: the instance's primary route must exist.
    plan.after.push(Write::Update {
        res: Resource::Instance,
        id: doc.id,
        patch,
        expect: Some(doc.etag.clone()),
    });
    plan.task(&Task::lifecycle(t.work, doc.id, t.from), ctx.now);
    Ok(())
}

pub(super) async fn before_create(
    ctx: &Ctx<'_>,
    id: &Id,
    body: &mut Body,
    plan: &mut Plan,
) -> Result<(), ServiceError> {
    let dates = body.entry("dates").or_insert_with(|| json!({}));
    if let Some(d) = dates.as_object_mut() {
        d.insert("created".into(), json!(ctx.now.to_string()));
    }
    let route = Route::from_doc(&Doc::new(*id, body.clone(), ctx.now)).map_err(view_error)?;
    refuse_taken_source(ctx, &route.source, route.instance_id.as_ref()).await?;
    if activation(ctx, id, &route, body, plan).await? {
        plan.task(&Task::PublishRoutes {}, ctx.now);
    }
    Ok(())
}

pub(super) async fn before_update(
    ctx: &Ctx<'_>,
    old: &Doc,
    change: &mut Body,
    plan: &mut Plan,
) -> Result<(), ServiceError> {
    let before = Route::from_doc(old).map_err(view_error)?;
    let after = Route::from_doc(&ctx.after(old, change)).map_err(view_error)?;
    if after.source != before.source || after.instance_id != before.instance_id {
        refuse_taken_source(ctx, &after.source, after.instance_id.as_ref()).await?;
    }
    let active_now = activation(ctx, &old.id, &after, change, plan).await?;
    let changed = ctx.after(old, change).body != old.body;
    if changed && (before.is_active() || active_now) {
        plan.task(&Task::PublishRoutes {}, ctx.now);
    }
    Ok(())
}

pub(super) fn before_delete(ctx: &Ctx<'_>, old: &Doc, plan: &mut Plan) -> Result<(), ServiceError> {
    let route = Route::from_doc(old).map_err(view_error)?;
    if route.is_active() {
        plan.task(&Task::PublishRoutes {}, ctx.now);
    }
    Ok(())
}
