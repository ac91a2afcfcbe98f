//! Drupal settings files (`settings.php`, `settings.local_pre.php`,
//! `settings.local_post.php`) rendered with minijinja from the templates in
//! `templates/` (embedded in the crate). Every value reaches PHP through
//! the `php` filter, which renders a PHP literal (single-quoted strings with
//! `\` and `'` escaped, `NULL`, `TRUE`/`FALSE`, numbers, `array(…)`), so no
//! value can break out of its string.

use std::path::PathBuf;
use std::sync::OnceLock;

use atlas_core::model::{Pool, Status};
use atlas_core::{ExecError, InstanceSpec};
use minijinja::value::{Value, ValueKind};
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;

use crate::config::ShellConfig;
use crate::paths::{check_source, Layout, Source};

/// Template names, which are also the file names written.
pub(crate) const FILES: [&str; 3] = [
    "settings.php",
    "settings.local_pre.php",
    "settings.local_post.php",
];

const TEMPLATES: [(&str, &str); 3] = [
    ("settings.php", include_str!("../templates/settings.php")),
    (
        "settings.local_pre.php",
        include_str!("../templates/settings.local_pre.php"),
    ),
    (
        "settings.local_post.php",
        include_str!("../templates/settings.local_post.php"),
    ),
];

/// The first lines of every settings file.
pub(crate) const HEADER: &str =
    "// This file is owned by Atlas: it is rewritten whenever the instance changes,\n\
// and local edits are lost. Change the instance through the Atlas API instead.";

fn env() -> Result<&'static Environment<'static>, ExecError> {
    static ENV: OnceLock<Result<Environment<'static>, String>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_keep_trailing_newline(true);
        env.add_filter("php", php_literal);
        for (name, src) in TEMPLATES {
            env.add_template(name, src)
                .map_err(|e| format!("template {name}: {e}"))?;
        }
        Ok(env)
    })
    .as_ref()
    .map_err(|e| ExecError::Io(std::io::Error::other(e.clone())))
}

/// The `php` filter: a value as a PHP literal.
fn php_literal(v: Value) -> Result<String, minijinja::Error> {
    Ok(match v.kind() {
        ValueKind::Undefined | ValueKind::None => "NULL".to_owned(),
        ValueKind::Bool => if v.is_true() { "TRUE" } else { "FALSE" }.to_owned(),
        ValueKind::Number => v.to_string(),
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Result<Vec<_>, _> = v.try_iter()?.map(php_literal).collect();
            format!("array({})", items?.join(", "))
        }
        ValueKind::Map => {
            let mut parts = Vec::new();
            for k in v.try_iter()? {
                let item = v.get_item(&k)?;
                parts.push(format!("{} => {}", php_literal(k)?, php_literal(item)?));
            }
            format!("array({})", parts.join(", "))
        }
        _ => php_string(&v.to_string()),
    })
}

/// A single-quoted PHP string.
pub(crate) fn php_string(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

#[derive(Serialize)]
struct Database {
    name: String,
    user: String,
    password: String,
    host: String,
    port: u16,
    replicas: Vec<String>,
}

/// Every variable the templates see.
#[derive(Serialize)]
struct Context {
    header: &'static str,
    profile: String,
    sid: String,
    atlas_id: String,
    atlas_url: String,
    atlas_username: String,
    atlas_password: String,
    status: &'static str,
    path: String,
    launched: bool,
    pool: &'static str,
    instance_type: &'static str,
    statistics_id: Option<String>,
    siteimprove_site: Option<i64>,
    siteimprove_group: Option<i64>,
    page_cache_maximum_age: u32,
    database: Database,
    memcache_servers: Vec<String>,
    varnish_servers: Vec<String>,
    reverse_proxies: Vec<String>,
    varnish_control: String,
    varnish_version: u8,
    varnish_control_key: String,
    base_url: String,
    environment: &'static str,
    tmp_path: String,
}

/// Whether the settings are those of a launched site (`$launched`).
fn is_launched(status: Status) -> bool {
    matches!(status, Status::Launching | Status::Launched)
}

/// The site's path: the primary route source when launching or launched
/// (empty for the domain root and the homepage pool), else the sid.
fn site_path(spec: &InstanceSpec) -> Result<String, ExecError> {
    if !is_launched(spec.status) {
        return Ok(spec.sid.to_string());
    }
    if spec.pool == Pool::PoolbHomepage {
        return Ok(String::new());
    }
    match spec.primary_route.as_deref().map(check_source).transpose()? {
        Some(Source::DomainRoot) => Ok(String::new()),
        Some(Source::Path(p)) => Ok(p),
        None => Ok(spec.sid.to_string()),
    }
}

fn host_of(server: &str) -> String {
    match server.rsplit_once(':') {
        Some((h, port)) if !h.contains(':') && port.bytes().all(|c| c.is_ascii_digit()) => h.to_owned(),
        _ => server.to_owned(),
    }
}

/// Renders the three settings files for `spec`: `(file name, contents)`.
pub(crate) fn render(
    cfg: &ShellConfig,
    layout: &Layout,
    spec: &InstanceSpec,
) -> Result<Vec<(&'static str, String)>, ExecError> {
    let path = site_path(spec)?;
    let base_url = if path.is_empty() {
        cfg.base_url.clone()
    } else {
        format!("{}/{path}", cfg.base_url)
    };
    let ctx = Context {
        header: HEADER,
        profile: spec.profile.name.clone(),
        sid: spec.sid.to_string(),
        atlas_id: spec.id.to_string(),
        atlas_url: cfg.atlas_url.clone(),
        atlas_username: cfg.service_account.username.clone(),
        atlas_password: cfg.service_account.password.expose().to_owned(),
        status: spec.status.as_str(),
        path,
        launched: is_launched(spec.status),
        pool: spec.pool.as_str(),
        instance_type: spec.instance_type.as_str(),
        statistics_id: spec.statistics_id.map(|i| i.to_string()),
        siteimprove_site: spec.settings.siteimprove_site,
        siteimprove_group: spec.settings.siteimprove_group,
        page_cache_maximum_age: spec.settings.page_cache_maximum_age,
        database: Database {
            name: spec.database.name.clone(),
            user: spec.database.user.clone(),
            password: spec.database.password.expose().to_owned(),
            host: cfg.database.host.clone(),
            port: cfg.database.port,
            replicas: cfg.database.replicas.clone(),
        },
        memcache_servers: cfg.memcache_servers.clone(),
        varnish_servers: cfg.varnish_servers.clone(),
        reverse_proxies: cfg.varnish_servers.iter().map(|s| host_of(s)).collect(),
        varnish_control: cfg
            .varnish_servers
            .iter()
            .map(|s| {
                if host_of(s) == *s {
                    format!("{s}:6082")
                } else {
                    s.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(" "),
        varnish_version: cfg.varnish_version,
        varnish_control_key: cfg.varnish_control_key.expose().to_owned(),
        base_url,
        environment: cfg.environment.as_str(),
        tmp_path: tmp_dir(layout, spec).to_string_lossy().into_owned(),
    };
    let env = env()?;
    FILES
        .iter()
        .map(|name| {
            let t = env
                .get_template(name)
                .map_err(|e| ExecError::Io(std::io::Error::other(e.to_string())))?;
            let text = t
                .render(&ctx)
                .map_err(|e| ExecError::Io(std::io::Error::other(format!("rendering {name}: {e}"))))?;
            Ok((*name, text))
        })
        .collect()
}

/// `<files_root>/sitefiles/<sid>/tmp`.
pub(crate) fn tmp_dir(layout: &Layout, spec: &InstanceSpec) -> PathBuf {
    layout.files_dir(&spec.sid).join("tmp")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn php_string_escapes_quotes_and_backslashes() {
        assert_eq!(php_string(r"it's a \ test"), r"'it\'s a \\ test'");
        assert_eq!(php_string("$x {$y}"), "'$x {$y}'");
    }

    #[test]
    fn php_filter_renders_null_bools_numbers_and_arrays() {
        let v = |j: serde_json::Value| php_literal(Value::from_serialize(&j)).unwrap();
        assert_eq!(v(serde_json::json!(null)), "NULL");
        assert_eq!(v(serde_json::json!(true)), "TRUE");
        assert_eq!(v(serde_json::json!(300)), "300");
        assert_eq!(v(serde_json::json!(["a", "b'"])), r"array('a', 'b\'')");
    }

    #[test]
    fn templates_parse() {
        env().unwrap();
    }
}
