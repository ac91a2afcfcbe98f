//! Instance hooks: server fields on create (sid, update group, default
//! code or a backup's code for `restore_from`, dates, sealed database
//! password, statistics record, provision job); lifecycle transitions,
//! code switches and settings rewrites on update; removal on delete.

use rand::Rng;
use serde_json::{json, Value};

use crate::batch::Write;
use crate::code_rules;
use crate::lifecycle::{self, TransitionContext};
use crate::model::{Body, Code, CodeType, Doc, Id, Instance, Resource, Route, Sid, Status};
use crate::query::{Filter, FindQuery};
use crate::schema::Issues;
use crate::secrets::generate_password;
use crate::service::hooks::{view_error, Ctx};
use crate::service::plan::Plan;
use crate::service::ServiceError;
use crate::store::StoreExt;
use crate::task::{PreUpdate, Task};

/// Fields whose change means the settings files must be rewritten.
const SETTINGS_FIELDS: &[&str] = &["settings", "path", "pool", "type", "routes", "environment"];

fn set(body: &mut Body, path: &[&str], v: Value) {
    let (last, parents) = path.split_last().expect("non-empty path");
    let mut cur = body;
    for p in parents {
        let slot = cur
            .entry((*p).to_owned())
            .or_insert_with(|| Value::Object(Body::new()));
        if !slot.is_object() {
            *slot = Value::Object(Body::new());
        }
        cur = slot.as_object_mut().expect("just made an object");
    }
    cur.insert((*last).to_owned(), v);
}

async fn current_core_and_profile(ctx: &Ctx<'_>) -> Result<Vec<Code>, ServiceError> {
    let filter = Filter::and(vec![
        Filter::eq("meta.is_current", true),
        Filter::or(vec![
            Filter::eq("meta.code_type", "core"),
            Filter::eq("meta.code_type", "profile"),
        ]),
    ]);
    let page = ctx
        .svc
        .store()
        .find(Resource::Code, &FindQuery::all_matching(filter))
        .await?;
    page.items
        .iter()
        .map(Code::from_doc)
        .collect::<Result<_, _>>()
        .map_err(view_error)
}

fn ids_at(body: &Body, path: &[&str]) -> Vec<Id> {
    let Some((first, rest)) = path.split_first() else {
        return Vec::new();
    };
    let mut cur = body.get(*first);
    for p in rest {
        cur = cur.and_then(|v| v.get(*p));
    }
    match cur {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str())
            .filter_map(|s| Id::parse(s).ok())
            .collect(),
        Some(Value::String(s)) => Id::parse(s).into_iter().collect(),
        _ => Vec::new(),
    }
}

/// Checks that core, profile and packages name items of the right type
/// (except the `verified` fields, known to be right).
async fn check_code_types(
    ctx: &Ctx<'_>,
    body: &Body,
    verified: &[&str],
    issues: &mut Issues,
) -> Result<(), ServiceError> {
    let wanted: [(&str, &[CodeType]); 3] = [
        ("core", &[CodeType::Core]),
        ("profile", &[CodeType::Profile]),
        ("package", &[CodeType::Module, CodeType::Theme, CodeType::Library]),
    ];
    for (field, types) in wanted {
        if verified.contains(&format!("code.{field}").as_str()) {
            continue;
        }
        for (i, id) in ids_at(body, &["code", field]).into_iter().enumerate() {
            let Some(doc) = ctx.svc.store().get_live(Resource::Code, &id).await? else {
                continue;
            };
            let ok = doc
                .str_field("meta.code_type")
                .and_then(|t| t.parse::<CodeType>().ok())
                .is_some_and(|t| types.contains(&t));
            if !ok {
                let path = if field == "package" {
                    format!("code.package.{i}")
                } else {
                    format!("code.{field}")
                };
                let names: Vec<&str> = types.iter().map(|t| t.as_str()).collect();
                issues.add(
                    &path,
                    format!("value '{id}' is not a code item of type {}", names.join(" or ")),
                );
            }
        }
    }
    Ok(())
}

pub(super) async fn before_create(
    ctx: &Ctx<'_>,
    id: &Id,
    body: &mut Body,
    issues: &mut Issues,
    plan: &mut Plan,
) -> Result<(), ServiceError> {
    match body.get("status").and_then(Value::as_str) {
        None | Some("pending") => {}
        Some(other) => issues.add(
            "status",
            format!("instances are created 'pending' (got '{other}'); request other statuses once it is available"),
        ),
    }
    body.insert("status".into(), json!(Status::Pending.as_str()));
    // A generated sid (40 random bits) and the path derived from it are
    // left to the store's unique indexes: a clash is reported at commit.
    if !body.contains_key("sid") {
        body.insert("sid".into(), json!(Sid::generate().as_str()));
        plan.verified.push("sid");
        if !body.contains_key("path") {
            plan.verified.push("path");
        }
    }
    if !body.contains_key("path") {
        let sid = body["sid"].clone();
        body.insert("path".into(), sid);
        // Derived from the sid: a clash is the sid's, reported under the
        // field the client sent (the store's unique index backs it up).
        if !plan.verified.contains(&"path") {
            plan.verified.push("path");
        }
    }
    // One lookup when the path is the sid (as it is unless the client
    // chose a path).
    let sid = body.get("sid").and_then(Value::as_str);
    let path = body
        .get("path")
        .and_then(Value::as_str)
        .filter(|p| Some(*p) != sid);
    for value in [sid, path].into_iter().flatten() {
        super::route::refuse_routed_path(ctx, value, id).await?;
    }
    if !body.contains_key("update_group") {
        body.insert("update_group".into(), json!(rand::thread_rng().gen_range(0..=2)));
    }
    if body.contains_key("restore_from") {
        super::backup::restore_into_new(ctx, body).await?;
    }
    let packages = ids_at(body, &["code", "package"]);
    if let Err(e) = lifecycle::check_packages_change(Status::Pending, &[], &packages) {
        return Err(ServiceError::conflict(e.field(), e.to_string()));
    }
    let given_core = ids_at(body, &["code", "core"]).first().copied();
    let given_profile = ids_at(body, &["code", "profile"]).first().copied();
    if given_core.is_none() || given_profile.is_none() {
        let cfg = ctx.svc.config();
        let current = current_core_and_profile(ctx).await?;
        let chosen = code_rules::default_code_for_instance(
            given_core,
            given_profile,
            &cfg.default_core,
            &cfg.default_profile,
            &current,
        )
        .map_err(|e| ServiceError::conflict("code", e.to_string()))?;
        set(body, &["code", "core"], json!(chosen.core.to_string()));
        set(body, &["code", "profile"], json!(chosen.profile.to_string()));
        // Just read as live current items of the right type.
        if given_core.is_none() {
            plan.verified.push("code.core");
        }
        if given_profile.is_none() {
            plan.verified.push("code.profile");
        }
    }
    check_code_types(ctx, body, &plan.verified, issues).await?;
    set(body, &["dates", "created"], json!(ctx.now.to_string()));
    body.insert("db_key".into(), json!(ctx.svc.seal(&generate_password())));
    let statistics = Id::generate(ctx.now);
    body.insert("statistics".into(), json!(statistics.to_string()));
    // Inserted in the same batch, after the instance.
    plan.verified.push("statistics");
    let mut stats = Body::new();
    stats.insert("instance".into(), json!(id.to_string()));
    plan.after.push(Write::Insert {
        res: Resource::Statistics,
        id: statistics,
        body: stats,
    });
    plan.task(&Task::Provision { instance: *id }, ctx.now);
    Ok(())
}

pub(super) async fn before_update(
    ctx: &Ctx<'_>,
    old: &Doc,
    change: &mut Body,
    plan: &mut Plan,
) -> Result<(), ServiceError> {
    let before = Instance::from_doc(old).map_err(view_error)?;
    if let Some(sid) = change.get("sid").and_then(Value::as_str) {
        if sid != before.sid.as_str() {
            return Err(ServiceError::conflict(
                "sid",
                format!(
                    "the sid of instance '{}' cannot change; create a new instance instead",
                    before.sid
                ),
            ));
        }
    }
    // The record as the write leaves it; the status rewrite below touches
    // none of the code or settings fields read from it.
    let written = ctx.after(old, change);
    let after = Instance::from_doc(&written).map_err(view_error)?;
    if after.restore_from != before.restore_from {
        return Err(ServiceError::conflict(
            "restore_from",
            format!(
                "instance '{}' records the backup it was created from, which cannot change: \
                 to load another backup, POST /backup/<id>/restore",
                before.sid
            ),
        ));
    }
    let mut transition_planned = false;
    if let Some(path) = written
        .str_field("path")
        .filter(|p| old.str_field("path") != Some(*p))
    {
        super::route::refuse_routed_path(ctx, path, &old.id).await?;
    }

    if after.status != before.status {
        let transition = lifecycle::plan(before.status, after.status, &TransitionContext::of(&after))
            .map_err(|e| ServiceError::conflict(e.field(), e.to_string()))?;
        if let Some(t) = transition {
            change.insert("status".into(), json!(t.set_now.as_str()));
            plan.task(&Task::lifecycle(t.work, old.id, t.from), ctx.now);
            transition_planned = true;
        }
    }

    let code_changed = before.code != after.code;
    if code_changed {
        lifecycle::check_packages_change(before.status, &before.code.package, &after.code.package)
            .map_err(|e| ServiceError::conflict(e.field(), e.to_string()))?;
        let mut issues = Issues::new();
        check_code_types(ctx, &written.body, &[], &mut issues).await?;
        if !issues.is_empty() {
            return Err(ServiceError::Invalid(crate::service::Invalid::single(issues)));
        }
        // A pending instance is provisioned from its record as it is when
        // the provision runs, so there is nothing to switch yet.
        if before.status != Status::Pending {
            let backup = ctx.svc.config().backup_pre_update.then(|| PreUpdate {
                id: Id::generate(ctx.now),
                previous: before.code.clone(),
            });
            plan.task(
                &Task::SwitchCode {
                    instance: old.id,
                    backup,
                },
                ctx.now,
            );
        }
    }

    let settings_changed = SETTINGS_FIELDS
        .iter()
        .any(|f| old.body.get(*f) != written.body.get(*f));
    if settings_changed && !transition_planned && before.status != Status::Pending {
        plan.task(&Task::WriteSettings { instance: old.id }, ctx.now);
    }
    Ok(())
}

/// Deleting an instance is refused while it is `launched` unless forced;
/// it deletes its routes in the same batch (a route of a removed instance
/// would point the load balancer at nothing), republishes the route map
/// when one of them was active, and queues the removal, which takes a
/// `pre_delete` backup (its id chosen here) before removing anything.
pub(super) async fn before_delete(ctx: &Ctx<'_>, old: &Doc, plan: &mut Plan) -> Result<(), ServiceError> {
    let inst = Instance::from_doc(old).map_err(view_error)?;
    if inst.status == Status::Launched && !ctx.force {
        return Err(ServiceError::conflict(
            "status",
            format!(
                "instance '{}' is launched (live on its routes): to delete it anyway, \
                 repeat the DELETE with ?force=true (a pre_delete backup is taken first)",
                inst.sid
            ),
        ));
    }
    let q = FindQuery::all_matching(Filter::eq("instance_id", old.id.to_string()));
    let routes = ctx.svc.store().find(Resource::Route, &q).await?;
    let mut republish = false;
    for doc in &routes.items {
        let route = Route::from_doc(doc).map_err(view_error)?;
        republish |= route.is_active();
        plan.before.push(Write::Delete {
            res: Resource::Route,
            id: doc.id,
            expect: Some(doc.etag.clone()),
        });
    }
    let task = Task::RemoveInstance {
        instance: old.id,
        backup: Some(Id::generate(ctx.now)),
    };
    plan.task(&task, ctx.now);
    if republish {
        plan.task(&Task::PublishRoutes {}, ctx.now);
    }
    Ok(())
}
