//! The load balancer's route map: only `active` routes, rendered in the
//! configured format (`f5` as the original, an nginx `map` include, an
//! HAProxy map file), written atomically; then the optional reload command.
//!
//! Each entry maps the request path (or, for a regex route, the pattern) to
//! a value the load balancer's configuration reads: the route type, and
//! for redirects everything needed to answer them, as space-separated
//! fields: `redirect code=301 destination=<url> preserve_path=1 regex=0`.
//! Regex entries carry `regex=1` (nginx keys them with `~`), so a load
//! balancer looks them up with its regex matcher (HAProxy `map_reg`, an F5
//! iRule `matches_regex` over the data group).

use std::fmt::Write as _;

use atlas_core::model::{RouteStatus, RouteType};
use atlas_core::{ExecError, RouteMap, RouteMapCheck, RouteSpec};

use crate::config::RouteMapFormat;
use crate::paths::{check_regex_source, check_source, refused, Source};

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

/// A redirect destination: an absolute http(s) URL or a path, without
/// whitespace, quotes, backslashes or control characters (it goes inside a
/// quoted map value).
fn check_destination(r: &RouteSpec) -> Result<&str, ExecError> {
    let d = r.destination.as_deref().unwrap_or_default();
    let shape = d.starts_with("https://") || d.starts_with("http://") || d.starts_with('/');
    if !shape
        || d.len() > 2048
        || d.chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '\\' | '\'' | ';' | '{' | '}'))
    {
        return Err(refused(
            "redirect destination",
            format!(
                "'{d}' of route '{}': use an http(s) URL or a path without spaces or quotes",
                r.source
            ),
        ));
    }
    Ok(d)
}

/// The map value of a route: its type, plus for redirects the status
/// code, destination, path preservation and regex flag.
fn value(r: &RouteSpec) -> Result<String, ExecError> {
    let ty = r.route_type.as_str();
    if r.route_type != RouteType::Redirect {
        return Ok(ty.to_owned());
    }
    let code = r.response_code.unwrap_or(301);
    if !matches!(code, 301 | 302 | 303 | 307 | 308) {
        return Err(refused(
            "redirect status code",
            format!("{code} of route '{}': use 301, 302, 303, 307 or 308", r.source),
        ));
    }
    Ok(format!(
        "{ty} code={code} destination={} preserve_path={} regex={}",
        check_destination(r)?,
        u8::from(r.path_preserving),
        u8::from(r.regex)
    ))
}

/// Renders the active routes of `map`. Every source and redirect is
/// validated first, so a bad one refuses the whole map before anything is
/// written.
pub(crate) fn render(format: RouteMapFormat, map: &RouteMap) -> Result<String, ExecError> {
    let mut lines = Vec::new();
    for r in map
        .routes
        .iter()
        .filter(|r| r.route_status == RouteStatus::Active)
    {
        let path = request_path(r)?;
        if r.route_type == RouteType::Redirect && r.destination.as_deref().is_none_or(str::is_empty) {
            tracing::warn!(source = %r.source, "redirect without a destination left out of the route map");
            continue;
        }
        lines.push((r, path, value(r)?));
    }
    let mut out = String::new();
    if format != RouteMapFormat::F5 {
        out.push_str("# Route map written by Atlas; edits are overwritten.\n");
    }
    for (r, path, value) in lines {
        let _ = match format {
            RouteMapFormat::F5 => writeln!(out, "\"{path}\" := \"{value}\","),
            RouteMapFormat::Nginx if r.regex => writeln!(out, "\"~{path}\" \"{value}\";"),
            RouteMapFormat::Nginx => writeln!(out, "\"{path}\" \"{value}\";"),
            RouteMapFormat::Haproxy => writeln!(out, "{path} {value}"),
        };
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

/// The route map file at `path` as it is (empty when missing).
///
/// # Errors
/// Any other read failure.
pub(crate) async fn read_map(path: &std::path::Path) -> std::io::Result<String> {
    match tokio::fs::read_to_string(path).await {
        Ok(t) => Ok(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(e),
    }
}

/// How the map found on `host` (its text, or why it could not be read)
/// compares with `want`.
pub(crate) fn compare(host: &str, want: &str, have: Result<String, String>) -> RouteMapCheck {
    match have {
        Ok(text) => RouteMapCheck {
            host: host.to_owned(),
            differences: diff(want, &text),
            error: None,
        },
        Err(e) => RouteMapCheck {
            host: host.to_owned(),
            differences: Vec::new(),
            error: Some(e),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use atlas_core::model::Id;

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

    fn redirect(source: &str, regex: bool, dest: &str, code: Option<u16>, preserve: bool) -> RouteSpec {
        RouteSpec {
            destination: Some(dest.into()),
            response_code: code,
            path_preserving: preserve,
            ..route(source, RouteType::Redirect, RouteStatus::Active, regex)
        }
    }

    fn sample() -> RouteMap {
        RouteMap {
            routes: vec![
                route("lab/atlas", RouteType::PoolbExpress, RouteStatus::Active, false),
                route("off", RouteType::PoolbExpress, RouteStatus::Inactive, false),
                route("domainroot", RouteType::PoolbHomepage, RouteStatus::Active, false),
                redirect("old-dept", false, "/new-dept", None, true),
                redirect(
                    "^old/(.*)$",
                    true,
                    "https://www.example.edu/new/$1",
                    Some(302),
                    false,
                ),
            ],
        }
    }

    const OLD_DEPT: &str = "redirect code=301 destination=/new-dept preserve_path=1 regex=0";
    const OLD_RE: &str =
        "redirect code=302 destination=https://www.example.edu/new/$1 preserve_path=0 regex=1";

    #[test]
    fn f5_map_has_one_line_per_active_route_with_the_redirect_data() {
        let text = render(RouteMapFormat::F5, &sample()).unwrap();
        assert_eq!(
            text,
            format!(
                "\"/lab/atlas\" := \"poolb-express\",\n\"/\" := \"poolb-homepage\",\n\
                 \"/old-dept\" := \"{OLD_DEPT}\",\n\"^old/(.*)$\" := \"{OLD_RE}\",\n"
            )
        );
    }

    #[test]
    fn nginx_map_quotes_keys_and_prefixes_regexes() {
        let text = render(RouteMapFormat::Nginx, &sample()).unwrap();
        assert!(text.contains("\"/lab/atlas\" \"poolb-express\";\n"));
        assert!(text.contains("\"/\" \"poolb-homepage\";\n"));
        assert!(
            text.contains(&format!("\"/old-dept\" \"{OLD_DEPT}\";\n")),
            "{text}"
        );
        assert!(
            text.contains(&format!("\"~^old/(.*)$\" \"{OLD_RE}\";\n")),
            "{text}"
        );
        assert!(!text.contains("off"));
    }

    #[test]
    fn haproxy_map_is_key_space_value() {
        let text = render(RouteMapFormat::Haproxy, &sample()).unwrap();
        assert!(
            text.ends_with(&format!(
                "/lab/atlas poolb-express\n/ poolb-homepage\n/old-dept {OLD_DEPT}\n^old/(.*)$ {OLD_RE}\n"
            )),
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

    #[test]
    fn a_redirect_without_a_safe_destination_or_with_an_odd_code_refuses_the_map() {
        for bad in [
            redirect("a-b", false, "https://x/\" := \"evil", None, false),
            redirect("a-b", false, "https://x/a b", None, false),
            redirect("a-b", false, "javascript:alert(1)", None, false),
            redirect("a-b", false, "/ok", Some(200), false),
        ] {
            let map = RouteMap {
                routes: vec![bad.clone()],
            };
            assert!(
                matches!(
                    render(RouteMapFormat::Nginx, &map),
                    Err(ExecError::Refused { .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_redirect_without_a_destination_is_left_out() {
        let mut map = sample();
        map.routes[3].destination = None;
        let text = render(RouteMapFormat::F5, &map).unwrap();
        assert!(!text.contains("old-dept") && text.contains("lab/atlas"), "{text}");
    }

    #[test]
    fn diff_names_entries_missing_and_extra_ignoring_comments() {
        let d = diff(
            "# c\n\"/a\" := \"x\",\n\"/b\" := \"y\",\n",
            "\"/b\" := \"y\",\n\"/c\" := \"z\",\n",
        );
        assert_eq!(
            d,
            [
                "missing on the load balancer: \"/a\" := \"x\",",
                "not in the records: \"/c\" := \"z\","
            ]
        );
        assert!(diff("# x\n\"/a\" := \"x\",\n", "\"/a\" := \"x\",\n").is_empty());
    }
}
