//! The load balancer's route map: only `active` routes, rendered in the
//! configured format (`f5` as the original, an nginx `map` include, an
//! HAProxy map file), written atomically; then the optional reload command.

use std::fmt::Write as _;

use atlas_core::model::RouteStatus;
use atlas_core::{ExecError, RouteMap, RouteSpec};

use crate::config::RouteMapFormat;
use crate::paths::{check_regex_source, check_source, Source};

/// The request path a route matches: `/` for `domainroot`, else `/<source>`.
fn request_path(r: &RouteSpec) -> Result<String, ExecError> {
    if r.regex {
        check_regex_source(&r.source)?;
        return Ok(r.source.clone());
    }
    Ok(match check_source(&r.source)? {
        Source::DomainRoot => "/".to_owned(),
        Source::Path(p) => format!("/{p}"),
    })
}

/// Renders the active routes of `map`. Every source is validated first, so
/// a bad one refuses the whole map before anything is written. Regex routes
/// appear only in the nginx format (`~` keys); the f5 and HAProxy exact-match
/// maps skip them.
pub(crate) fn render(format: RouteMapFormat, map: &RouteMap) -> Result<String, ExecError> {
    let mut lines = Vec::new();
    for r in map
        .routes
        .iter()
        .filter(|r| r.route_status == RouteStatus::Active)
    {
        lines.push((r, request_path(r)?));
    }
    let mut out = String::new();
    if format != RouteMapFormat::F5 {
        out.push_str("# Route map written by Atlas; edits are overwritten.\n");
    }
    for (r, path) in lines {
        let ty = r.route_type.as_str();
        match format {
            RouteMapFormat::F5 if !r.regex => {
                let _ = writeln!(out, "\"{path}\" := \"{ty}\",");
            }
            RouteMapFormat::Nginx if r.regex => {
                let _ = writeln!(out, "\"~{path}\" \"{ty}\";");
            }
            RouteMapFormat::Nginx => {
                let _ = writeln!(out, "\"{path}\" \"{ty}\";");
            }
            RouteMapFormat::Haproxy if !r.regex => {
                let _ = writeln!(out, "{path} {ty}");
            }
            _ => tracing::debug!(source = %r.source, ?format, "regex route left out of an exact-match map"),
        }
    }
    Ok(out)
}

/// The differences between the map the records render to (`want`) and
/// the map found on a load balancer (`have`), comments ignored: one line
/// per route entry missing there or extra there.
pub(crate) fn diff(want: &str, have: &str) -> Vec<String> {
    let entries = |t: &str| -> Vec<String> {
        t.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_owned)
            .collect()
    };
    let (want, have) = (entries(want), entries(have));
    let mut out: Vec<String> = want
        .iter()
        .filter(|l| !have.contains(l))
        .map(|l| format!("missing on the load balancer: {l}"))
        .collect();
    out.extend(
        have.iter()
            .filter(|l| !want.contains(l))
            .map(|l| format!("not in the records: {l}")),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use atlas_core::model::{Id, RouteType};

    fn route(source: &str, ty: RouteType, status: RouteStatus, regex: bool) -> RouteSpec {
        RouteSpec {
            id: Id::parse("5a1b2c3d4e5f6a7b8c9d0e1f").unwrap(),
            source: source.into(),
            route_type: ty,
            route_status: status,
            destination: None,
            response_code: None,
            regex,
            path_preserving: false,
            instance_sid: None,
            instance_type: None,
        }
    }

    fn sample() -> RouteMap {
        RouteMap {
            routes: vec![
                route("lab/atlas", RouteType::PoolbExpress, RouteStatus::Active, false),
                route("off", RouteType::PoolbExpress, RouteStatus::Inactive, false),
                route("domainroot", RouteType::PoolbHomepage, RouteStatus::Active, false),
                route("^old/(.*)$", RouteType::Redirect, RouteStatus::Active, true),
            ],
        }
    }

    #[test]
    fn f5_map_has_one_line_per_active_exact_route() {
        let text = render(RouteMapFormat::F5, &sample()).unwrap();
        assert_eq!(
            text,
            "\"/lab/atlas\" := \"poolb-express\",\n\"/\" := \"poolb-homepage\",\n"
        );
    }

    #[test]
    fn nginx_map_quotes_keys_and_prefixes_regexes() {
        let text = render(RouteMapFormat::Nginx, &sample()).unwrap();
        assert!(text.contains("\"/lab/atlas\" \"poolb-express\";\n"));
        assert!(text.contains("\"/\" \"poolb-homepage\";\n"));
        assert!(text.contains("\"~^old/(.*)$\" \"redirect\";\n"));
        assert!(!text.contains("off"));
    }

    #[test]
    fn haproxy_map_is_key_space_value() {
        let text = render(RouteMapFormat::Haproxy, &sample()).unwrap();
        assert!(
            text.ends_with("/lab/atlas poolb-express\n/ poolb-homepage\n"),
            "{text}"
        );
    }

    #[test]
    fn a_bad_source_refuses_the_whole_map() {
        let mut map = sample();
        map.routes.push(route(
            "../etc",
            RouteType::PoolbExpress,
            RouteStatus::Active,
            false,
        ));
        assert!(matches!(
            render(RouteMapFormat::F5, &map),
            Err(ExecError::Refused { .. })
        ));
    }
}
