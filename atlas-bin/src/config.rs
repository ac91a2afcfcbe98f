//! The `atlas.toml` configuration: defaults in code, then the file
//! (`--config` or `ATLAS_CONFIG`), then `ATLAS_*` environment variables
//! (`ATLAS_HTTP__LISTEN=0.0.0.0:8080`; `__` separates sections). Each
//! adapter owns its section's type; this module composes them.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use atlas_core::model::Environment;
pub use atlas_core::SchedulerConfig;
use atlas_core::{AppConfig, ServiceConfig, WorkerConfig};
use serde::{Deserialize, Serialize};

use crate::telemetry::LogConfig;

/// The commented default configuration printed by `atlas config default`.
pub const DEFAULT_TOML: &str = include_str!("default-config.toml");

/// Which `Store` backend to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// The embedded SQLite store (durable; the default).
    #[default]
    Sqlite,
    /// In memory: everything is lost on exit (trying things out, tests).
    Memory,
    /// PostgreSQL: several Atlas nodes (API servers, workers) on one
    /// database.
    Postgres,
}

/// The `[store]` section.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// `sqlite`, `memory` or `postgres`.
    pub backend: Backend,
    /// SQLite settings; a relative `path` is under `data_dir`.
    pub sqlite: atlas_sqlite::SqliteConfig,
    /// PostgreSQL settings.
    pub postgres: PostgresConfig,
}

/// The `[store.postgres]` section. The password is never in this file:
/// it is read from `password_file` or the variable `password_env` names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PostgresConfig {
    /// `postgres://user@host:5432/database` (or libpq key-value form).
    pub url: String,
    /// Connections per process.
    pub pool_size: usize,
    /// Schema holding Atlas's tables; empty: the server's `search_path`.
    pub schema: String,
    /// File holding the password (first line); relative to `data_dir`.
    pub password_file: Option<PathBuf>,
    /// Environment variable holding the password.
    pub password_env: Option<String>,
    /// `disable` (plain) or `verify-full` (TLS; the server's certificate
    /// verified against the web PKI roots or `ca_file`, and its host name).
    pub tls: String,
    /// PEM file of the CA certificates to trust with TLS (a private CA);
    /// relative to `data_dir`.
    pub ca_file: Option<PathBuf>,
}

impl Default for PostgresConfig {
    fn default() -> Self {
        Self {
            url: "postgres://atlas@127.0.0.1:5432/atlas".to_owned(),
            pool_size: 16,
            schema: String::new(),
            password_file: None,
            password_env: None,
            tls: "disable".to_owned(),
            ca_file: None,
        }
    }
}

impl PostgresConfig {
    /// The store configuration, the password read from its file or
    /// variable.
    ///
    /// # Errors
    /// A password file that cannot be read, a variable that is not set.
    pub fn store_config(&self) -> anyhow::Result<atlas_postgres::PgConfig> {
        let tls = atlas_postgres::PgTls::parse(&self.tls)
            .map_err(|e| anyhow::anyhow!("store.postgres.tls: {e}"))?;
        let mut c = atlas_postgres::PgConfig::new(self.url.clone())
            .pool_size(self.pool_size)
            .tls(tls, self.ca_file.clone());
        if !self.schema.is_empty() {
            c = c.schema(self.schema.clone());
        }
        if let Some(path) = &self.password_file {
            let text = std::fs::read_to_string(path).with_context(|| {
                format!(
                    "reading store.postgres.password_file {}: create it (mode 0600) with the password on its first line",
                    path.display()
                )
            })?;
            c.password = Some(text.lines().next().unwrap_or_default().to_owned());
        } else if let Some(var) = &self.password_env {
            if var.starts_with("ATLAS_") {
                bail!(
                    "store.postgres.password_env names {var}: ATLAS_* variables are read as settings; \
                     name a variable outside ATLAS_* (e.g. PGPASSWORD)"
                );
            }
            let pw = std::env::var(var).with_context(|| {
                format!("store.postgres.password_env names {var}, which is not set: export it or drop the setting")
            })?;
            c.password = Some(pw);
        }
        Ok(c)
    }
}

/// The `[secrets]` section.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecretsConfig {
    /// File holding the 32-byte key that encrypts database passwords at
    /// rest (hex or base64). Relative paths are under `data_dir`; generated
    /// with mode 0600 on first start when absent. Default `secret.key`.
    pub key_file: Option<PathBuf>,
}

/// The `[auth]` section: where API users come from besides the users
/// file and `[http.users]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// An LDAP directory deciding every user not in the users file
    /// (unset: none).
    pub ldap: Option<atlas_ldap::LdapConfig>,
}

/// Everything `atlas` reads from configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AtlasConfig {
    /// Where Atlas keeps its database, key file, users and (by default)
    /// the instances' trees.
    pub data_dir: PathBuf,
    /// `local`, `development`, `test` or `production`.
    pub environment: Environment,
    /// Logging.
    pub log: LogConfig,
    /// The REST API.
    pub http: atlas_http::HttpConfig,
    /// Sign-in sources besides the users file.
    pub auth: AuthConfig,
    /// The record store.
    pub store: StoreConfig,
    /// Secrets at rest.
    pub secrets: SecretsConfig,
    /// API rules and periodic task parameters.
    pub service: ServiceConfig,
    /// The job worker.
    pub worker: WorkerConfig,
    /// The periodic schedule.
    pub scheduler: SchedulerConfig,
    /// The executor on this host.
    pub shell: atlas_shell::ShellConfig,
    /// Notification channels (Slack, e-mail).
    pub notify: atlas_notify::NotifyConfig,
    /// The metrics and health listener.
    pub metrics: atlas_observe::MetricsConfig,
    /// The web dashboard.
    pub ui: atlas_ui::UiConfig,
}

impl Default for AtlasConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("atlas-data"),
            environment: Environment::Local,
            log: LogConfig::default(),
            http: atlas_http::HttpConfig::default(),
            auth: AuthConfig::default(),
            store: StoreConfig::default(),
            secrets: SecretsConfig::default(),
            service: ServiceConfig::default(),
            worker: WorkerConfig::default(),
            scheduler: SchedulerConfig::default(),
            shell: atlas_shell::ShellConfig::default(),
            notify: atlas_notify::NotifyConfig::default(),
            metrics: atlas_observe::MetricsConfig::default(),
            ui: atlas_ui::UiConfig::default(),
        }
    }
}

impl AtlasConfig {
    /// Loads defaults ← file ← environment ← `data_dir` (from
    /// `--data-dir`). `path` (from `--config`) wins over `ATLAS_CONFIG`; a
    /// named file that does not exist is an error.
    ///
    /// # Errors
    /// Unreadable or invalid files, unknown keys, bad values.
    pub fn load(path: Option<&Path>, data_dir: Option<&Path>) -> anyhow::Result<Self> {
        let defaults = config::Config::try_from(&AtlasConfig::default()).context("encoding the defaults")?;
        let mut b = config::Config::builder().add_source(defaults);
        let env_path = std::env::var_os("ATLAS_CONFIG").map(PathBuf::from);
        if let Some(p) = path.map(Path::to_path_buf).or(env_path) {
            if !p.exists() {
                bail!("configuration file {} does not exist", p.display());
            }
            b = b.add_source(config::File::from(p.as_path()).format(config::FileFormat::Toml));
        }
        b = b.add_source(
            config::Environment::with_prefix("ATLAS")
                .prefix_separator("_")
                .separator("__")
                .try_parsing(true)
                .source(Some(settings_env(std::env::vars_os()))),
        );
        let mut cfg: AtlasConfig = b
            .build()
            .context("reading the configuration")?
            .try_deserialize()
            .context("the configuration is invalid")?;
        cfg.http.validate().context("the configuration is invalid")?;
        if let Some(ldap) = &cfg.auth.ldap {
            ldap.validate().context("the configuration is invalid")?;
        }
        if let Some(dir) = data_dir {
            cfg.data_dir = dir.to_path_buf();
        }
        Ok(cfg.resolved())
    }

    /// Applies derived settings: the top-level environment reaches every
    /// section; relative paths are placed under `data_dir`; shell roots left
    /// at their defaults move under `data_dir` so a fresh machine needs no
    /// root-owned directories.
    pub fn resolved(mut self) -> Self {
        let data = absolute(&self.data_dir);
        self.data_dir = data.clone();
        self.service.environment = self.environment;
        self.shell.environment = self.environment;
        if self.store.sqlite.path.is_relative() && !self.store.sqlite.is_in_memory() {
            self.store.sqlite.path = data.join(&self.store.sqlite.path);
        }
        self.auth.ldap = self.auth.ldap.take().map(|l| l.resolved(&data));
        let pg = &mut self.store.postgres;
        for p in [pg.password_file.as_mut(), pg.ca_file.as_mut()]
            .into_iter()
            .flatten()
            .filter(|p| p.is_relative())
        {
            *p = data.join(&*p);
        }
        let dflt = atlas_shell::ShellConfig::default();
        let roots = [
            (&mut self.shell.code_root, &dflt.code_root, "code"),
            (
                &mut self.shell.instances_code_root,
                &dflt.instances_code_root,
                "instances",
            ),
            (
                &mut self.shell.instances_web_root,
                &dflt.instances_web_root,
                "web",
            ),
            (&mut self.shell.files_root, &dflt.files_root, "files"),
            (&mut self.shell.backup_root, &dflt.backup_root, "backups"),
            (&mut self.shell.down_page, &dflt.down_page, "down"),
            (&mut self.shell.route_map.path, &dflt.route_map.path, "routes.map"),
        ];
        for (slot, default, name) in roots {
            if slot == default {
                *slot = data.join(name);
            }
        }
        self
    }

    /// What the app's service, worker and scheduler are configured with.
    pub fn app_config(&self) -> AppConfig {
        AppConfig {
            service: self.service.clone(),
            worker: self.worker.clone(),
            scheduler: self.scheduler.clone(),
        }
    }

    /// The key file path.
    pub fn key_file(&self) -> PathBuf {
        let p = self
            .secrets
            .key_file
            .clone()
            .unwrap_or_else(|| PathBuf::from("secret.key"));
        if p.is_relative() {
            self.data_dir.join(p)
        } else {
            p
        }
    }

    /// The users file (`name = "<argon2id hash>"`).
    pub fn users_file(&self) -> PathBuf {
        self.data_dir.join("users.toml")
    }
}

/// `ATLAS_*` variables that are not settings: the configuration file to
/// read, the password `atlas user add|passwd` reads, and the operator
/// CLI's server, user and password file (every `ATLAS_TEST_*` variable,
/// read by the test suites, is not one either).
pub const NOT_SETTINGS: [&str; 5] = [
    "ATLAS_CONFIG",
    "ATLAS_PASSWORD",
    "ATLAS_URL",
    "ATLAS_USER",
    "ATLAS_PASSWORD_FILE",
];

/// The environment variables the settings layer reads: every `ATLAS_*`
/// variable except [`NOT_SETTINGS`] (and names or values that are not
/// UTF-8, which no setting could use).
fn settings_env(
    vars: impl IntoIterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
) -> config::Map<String, String> {
    vars.into_iter()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, _)| {
            k.starts_with("ATLAS_") && !k.starts_with("ATLAS_TEST_") && !NOT_SETTINGS.contains(&k.as_str())
        })
        .collect()
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use atlas_core::PeriodicTask;

    /// `section.key` of every setting written (or commented out) in the
    /// default file.
    fn documented_keys(text: &str) -> Vec<String> {
        let mut section = String::new();
        let mut out = Vec::new();
        for line in text.lines() {
            let t = line.trim();
            if let Some(h) = t.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
                section = h.to_owned();
                continue;
            }
            let t = t.strip_prefix("# ").unwrap_or(t);
            if let Some((k, _)) = t.split_once(" = ") {
                if k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    out.push(if section.is_empty() {
                        k.to_owned()
                    } else {
                        format!("{section}.{k}")
                    });
                }
            }
        }
        out
    }

    fn leaf_keys(prefix: &str, v: &toml::Value, out: &mut Vec<String>) {
        match v {
            // An empty table (all its settings optional and unset) holds no
            // key itself; its optional keys are listed by the test.
            toml::Value::Table(t) => {
                for (k, v) in t {
                    let p = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    leaf_keys(&p, v, out);
                }
            }
            _ => out.push(prefix.to_owned()),
        }
    }

    #[test]
    fn default_config_file_parses_to_the_built_in_defaults() {
        let parsed: AtlasConfig = toml::from_str(DEFAULT_TOML).expect("the default file parses");
        assert_eq!(parsed, AtlasConfig::default());
    }

    #[test]
    fn every_setting_is_documented_in_the_default_config_file() {
        let documented = documented_keys(DEFAULT_TOML);
        let mut keys = Vec::new();
        leaf_keys(
            "",
            &toml::Value::try_from(AtlasConfig::default()).unwrap(),
            &mut keys,
        );
        // Set from the top-level `environment`.
        keys.retain(|k| k != "service.environment" && k != "shell.environment");
        for optional in [
            "http.public_url",
            "secrets.key_file",
            "store.postgres.password_file",
            "store.postgres.password_env",
            "store.postgres.ca_file",
            "service.pool_size",
            "shell.homepage_extra_files",
            "shell.server_name",
            "shell.ssh.config_file",
            "shell.ssh.known_hosts",
            "shell.ssh.identity",
            "shell.ssh.control_dir",
            "shell.permissions.web_group",
        ] {
            keys.push(optional.to_owned());
        }
        for k in keys {
            assert!(
                documented.contains(&k),
                "{k} is not documented in default-config.toml"
            );
        }
        for task in PeriodicTask::ALL {
            assert!(
                documented.contains(&format!("scheduler.tasks.{}", task.name())),
                "{task}"
            );
        }
    }

    #[test]
    fn the_config_file_and_password_variables_are_not_settings() {
        let vars = [
            ("ATLAS_CONFIG", "/etc/atlas.toml"),
            ("ATLAS_PASSWORD", "s3cret"),
            ("ATLAS_HTTP__LISTEN", "127.0.0.1:9"),
            ("PATH", "/bin"),
        ]
        .map(|(k, v)| (k.into(), v.into()));
        let env = settings_env(vars);
        assert_eq!(env.len(), 1, "{:?}", env.keys().collect::<Vec<_>>());
        assert_eq!(env["ATLAS_HTTP__LISTEN"], "127.0.0.1:9");
    }

    #[test]
    fn credentials_with_any_origin_fail_the_load_naming_the_setting() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("atlas.toml");
        std::fs::write(&f, "[http.cors]\nallow_credentials = true\n").unwrap();
        let e = AtlasConfig::load(Some(&f), None).unwrap_err();
        assert!(format!("{e:#}").contains("allow_credentials"), "{e:#}");
    }

    #[test]
    fn a_bad_base_path_fails_the_load_naming_the_setting() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("atlas.toml");
        for bad in ["atlas", "/atlas/", "/a/../b"] {
            std::fs::write(&f, format!("[http]\nbase_path = \"{bad}\"\n")).unwrap();
            let e = AtlasConfig::load(Some(&f), None).unwrap_err();
            assert!(format!("{e:#}").contains("http.base_path"), "{e:#}");
        }
        std::fs::write(&f, "[http]\nbase_path = \"/atlas\"\nauth_realm = \"ops\"\n").unwrap();
        let cfg = AtlasConfig::load(Some(&f), None).unwrap();
        assert_eq!(
            (cfg.http.base_path.as_str(), cfg.http.auth_realm.as_str()),
            ("/atlas", "ops")
        );
    }

    #[test]
    fn an_ldap_section_loads_with_its_defaults_and_relative_files_under_the_data_dir() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("atlas.toml");
        std::fs::write(
            &f,
            "[auth.ldap]\nurl = \"ldaps://ldap.example.edu\"\nca_file = \"ldap-ca.pem\"\n\
             bind_dn = \"cn=atlas,ou=services,dc=example,dc=edu\"\nbind_password_file = \"ldap.pw\"\n\
             user_base = \"ou=people,dc=example,dc=edu\"\n",
        )
        .unwrap();
        let cfg = AtlasConfig::load(Some(&f), Some(dir.path())).unwrap();
        let ldap = cfg.auth.ldap.unwrap();
        assert_eq!(ldap.user_filter, "(uid={user})");
        assert_eq!(ldap.bind_password_file, Some(dir.path().join("ldap.pw")));
        assert_eq!(ldap.ca_file, Some(dir.path().join("ldap-ca.pem")));
        assert_eq!(AtlasConfig::load(None, Some(dir.path())).unwrap().auth.ldap, None);
    }

    #[test]
    fn the_readme_ldap_example_loads_and_validates() {
        let readme = include_str!("../../README.md");
        let start = readme
            .find("## Signing in with LDAP")
            .expect("the README has the section");
        let block = &readme[start..];
        let body = &block[block.find("```toml\n").unwrap() + 8..];
        let body = &body[..body.find("```").unwrap()];
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("atlas.toml");
        std::fs::write(&f, body).unwrap();
        let cfg = AtlasConfig::load(Some(&f), Some(dir.path())).unwrap();
        let ldap = cfg.auth.ldap.unwrap();
        assert_eq!(ldap.bind_password_file, Some(dir.path().join("ldap-bind.pw")));
        assert!(ldap.required_group.is_some());
    }

    #[test]
    fn a_bad_ldap_setting_fails_the_load_naming_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("atlas.toml");
        std::fs::write(&f, "[auth.ldap]\nurl = \"ldap://127.0.0.1\"\n").unwrap();
        let e = AtlasConfig::load(Some(&f), None).unwrap_err();
        assert!(format!("{e:#}").contains("auth.ldap.bind_dn"), "{e:#}");
        std::fs::write(&f, "[auth.ldap]\nurl = \"ldap.example.edu\"\n").unwrap();
        let e = AtlasConfig::load(Some(&f), None).unwrap_err();
        assert!(format!("{e:#}").contains("auth.ldap.url"), "{e:#}");
        std::fs::write(&f, "[auth.ldap]\nbind_password = \"x\"\n").unwrap();
        let e = AtlasConfig::load(Some(&f), None).unwrap_err();
        assert!(format!("{e:#}").contains("bind_password"), "{e:#}");
    }

    #[test]
    fn unknown_keys_are_errors_naming_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("atlas.toml");
        std::fs::write(&f, "[worker]\nthreads = 3\n").unwrap();
        let e = AtlasConfig::load(Some(&f), None).unwrap_err();
        assert!(format!("{e:#}").contains("threads"), "{e:#}");
    }

    #[test]
    fn file_values_override_defaults_and_a_missing_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("atlas.toml");
        std::fs::write(&f, "environment = \"production\"\n[worker]\nconcurrency = 9\n").unwrap();
        let cfg = AtlasConfig::load(Some(&f), Some(dir.path())).unwrap();
        assert_eq!(cfg.worker.concurrency, 9);
        assert_eq!(cfg.service.environment, Environment::Production);
        assert_eq!(cfg.shell.environment, Environment::Production);
        assert!(AtlasConfig::load(Some(&dir.path().join("nope.toml")), None).is_err());
    }

    #[test]
    fn notify_and_metrics_sections_load_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("atlas.toml");
        std::fs::write(
            &f,
            "[notify.email]\nsmtp_host = \"smtp.example.edu\"\ntls = \"none\"\nto = [\"ops@example.edu\"]\n\
             [metrics]\nlisten = \"0.0.0.0:9100\"\n",
        )
        .unwrap();
        let cfg = AtlasConfig::load(Some(&f), Some(dir.path())).unwrap();
        assert_eq!(cfg.notify.email.smtp_host, "smtp.example.edu");
        assert_eq!(cfg.notify.email.tls, atlas_notify::SmtpTls::None);
        assert_eq!(cfg.notify.channels(), ["email"]);
        assert_eq!(cfg.metrics.listen.port(), 9100);
        assert!(cfg.metrics.enabled);
    }

    #[test]
    fn default_roots_move_under_the_data_dir_and_configured_ones_stay() {
        let mut cfg = AtlasConfig {
            data_dir: PathBuf::from("/srv/atlas"),
            ..AtlasConfig::default()
        };
        cfg.shell.files_root = PathBuf::from("/mnt/files");
        let cfg = cfg.resolved();
        assert_eq!(cfg.shell.code_root, PathBuf::from("/srv/atlas/code"));
        assert_eq!(cfg.shell.backup_root, PathBuf::from("/srv/atlas/backups"));
        assert_eq!(cfg.shell.files_root, PathBuf::from("/mnt/files"));
        assert_eq!(cfg.store.sqlite.path, PathBuf::from("/srv/atlas/atlas.db"));
        assert_eq!(cfg.key_file(), PathBuf::from("/srv/atlas/secret.key"));
    }

    #[test]
    fn schedule_overrides_must_name_known_tasks() {
        let mut s = SchedulerConfig::default();
        s.tasks.insert("pool_top_up".into(), "*/1 * * * *".into());
        assert!(s.schedule().is_ok());
        s.tasks.insert("pool_refill".into(), "*/1 * * * *".into());
        assert!(s.schedule().unwrap_err().to_string().contains("pool_top_up"));
    }

    #[test]
    fn the_postgres_password_comes_from_its_file_and_is_never_in_debug_output() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pg.pw"), "s3cret-pw\n").unwrap();
        let mut cfg = AtlasConfig {
            data_dir: dir.path().to_path_buf(),
            ..AtlasConfig::default()
        };
        cfg.store.postgres.password_file = Some(PathBuf::from("pg.pw"));
        let cfg = cfg.resolved();
        let pg = cfg.store.postgres.store_config().unwrap();
        assert_eq!(pg.password.as_deref(), Some("s3cret-pw"));
        assert!(!format!("{pg:?}").contains("s3cret-pw"));
        let missing = PostgresConfig {
            password_env: Some("SURELY_UNSET_PW_VAR_OF_AN_ATLAS_TEST".into()),
            ..PostgresConfig::default()
        };
        let e = missing.store_config().unwrap_err().to_string();
        assert!(e.contains("SURELY_UNSET_PW_VAR_OF_AN_ATLAS_TEST"), "{e}");
        let settings_var = PostgresConfig {
            password_env: Some("ATLAS_POSTGRES_PASSWORD".into()),
            ..PostgresConfig::default()
        };
        let e = settings_var.store_config().unwrap_err().to_string();
        assert!(e.contains("read as settings"), "{e}");
    }

    #[test]
    fn postgres_tls_mode_is_checked_and_its_ca_file_lives_under_data_dir() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = AtlasConfig {
            data_dir: dir.path().to_path_buf(),
            ..AtlasConfig::default()
        };
        cfg.store.postgres.tls = "verify-full".into();
        cfg.store.postgres.ca_file = Some(PathBuf::from("ca.pem"));
        let cfg = cfg.resolved();
        let pg = cfg.store.postgres.store_config().unwrap();
        assert_eq!(pg.tls, atlas_postgres::PgTls::VerifyFull);
        assert_eq!(pg.ca_file.as_deref(), Some(dir.path().join("ca.pem").as_path()));
        let bad = PostgresConfig {
            tls: "require".into(),
            ..PostgresConfig::default()
        };
        let e = bad.store_config().unwrap_err().to_string();
        assert!(
            e.contains("store.postgres.tls") && e.contains("verify-full"),
            "{e}"
        );
    }
}
