//! [`ShellExecutor`]: the [`Executor`] that does every operation on this
//! host. Each method validates its spec first (nothing is touched when a
//! name, sid or source is refused), then does file work off the async
//! runtime and program runs through [`crate::process`].

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use atlas_core::model::{Id, Sid};
use atlas_core::{
    BackupArtifact, CodeSpec, CommandOutput, CommandSpec, DriftFinding, ExecError, Executor, HostReport,
    InstanceSpec, RouteMap, RouteMapCheck,
};
use tracing::Instrument;

use crate::config::{ConfigError, ShellConfig};
use crate::fs::{blocking, ensure_root, write_atomic};
use crate::instance as inst;
use crate::paths::{check_instance, refused, Layout};
use crate::process::{run_checked, Invocation};
use crate::{backup, code, commands, database, drift, routes};

/// The executor that provisions Drupal instances on this host with the file
/// system, `git`, `mysql` and `drush`. Cheap to clone; share as
/// `Arc<dyn Executor>`.
#[derive(Debug, Clone)]
pub struct ShellExecutor {
    cfg: Arc<ShellConfig>,
    layout: Layout,
    server: String,
}

impl ShellExecutor {
    /// An executor for `cfg`, validated first.
    ///
    /// # Errors
    /// [`ConfigError`] from [`ShellConfig::validate`].
    pub fn new(cfg: ShellConfig) -> Result<Self, ConfigError> {
        cfg.validate()?;
        let server = cfg.server_name.clone().unwrap_or_else(hostname);
        let layout = Layout::new(&cfg);
        Ok(Self {
            cfg: Arc::new(cfg),
            layout,
            server,
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &ShellConfig {
        &self.cfg
    }

    /// The server name reported in command output.
    pub fn server_name(&self) -> &str {
        &self.server
    }

    /// Runs `fut` in a span naming the operation and instance, logging its
    /// duration.
    async fn traced<T>(
        &self,
        op: &'static str,
        sid: Option<&Sid>,
        fut: impl Future<Output = Result<T, ExecError>>,
    ) -> Result<T, ExecError> {
        let span = tracing::info_span!("shell", op, sid = sid.map_or("", |s| s.as_str()));
        async move {
            let started = Instant::now();
            let r = fut.await;
            let duration_ms = started.elapsed().as_millis() as u64;
            match &r {
                Ok(_) => tracing::info!(duration_ms, "operation done"),
                Err(e) => tracing::debug!(duration_ms, error = %e, "operation failed"),
            }
            r
        }
        .instrument(span)
        .await
    }

    /// Runs blocking file work `f` with owned copies of the config, layout
    /// and spec.
    async fn fs<T, F>(&self, spec: &InstanceSpec, f: F) -> Result<T, ExecError>
    where
        T: Send + 'static,
        F: FnOnce(&ShellConfig, &Layout, &InstanceSpec) -> Result<T, ExecError> + Send + 'static,
    {
        let (cfg, layout, spec) = (self.cfg.clone(), self.layout.clone(), spec.clone());
        blocking(move || f(&cfg, &layout, &spec)).await
    }

    /// The tree of a provisioned instance.
    async fn tree(&self, spec: &InstanceSpec) -> Result<std::path::PathBuf, ExecError> {
        self.fs(spec, |_, l, s| inst::require_tree(l, s)).await
    }

    async fn drush(&self, spec: &InstanceSpec, commands: &[&[&str]]) -> Result<(), ExecError> {
        check_instance(spec)?;
        let tree = self.tree(spec).await?;
        inst::drush_all(&self.cfg, &tree, commands).await
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(self.cfg.timeouts.program_secs)
    }

    /// Provision's part on this host: the tree, files directories (when
    /// `own_files`) and link, `current`, settings, the web link,
    /// permissions.
    pub(crate) async fn provision_files(
        &self,
        spec: &InstanceSpec,
        own_files: bool,
    ) -> Result<(), ExecError> {
        check_instance(spec)?;
        self.fs(spec, |_, l, s| inst::require_code(l, s)).await?;
        self.fs(spec, move |c, l, s| {
            inst::assemble_tree(c, l, s)?;
            inst::files_dirs(c, l, s, own_files)?;
            inst::point_current_at_tree(l, s)?;
            inst::write_settings(c, l, s)?;
            inst::web_link(l, s)?;
            inst::correct_permissions(c, l, s, own_files)
        })
        .await
    }

    /// Switch's part on this host: the tree re-assembled for the spec's
    /// code, settings rewritten.
    pub(crate) async fn relink(&self, spec: &InstanceSpec, own_files: bool) -> Result<(), ExecError> {
        check_instance(spec)?;
        self.tree(spec).await?;
        self.fs(spec, move |c, l, s| {
            inst::assemble_tree(c, l, s)?;
            inst::files_dirs(c, l, s, own_files)?;
            inst::write_settings(c, l, s)
        })
        .await
    }

    /// Restore's part on this host: `current` → the tree.
    pub(crate) async fn point_at_tree(&self, spec: &InstanceSpec) -> Result<(), ExecError> {
        check_instance(spec)?;
        self.tree(spec).await?;
        self.fs(spec, |_, l, s| inst::point_current_at_tree(l, s)).await
    }

    /// Removal's part on this host: links, files (when `own_files`), code.
    pub(crate) async fn remove_files(&self, spec: &InstanceSpec, own_files: bool) -> Result<(), ExecError> {
        check_instance(spec)?;
        self.fs(spec, move |_, l, s| inst::remove(l, s, own_files)).await
    }

    /// Group and modes on this host (the files directories when
    /// `own_files`).
    pub(crate) async fn fix_permissions(
        &self,
        spec: &InstanceSpec,
        own_files: bool,
    ) -> Result<(), ExecError> {
        check_instance(spec)?;
        self.tree(spec).await?;
        self.fs(spec, move |c, l, s| inst::correct_permissions(c, l, s, own_files))
            .await
    }

    /// `drush` commands in the instance's tree on this host.
    pub(crate) async fn drush_here(
        &self,
        spec: &InstanceSpec,
        commands: &[Vec<String>],
    ) -> Result<(), ExecError> {
        let cmds: Vec<Vec<&str>> = commands
            .iter()
            .map(|c| c.iter().map(String::as_str).collect())
            .collect();
        let refs: Vec<&[&str]> = cmds.iter().map(Vec::as_slice).collect();
        self.drush(spec, &refs).await
    }

    /// Creates (or refreshes) the instance's database and user.
    pub(crate) async fn create_database(&self, spec: &InstanceSpec) -> Result<(), ExecError> {
        database::run_sql(&self.cfg, database::create_sql(&self.cfg, &spec.database)?).await
    }

    /// Drops the instance's database and user.
    pub(crate) async fn drop_database(&self, spec: &InstanceSpec) -> Result<(), ExecError> {
        database::run_sql(&self.cfg, database::drop_sql(&self.cfg, &spec.database)?).await
    }

    /// The instance's checkouts, code links, settings and web links on
    /// this host against `spec` (findings name host `local`).
    pub(crate) async fn verify_files_here(
        &self,
        spec: &InstanceSpec,
    ) -> Result<Vec<DriftFinding>, ExecError> {
        check_instance(spec)?;
        let mut found = drift::verify_checkouts(&self.cfg, &self.layout, LOCAL_HOST, spec).await?;
        let core = drift::core_entries(&self.cfg, &self.layout, spec).await?;
        found.extend(
            self.fs(spec, move |c, l, s| {
                drift::verify_files(c, l, LOCAL_HOST, s, core)
            })
            .await?,
        );
        Ok(found)
    }

    /// The instance's database: it exists and its user logs in (findings
    /// name host `local`).
    pub(crate) async fn verify_database_here(
        &self,
        spec: &InstanceSpec,
    ) -> Result<Vec<DriftFinding>, ExecError> {
        check_instance(spec)?;
        drift::verify_database(&self.cfg, LOCAL_HOST, spec).await
    }
}

impl ShellExecutor {
    /// Backup on this host (the artifact's host is [`LOCAL_HOST`]).
    pub(crate) async fn backup_here(
        &self,
        spec: &InstanceSpec,
        backup: &Id,
    ) -> Result<BackupArtifact, ExecError> {
        backup::take(&self.cfg, &self.layout, LOCAL_HOST, spec, backup).await
    }

    /// Restore from this host's backup root (whatever the artifact's host
    /// is called by a fleet).
    pub(crate) async fn restore_here(
        &self,
        spec: &InstanceSpec,
        artifact: &BackupArtifact,
    ) -> Result<(), ExecError> {
        backup::restore(&self.cfg, &self.layout, spec, artifact).await
    }

    /// Removal from this host's backup root.
    pub(crate) async fn remove_backup_here(&self, artifact: &BackupArtifact) -> Result<(), ExecError> {
        backup::remove(&self.layout, artifact).await
    }

    fn check_local(&self, artifact: &BackupArtifact) -> Result<(), ExecError> {
        if artifact.host == LOCAL_HOST {
            Ok(())
        } else {
            Err(refused(
                "backup",
                format!(
                    "{} is on host '{}', and this executor only reaches this host ('{LOCAL_HOST}')",
                    artifact.dir, artifact.host
                ),
            ))
        }
    }
}

/// The host name of backups taken by a [`ShellExecutor`].
pub(crate) const LOCAL_HOST: &str = "local";

/// This host's name: `HOSTNAME`, else the kernel's, else `localhost`.
fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.trim().is_empty())
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

#[async_trait]
impl Executor for ShellExecutor {
    /// # Behavior
    /// Clones into `.<name>-<version>.atlas-partial` beside the final
    /// directory, checks out the commit, `git clean -ffd`, renames into
    /// place; an existing checkout is brought to the commit instead.
    /// `<name>-current` points here when `is_current`, and is removed when
    /// it pointed here and the item is no longer current.
    async fn deploy_code(&self, spec: &CodeSpec) -> Result<(), ExecError> {
        self.traced("deploy_code", None, code::deploy(&self.cfg, &self.layout, spec))
            .await
    }

    /// # Behavior
    /// Name, version or type changed: remove then deploy. Otherwise fetch,
    /// checkout and clean in place (deploy when missing); then clear the
    /// opcode cache.
    async fn update_code(&self, previous: &CodeSpec, next: &CodeSpec) -> Result<(), ExecError> {
        self.traced("update_code", None, async {
            code::update(&self.cfg, &self.layout, previous, next).await?;
            self.clear_apc().await
        })
        .await
    }

    async fn remove_code(&self, spec: &CodeSpec) -> Result<(), ExecError> {
        self.traced("remove_code", None, code::remove(&self.layout, spec))
            .await
    }

    /// # Behavior
    /// Database and user (`CREATE … IF NOT EXISTS`, password and grants
    /// refreshed), the tree, files directories and link, `current` → tree,
    /// settings, the web link, permissions.
    async fn provision(&self, spec: &InstanceSpec) -> Result<(), ExecError> {
        self.traced("provision", Some(&spec.sid), async {
            check_instance(spec)?;
            self.fs(spec, |_, l, s| inst::require_code(l, s)).await?;
            self.create_database(spec).await?;
            self.provision_files(spec, true).await
        })
        .await
    }

    /// # Behavior
    /// `drush site-install -y <profile>` then `drush rr` in the tree, then
    /// permissions.
    async fn install(&self, spec: &InstanceSpec) -> Result<(), ExecError> {
        self.traced("install", Some(&spec.sid), async {
            let profile = spec.profile.name.clone();
            self.drush(spec, &[&["site-install", "-y", &profile], &["rr"]])
                .await?;
            self.fix_permissions(spec, true).await
        })
        .await
    }

    /// # Behavior
    /// Re-assembles the tree for the spec's core, profile and packages
    /// (stale links removed), rewrites settings, then `drush rr` and
    /// `drush updb -y`: callers need not run those separately.
    async fn switch_code(&self, spec: &InstanceSpec) -> Result<(), ExecError> {
        self.traced("switch_code", Some(&spec.sid), async {
            self.relink(spec, true).await?;
            self.drush(spec, &[&["rr"], &["updb", "-y"]]).await
        })
        .await
    }

    async fn rebuild_registry(&self, spec: &InstanceSpec) -> Result<(), ExecError> {
        self.traced("rebuild_registry", Some(&spec.sid), self.drush(spec, &[&["rr"]]))
            .await
    }

    async fn update_database(&self, spec: &InstanceSpec) -> Result<(), ExecError> {
        self.traced(
            "update_database",
            Some(&spec.sid),
            self.drush(spec, &[&["updb", "-y"]]),
        )
        .await
    }

    /// # Behavior
    /// Renders the three settings files and writes each atomically with
    /// the configured settings mode.
    async fn write_settings(&self, spec: &InstanceSpec) -> Result<(), ExecError> {
        self.traced("write_settings", Some(&spec.sid), async {
            check_instance(spec)?;
            self.tree(spec).await?;
            self.fs(spec, inst::write_settings).await
        })
        .await
    }

    /// # Behavior
    /// Links the primary route and every active, non-redirect, non-regex
    /// route of the instance from `<instances_web_root>/<type>/<source>`
    /// (parents created) to `current`; `domainroot` and the homepage pool
    /// use `<instances_web_root>/homepage`. All links are checked before
    /// any is made.
    async fn launch(&self, spec: &InstanceSpec) -> Result<(), ExecError> {
        self.traced("launch", Some(&spec.sid), async {
            check_instance(spec)?;
            self.tree(spec).await?;
            self.fs(spec, |_, l, s| inst::launch(l, s)).await
        })
        .await
    }

    async fn take_down(&self, spec: &InstanceSpec) -> Result<(), ExecError> {
        self.traced("take_down", Some(&spec.sid), async {
            check_instance(spec)?;
            self.fs(spec, |_, l, s| inst::point_current_at_down_page(l, s))
                .await
        })
        .await
    }

    /// # Behavior
    /// `current` → the tree, then `drush updb -y`.
    async fn restore(&self, spec: &InstanceSpec) -> Result<(), ExecError> {
        self.traced("restore", Some(&spec.sid), async {
            self.point_at_tree(spec).await?;
            self.drush(spec, &[&["updb", "-y"]]).await
        })
        .await
    }

    /// # Behavior
    /// `DROP DATABASE IF EXISTS`, `DROP USER IF EXISTS`; removes the web
    /// link, launch links that point at this instance (and parents left
    /// empty), the files directory and the instance's code directory.
    async fn remove_instance(&self, spec: &InstanceSpec) -> Result<(), ExecError> {
        self.traced("remove_instance", Some(&spec.sid), async {
            check_instance(spec)?;
            self.drop_database(spec).await?;
            self.remove_files(spec, true).await
        })
        .await
    }

    /// # Behavior
    /// `sites/default` and `<files_root>/sitefiles/<sid>`: directories get
    /// the directory mode, files the file mode, settings the settings mode,
    /// all the web group (when configured and present); links are skipped.
    async fn correct_file_permissions(&self, spec: &InstanceSpec) -> Result<(), ExecError> {
        self.traced(
            "correct_file_permissions",
            Some(&spec.sid),
            self.fix_permissions(spec, true),
        )
        .await
    }

    async fn clear_caches(&self, spec: &InstanceSpec) -> Result<(), ExecError> {
        self.traced(
            "clear_caches",
            Some(&spec.sid),
            self.drush(spec, &[&["cc", "all"]]),
        )
        .await
    }

    async fn drush_cron(&self, spec: &InstanceSpec) -> Result<(), ExecError> {
        self.traced("drush_cron", Some(&spec.sid), self.drush(spec, &[&["cron"]]))
            .await
    }

    /// # Behavior
    /// Runs the configured `clear_apc_command`; nothing when none is set.
    async fn clear_apc(&self) -> Result<(), ExecError> {
        let Some((program, args)) = self.cfg.clear_apc_command.split_first() else {
            tracing::debug!("no clear_apc_command configured");
            return Ok(());
        };
        let inv = Invocation::new(&self.cfg.programs, program, self.timeout())
            .args(args.iter().map(String::as_str));
        self.traced("clear_apc", None, async { run_checked(&inv).await.map(|_| ()) })
            .await
    }

    /// # Behavior
    /// Copies the regular files of `homepage_extra_files` into the tree the
    /// homepage link resolves to (replacing links there with real files);
    /// nothing when unconfigured or no homepage is launched.
    async fn update_homepage_extra_files(&self) -> Result<(), ExecError> {
        let Some(src) = self.cfg.homepage_extra_files.clone() else {
            tracing::debug!("no homepage_extra_files configured");
            return Ok(());
        };
        let (cfg, layout) = (self.cfg.clone(), self.layout.clone());
        self.traced("update_homepage_extra_files", None, async move {
            let copied = blocking(move || inst::homepage_extra_files(&cfg, &layout, &src)).await?;
            tracing::info!(files = ?copied, "homepage extra files copied");
            Ok(())
        })
        .await
    }

    /// # Behavior
    /// `sh -c <command>` in `<instances_web_root>/<type>/<sid>` (the web
    /// root without an instance), stdin closed, `ATLAS_SID`,
    /// `ATLAS_INSTANCE_ID`, `ATLAS_INSTANCE_TYPE`, `ATLAS_STATUS` set; the
    /// time limit is the spec's, capped by `timeouts.command_max_secs`; on
    /// timeout the process group is killed. `servers` is this host.
    async fn run_command(&self, spec: &CommandSpec) -> Result<CommandOutput, ExecError> {
        let sid = spec.instance.as_ref().map(|i| &i.sid);
        self.traced(
            "run_command",
            sid,
            commands::run_command(&self.cfg, &self.layout, &self.server, spec),
        )
        .await
    }

    /// # Behavior
    /// `mysqldump --single-transaction` of the instance database, gzip
    /// compressed, and a tar.gz of `<files_root>/sitefiles/<sid>/files`
    /// into `<backup_root>/<sid>/<backup>` (written as `<backup>.partial`,
    /// renamed when complete); the artifact's host is `local`.
    async fn backup_instance(&self, spec: &InstanceSpec, backup: &Id) -> Result<BackupArtifact, ExecError> {
        self.traced("backup_instance", Some(&spec.sid), self.backup_here(spec, backup))
            .await
    }

    /// # Behavior
    /// Sizes and SHA-256 checked first; files unpacked beside the live
    /// directory and the dump loaded into `<db>_restore`; then one
    /// `RENAME TABLE` swaps the tables in and two renames swap the files
    /// directory. Refuses an artifact of another host than `local`.
    async fn restore_instance(
        &self,
        spec: &InstanceSpec,
        artifact: &BackupArtifact,
    ) -> Result<(), ExecError> {
        self.traced("restore_instance", Some(&spec.sid), async {
            self.check_local(artifact)?;
            self.restore_here(spec, artifact).await
        })
        .await
    }

    /// # Behavior
    /// Removes `<backup_root>/<dir>` (and a partial one); nothing to do
    /// when it is gone. Refuses an artifact of another host than `local`.
    async fn remove_backup(&self, artifact: &BackupArtifact) -> Result<(), ExecError> {
        self.traced("remove_backup", None, async {
            self.check_local(artifact)?;
            self.remove_backup_here(artifact).await
        })
        .await
    }

    /// # Behavior
    /// Renders the active routes in the configured format (every source
    /// validated first), writes the map atomically, then runs the reload
    /// command when configured.
    async fn publish_routes(&self, map: &RouteMap) -> Result<(), ExecError> {
        self.traced("publish_routes", None, async {
            let rm = &self.cfg.route_map;
            let text = routes::render(rm.format, map)?;
            let path = rm.path.clone();
            let mode = rm.mode;
            blocking(move || {
                let dir = path.parent().unwrap_or(Path::new("/")).to_path_buf();
                if dir == Path::new("/") {
                    return Err(refused("route map path", "must be inside a directory"));
                }
                ensure_root(&dir)?;
                write_atomic(&dir, &path, text.as_bytes(), mode)
            })
            .await?;
            if let Some((program, args)) = rm.reload_command.split_first() {
                let inv = Invocation::new(&self.cfg.programs, program, self.timeout())
                    .args(args.iter().map(String::as_str));
                run_checked(&inv).await?;
            }
            Ok(())
        })
        .await
    }

    /// # Behavior
    /// One report, `local`: this host, in every role; its roots and
    /// programs.
    async fn check_hosts(&self) -> Result<Vec<HostReport>, ExecError> {
        Ok(vec![HostReport {
            host: "local".into(),
            roles: ["web", "db_client", "cron", "lb"].map(String::from).to_vec(),
            reachable: true,
            problems: crate::health::check_here(&self.cfg).await,
        }])
    }

    /// # Behavior
    /// One entry, `local`: the route map file here against `map`.
    async fn check_routes(&self, map: &RouteMap) -> Result<Vec<RouteMapCheck>, ExecError> {
        let rm = &self.cfg.route_map;
        let want = routes::render(rm.format, map)?;
        let have = routes::read_map(&rm.path)
            .await
            .map_err(|e| format!("cannot read the route map {}: {e}", rm.path.display()));
        Ok(vec![routes::compare("local", &want, have)])
    }

    /// # Behavior
    /// Host `local`: every checkout's `HEAD` (`git rev-parse`), the tree's
    /// code links, the settings files by SHA-256 against what they render
    /// to, `current`, the web link and (launched) the launch links, then
    /// the database (exists; the instance's user logs in with its
    /// password from a mode-0600 option file). Changes nothing.
    async fn verify_instance(&self, spec: &InstanceSpec) -> Result<Vec<DriftFinding>, ExecError> {
        self.traced("verify_instance", Some(&spec.sid), async {
            let mut found = self.verify_files_here(spec).await?;
            found.extend(self.verify_database_here(spec).await?);
            Ok(found)
        })
        .await
    }
}
