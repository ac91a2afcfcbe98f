//! Command items and their runs: the list of commands (signed in: the API
//! protects command items) with a Run button (`POST
//! /commands/<id>/execute`), the recent runs (`command_run` jobs), and a
//! run's page with one outcome per instance (its `command_instance` jobs:
//! sid, status, exit status, output, error).

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

/// `GET <prefix>/commands`.
pub(crate) async fn page(State(ui): State<Ui>, parts: Parts) -> Response {
    let visit = ui.visit(&parts.headers);
    let result = build(&ui, &visit).await;
    ui.finish(&visit, result)
}

async fn build(ui: &Ui, visit: &Visit) -> Result<Response, UiError> {
    let Some(user) = visit.user() else {
        return Ok(ui.page(
            visit,
            "commands.html",
            context! { title => "Commands", signed_out => true },
        ));
    };
    let commands = ui
        .api
        .get(
            "/commands",
            &[("sort", "name"), ("max_results", "500")],
            Some(user),
        )
        .await?
        .ok()?["_items"]
        .clone();
    let runs = ui
        .api
        .get(
            "/jobs",
            &[
                ("where", r#"{"kind": "command_run"}"#),
                ("sort", "-created"),
                ("max_results", "50"),
            ],
            Some(user),
        )
        .await?
        .ok()?["_items"]
        .clone();
    let names: Vec<(String, String)> = commands
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            (
                c["_id"].as_str().unwrap_or_default().to_owned(),
                c["name"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let runs: Vec<Value> = runs
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let mut r = r.clone();
            let id = r["payload"]["command"].as_str().unwrap_or_default();
            let name = names.iter().find(|(i, _)| i == id).map(|(_, n)| n.clone());
            r["command_name"] = json!(name.unwrap_or_else(|| id.to_owned()));
            r
        })
        .collect();
    Ok(ui.page(
        visit,
        "commands.html",
        context! { title => "Commands", commands, runs },
    ))
}

/// `POST <prefix>/commands/<id>/run`: runs it, then shows the run.
pub(crate) async fn run(State(ui): State<Ui>, Path(id): Path<String>, parts: Parts, body: Bytes) -> Response {
    let visit = ui.visit(&parts.headers);
    let result = async {
        let session = authorize(&visit, &form_fields(&body))?;
        let job = ui
            .api
            .write(
                Method::POST,
                &format!("/commands/{}/execute", segment(&id)),
                &session.user,
                None,
                None,
            )
            .await?
            .ok()?;
        let run = job["_id"].as_str().unwrap_or_default();
        Ok(see_other(&format!("{}/runs/{}", ui.prefix, segment(run))))
    };
    let result = result.await;
    ui.finish(&visit, result)
}

/// `GET <prefix>/runs/<id>`: one run and its per-instance outcomes.
pub(crate) async fn run_page(State(ui): State<Ui>, Path(id): Path<String>, parts: Parts) -> Response {
    let visit = ui.visit(&parts.headers);
    let result = run_view(&ui, &visit, &id).await;
    ui.finish(&visit, result)
}

async fn run_view(ui: &Ui, visit: &Visit, id: &str) -> Result<Response, UiError> {
    let user = visit.user().ok_or(UiError::SignInNeeded)?;
    let run = ui
        .api
        .get(&format!("/jobs/{}", segment(id)), &[], Some(user))
        .await?
        .ok()?;
    let command = run["payload"]["command"].as_str().unwrap_or_default();
    let name = ui
        .api
        .get(&format!("/commands/{}", segment(command)), &[], Some(user))
        .await?
        .body["name"]
        .as_str()
        .unwrap_or(command)
        .to_owned();
    let outcomes = ui
        .api
        .get(
            "/jobs",
            &[
                (
                    "where",
                    &json!({ "kind": "command_instance", "payload.run": id }).to_string(),
                ),
                ("sort", "created"),
                ("max_results", "2000"),
            ],
            Some(user),
        )
        .await?
        .ok()?["_items"]
        .clone();
    let finished = run["status"] == "succeeded" || run["status"] == "dead";
    let pending = outcomes
        .as_array()
        .into_iter()
        .flatten()
        .any(|o| o["status"] == "queued" || o["status"] == "running");
    Ok(ui.page(
        visit,
        "command_run.html",
        context! {
            title => format!("Run of {name}"),
            run, outcomes, live => !finished || pending,
        },
    ))
}
