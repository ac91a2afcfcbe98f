//! The request path before routing: the configured `http.base_path` prefix
//! is taken off (a request outside it is the generic 404), and one trailing
//! `/` is dropped, so `/instance/<id>/` and `/commands/<id>/execute/` (as
//! the operator guide writes them) name the same resource as without it.
//!
//! # Contracts
//! - The query string is kept byte for byte.
//! - The root stays `/`: `/`, and the bare prefix with or without its `/`,
//!   route to the home endpoint.
//! - Only one trailing `/` is dropped: `/code//` routes as `/code/`, which
//!   is no resource (404), never as `/code`.

use std::borrow::Cow;

use axum::extract::{Request, State};
use axum::http::uri::PathAndQuery;
use axum::http::Uri;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::{ApiError, AppState};

/// The path to route for `path` under `base` (`""` or `/seg…` without a
/// trailing `/`), or `None` when `path` is outside `base`.
pub(crate) fn route_path<'a>(base: &str, path: &'a str) -> Option<Cow<'a, str>> {
    let rest = match path.strip_prefix(base) {
        Some("") => return Some(Cow::Borrowed("/")),
        Some(rest) if rest.starts_with('/') => rest,
        _ => return None,
    };
    match rest.strip_suffix('/') {
        Some(trimmed) if !trimmed.is_empty() => Some(Cow::Borrowed(trimmed)),
        _ => Some(Cow::Borrowed(rest)),
    }
}

/// The middleware in front of the router: rewrites the request path (see
/// the module docs) or answers 404.
pub(crate) async fn normalize(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let Some(routed) = route_path(&state.config.base_path, path) else {
        return ApiError::NotFound.into_response();
    };
    if routed != path {
        let rewritten = match req.uri().query() {
            Some(q) => format!("{routed}?{q}"),
            None => routed.into_owned(),
        };
        // Every piece came from a valid URI, so this parses; on the
        // impossible failure the request is routed unchanged.
        if let Ok(pq) = PathAndQuery::try_from(rewritten) {
            let mut parts = req.uri().clone().into_parts();
            parts.path_and_query = Some(pq);
            if let Ok(uri) = Uri::from_parts(parts) {
                *req.uri_mut() = uri;
            }
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routed(base: &str, path: &str) -> Option<String> {
        route_path(base, path).map(Cow::into_owned)
    }

    #[test]
    fn one_trailing_slash_is_dropped_and_the_root_stays() {
        assert_eq!(routed("", "/"), Some("/".into()));
        assert_eq!(routed("", "/code"), Some("/code".into()));
        assert_eq!(routed("", "/code/"), Some("/code".into()));
        assert_eq!(
            routed("", "/commands/6b063bb73e47cec0540baa24/execute/"),
            Some("/commands/6b063bb73e47cec0540baa24/execute".into())
        );
        assert_eq!(routed("", "/code//"), Some("/code/".into()));
    }

    #[test]
    fn the_prefix_is_taken_off_and_paths_outside_it_are_refused() {
        assert_eq!(routed("/atlas", "/atlas"), Some("/".into()));
        assert_eq!(routed("/atlas", "/atlas/"), Some("/".into()));
        assert_eq!(routed("/atlas", "/atlas/instance/"), Some("/instance".into()));
        assert_eq!(routed("/atlas", "/atlas/code/x"), Some("/code/x".into()));
        assert_eq!(routed("/atlas", "/code"), None);
        assert_eq!(routed("/atlas", "/atlasx/code"), None);
        assert_eq!(routed("/atlas", "/"), None);
        assert_eq!(routed("/a/b", "/a/b/jobs"), Some("/jobs".into()));
        assert_eq!(routed("/a/b", "/a/jobs"), None);
    }
}
