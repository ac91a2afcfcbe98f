//! Code items by name: for each `(name, type)` its versions, which one is
//! current, and how many instances use each (one counting query per item:
//! instances whose core, profile or packages name it).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::request::Parts;
use axum::response::Response;
use minijinja::context;
use serde_json::{json, Value};

use super::overview::count;
use super::Visit;
use crate::error::UiError;
use crate::Ui;

/// `GET <prefix>/code`.
pub(crate) async fn page(State(ui): State<Ui>, parts: Parts) -> Response {
    let visit = ui.visit(&parts.headers);
    let result = build(&ui, &visit).await;
    ui.finish(&visit, result)
}

/// The `where` of the instances using code item `id`.
pub(crate) fn users_of(id: &str) -> Value {
    json!({ "$or": [{ "code.core": id }, { "code.profile": id }, { "code.package": id }] })
}

async fn build(ui: &Ui, visit: &Visit) -> Result<Response, UiError> {
    let user = visit.user();
    let items = ui
        .api
        .get(
            "/code",
            &[
                ("sort", "meta.name,meta.code_type,-_created"),
                ("max_results", "2000"),
            ],
            user,
        )
        .await?
        .ok()?;
    let mut groups: BTreeMap<(String, String), Vec<Value>> = BTreeMap::new();
    for item in items["_items"].as_array().into_iter().flatten() {
        let id = item["_id"].as_str().unwrap_or_default();
        let used_by = count(ui, "/instance", users_of(id), user).await?;
        let meta = &item["meta"];
        let key = (
            meta["name"].as_str().unwrap_or_default().to_owned(),
            meta["code_type"].as_str().unwrap_or_default().to_owned(),
        );
        groups.entry(key).or_default().push(json!({
            "id": id,
            "version": meta["version"],
            "label": meta["label"],
            "is_current": meta["is_current"].as_bool().unwrap_or(false),
            "commit_hash": item["commit_hash"],
            "used_by": used_by,
        }));
    }
    let groups: Vec<Value> = groups
        .into_iter()
        .map(|((name, code_type), versions)| json!({ "name": name, "code_type": code_type, "versions": versions }))
        .collect();
    Ok(ui.page(visit, "code.html", context! { title => "Code", groups }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_item_is_used_by_instances_naming_it_as_core_profile_or_package() {
        assert_eq!(
            users_of("x"),
            json!({"$or": [{"code.core": "x"}, {"code.profile": "x"}, {"code.package": "x"}]})
        );
    }
}
