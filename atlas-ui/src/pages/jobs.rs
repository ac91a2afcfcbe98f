//! The job queue: running, queued and dead jobs (newest first, 100 of
//! each), and retrying a dead job (`POST /jobs/<id>/retry` of the API).
//! The API protects the queue, so the page asks visitors to sign in.

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

/// `GET <prefix>/jobs`.
pub(crate) async fn page(State(ui): State<Ui>, parts: Parts) -> Response {
    let visit = ui.visit(&parts.headers);
    let result = build(&ui, &visit).await;
    ui.finish(&visit, result)
}

/// Up to 100 jobs in `status`, newest first, and how many there are.
pub(crate) async fn in_status(
    ui: &Ui,
    user: &str,
    status: &str,
    sort: &str,
) -> Result<(Value, u64), UiError> {
    let a = ui
        .api
        .get(
            "/jobs",
            &[
                ("where", &json!({ "status": status }).to_string()),
                ("sort", sort),
                ("max_results", "100"),
            ],
            Some(user),
        )
        .await?;
    let total = a.total();
    Ok((a.ok()?["_items"].clone(), total))
}

async fn build(ui: &Ui, visit: &Visit) -> Result<Response, UiError> {
    let Some(user) = visit.user() else {
        return Ok(ui.page(
            visit,
            "jobs.html",
            context! { title => "Jobs", signed_out => true },
        ));
    };
    let (running, running_total) = in_status(ui, user, "running", "-started").await?;
    let (queued, queued_total) = in_status(ui, user, "queued", "run_at").await?;
    let (dead, dead_total) = in_status(ui, user, "dead", "-finished").await?;
    Ok(ui.page(
        visit,
        "jobs.html",
        context! {
            title => "Jobs",
            running, running_total, queued, queued_total, dead, dead_total,
        },
    ))
}

/// `POST <prefix>/jobs/<id>/retry`.
pub(crate) async fn retry(
    State(ui): State<Ui>,
    Path(id): Path<String>,
    parts: Parts,
    body: Bytes,
) -> Response {
    let visit = ui.visit(&parts.headers);
    let result = async {
        let session = authorize(&visit, &form_fields(&body))?;
        ui.api
            .write(
                Method::POST,
                &format!("/jobs/{}/retry", segment(&id)),
                &session.user,
                None,
                None,
            )
            .await?
            .ok()?;
        Ok(see_other(&format!("{}/jobs", ui.prefix)))
    };
    let result = result.await;
    ui.finish(&visit, result)
}
