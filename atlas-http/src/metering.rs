//! The route label of a request: the request span's `route`, and the
//! `route` of the metrics the edge middleware counts
//! (`atlas_http_requests_total` and `atlas_http_request_duration_seconds`,
//! labelled by method, route and status, into [`StateParts::metrics`];
//! nothing is counted without it).
//!
//! # Contracts
//! - The label is the matched route template (`/{res}` with the resource
//!   filled in when it is one: `/instance/{id}`), or `unmatched`: label
//!   values never come from raw client input.
//! - The labels of the resource routes (`/{res}`, `/{res}/{id}`) are built
//!   once, so labelling a request to them allocates nothing.
//!
//! [`StateParts::metrics`]: crate::StateParts::metrics

use std::borrow::Cow;
use std::sync::OnceLock;

use atlas_core::model::Resource;
use axum::extract::{MatchedPath, Request};

/// The route label of a request: its matched template, with `{res}`
/// replaced by the resource when the path names one; `unmatched` for the
/// fallback.
pub(crate) fn route_label(req: &Request) -> Cow<'static, str> {
    let Some(matched) = req.extensions().get::<MatchedPath>() else {
        return Cow::Borrowed("unmatched");
    };
    let template = matched.as_str();
    if !template.contains("{res}") {
        return Cow::Owned(template.to_owned());
    }
    let first = req
        .uri()
        .path()
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or("");
    let Ok(res) = first.parse::<Resource>() else {
        return Cow::Owned(template.to_owned());
    };
    let (collection, item) = resource_labels(res);
    match template {
        "/{res}" => Cow::Borrowed(collection),
        "/{res}/{id}" => Cow::Borrowed(item),
        _ => Cow::Owned(template.replacen("{res}", res.as_str(), 1)),
    }
}

/// `/<res>` and `/<res>/{id}` of `res`, built once for every resource.
fn resource_labels(res: Resource) -> (&'static str, &'static str) {
    static LABELS: OnceLock<Vec<(Resource, String, String)>> = OnceLock::new();
    LABELS
        .get_or_init(|| {
            Resource::ALL
                .iter()
                .map(|r| (*r, format!("/{}", r.as_str()), format!("/{}/{{id}}", r.as_str())))
                .collect()
        })
        .iter()
        .find(|(r, _, _)| *r == res)
        .map_or(("/{res}", "/{res}/{id}"), |(_, c, i)| (c.as_str(), i.as_str()))
}

#[cfg(test)]
mod tests {
    use axum::body::{to_bytes, Body};
    use axum::routing::any;
    use axum::Router;
    use tower::ServiceExt as _;

    use super::*;

    /// The label `path` gets when routed by `template`, and whether it was
    /// borrowed (built once) rather than allocated.
    async fn label(template: &str, path: &str) -> (String, bool) {
        let app = Router::new().route(
            template,
            any(|req: Request| async move {
                let label = route_label(&req);
                format!("{} {}", matches!(label, Cow::Borrowed(_)), label)
            }),
        );
        let req = Request::builder().uri(path).body(Body::empty()).unwrap();
        let res = app.oneshot(req).await.unwrap();
        let body = String::from_utf8(to_bytes(res.into_body(), 1024).await.unwrap().to_vec()).unwrap();
        let (borrowed, label) = body.split_once(' ').unwrap();
        (label.to_owned(), borrowed == "true")
    }

    #[tokio::test]
    async fn resource_routes_are_labelled_with_their_resource_without_allocating() {
        assert_eq!(label("/{res}", "/instance").await, ("/instance".into(), true));
        assert_eq!(
            label("/{res}/{id}", "/code/0123456789abcdef01234567").await,
            ("/code/{id}".into(), true)
        );
    }

    #[tokio::test]
    async fn other_routes_keep_their_template_and_unknown_resources_stay_unfilled() {
        assert_eq!(label("/jobs/{id}", "/jobs/abc").await.0, "/jobs/{id}");
        assert_eq!(label("/{res}/{id}", "/nope/abc").await.0, "/{res}/{id}");
        assert_eq!(
            label("/{res}/{id}/verify", "/instance/abc/verify").await.0,
            "/instance/{id}/verify"
        );
    }

    #[test]
    fn an_unmatched_request_is_labelled_unmatched() {
        let req = Request::builder().uri("/whatever").body(Body::empty()).unwrap();
        assert_eq!(route_label(&req), "unmatched");
    }
}
