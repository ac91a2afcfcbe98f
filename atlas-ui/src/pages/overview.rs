//! The overview: instances per status and per type (each a `_meta.total`
//! of an API query), the job queue's depth, running work and the jobs that
//! failed for good in the last 24 h, the periodic tasks with their last
//! run and outcome (the newest `periodic` job of each), and the hosts'
//! health (the newest host check, from `/readyz`). The job parts need
//! signing in (the API protects the queue).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::request::Parts;
use axum::response::Response;
use minijinja::context;
use serde_json::{json, Value};

use super::Visit;
use crate::api::Answer;
use crate::error::UiError;
use crate::Ui;

/// The lifecycle's statuses, in its order.
pub(crate) const STATUSES: [&str; 9] = [
    "pending",
    "available",
    "installing",
    "installed",
    "launching",
    "launched",
    "take_down",
    "down",
    "restore",
];

/// The instance types.
pub(crate) const TYPES: [&str; 4] = ["express", "custom", "legacy", "homepage"];

/// `GET <prefix>/`.
pub(crate) async fn page(State(ui): State<Ui>, parts: Parts) -> Response {
    let visit = ui.visit(&parts.headers);
    let result = build(&ui, &visit).await;
    ui.finish(&visit, result)
}

async fn build(ui: &Ui, visit: &Visit) -> Result<Response, UiError> {
    let user = visit.user();
    let mut by_status = Vec::new();
    for status in STATUSES {
        let total = count(ui, "/instance", json!({ "status": status }), user).await?;
        by_status.push(context! { status, total });
    }
    let mut by_type = Vec::new();
    for kind in TYPES {
        let total = count(ui, "/instance", json!({ "type": kind }), user).await?;
        by_type.push(context! { kind, total });
    }
    let jobs = if user.is_some() {
        Some(queue(ui, user).await?)
    } else {
        None
    };
    let ready = ui.api.get("/readyz", &[], None).await?;
    let hosts = ready.body["hosts"].as_array().cloned().unwrap_or_default();
    let checks: Vec<Value> = ready.body["checks"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(name, detail)| json!({ "name": name, "detail": detail }))
                .collect()
        })
        .unwrap_or_default();
    Ok(ui.page(
        visit,
        "overview.html",
        context! {
            title => "Fleet overview",
            by_status, by_type, jobs, hosts, checks,
            readiness => ready.body["status"].clone(),
        },
    ))
}

/// `_meta.total` of `path` filtered by `filter`.
pub(crate) async fn count(ui: &Ui, path: &str, filter: Value, user: Option<&str>) -> Result<u64, UiError> {
    let answer = ui
        .api
        .get(
            path,
            &[("where", &filter.to_string()), ("max_results", "1")],
            user,
        )
        .await?;
    answer.ok().map(|b| Answer::total_of(&b))
}

/// The queue as a signed-in user sees it.
async fn queue(ui: &Ui, user: Option<&str>) -> Result<minijinja::Value, UiError> {
    let queued = count(ui, "/jobs", json!({ "status": "queued" }), user).await?;
    let day_ago = (chrono::Utc::now() - chrono::Duration::hours(24))
        .format("%Y-%m-%d %H:%M:%S GMT")
        .to_string();
    let failed = count(
        ui,
        "/jobs",
        json!({ "status": "dead", "finished": { "$gte": day_ago } }),
        user,
    )
    .await?;
    let running = ui
        .api
        .get(
            "/jobs",
            &[
                ("where", r#"{"status": "running"}"#),
                ("sort", "-started"),
                ("max_results", "50"),
            ],
            user,
        )
        .await?;
    let running_total = running.total();
    let running = running.ok()?["_items"].clone();
    let periodic = ui
        .api
        .get(
            "/jobs",
            &[
                ("where", r#"{"kind": "periodic"}"#),
                ("sort", "-created"),
                ("max_results", "500"),
            ],
            user,
        )
        .await?
        .ok()?;
    let mut last: BTreeMap<String, Value> = BTreeMap::new();
    for job in periodic["_items"].as_array().into_iter().flatten() {
        if let Some(task) = job["payload"]["task"].as_str() {
            last.entry(task.to_owned()).or_insert_with(|| job.clone());
        }
    }
    let periodic: Vec<Value> = last.into_values().collect();
    Ok(context! { queued, failed, running, running_total, periodic })
}
