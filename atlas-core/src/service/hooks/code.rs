//! Code hooks: one current item per (name, type) — the previous one is
//! un-currented in the same batch; POST deploys, PATCH redeploys (and the
//! redeploy's job, once the checkout moved, starts an in-place rollout over
//! the instances using the item), DELETE is refused while the item is in
//! use, else removes it.

use crate::batch::Write;
use crate::code_rules::{self, uncurrent_patch};
use crate::executor::CodeSpec;
use crate::model::{Body, Code, Doc, Id, Resource, Sid};
use crate::query::{Filter, FindQuery};
use crate::schema::issues::{self as msg, Issues};
use crate::service::hooks::{view_error, Ctx};
use crate::service::plan::Plan;
use crate::service::{Invalid, ServiceError};
use crate::task::{code_key, Task};

/// Writes un-currenting every other current item of `code`'s name and type.
async fn uncurrent_others(ctx: &Ctx<'_>, code: &Code, plan: &mut Plan) -> Result<(), ServiceError> {
    let filter = Filter::and(vec![
        Filter::eq("meta.name", code.meta.name.clone()),
        Filter::eq("meta.code_type", code.meta.code_type.as_str()),
        Filter::eq("meta.is_current", true),
    ]);
    let page = ctx
        .svc
        .store()
        .find(Resource::Code, &FindQuery::all_matching(filter))
        .await?;
    let current: Vec<Code> = page
        .items
        .iter()
        .map(Code::from_doc)
        .collect::<Result<_, _>>()
        .map_err(view_error)?;
    for other in code_rules::uncurrent_previous(&code.id, &code.meta, &current) {
        let etag = page.items.iter().find(|d| d.id == other).map(|d| d.etag.clone());
        plan.before.push(Write::Update {
            res: Resource::Code,
            id: other,
            patch: uncurrent_patch(),
            expect: etag,
        });
    }
    Ok(())
}

/// The schema leaves `meta` optional, as the original did (a `POST {}`
/// names only `commit_hash` and `git_url`); a code item still needs it, so
/// a body that passed the schema without it is refused here.
fn require_meta(body: &Body) -> Result<(), ServiceError> {
    if body.contains_key("meta") {
        return Ok(());
    }
    let mut issues = Issues::new();
    issues.add("meta", msg::REQUIRED);
    Err(ServiceError::Invalid(Invalid::single(issues)))
}

pub(super) async fn before_create(
    ctx: &Ctx<'_>,
    id: &Id,
    body: &mut Body,
    plan: &mut Plan,
) -> Result<(), ServiceError> {
    require_meta(body)?;
    let doc = Doc::new(*id, body.clone(), ctx.now);
    let code = Code::from_doc(&doc).map_err(view_error)?;
    if code.meta.is_current {
        uncurrent_others(ctx, &code, plan).await?;
    }
    plan.job(
        Task::DeployCode { code: *id }
            .spec(ctx.now)
            .keyed(code_key(&code.meta.name)),
    );
    Ok(())
}

/// Sids of live instances using `id` as core, profile or package.
pub(crate) async fn instances_using(
    ctx_svc: &crate::service::Service,
    id: &Id,
) -> Result<Vec<Sid>, ServiceError> {
    let page = ctx_svc
        .store()
        .find(
            Resource::Instance,
            &FindQuery::all_matching(code_rules::instances_using(id)),
        )
        .await?;
    Ok(page
        .items
        .iter()
        .filter_map(|d| d.str_field("sid").and_then(|s| Sid::parse(s).ok()))
        .collect())
}

pub(super) async fn before_update(
    ctx: &Ctx<'_>,
    old: &Doc,
    change: &mut Body,
    plan: &mut Plan,
) -> Result<(), ServiceError> {
    if ctx.replace {
        require_meta(change)?;
    }
    let before = Code::from_doc(old).map_err(view_error)?;
    let after = Code::from_doc(&ctx.after(old, change)).map_err(view_error)?;
    let renamed = before.meta.name != after.meta.name
        || before.meta.version != after.meta.version
        || before.meta.code_type != after.meta.code_type;
    if renamed {
        let users = instances_using(ctx.svc, &old.id).await?;
        if !users.is_empty() {
            let sids: Vec<&str> = users.iter().map(Sid::as_str).collect();
            return Err(ServiceError::conflict(
                "meta",
                format!(
                    "cannot change the name, version or type of {before}: instances {} run it; POST a new code item and switch them to it instead",
                    sids.join(", ")
                ),
            ));
        }
    }
    // Also when a current item is renamed onto a name with a current item.
    if after.meta.is_current {
        uncurrent_others(ctx, &after, plan).await?;
    }
    let redeploy = renamed
        || before.git_url != after.git_url
        || before.commit_hash != after.commit_hash
        || before.meta.is_current != after.meta.is_current;
    if redeploy {
        // Keyed by the previous name: a rename runs after the old name's
        // queued deploys, which it moves away from.
        let task = Task::UpdateCode {
            code: old.id,
            previous: CodeSpec::from(&before),
        };
        plan.task(&task, ctx.now);
    }
    Ok(())
}

pub(super) async fn before_delete(ctx: &Ctx<'_>, old: &Doc, plan: &mut Plan) -> Result<(), ServiceError> {
    let code = Code::from_doc(old).map_err(view_error)?;
    let users = instances_using(ctx.svc, &old.id).await?;
    let dependents_filter = Filter::eq("meta.dependency", old.id.to_string());
    let page = ctx
        .svc
        .store()
        .find(Resource::Code, &FindQuery::all_matching(dependents_filter))
        .await?;
    let dependents: Vec<Code> = page
        .items
        .iter()
        .map(Code::from_doc)
        .collect::<Result<_, _>>()
        .map_err(view_error)?;
    code_rules::check_delete(&code, &users, &dependents)
        .map_err(|e| ServiceError::conflict("_id", e.to_string()))?;
    let task = Task::RemoveCode {
        code: CodeSpec::from(&code),
    };
    plan.task(&task, ctx.now);
    Ok(())
}
