//! [`ShellConfig`]: where things live on this host, which programs to run,
//! database and cache servers, the route map and permissions. Validated once
//! at startup ([`ShellConfig::validate`]).

use std::fmt;
use std::path::{Component, Path, PathBuf};

use atlas_core::model::{Environment, Secret};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::hosts::{HostConfig, SshConfig};
use crate::perms;

/// Why a [`ShellConfig`] is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("shell config: {field}: {reason}")]
pub struct ConfigError {
    /// The offending field, dotted (`database.port`).
    pub field: String,
    /// What is wrong with it.
    pub reason: String,
}

impl ConfigError {
    fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// A secret read from the configuration. `Debug` redacts it; serializing
/// writes it in clear (serialization produces a config file).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct ConfigSecret(Option<Secret>);

impl ConfigSecret {
    /// Wraps `s`.
    pub fn new(s: impl Into<String>) -> Self {
        Self(Some(Secret::new(s)))
    }

    /// The secret text (empty when unset).
    pub fn expose(&self) -> &str {
        self.0.as_ref().map_or("", Secret::expose)
    }

    /// Whether a non-empty secret is set.
    pub fn is_set(&self) -> bool {
        !self.expose().is_empty()
    }
}

impl fmt::Debug for ConfigSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.is_set() { "[redacted]" } else { "[unset]" })
    }
}

impl Serialize for ConfigSecret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.expose())
    }
}

impl<'de> Deserialize<'de> for ConfigSecret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(if s.is_empty() { Self(None) } else { Self::new(s) })
    }
}

/// Paths of the programs the executor spawns. A bare name is looked up in
/// `PATH`; anything else must be absolute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Programs {
    /// `git` (clone, fetch, checkout, clean).
    pub git: String,
    /// The `mysql` client (databases and users).
    pub mysql: String,
    /// The dump program of backups (`mysqldump`, or `mariadb-dump`).
    pub mysqldump: String,
    /// `drush` (site install, registry rebuild, updates, cron, caches).
    pub drush: String,
    /// The shell that runs command items (`sh -c <command>`).
    pub sh: String,
    /// Names of Atlas's own environment variables that programs get besides
    /// the fixed allow-list (`PATH`, `HOME`, `USER`, `LOGNAME`, `LANG`,
    /// `LANGUAGE`, `LC_*`, `TZ`, `TMPDIR`, `SSH_AUTH_SOCK`), e.g. a proxy
    /// for git. `ATLAS_*` names are refused: Atlas's settings never reach a
    /// program.
    pub pass_env: Vec<String>,
}

impl Default for Programs {
    fn default() -> Self {
        Self {
            git: "git".into(),
            mysql: "mysql".into(),
            mysqldump: "mysqldump".into(),
            drush: "drush".into(),
            sh: "/bin/sh".into(),
            pass_env: Vec::new(),
        }
    }
}

/// The database server instances use, and the administrative account that
/// creates their databases and users.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// Primary database host (rendered into settings; used by `mysql`).
    pub host: String,
    /// Database port.
    pub port: u16,
    /// Read replicas (rendered into settings as `slave` connections).
    pub replicas: Vec<String>,
    /// Administrative user for `CREATE DATABASE`/`CREATE USER` (empty: the
    /// client's default, e.g. socket authentication).
    pub admin_user: String,
    /// Its password; handed to `mysql` through a mode-0600 option file,
    /// never on the command line.
    pub admin_password: ConfigSecret,
    /// Host part of the instance users (`'sid'@'<user_host>'`).
    pub user_host: String,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 3306,
            replicas: Vec::new(),
            admin_user: String::new(),
            admin_password: ConfigSecret::default(),
            user_host: "%".into(),
        }
    }
}

/// The account instances use to call back into Atlas.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceAccount {
    /// User name.
    pub username: String,
    /// Password.
    pub password: ConfigSecret,
}

/// How the route map is written for the load balancer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteMapFormat {
    /// F5 data group lines: `"/source" := "route_type",` (the original's).
    #[default]
    F5,
    /// An nginx `map` include: `"/source" "route_type";`.
    Nginx,
    /// An HAProxy map file: `/source route_type`.
    Haproxy,
}

/// Where and how the route map is published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RouteMapConfig {
    /// File format.
    pub format: RouteMapFormat,
    /// Absolute path of the map file (written atomically).
    pub path: PathBuf,
    /// File mode of the map.
    pub mode: u32,
    /// Program and arguments run after writing (empty: no reload).
    pub reload_command: Vec<String>,
}

impl Default for RouteMapConfig {
    fn default() -> Self {
        Self {
            format: RouteMapFormat::F5,
            path: PathBuf::from("/data/atlas/route-map.txt"),
            mode: 0o644,
            reload_command: Vec::new(),
        }
    }
}

/// Group ownership and modes the executor sets (as the original's
/// `correct_file_permissions`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PermissionsConfig {
    /// Group given to `sites/default` and the files directories (the web
    /// server's group). `None`: leave groups alone.
    pub web_group: Option<String>,
    /// Mode of directories under `sites/default` and the files directories.
    pub dir_mode: u32,
    /// Mode of regular files there.
    pub file_mode: u32,
    /// Mode of the settings files (default 0640: they hold passwords; the
    /// web server reads them through `web_group`).
    pub settings_mode: u32,
}

impl Default for PermissionsConfig {
    fn default() -> Self {
        Self {
            web_group: None,
            dir_mode: 0o775,
            file_mode: 0o664,
            settings_mode: 0o640,
        }
    }
}

/// Time limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Timeouts {
    /// Limit for one `git`, `mysql`, `mysqldump`, `drush` or reload run, in
    /// seconds (a backup's whole dump, a restore's whole load).
    pub program_secs: u64,
    /// Upper bound on a command item's own time limit, in seconds.
    pub command_max_secs: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            program_secs: 1800,
            command_max_secs: 3600,
        }
    }
}

/// Configuration of the [`crate::ShellExecutor`].
///
/// Roots are absolute, normalised and have no trailing slash; the executor
/// never creates or deletes anything outside them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShellConfig {
    /// Code checkouts: `<code_root>/{cores,profiles,modules,themes,libraries}/<name>/<name>-<version>`.
    pub code_root: PathBuf,
    /// Instance trees: `<instances_code_root>/<sid>/<sid>` and `…/<sid>/current`.
    pub instances_code_root: PathBuf,
    /// Web directories: `<instances_web_root>/<type>/<sid>`, launch links
    /// and `<instances_web_root>/homepage`.
    pub instances_web_root: PathBuf,
    /// Files: `<files_root>/sitefiles/<sid>/{files,tmp}`.
    pub files_root: PathBuf,
    /// Backups: `<backup_root>/<sid>/<backup id>/{database.sql.gz,files.tar.gz}`.
    pub backup_root: PathBuf,
    /// What `current` points at while an instance is down.
    pub down_page: PathBuf,
    /// Directory whose files (`robots.txt`, `.htaccess`, …) are copied into
    /// the homepage by `update_homepage_extra_files` (`None`: nothing to copy).
    pub homepage_extra_files: Option<PathBuf>,
    /// Programs.
    pub programs: Programs,
    /// Database server and admin account.
    pub database: DatabaseConfig,
    /// Memcache servers (`host:port`), rendered into settings.
    pub memcache_servers: Vec<String>,
    /// Varnish servers (reverse proxies), rendered into settings.
    pub varnish_servers: Vec<String>,
    /// Varnish major version, rendered as `$conf['varnish_version']` so
    /// Drupal's varnish module speaks the right control protocol.
    pub varnish_version: u8,
    /// Secret of the Varnish control terminal (`$conf['varnish_control_key']`),
    /// with which Drupal purges pages.
    pub varnish_control_key: ConfigSecret,
    /// Scheme and host sites are served at in this environment
    /// (`https://www.example.edu`, no trailing slash): `$base_url` is this
    /// plus `/<path>` of the instance (the host alone for the domain root).
    pub base_url: String,
    /// Environment Atlas runs in (rendered into settings).
    pub environment: Environment,
    /// Atlas URL as instances should call it (rendered into settings).
    pub atlas_url: String,
    /// Account instances use to call Atlas (rendered into settings).
    pub service_account: ServiceAccount,
    /// Load balancer route map.
    pub route_map: RouteMapConfig,
    /// Group and modes.
    pub permissions: PermissionsConfig,
    /// Time limits.
    pub timeouts: Timeouts,
    /// Program and arguments that clear the PHP opcode cache (empty: none).
    pub clear_apc_command: Vec<String>,
    /// Name reported in command output (`None`: this host's name).
    pub server_name: Option<String>,
    /// The fleet (`[[shell.hosts]]`); empty: this host alone, no SSH.
    pub hosts: Vec<HostConfig>,
    /// SSH client settings for the hosts.
    pub ssh: SshConfig,
    /// Whether `files_root` is shared storage (NFS) seen by every web host:
    /// files directories are then created, fixed and removed by the first
    /// web host only.
    pub shared_files: bool,
}

impl Default for ShellConfig {
    fn default() -> Self {
        Self {
            code_root: PathBuf::from("/data/code"),
            instances_code_root: PathBuf::from("/data/instances"),
            instances_web_root: PathBuf::from("/data/web"),
            files_root: PathBuf::from("/data/files"),
            backup_root: PathBuf::from("/data/backups"),
            down_page: PathBuf::from("/data/code/down"),
            homepage_extra_files: None,
            programs: Programs::default(),
            database: DatabaseConfig::default(),
            memcache_servers: Vec::new(),
            varnish_servers: Vec::new(),
            varnish_version: 4,
            varnish_control_key: ConfigSecret::default(),
            base_url: "https://localhost".into(),
            environment: Environment::Local,
            atlas_url: "https://localhost/atlas/".into(),
            service_account: ServiceAccount::default(),
            route_map: RouteMapConfig::default(),
            permissions: PermissionsConfig::default(),
            timeouts: Timeouts::default(),
            clear_apc_command: Vec::new(),
            server_name: None,
            hosts: Vec::new(),
            ssh: SshConfig::default(),
            shared_files: false,
        }
    }
}

impl ShellConfig {
    /// Checks the configuration: roots absolute, normalised, without a
    /// trailing slash and not `/`; program paths bare names or absolute;
    /// database host, port and user host sane; modes and timeouts in range;
    /// in production, a configured web group must exist.
    ///
    /// # Errors
    /// The first problem found, naming the field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_roots()?;
        self.validate_rest()?;
        crate::hosts::validate(self)
    }

    /// The root checks of [`Self::validate`] (also applied to each host's
    /// effective roots).
    pub(crate) fn validate_roots(&self) -> Result<(), ConfigError> {
        check_root("code_root", &self.code_root)?;
        check_root("instances_code_root", &self.instances_code_root)?;
        check_root("instances_web_root", &self.instances_web_root)?;
        check_root("files_root", &self.files_root)?;
        check_root("backup_root", &self.backup_root)?;
        check_root("down_page", &self.down_page)?;
        check_root("route_map.path", &self.route_map.path)?;
        if let Some(p) = &self.homepage_extra_files {
            check_root("homepage_extra_files", p)?;
        }
        let roots = [
            ("code_root", &self.code_root),
            ("instances_code_root", &self.instances_code_root),
            ("instances_web_root", &self.instances_web_root),
            ("files_root", &self.files_root),
            ("backup_root", &self.backup_root),
        ];
        for (i, (a, pa)) in roots.iter().enumerate() {
            for (b, pb) in &roots[i + 1..] {
                if pa.starts_with(pb) || pb.starts_with(pa) {
                    return Err(ConfigError::new(
                        *a,
                        format!("must not contain or lie inside {b}"),
                    ));
                }
            }
        }
        Ok(())
    }

    fn validate_rest(&self) -> Result<(), ConfigError> {
        for (field, p) in [
            ("programs.git", &self.programs.git),
            ("programs.mysql", &self.programs.mysql),
            ("programs.mysqldump", &self.programs.mysqldump),
            ("programs.drush", &self.programs.drush),
            ("programs.sh", &self.programs.sh),
        ] {
            check_program(field, p)?;
        }
        for name in &self.programs.pass_env {
            check_pass_env(name)?;
        }
        if let Some(p) = self.route_map.reload_command.first() {
            check_program("route_map.reload_command", p)?;
        }
        if let Some(p) = self.clear_apc_command.first() {
            check_program("clear_apc_command", p)?;
        }
        if !is_host(&self.database.host) {
            return Err(ConfigError::new(
                "database.host",
                "use a host name or an IP address",
            ));
        }
        if self.database.port == 0 {
            return Err(ConfigError::new("database.port", "must be 1-65535"));
        }
        if let Some(r) = self.database.replicas.iter().find(|r| !is_host(r)) {
            return Err(ConfigError::new(
                "database.replicas",
                format!("'{r}' is not a host name"),
            ));
        }
        let uh = &self.database.user_host;
        if uh.is_empty()
            || !uh
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b".%_:-/".contains(&c))
        {
            return Err(ConfigError::new(
                "database.user_host",
                "use a host, IP, netmask or %",
            ));
        }
        if self
            .database
            .admin_user
            .bytes()
            .any(|c| c.is_ascii_control() || c == b'"' || c == b'\\')
        {
            return Err(ConfigError::new(
                "database.admin_user",
                "contains a quote or control character",
            ));
        }
        for (field, list) in [
            ("memcache_servers", &self.memcache_servers),
            ("varnish_servers", &self.varnish_servers),
        ] {
            if let Some(s) = list.iter().find(|s| !is_host(s)) {
                return Err(ConfigError::new(field, format!("'{s}' is not host or host:port")));
            }
        }
        if !(2..=7).contains(&self.varnish_version) {
            return Err(ConfigError::new("varnish_version", "must be 2-7"));
        }
        check_base_url(&self.base_url)?;
        for (field, mode) in [
            ("permissions.dir_mode", self.permissions.dir_mode),
            ("permissions.file_mode", self.permissions.file_mode),
            ("permissions.settings_mode", self.permissions.settings_mode),
            ("route_map.mode", self.route_map.mode),
        ] {
            if mode > 0o7777 {
                return Err(ConfigError::new(field, format!("{mode:o} is not a file mode")));
            }
        }
        if self.timeouts.program_secs == 0 {
            return Err(ConfigError::new("timeouts.program_secs", "must be positive"));
        }
        if self.timeouts.command_max_secs == 0 {
            return Err(ConfigError::new("timeouts.command_max_secs", "must be positive"));
        }
        if let Some(g) = &self.permissions.web_group {
            match perms::group_id(g) {
                Ok(Some(_)) => {}
                Ok(None) | Err(_) if self.environment == Environment::Production => {
                    return Err(ConfigError::new(
                        "permissions.web_group",
                        format!("group '{g}' does not exist on this host"),
                    ));
                }
                _ => tracing::warn!(group = %g, "web group not found; group ownership will not be set"),
            }
        }
        Ok(())
    }
}

fn check_root(field: &str, p: &Path) -> Result<(), ConfigError> {
    let s = p
        .to_str()
        .ok_or_else(|| ConfigError::new(field, "must be valid UTF-8"))?;
    if !p.is_absolute() {
        return Err(ConfigError::new(field, format!("'{s}' must be absolute")));
    }
    if s.len() > 1 && s.ends_with('/') {
        return Err(ConfigError::new(field, format!("'{s}' must not end with '/'")));
    }
    if p.parent().is_none() {
        return Err(ConfigError::new(field, "must not be '/'"));
    }
    if s.contains("//")
        || p.components()
            .any(|c| matches!(c, Component::CurDir | Component::ParentDir))
    {
        return Err(ConfigError::new(
            field,
            format!("'{s}' must be normalised (no '.', '..' or '//')"),
        ));
    }
    if s.bytes().any(|c| c.is_ascii_control()) {
        return Err(ConfigError::new(field, "contains a control character"));
    }
    Ok(())
}

/// `base_url`: `http(s)://host[:port]`, no path, no trailing slash.
fn check_base_url(url: &str) -> Result<(), ConfigError> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| {
            ConfigError::new("base_url", format!("'{url}' must start with https:// or http://"))
        })?;
    if !is_host(rest) {
        return Err(ConfigError::new(
            "base_url",
            format!("'{url}' must be a scheme and host (optionally :port), without a path or trailing slash"),
        ));
    }
    Ok(())
}

fn check_pass_env(name: &str) -> Result<(), ConfigError> {
    let field = "programs.pass_env";
    let mut chars = name.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(ConfigError::new(
            field,
            format!("'{name}' is not an environment variable name (letters, digits and '_', not starting with a digit)"),
        ));
    }
    if name.starts_with("ATLAS_") {
        return Err(ConfigError::new(
            field,
            format!("'{name}': Atlas's own ATLAS_* settings never reach programs; remove it"),
        ));
    }
    Ok(())
}

fn check_program(field: &str, p: &str) -> Result<(), ConfigError> {
    if p.is_empty() {
        return Err(ConfigError::new(field, "must not be empty"));
    }
    if p.contains('/') && !Path::new(p).is_absolute() {
        return Err(ConfigError::new(
            field,
            format!("'{p}' must be a bare name or an absolute path"),
        ));
    }
    Ok(())
}

fn is_host(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b".-_:[]".contains(&c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_is_valid() {
        ShellConfig::default().validate().unwrap();
    }

    #[test]
    fn validate_refuses_relative_trailing_slash_and_dotted_roots() {
        for bad in ["data/code", "/data/code/", "/data/../etc", "/data//code", "/"] {
            let cfg = ShellConfig {
                code_root: PathBuf::from(bad),
                ..ShellConfig::default()
            };
            let e = cfg.validate().unwrap_err();
            assert_eq!(e.field, "code_root", "{bad}");
        }
    }

    #[test]
    fn backup_root_is_checked_like_the_other_roots() {
        for bad in ["backups", "/data/backups/", "/data/files/backups"] {
            let cfg = ShellConfig {
                backup_root: PathBuf::from(bad),
                ..ShellConfig::default()
            };
            let e = cfg.validate().unwrap_err();
            assert!(
                e.field == "backup_root" || e.reason.contains("backup_root"),
                "{bad}: {e}"
            );
        }
        let mut cfg = ShellConfig::default();
        cfg.programs.mysqldump = "bin/mariadb-dump".into();
        assert_eq!(cfg.validate().unwrap_err().field, "programs.mysqldump");
    }

    #[test]
    fn validate_refuses_nested_roots() {
        let cfg = ShellConfig {
            files_root: PathBuf::from("/data/web/files"),
            ..ShellConfig::default()
        };
        let e = cfg.validate().unwrap_err().to_string();
        assert!(
            e.contains("instances_web_root") && e.contains("files_root"),
            "{e}"
        );
    }

    #[test]
    fn validate_refuses_relative_program_paths_and_bad_database_settings() {
        let mut cfg = ShellConfig::default();
        cfg.programs.drush = "bin/drush".into();
        assert_eq!(cfg.validate().unwrap_err().field, "programs.drush");
        let mut cfg = ShellConfig::default();
        cfg.database.port = 0;
        assert_eq!(cfg.validate().unwrap_err().field, "database.port");
        let mut cfg = ShellConfig::default();
        cfg.database.user_host = "x' OR 1".into();
        assert_eq!(cfg.validate().unwrap_err().field, "database.user_host");
    }

    #[test]
    fn pass_env_refuses_atlas_settings_and_malformed_names() {
        let mut cfg = ShellConfig::default();
        cfg.programs.pass_env = vec!["https_proxy".into(), "GIT_SSH_COMMAND".into()];
        cfg.validate().unwrap();
        for bad in ["ATLAS_NOTIFY__EMAIL__PASSWORD", "1X", "A-B", ""] {
            cfg.programs.pass_env = vec![bad.into()];
            let err = cfg.validate().unwrap_err();
            assert_eq!(err.field, "programs.pass_env", "{bad}");
        }
    }

    #[test]
    fn validate_requires_an_existing_web_group_only_in_production() {
        let mut cfg = ShellConfig::default();
        cfg.permissions.web_group = Some("no-such-group-atlas".into());
        cfg.validate().unwrap();
        cfg.environment = Environment::Production;
        assert_eq!(cfg.validate().unwrap_err().field, "permissions.web_group");
    }

    #[test]
    fn config_debug_redacts_secrets_and_unknown_fields_are_refused() {
        let json = r#"{"database": {"admin_password": "hunter2"},
                       "service_account": {"username": "svc", "password": "s3cret"}}"#;
        let cfg: ShellConfig = serde_json::from_str(json).unwrap();
        assert_eq!(cfg.database.admin_password.expose(), "hunter2");
        let dbg = format!("{cfg:?}");
        assert!(!dbg.contains("hunter2") && !dbg.contains("s3cret"), "{dbg}");
        assert_eq!(cfg.code_root, PathBuf::from("/data/code"));
        let err = serde_json::from_str::<ShellConfig>(r#"{"code_rot": "/x"}"#).unwrap_err();
        assert!(err.to_string().contains("code_rot"));
    }

    #[test]
    fn validate_refuses_a_base_url_with_a_path_or_without_a_scheme() {
        for bad in [
            "www.example.edu",
            "https://www.example.edu/",
            "https://x/y",
            "ftp://x",
        ] {
            let cfg = ShellConfig {
                base_url: bad.into(),
                ..ShellConfig::default()
            };
            assert_eq!(cfg.validate().unwrap_err().field, "base_url", "{bad}");
        }
        let cfg = ShellConfig {
            base_url: "http://localhost:8080".into(),
            ..ShellConfig::default()
        };
        cfg.validate().unwrap();
    }

    #[test]
    fn route_map_format_parses_lowercase_names() {
        let f: RouteMapFormat = serde_json::from_str("\"haproxy\"").unwrap();
        assert_eq!(f, RouteMapFormat::Haproxy);
    }
}
