//! One instance: its record, routes, code items with their versions,
//! backups, drift findings (when the record has `drift`), and its
//! operation log (the instance's jobs with their outputs; signed in, as
//! the API protects it); its lifecycle actions (launch, take down,
//! restore), each a PATCH of `status` with the record's etag as
//! `If-Match`, as any API client does it; and restoring one of its
//! complete backups (`POST /backup/<id>/restore`).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::http::Method;
use axum::response::Response;
use minijinja::context;
use serde_json::{json, Value};

use super::{authorize, form_fields, see_other, Visit};
use crate::api::segment;
use crate::error::UiError;
use crate::Ui;

/// Fields shown in their own sections, not in the record's table.
const OWN_SECTIONS: [&str; 5] = ["code", "routes", "drift", "_links", "statistics"];

/// `GET <prefix>/instances/<sid>`.
pub(crate) async fn page(State(ui): State<Ui>, Path(sid): Path<String>, parts: Parts) -> Response {
    let visit = ui.visit(&parts.headers);
    let result = build(&ui, &visit, &sid).await;
    ui.finish(&visit, result)
}

/// The lifecycle actions of an instance in `status`: `(action, label)`.
pub(crate) fn actions(status: &str, has_primary_route: bool) -> Vec<(&'static str, &'static str)> {
    let mut out = Vec::new();
    if status == "installed" && has_primary_route {
        out.push(("launch", "Launch"));
    }
    if status == "installed" || status == "launched" {
        out.push(("take_down", "Take down"));
    }
    if status == "down" {
        out.push(("restore", "Restore"));
    }
    out
}

/// The status an action asks for.
fn target(action: &str) -> Option<&'static str> {
    match action {
        "launch" => Some("launching"),
        "take_down" => Some("take_down"),
        "restore" => Some("restore"),
        _ => None,
    }
}

/// A value for a table cell: strings as they are, the rest as JSON.
pub(crate) fn cell(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

async fn build(ui: &Ui, visit: &Visit, sid: &str) -> Result<Response, UiError> {
    let user = visit.user();
    let record = ui
        .api
        .get(&format!("/instance/{}", segment(sid)), &[], user)
        .await?
        .ok()?;
    let id = record["_id"].as_str().unwrap_or_default().to_owned();
    let fields: Vec<(String, String)> = record
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| !OWN_SECTIONS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), cell(v)))
        .collect();
    let routes = ui
        .api
        .get(
            "/route",
            &[("where", &json!({ "instance_id": id }).to_string())],
            user,
        )
        .await?
        .ok()?["_items"]
        .clone();
    let code = &record["code"];
    let mut code_ids: Vec<Value> = vec![code["core"].clone(), code["profile"].clone()];
    code_ids.extend(code["package"].as_array().cloned().unwrap_or_default());
    code_ids.retain(Value::is_string);
    let code_items = if code_ids.is_empty() {
        Value::Array(Vec::new())
    } else {
        ui.api
            .get(
                "/code",
                &[("where", &json!({ "_id": { "$in": code_ids } }).to_string())],
                user,
            )
            .await?
            .ok()?["_items"]
            .clone()
    };
    let backups = ui
        .api
        .get(
            "/backup",
            &[
                ("where", &json!({ "instance": id }).to_string()),
                ("sort", "-_created"),
                ("max_results", "20"),
            ],
            user,
        )
        .await?
        .ok()?["_items"]
        .clone();
    let jobs = match user {
        Some(_) => Some(
            ui.api
                .get(
                    &format!("/instance/{}/jobs", segment(&id)),
                    &[("max_results", "50")],
                    user,
                )
                .await?
                .ok()?["_items"]
                .clone(),
        ),
        None => None,
    };
    let status = record["status"].as_str().unwrap_or_default().to_owned();
    let has_primary = record["routes"]["primary_route"].is_string();
    let drift = record.get("drift").cloned();
    Ok(ui.page(
        visit,
        "instance.html",
        context! {
            title => format!("Instance {sid}"),
            sid, status, fields, routes, code_items, backups, jobs, drift,
            actions => actions(&status, has_primary),
        },
    ))
}

/// `POST <prefix>/instances/<sid>/<action>`.
pub(crate) async fn act(
    State(ui): State<Ui>,
    Path((sid, action)): Path<(String, String)>,
    parts: Parts,
    body: Bytes,
) -> Response {
    let visit = ui.visit(&parts.headers);
    let result = async {
        let session = authorize(&visit, &form_fields(&body))?;
        let Some(status) = target(&action) else {
            return Err(UiError::Api {
                status: axum::http::StatusCode::NOT_FOUND,
                message: format!("'{action}' is no instance action; use launch, take_down or restore"),
            });
        };
        let path = format!("/instance/{}", segment(&sid));
        let record = ui.api.get(&path, &[], Some(&session.user)).await?.ok()?;
        let etag = record["_etag"].as_str().unwrap_or_default().to_owned();
        let id = record["_id"].as_str().unwrap_or_default();
        ui.api
            .write(
                Method::PATCH,
                &format!("/instance/{}", segment(id)),
                &session.user,
                Some(&etag),
                Some(json!({ "status": status })),
            )
            .await?
            .ok()?;
        Ok(see_other(&format!("{}/instances/{}", ui.prefix, segment(&sid))))
    };
    let result = result.await;
    ui.finish(&visit, result)
}

/// `POST <prefix>/backups/<id>/restore`: restores a complete backup onto
/// its instance, then shows the instance.
pub(crate) async fn restore_backup(
    State(ui): State<Ui>,
    Path(id): Path<String>,
    parts: Parts,
    body: Bytes,
) -> Response {
    let visit = ui.visit(&parts.headers);
    let result = async {
        let session = authorize(&visit, &form_fields(&body))?;
        let backup = ui
            .api
            .get(&format!("/backup/{}", segment(&id)), &[], Some(&session.user))
            .await?
            .ok()?;
        ui.api
            .write(
                Method::POST,
                &format!("/backup/{}/restore", segment(&id)),
                &session.user,
                None,
                None,
            )
            .await?
            .ok()?;
        let sid = backup["sid"].as_str().unwrap_or_default();
        Ok(see_other(&format!("{}/instances/{}", ui.prefix, segment(sid))))
    };
    let result = result.await;
    ui.finish(&visit, result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_follow_the_lifecycle() {
        assert_eq!(actions("installed", false), vec![("take_down", "Take down")]);
        assert_eq!(
            actions("installed", true),
            vec![("launch", "Launch"), ("take_down", "Take down")]
        );
        assert_eq!(actions("launched", true), vec![("take_down", "Take down")]);
        assert_eq!(actions("down", true), vec![("restore", "Restore")]);
        assert!(actions("pending", true).is_empty());
    }
}
