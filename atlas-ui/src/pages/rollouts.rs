//! Rollouts: each with its code change, state, wave and counts; pause a
//! running one, resume a paused one, and resume a halted one retrying or
//! skipping its failed instances (`POST /rollout/<id>/pause|resume`).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use minijinja::context;
use serde_json::{json, Value};

use super::{authorize, field, form_fields, see_other, Visit};
use crate::api::segment;
use crate::error::UiError;
use crate::Ui;

/// `GET <prefix>/rollouts`.
pub(crate) async fn page(State(ui): State<Ui>, parts: Parts) -> Response {
    let visit = ui.visit(&parts.headers);
    let result = build(&ui, &visit).await;
    ui.finish(&visit, result)
}

/// A code item as `name version (type)`.
fn label(item: &Value) -> String {
    let m = &item["meta"];
    format!(
        "{} {} ({})",
        m["name"].as_str().unwrap_or("?"),
        m["version"].as_str().unwrap_or("?"),
        m["code_type"].as_str().unwrap_or("?")
    )
}

async fn build(ui: &Ui, visit: &Visit) -> Result<Response, UiError> {
    let user = visit.user();
    let rollouts = ui
        .api
        .get("/rollout", &[("sort", "-_created"), ("max_results", "100")], user)
        .await?
        .ok()?;
    let rollouts = rollouts["_items"].as_array().cloned().unwrap_or_default();
    let ids: Vec<&Value> = rollouts.iter().flat_map(|r| [&r["from"], &r["to"]]).collect();
    let code = if ids.is_empty() {
        Vec::new()
    } else {
        ui.api
            .get(
                "/code",
                &[("where", &json!({ "_id": { "$in": ids } }).to_string())],
                user,
            )
            .await?
            .ok()?["_items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    let name_of = |id: &Value| {
        code.iter()
            .find(|c| &c["_id"] == id)
            .map(label)
            .unwrap_or_else(|| id.as_str().unwrap_or_default().to_owned())
    };
    let rows: Vec<Value> = rollouts
        .iter()
        .map(|r| {
            json!({
                "id": r["_id"], "from": name_of(&r["from"]), "to": name_of(&r["to"]),
                "state": r["state"], "wave": r["wave"],
                "done": r["done"],
                "failed": r["failed"].as_array().map_or(0, Vec::len),
                "started": r["started"], "finished": r["finished"],
            })
        })
        .collect();
    Ok(ui.page(
        visit,
        "rollouts.html",
        context! { title => "Rollouts", rollouts => rows },
    ))
}

/// The API call of a dashboard rollout action: `(path action, body)`.
fn request(action: &str, failed: Option<&str>) -> Option<(&'static str, Option<Value>)> {
    match (action, failed) {
        ("pause", _) => Some(("pause", None)),
        ("resume", None) => Some(("resume", None)),
        ("resume", Some(choice @ ("retry" | "skip"))) => Some(("resume", Some(json!({ "failed": choice })))),
        _ => None,
    }
}

/// `POST <prefix>/rollouts/<id>/<pause|resume>` (`failed=retry|skip` for a
/// halted one).
pub(crate) async fn act(
    State(ui): State<Ui>,
    Path((id, action)): Path<(String, String)>,
    parts: Parts,
    body: Bytes,
) -> Response {
    let visit = ui.visit(&parts.headers);
    let result = async {
        let fields = form_fields(&body);
        let session = authorize(&visit, &fields)?;
        let Some((verb, payload)) = request(&action, field(&fields, "failed")) else {
            return Err(UiError::Api {
                status: StatusCode::NOT_FOUND,
                message: format!("'{action}' is no rollout action here; use pause or resume"),
            });
        };
        ui.api
            .write(
                Method::POST,
                &format!("/rollout/{}/{verb}", segment(&id)),
                &session.user,
                None,
                payload,
            )
            .await?
            .ok()?;
        Ok(see_other(&format!("{}/rollouts", ui.prefix)))
    };
    let result = result.await;
    ui.finish(&visit, result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_halted_rollout_resumes_retrying_or_skipping_and_nothing_else_is_sent() {
        assert_eq!(request("pause", None), Some(("pause", None)));
        assert_eq!(request("resume", None), Some(("resume", None)));
        assert_eq!(
            request("resume", Some("skip")),
            Some(("resume", Some(json!({"failed": "skip"}))))
        );
        assert_eq!(request("resume", Some("drop")), None);
        assert_eq!(request("abort", None), None);
    }
}
