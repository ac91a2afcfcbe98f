//! The instance list: filters by status and type, and a search that finds
//! instances whose sid starts with the text or that a route whose source
//! starts with it points at (two API queries: routes by `source`, then
//! instances by `sid` or `_id`). Sorted by sid, 100 a page.

use axum::extract::{Query, State};
use axum::http::request::Parts;
use axum::response::Response;
use minijinja::context;
use serde::Deserialize;
use serde_json::{json, Value};

use super::overview::{STATUSES, TYPES};
use super::Visit;
use crate::error::UiError;
use crate::Ui;

/// Instances a page.
const PER_PAGE: u64 = 100;

/// The filter form.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Filters {
    status: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    q: Option<String>,
    page: Option<u64>,
}

/// `GET <prefix>/instances`.
pub(crate) async fn page(State(ui): State<Ui>, Query(f): Query<Filters>, parts: Parts) -> Response {
    let visit = ui.visit(&parts.headers);
    let result = build(&ui, &visit, f).await;
    ui.finish(&visit, result)
}

/// `text` as a regular expression matching itself literally.
pub(crate) fn literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The `where` of the filters; `route_ids`: the instances routes matching
/// the search point at.
pub(crate) fn filter(status: &str, kind: &str, q: &str, route_ids: &[String]) -> Value {
    let mut all = Vec::new();
    if !status.is_empty() {
        all.push(json!({ "status": status }));
    }
    if !kind.is_empty() {
        all.push(json!({ "type": kind }));
    }
    if !q.is_empty() {
        let mut any = vec![json!({ "sid": { "$regex": format!("^{}", literal(q)) } })];
        if !route_ids.is_empty() {
            any.push(json!({ "_id": { "$in": route_ids } }));
        }
        all.push(json!({ "$or": any }));
    }
    match all.len() {
        0 => json!({}),
        1 => all.remove(0),
        _ => json!({ "$and": all }),
    }
}

async fn build(ui: &Ui, visit: &Visit, f: Filters) -> Result<Response, UiError> {
    let status = f.status.unwrap_or_default();
    let kind = f.kind.unwrap_or_default();
    let q = f.q.unwrap_or_default().trim().to_owned();
    let page = f.page.unwrap_or(1).max(1);
    let mut route_ids = Vec::new();
    if !q.is_empty() {
        let routes = ui
            .api
            .get(
                "/route",
                &[
                    (
                        "where",
                        &json!({ "source": { "$regex": format!("^{}", literal(&q)) } }).to_string(),
                    ),
                    ("max_results", "200"),
                    ("projection", r#"{"instance_id": 1}"#),
                ],
                visit.user(),
            )
            .await?
            .ok()?;
        for r in routes["_items"].as_array().into_iter().flatten() {
            if let Some(id) = r["instance_id"].as_str() {
                route_ids.push(id.to_owned());
            }
        }
    }
    let filter = filter(&status, &kind, &q, &route_ids);
    let answer = ui
        .api
        .get(
            "/instance",
            &[
                ("where", &filter.to_string()),
                ("sort", "sid"),
                ("max_results", &PER_PAGE.to_string()),
                ("page", &page.to_string()),
            ],
            visit.user(),
        )
        .await?;
    let total = answer.total();
    let instances = answer.ok()?["_items"].clone();
    let pages = total.div_ceil(PER_PAGE).max(1);
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("status", &status)
        .append_pair("type", &kind)
        .append_pair("q", &q)
        .finish();
    Ok(ui.page(
        visit,
        "instances.html",
        context! {
            title => "Instances",
            instances, total, page, pages, query,
            status, kind, q,
            statuses => STATUSES, types => TYPES,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_search_matches_sid_prefixes_literally_and_the_routes_instances() {
        assert_eq!(literal("a.b*"), "a\\.b\\*");
        let f = filter("installed", "", "p1.", &["6b063bb73e47cec0540baa24".into()]);
        assert_eq!(
            f,
            json!({"$and": [
                {"status": "installed"},
                {"$or": [{"sid": {"$regex": "^p1\\."}}, {"_id": {"$in": ["6b063bb73e47cec0540baa24"]}}]}
            ]})
        );
        assert_eq!(filter("", "", "", &[]), json!({}));
        assert_eq!(filter("", "express", "", &[]), json!({"type": "express"}));
    }
}
