//! [`FleetExecutor`]: the [`Executor`] for a fleet of hosts
//! (`[[shell.hosts]]`). Each host is this host (`address = "local"`, done
//! in-process) or an SSH host whose agent does the work
//! ([`crate::agent`]).
//!
//! # Semantics
//! - Code deploy/update/remove, provision's file part, settings, links,
//!   launch/take-down/restore, permissions, opcode cache and homepage files
//!   run on every `web` host in parallel (at most `ssh.parallelism` at
//!   once). The operation succeeds only when every host succeeded; every
//!   host step is idempotent, so a retry converges the hosts that failed.
//! - Database create/drop/grant run once: on the first `db_client` host,
//!   else on this host. `drush` work that changes the shared database
//!   (site install, `rr`, `updb`, `cc all`, `cron`) runs once: on the first
//!   `cron` host, else the first `web` host.
//! - Command items run on every `web` host, or on the first only when
//!   `single_server`; the output holds one [`HostOutput`] per host.
//! - With `shared_files`, the files directories (shared storage) are
//!   created, fixed and removed by the first `web` host only.
//! - The route map goes to every `lb` host (this host when none is).
//! - Backups are taken on the first `db_client` host, which must also be
//!   a `web` host and see every instance's files (the only web host, or
//!   `shared_files`); the artifact names it, and restore and removal go
//!   to the host the artifact names.
//! - A verification compares the files on every `web` host (findings
//!   name the host) and checks the database once, like database work.
//! - A spec is validated here before any host is contacted.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use atlas_core::model::Id;
use atlas_core::{
    BackupArtifact, CodeSpec, CommandOutput, CommandSpec, DriftFinding, ExecError, Executor, HostOutput,
    HostReport, InstanceSpec, RouteMap, RouteMapCheck,
};
use futures::stream::{self, StreamExt};

use crate::agent::{dispatch, Op, Reply, Request};
use crate::config::{ConfigError, ShellConfig};
use crate::executor::ShellExecutor;
use crate::health::{Board, HostState};
use crate::hosts::{HostConfig, Role};
use crate::paths::{check_code, check_instance, check_routes, refused};
use crate::routes;
use crate::ssh::SshHost;

/// One host's result in a fan-out: its position, name and result (an
/// error says whether the host was reached).
type Called = (usize, String, Result<Reply, (bool, ExecError)>);

/// How a host is reached.
#[derive(Debug)]
enum Link {
    /// This host, in-process.
    Local(ShellExecutor),
    /// Over SSH, through the host's agent.
    Ssh(SshHost),
}

#[derive(Debug)]
struct Member {
    host: HostConfig,
    config: ShellConfig,
    link: Link,
}

impl Member {
    /// Does `op` on this host. `Err((reached, e))`: `reached` is false when
    /// the host itself could not be reached.
    async fn call(&self, op: Op, deadline: Duration) -> Result<Reply, (bool, ExecError)> {
        let reply = match &self.link {
            Link::Local(exec) => dispatch(exec, op).await.map_err(|e| (true, e))?,
            Link::Ssh(ssh) => {
                let req = Request {
                    protocol: crate::agent::PROTOCOL,
                    config: self.config.clone(),
                    op,
                    deadline,
                };
                // A refusal (another protocol version) came from the host.
                ssh.call(&req, deadline)
                    .await
                    .map_err(|e| (matches!(e, ExecError::Refused { .. }), e))?
            }
        };
        match reply {
            Reply::Error { error } => Err((true, error.on_host(&self.host.name))),
            r => Ok(r),
        }
    }
}

/// The executor of a fleet. Cheap to clone; share as `Arc<dyn Executor>`.
#[derive(Debug, Clone)]
pub struct FleetExecutor {
    cfg: Arc<ShellConfig>,
    members: Arc<Vec<Member>>,
    /// This host with the shared configuration: database work when no
    /// `db_client` host is configured, the route map when no `lb` host is.
    here: ShellExecutor,
    board: Arc<Board>,
}

impl FleetExecutor {
    /// An executor for the hosts of `cfg` (validated first). No connection
    /// is made until the first operation.
    ///
    /// # Errors
    /// [`ConfigError`] from [`ShellConfig::validate`], or no hosts.
    pub fn new(cfg: ShellConfig) -> Result<Self, ConfigError> {
        cfg.validate()?;
        if cfg.hosts.is_empty() {
            return Err(ConfigError {
                field: "hosts".into(),
                reason: "a fleet needs at least one host (or use ShellExecutor)".into(),
            });
        }
        let mut here_cfg = cfg.clone();
        here_cfg.hosts.clear();
        let here = ShellExecutor::new(here_cfg)?;
        let mut members = Vec::new();
        for (i, h) in cfg.hosts.iter().enumerate() {
            let mut config = h.effective(&cfg);
            if h.has(Role::DbClient) {
                config.database.admin_password = cfg.database.admin_password.clone();
            }
            let link = if h.is_local() {
                Link::Local(ShellExecutor::new(config.clone())?)
            } else {
                Link::Ssh(SshHost::new(h, &cfg.ssh).map_err(|e| ConfigError {
                    field: format!("hosts[{i}].address"),
                    reason: e.to_string(),
                })?)
            };
            members.push(Member {
                host: h.clone(),
                config,
                link,
            });
        }
        let board = Board::new(cfg.hosts.iter().map(|h| h.name.clone()));
        Ok(Self {
            cfg: Arc::new(cfg),
            members: Arc::new(members),
            here,
            board: Arc::new(board),
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &ShellConfig {
        &self.cfg
    }

    /// The last known state of every host (reachable, last error).
    pub fn host_states(&self) -> Vec<HostState> {
        self.board.snapshot()
    }

    fn with_role(&self, role: Role) -> Vec<&Member> {
        self.members.iter().filter(|m| m.host.has(role)).collect()
    }

    fn web(&self) -> Vec<&Member> {
        self.with_role(Role::Web)
    }

    /// Where once-only drush work runs: the first `cron` host, else the
    /// first `web` host.
    fn drush_host(&self) -> &Member {
        self.members
            .iter()
            .find(|m| m.host.has(Role::Cron))
            .or_else(|| self.members.iter().find(|m| m.host.has(Role::Web)))
            .expect("validated: a web host exists")
    }

    /// Whether `m` owns the files directories (all do, unless they are on
    /// shared storage: then the first web host).
    fn owns_files(&self, m: &Member) -> bool {
        !self.cfg.shared_files || self.web().first().is_some_and(|w| w.host.name == m.host.name)
    }

    /// How long a host may take for one operation.
    fn deadline(&self) -> Duration {
        Duration::from_secs(
            self.cfg.timeouts.program_secs.saturating_mul(4) + self.cfg.ssh.connect_timeout_secs,
        )
    }

    /// Runs `op` on `members`, at most `ssh.parallelism` at once; one
    /// result per member, in their order.
    async fn run_on<'a>(
        &'a self,
        members: Vec<&'a Member>,
        op: impl Fn(&Member) -> Op,
        deadline: Duration,
    ) -> Vec<(String, Result<Reply, ExecError>)> {
        self.run_on_reached(members, op, deadline)
            .await
            .into_iter()
            .map(|(n, r)| (n, r.map_err(|(_, e)| e)))
            .collect()
    }

    /// [`Self::run_on`], each error saying whether the host was reached.
    async fn run_on_reached<'a>(
        &'a self,
        members: Vec<&'a Member>,
        op: impl Fn(&Member) -> Op,
        deadline: Duration,
    ) -> Vec<(String, Result<Reply, (bool, ExecError)>)> {
        let mut calls: Vec<Pin<Box<dyn Future<Output = Called> + Send + 'a>>> = Vec::new();
        for (i, m) in members.into_iter().enumerate() {
            let op = op(m);
            calls.push(Box::pin(async move {
                let r = m.call(op, deadline).await;
                match &r {
                    Ok(_) => self.board.record(&m.host.name, true, None),
                    Err((reached, e)) => self.board.record(&m.host.name, *reached, Some(e.to_string())),
                }
                (i, m.host.name.clone(), r)
            }));
        }
        let mut out: Vec<Called> = stream::iter(calls)
            .buffer_unordered(self.cfg.ssh.parallelism)
            .collect()
            .await;
        out.sort_by_key(|(i, _, _)| *i);
        out.into_iter().map(|(_, n, r)| (n, r)).collect()
    }

    /// Runs `op` on every web host; succeeds when all did.
    async fn on_web(&self, op: impl Fn(&Member, bool) -> Op) -> Result<(), ExecError> {
        let results = self
            .run_on(self.web(), |m| op(m, self.owns_files(m)), self.deadline())
            .await;
        combine(results).map(|_| ())
    }

    /// Runs `commands` with drush once.
    async fn drush_once(&self, spec: &InstanceSpec, commands: &[&[&str]]) -> Result<(), ExecError> {
        let commands: Vec<Vec<String>> = commands
            .iter()
            .map(|c| c.iter().map(|s| (*s).to_owned()).collect())
            .collect();
        let op = Op::Drush {
            spec: spec.clone(),
            commands,
        };
        let results = self
            .run_on(vec![self.drush_host()], |_| op.clone(), self.deadline())
            .await;
        combine(results).map(|_| ())
    }

    /// Runs `op` on `m` alone.
    async fn once(&self, m: &Member, op: Op) -> Result<Reply, ExecError> {
        let mut results = combine(self.run_on(vec![m], |_| op.clone(), self.deadline()).await)?;
        results
            .pop()
            .map(|(_, r)| r)
            .ok_or_else(|| ExecError::Io(std::io::Error::other("no reply from the host")))
    }

    /// Where backups are taken: the first `db_client` host (it has the
    /// database admin account), checked by [`Self::check_backup_host`].
    fn backup_host(&self) -> Result<&Member, ExecError> {
        let m = self
            .members
            .iter()
            .find(|m| m.host.has(Role::DbClient))
            .ok_or_else(|| {
                refused(
                    "backup",
                    "backups in a fleet run on the first db_client host and none is configured: \
                     give the roles [\"web\", \"db_client\"] to the web host that may use the \
                     database admin account",
                )
            })?;
        self.check_backup_host(m)?;
        Ok(m)
    }

    /// A backup host dumps the database and archives the files, so it is
    /// a `db_client` and a `web` host, and its files are every web host's:
    /// it is the only web host, or `shared_files` is set.
    fn check_backup_host(&self, m: &Member) -> Result<(), ExecError> {
        let name = &m.host.name;
        if !m.host.has(Role::DbClient) {
            return Err(refused(
                "backup",
                format!("host {name} is not a db_client host: it cannot dump or load the database"),
            ));
        }
        if !m.host.has(Role::Web) {
            return Err(refused(
                "backup",
                format!(
                    "host {name} (the first db_client host) is not a web host, so it holds no \
                     instance files: give it the web role too"
                ),
            ));
        }
        let web = self.web().len();
        if web > 1 && !self.cfg.shared_files {
            return Err(refused(
                "backup",
                format!(
                    "shared_files is false and the fleet has {web} web hosts: files backed up or \
                     restored on host {name} would not reach the others; put files_root on shared \
                     storage and set shared_files = true, or use one web host"
                ),
            ));
        }
        Ok(())
    }

    /// The configured host named by `artifact.host`.
    fn holder(&self, artifact: &BackupArtifact) -> Result<&Member, ExecError> {
        self.members
            .iter()
            .find(|m| m.host.name == artifact.host)
            .ok_or_else(|| {
                refused(
                    "backup",
                    format!(
                        "{} is on host '{}', which is not in [[shell.hosts]]: add the host back \
                         (or move the backup by hand)",
                        artifact.dir, artifact.host
                    ),
                )
            })
    }

    /// Database work once: on the first `db_client` host, else here.
    async fn database(&self, spec: &InstanceSpec, create: bool) -> Result<(), ExecError> {
        match self.members.iter().find(|m| m.host.has(Role::DbClient)) {
            Some(m) => {
                let op = if create {
                    Op::CreateDatabase { spec: spec.clone() }
                } else {
                    Op::DropDatabase { spec: spec.clone() }
                };
                combine(self.run_on(vec![m], |_| op.clone(), self.deadline()).await).map(|_| ())
            }
            None if create => self.here.create_database(spec).await,
            None => self.here.drop_database(spec).await,
        }
    }
}

/// An error for a reply that does not fit the operation.
fn unexpected(host: &str, reply: &Reply) -> ExecError {
    ExecError::Io(std::io::Error::other(format!(
        "host {host}: unexpected reply {reply:?}"
    )))
}

/// Every host's reply, or the error: one host's as it is, several hosts'
/// in one message naming each (a refusal wins: it is final).
fn combine(results: Vec<(String, Result<Reply, ExecError>)>) -> Result<Vec<(String, Reply)>, ExecError> {
    let mut ok = Vec::new();
    let mut errors = Vec::new();
    for (name, r) in results {
        match r {
            Ok(reply) => ok.push((name, reply)),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        return Ok(ok);
    }
    if let Some(i) = errors.iter().position(|e| matches!(e, ExecError::Refused { .. })) {
        return Err(errors.swap_remove(i));
    }
    if errors.len() == 1 {
        return Err(errors.swap_remove(0));
    }
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    Err(ExecError::Io(std::io::Error::other(format!(
        "{} hosts failed: {}",
        errors.len(),
        text.join("; ")
    ))))
}

#[async_trait]
impl Executor for FleetExecutor {
    async fn deploy_code(&self, spec: &CodeSpec) -> Result<(), ExecError> {
        check_code(spec)?;
        self.on_web(|_, _| Op::DeployCode { spec: spec.clone() }).await
    }

    async fn update_code(&self, previous: &CodeSpec, next: &CodeSpec) -> Result<(), ExecError> {
        check_code(previous)?;
        check_code(next)?;
        self.on_web(|_, _| Op::UpdateCode {
            previous: previous.clone(),
            next: next.clone(),
        })
        .await
    }

    async fn remove_code(&self, spec: &CodeSpec) -> Result<(), ExecError> {
        check_code(spec)?;
        self.on_web(|_, _| Op::RemoveCode { spec: spec.clone() }).await
    }

    /// # Behavior
    /// The file part on every web host, then the database once.
    async fn provision(&self, spec: &InstanceSpec) -> Result<(), ExecError> {
        check_instance(spec)?;
        self.on_web(|_, own_files| Op::ProvisionFiles {
            spec: spec.clone(),
            own_files,
        })
        .await?;
        self.database(spec, true).await
    }

    /// # Behavior
    /// `drush site-install -y <profile>` and `drush rr` once, then
    /// permissions on every web host.
    async fn install(&self, spec: &InstanceSpec) -> Result<(), ExecError> {
        check_instance(spec)?;
        let profile = spec.profile.name.clone();
        self.drush_once(spec, &[&["site-install", "-y", &profile], &["rr"]])
            .await?;
        self.on_web(|_, own_files| Op::FixPermissions {
            spec: spec.clone(),
            own_files,
        })
        .await
    }

    async fn switch_code(&self, spec: &InstanceSpec) -> Result<(), ExecError> {
        check_instance(spec)?;
        self.on_web(|_, own_files| Op::Relink {
            spec: spec.clone(),
            own_files,
        })
        .await?;
        self.drush_once(spec, &[&["rr"], &["updb", "-y"]]).await
    }

    async fn rebuild_registry(&self, spec: &InstanceSpec) -> Result<(), ExecError> {
        check_instance(spec)?;
        self.drush_once(spec, &[&["rr"]]).await
    }

    async fn update_database(&self, spec: &InstanceSpec) -> Result<(), ExecError> {
        check_instance(spec)?;
        self.drush_once(spec, &[&["updb", "-y"]]).await
    }

    async fn write_settings(&self, spec: &InstanceSpec) -> Result<(), ExecError> {
        check_instance(spec)?;
        self.on_web(|_, _| Op::WriteSettings { spec: spec.clone() }).await
    }

    async fn launch(&self, spec: &InstanceSpec) -> Result<(), ExecError> {
        check_instance(spec)?;
        self.on_web(|_, _| Op::Launch { spec: spec.clone() }).await
    }

    async fn take_down(&self, spec: &InstanceSpec) -> Result<(), ExecError> {
        check_instance(spec)?;
        self.on_web(|_, _| Op::TakeDown { spec: spec.clone() }).await
    }

    async fn restore(&self, spec: &InstanceSpec) -> Result<(), ExecError> {
        check_instance(spec)?;
        self.on_web(|_, _| Op::PointAtTree { spec: spec.clone() }).await?;
        self.drush_once(spec, &[&["updb", "-y"]]).await
    }

    /// # Behavior
    /// The database once, then the files on every web host.
    async fn remove_instance(&self, spec: &InstanceSpec) -> Result<(), ExecError> {
        check_instance(spec)?;
        self.database(spec, false).await?;
        self.on_web(|_, own_files| Op::RemoveFiles {
            spec: spec.clone(),
            own_files,
        })
        .await
    }

    async fn correct_file_permissions(&self, spec: &InstanceSpec) -> Result<(), ExecError> {
        check_instance(spec)?;
        self.on_web(|_, own_files| Op::FixPermissions {
            spec: spec.clone(),
            own_files,
        })
        .await
    }

    async fn clear_caches(&self, spec: &InstanceSpec) -> Result<(), ExecError> {
        check_instance(spec)?;
        self.drush_once(spec, &[&["cc", "all"]]).await
    }

    async fn drush_cron(&self, spec: &InstanceSpec) -> Result<(), ExecError> {
        check_instance(spec)?;
        self.drush_once(spec, &[&["cron"]]).await
    }

    async fn clear_apc(&self) -> Result<(), ExecError> {
        self.on_web(|_, _| Op::ClearApc).await
    }

    async fn update_homepage_extra_files(&self) -> Result<(), ExecError> {
        self.on_web(|_, _| Op::HomepageExtraFiles).await
    }

    /// # Behavior
    /// On every web host (the first only when `single_server`); the output
    /// has one [`HostOutput`] per host and summarises them: the first
    /// failing host's exit status and output (else the first host's), the
    /// longest duration, every host in `servers`.
    async fn run_command(&self, spec: &CommandSpec) -> Result<CommandOutput, ExecError> {
        if let Some(i) = &spec.instance {
            check_instance(i)?;
        }
        let mut targets = self.web();
        if spec.single_server {
            targets.truncate(1);
        }
        let deadline = spec
            .timeout
            .min(Duration::from_secs(self.cfg.timeouts.command_max_secs))
            + Duration::from_secs(self.cfg.ssh.connect_timeout_secs + 30);
        let results = self
            .run_on(targets, |_| Op::RunCommand { spec: spec.clone() }, deadline)
            .await;
        let mut hosts = Vec::new();
        for (name, reply) in combine(results)? {
            let Reply::Command { output } = reply else {
                return Err(ExecError::Io(std::io::Error::other(format!(
                    "host {name}: unexpected reply to a command"
                ))));
            };
            hosts.push(HostOutput {
                host: name,
                exit_status: output.exit_status,
                stdout: output.stdout,
                stderr: output.stderr,
                duration: output.duration,
            });
        }
        let lead = hosts
            .iter()
            .find(|h| h.exit_status != Some(0))
            .or(hosts.first())
            .cloned()
            .unwrap_or_default();
        Ok(CommandOutput {
            exit_status: lead.exit_status,
            stdout: lead.stdout,
            stderr: lead.stderr,
            duration: hosts.iter().map(|h| h.duration).max().unwrap_or_default(),
            servers: hosts.iter().map(|h| h.host.clone()).collect(),
            hosts,
        })
    }

    /// # Behavior
    /// On the backup host (the first `db_client` host, which must also be
    /// a `web` host, and the only one unless `shared_files`), into its
    /// `backup_root`; the artifact names that host.
    async fn backup_instance(&self, spec: &InstanceSpec, backup: &Id) -> Result<BackupArtifact, ExecError> {
        check_instance(spec)?;
        let m = self.backup_host()?;
        let op = Op::BackupInstance {
            spec: spec.clone(),
            backup: *backup,
        };
        match self.once(m, op).await? {
            Reply::Backup { mut artifact } => {
                artifact.host.clone_from(&m.host.name);
                Ok(artifact)
            }
            other => Err(unexpected(&m.host.name, &other)),
        }
    }

    /// # Behavior
    /// On the host holding the backup (`artifact.host`), which must still
    /// be a backup host (see `backup_instance`): database and files there.
    async fn restore_instance(
        &self,
        spec: &InstanceSpec,
        artifact: &BackupArtifact,
    ) -> Result<(), ExecError> {
        check_instance(spec)?;
        let m = self.holder(artifact)?;
        self.check_backup_host(m)?;
        let op = Op::RestoreInstance {
            spec: spec.clone(),
            artifact: artifact.clone(),
        };
        self.once(m, op).await.map(|_| ())
    }

    /// # Behavior
    /// On the host holding the backup; nothing to do when it is gone.
    async fn remove_backup(&self, artifact: &BackupArtifact) -> Result<(), ExecError> {
        let m = self.holder(artifact)?;
        let op = Op::RemoveBackup {
            artifact: artifact.clone(),
        };
        self.once(m, op).await.map(|_| ())
    }

    /// # Behavior
    /// Written and reloaded on every `lb` host (this host when none is).
    async fn publish_routes(&self, map: &RouteMap) -> Result<(), ExecError> {
        check_routes(&map.routes)?;
        routes::render(self.cfg.route_map.format, map)?;
        let lbs = self.with_role(Role::Lb);
        if lbs.is_empty() {
            return self.here.publish_routes(map).await;
        }
        combine(
            self.run_on(lbs, |_| Op::PublishRoutes { map: map.clone() }, self.deadline())
                .await,
        )
        .map(|_| ())
    }

    /// # Behavior
    /// Every host's agent checks its roots and programs there, all hosts
    /// at once (at most `ssh.parallelism`); a host that cannot be reached
    /// is reported unreachable with the reason. An agent of another
    /// protocol version is reached, and its refusal is the problem.
    async fn check_hosts(&self) -> Result<Vec<HostReport>, ExecError> {
        let all: Vec<&Member> = self.members.iter().collect();
        let results = self.run_on_reached(all, |_| Op::Check, self.deadline()).await;
        Ok(self
            .members
            .iter()
            .zip(results)
            .map(|(m, (name, r))| {
                let (reachable, problems) = match r {
                    Ok(Reply::Health { problems }) => (true, problems),
                    Ok(_) => (true, vec![format!("host {name}: the agent answered a check with something else; install the same Atlas version there")]),
                    Err((reached, e)) => (reached, vec![e.to_string()]),
                };
                HostReport {
                    host: name,
                    roles: m.host.roles.iter().map(|r| r.as_str().to_owned()).collect(),
                    reachable,
                    problems,
                }
            })
            .collect())
    }

    /// # Behavior
    /// Reads the map on every `lb` host (this host's file when none is)
    /// and compares it with what `map` renders to; a host that cannot be
    /// read is an entry with its error.
    async fn check_routes(&self, map: &RouteMap) -> Result<Vec<RouteMapCheck>, ExecError> {
        check_routes(&map.routes)?;
        let lbs = self.with_role(Role::Lb);
        if lbs.is_empty() {
            return self.here.check_routes(map).await;
        }
        let want = routes::render(self.cfg.route_map.format, map)?;
        let results = self.run_on(lbs, |_| Op::ReadRouteMap, self.deadline()).await;
        Ok(results
            .into_iter()
            .map(|(name, r)| {
                let have = match r {
                    Ok(Reply::Text { text }) => Ok(text),
                    Ok(_) => Err(format!(
                        "host {name}: the agent answered a route map read with something else"
                    )),
                    Err(e) => Err(e.to_string()),
                };
                routes::compare(&name, &want, have)
            })
            .collect())
    }

    /// # Behavior
    /// Every web host's agent compares its checkouts, code links, settings
    /// and web links with `spec` (each finding names its host); then the
    /// database is checked once, on the first `db_client` host (else this
    /// host, named `local`). A host that cannot be reached fails the
    /// verification (an unreachable host is not drift).
    async fn verify_instance(&self, spec: &InstanceSpec) -> Result<Vec<DriftFinding>, ExecError> {
        check_instance(spec)?;
        let results = self
            .run_on(
                self.web(),
                |_| Op::VerifyFiles { spec: spec.clone() },
                self.deadline(),
            )
            .await;
        let mut found = Vec::new();
        for (name, reply) in combine(results)? {
            found.extend(named(&name, reply)?);
        }
        match self.members.iter().find(|m| m.host.has(Role::DbClient)) {
            Some(m) => {
                let reply = self.once(m, Op::VerifyDatabase { spec: spec.clone() }).await?;
                found.extend(named(&m.host.name, reply)?);
            }
            None => found.extend(self.here.verify_database_here(spec).await?),
        }
        Ok(found)
    }
}

/// The findings of a host's [`Reply::Drift`], named after the host.
fn named(host: &str, reply: Reply) -> Result<Vec<DriftFinding>, ExecError> {
    let Reply::Drift { findings } = reply else {
        return Err(unexpected(host, &reply));
    };
    Ok(findings
        .into_iter()
        .map(|mut f| {
            f.host = host.to_owned();
            f
        })
        .collect())
}
