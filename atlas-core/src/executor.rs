//! The [`Executor`] port: every effect on servers, one method per operation.
//!
//! # Contracts
//! - Specs are fully resolved (names, versions, paths, decrypted secrets):
//!   an executor never reads the store.
//! - Every operation is idempotent: running it again, or after it was killed
//!   midway, converges to the same state, so a retried job is safe.
//! - An executor re-validates what it turns into paths or arguments (sids,
//!   route sources, code names) and refuses with [`ExecError::Refused`]
//!   before touching anything.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::drift::DriftFinding;
use crate::error::ExecError;
use crate::model::{Code, CodeType, Id, InstanceType, Pool, RouteStatus, RouteType, Secret, Sid, Status};

/// A code item to deploy, update or remove.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeSpec {
    /// Record id.
    pub id: Id,
    /// `meta.name` (validated: `[A-Za-z0-9_-]`).
    pub name: String,
    /// `meta.version`.
    pub version: String,
    /// `meta.code_type`.
    pub code_type: CodeType,
    /// Where to clone from.
    pub git_url: String,
    /// What to check out.
    pub commit_hash: String,
    /// Whether `<name>-current` should point at this checkout.
    pub is_current: bool,
}

impl From<&Code> for CodeSpec {
    fn from(code: &Code) -> Self {
        CodeSpec {
            id: code.id,
            name: code.meta.name.clone(),
            version: code.meta.version.clone(),
            code_type: code.meta.code_type,
            git_url: code.git_url.clone(),
            commit_hash: code.commit_hash.clone(),
            is_current: code.meta.is_current,
        }
    }
}

/// An instance's database credentials (the password decrypted).
///
/// Serializing writes the password in clear: that is only for an executor
/// handing a spec to its own hosts (on a program's standard input), never
/// for logs or API output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseSpec {
    /// Database name.
    pub name: String,
    /// Database user.
    pub user: String,
    /// Database password.
    #[serde(with = "secret_in_clear")]
    pub password: Secret,
}

/// Serde of a [`Secret`] as its text (see [`DatabaseSpec`]).
mod secret_in_clear {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::model::Secret;

    pub(super) fn serialize<S: Serializer>(s: &Secret, ser: S) -> Result<S::Ok, S::Error> {
        ser.serialize_str(s.expose())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
        String::deserialize(d).map(Secret::new)
    }
}

/// An instance's own settings (`settings` in the schema).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SiteSettings {
    /// Page cache max age in seconds (default 300).
    pub page_cache_maximum_age: u32,
    /// Siteimprove site id.
    pub siteimprove_site: Option<i64>,
    /// Siteimprove group id.
    pub siteimprove_group: Option<i64>,
}

/// A route as the load balancer and launch see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteSpec {
    /// Record id.
    pub id: Id,
    /// Path under the domain (`domainroot` for the root; `lab/atlas` nests).
    pub source: String,
    /// Pool or redirect.
    pub route_type: RouteType,
    /// Published or not.
    pub route_status: RouteStatus,
    /// Redirect destination.
    pub destination: Option<String>,
    /// Redirect status code (301, 302, 307).
    pub response_code: Option<u16>,
    /// Whether `source` is a regex (redirects).
    pub regex: bool,
    /// Whether the redirect keeps the rest of the path.
    pub path_preserving: bool,
    /// The instance served, if any.
    pub instance_sid: Option<Sid>,
    /// That instance's type (decides the web directory).
    pub instance_type: Option<InstanceType>,
}

/// Everything an executor needs to act on one instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceSpec {
    /// Record id.
    pub id: Id,
    /// Site id.
    pub sid: Sid,
    /// `path` field (defaults to the sid).
    pub path: String,
    /// Instance type.
    pub instance_type: InstanceType,
    /// Status the work is for (the target of the transition).
    pub status: Status,
    /// Server pool.
    pub pool: Pool,
    /// Update group.
    pub update_group: u8,
    /// Statistics record id.
    pub statistics_id: Option<Id>,
    /// Core.
    pub core: CodeSpec,
    /// Install profile.
    pub profile: CodeSpec,
    /// Packages: the full transitive dependency closure.
    pub packages: Vec<CodeSpec>,
    /// The instance's settings.
    pub settings: SiteSettings,
    /// Database credentials.
    pub database: DatabaseSpec,
    /// The instance's routes.
    pub routes: Vec<RouteSpec>,
    /// Source of the primary route, when set.
    pub primary_route: Option<String>,
}

/// The one deliberate shell string: a command item run for one instance
/// (or once, when `instance` is `None`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandSpec {
    /// The command item's `name`.
    pub name: String,
    /// The shell string (`command`).
    pub command: String,
    /// The instance it runs for (working directory, environment).
    pub instance: Option<InstanceSpec>,
    /// Run on one server only (database-level commands).
    pub single_server: bool,
    /// Kill after this long.
    pub timeout: Duration,
}

/// What a command run produced.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CommandOutput {
    /// Exit status (`None`: killed by a signal).
    pub exit_status: Option<i32>,
    /// Tail of standard output.
    pub stdout: String,
    /// Tail of standard error.
    pub stderr: String,
    /// Wall time.
    pub duration: Duration,
    /// Servers it ran on.
    pub servers: Vec<String>,
    /// One outcome per host it ran on (a fleet executor); the fields above
    /// then summarise them (the first failing host's status and output,
    /// the longest duration).
    #[serde(default)]
    pub hosts: Vec<HostOutput>,
}

/// What a command run produced on one host.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HostOutput {
    /// The host's configured name.
    pub host: String,
    /// Exit status (`None`: killed by a signal).
    pub exit_status: Option<i32>,
    /// Tail of standard output.
    pub stdout: String,
    /// Tail of standard error.
    pub stderr: String,
    /// Wall time on that host.
    pub duration: Duration,
}

/// The routes to publish to the load balancer: the `active` ones only.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RouteMap {
    /// Active routes, in a stable order.
    pub routes: Vec<RouteSpec>,
}

/// Which part of an instance a backup part holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackupPartKind {
    /// A consistent dump of the instance's database (SQL, compressed).
    Database,
    /// An archive of the instance's files directory (compressed).
    Files,
}

/// One stored part of a backup, with what verifies it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupPart {
    /// What the part holds.
    pub kind: BackupPartKind,
    /// File name inside the backup's directory (a plain name, no `/`).
    pub file: String,
    /// Size in bytes of the stored (compressed) file.
    pub size: u64,
    /// Lower-case hex SHA-256 of the stored file; checked before a restore
    /// touches anything.
    pub sha256: String,
}

/// Where a taken backup lives and what it consists of: what
/// [`Executor::backup_instance`] answers and the `backup` record keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupArtifact {
    /// The host holding the parts (`local` for the machine Atlas runs on,
    /// else a fleet host's configured name).
    pub host: String,
    /// The backup's directory under the executor's backup root (a relative
    /// path, `<sid>/<backup id>`).
    pub dir: String,
    /// The parts: one database dump and one files archive.
    pub parts: Vec<BackupPart>,
}

impl BackupArtifact {
    /// Total stored bytes.
    pub fn size(&self) -> u64 {
        self.parts.iter().map(|p| p.size).sum()
    }
}

/// What a host check found on one host ([`Executor::check_hosts`]).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HostReport {
    /// The host's configured name (`local` for the Atlas host alone).
    pub host: String,
    /// Its roles (`web`, `db_client`, `cron`, `lb`).
    #[serde(default)]
    pub roles: Vec<String>,
    /// Whether the check reached it.
    pub reachable: bool,
    /// What is wrong there (empty: healthy), one line each, naming the
    /// setting and what to do; when unreachable, why.
    #[serde(default)]
    pub problems: Vec<String>,
}

impl HostReport {
    /// Whether the host was reached and has no problem.
    pub fn healthy(&self) -> bool {
        self.reachable && self.problems.is_empty()
    }

    /// Whether the host serves sites (`web` role).
    pub fn is_web(&self) -> bool {
        self.roles.iter().any(|r| r == "web")
    }
}

/// How the route map on one load balancer compares with the records
/// ([`Executor::check_routes`]).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RouteMapCheck {
    /// The load balancer's host name (`local` for the Atlas host).
    pub host: String,
    /// One line per entry missing there or extra there (empty: identical).
    #[serde(default)]
    pub differences: Vec<String>,
    /// Why the map there could not be read, if it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl RouteMapCheck {
    /// Whether the map there differs from the records (or could not be
    /// read).
    pub fn differs(&self) -> bool {
        self.error.is_some() || !self.differences.is_empty()
    }
}

/// The effects on servers. Share as `Arc<dyn Executor>`.
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
#[async_trait]
pub trait Executor: Send + Sync + fmt::Debug + 'static {
    /// Clones the item's repository, checks out its commit and cleans the
    /// tree; points `<name>-current` at it when current.
    ///
    /// # Errors
    /// [`ExecError`] on refusal or failure.
    async fn deploy_code(&self, spec: &CodeSpec) -> Result<(), ExecError>;

    /// Moves a deployed item to `next`: checkout in place, or remove and
    /// redeploy when name, version or type changed.
    ///
    /// # Errors
    /// [`ExecError`] on refusal or failure.
    async fn update_code(&self, previous: &CodeSpec, next: &CodeSpec) -> Result<(), ExecError>;

    /// Removes a deployed item (and its `-current` link if it pointed there).
    ///
    /// # Errors
    /// [`ExecError`] on refusal or failure.
    async fn remove_code(&self, spec: &CodeSpec) -> Result<(), ExecError>;

    /// Creates database and user, directories, code links, files directory,
    /// settings, the web symlink and permissions.
    ///
    /// # Errors
    /// [`ExecError`] on refusal or failure.
    async fn provision(&self, spec: &InstanceSpec) -> Result<(), ExecError>;

    /// Runs the site install (on one server) and a registry rebuild.
    ///
    /// # Errors
    /// [`ExecError`] on refusal or failure.
    async fn install(&self, spec: &InstanceSpec) -> Result<(), ExecError>;

    /// Re-links core, profile and packages to those of `spec`, then rebuilds
    /// the registry and runs database updates (`drush rr`, `drush updb -y`),
    /// so a switch is one idempotent step.
    ///
    /// # Errors
    /// [`ExecError`] on refusal or failure.
    async fn switch_code(&self, spec: &InstanceSpec) -> Result<(), ExecError>;

    /// Rebuilds the Drupal registry (`drush rr`).
    ///
    /// # Errors
    /// [`ExecError`] on refusal or failure.
    async fn rebuild_registry(&self, spec: &InstanceSpec) -> Result<(), ExecError>;

    /// Runs database updates (`drush updb -y`).
    ///
    /// # Errors
    /// [`ExecError`] on refusal or failure.
    async fn update_database(&self, spec: &InstanceSpec) -> Result<(), ExecError>;

    /// Rewrites the settings files for the instance's current state.
    ///
    /// # Errors
    /// [`ExecError`] on refusal or failure.
    async fn write_settings(&self, spec: &InstanceSpec) -> Result<(), ExecError>;

    /// Links each route source from the web root to the instance's code.
    ///
    /// # Errors
    /// [`ExecError`] on refusal or failure.
    async fn launch(&self, spec: &InstanceSpec) -> Result<(), ExecError>;

    /// Points the instance at the down page.
    ///
    /// # Errors
    /// [`ExecError`] on refusal or failure.
    async fn take_down(&self, spec: &InstanceSpec) -> Result<(), ExecError>;

    /// Points the instance back at its code and runs database updates
    /// (`drush updb -y`).
    ///
    /// # Errors
    /// [`ExecError`] on refusal or failure.
    async fn restore(&self, spec: &InstanceSpec) -> Result<(), ExecError>;

    /// Drops database and user, removes links, files and code directory.
    ///
    /// # Errors
    /// [`ExecError`] on refusal or failure.
    async fn remove_instance(&self, spec: &InstanceSpec) -> Result<(), ExecError>;

    /// Resets group and modes of the instance's files.
    ///
    /// # Errors
    /// [`ExecError`] on refusal or failure.
    async fn correct_file_permissions(&self, spec: &InstanceSpec) -> Result<(), ExecError>;

    /// Clears Drupal caches.
    ///
    /// # Errors
    /// [`ExecError`] on refusal or failure.
    async fn clear_caches(&self, spec: &InstanceSpec) -> Result<(), ExecError>;

    /// Runs Drupal cron (`drush cron`).
    ///
    /// # Errors
    /// [`ExecError`] on refusal or failure.
    async fn drush_cron(&self, spec: &InstanceSpec) -> Result<(), ExecError>;

    /// Clears the PHP opcode cache on the web servers.
    ///
    /// # Errors
    /// [`ExecError`] on failure.
    async fn clear_apc(&self) -> Result<(), ExecError>;

    /// Refreshes the homepage's extra files (robots.txt and friends).
    ///
    /// # Errors
    /// [`ExecError`] on failure.
    async fn update_homepage_extra_files(&self) -> Result<(), ExecError>;

    /// Runs a command item's shell string with stdin closed and a time limit.
    ///
    /// # Behavior
    /// A non-zero exit is reported in [`CommandOutput::exit_status`], not as
    /// an error.
    ///
    /// # Errors
    /// [`ExecError::Timeout`], [`ExecError::Io`], [`ExecError::Refused`].
    async fn run_command(&self, spec: &CommandSpec) -> Result<CommandOutput, ExecError>;

    /// Writes the route map for the load balancer and reloads it.
    ///
    /// # Errors
    /// [`ExecError`] on refusal or failure.
    async fn publish_routes(&self, map: &RouteMap) -> Result<(), ExecError>;

    /// Takes a backup of the instance into `<backup root>/<sid>/<backup>`:
    /// a consistent dump of its database and an archive of its files
    /// directory, each written under a temporary name, synced and renamed
    /// into place, with its size and SHA-256. Idempotent: a retry replaces
    /// a partial directory.
    ///
    /// # Errors
    /// Dump or archive failures, I/O.
    async fn backup_instance(&self, spec: &InstanceSpec, backup: &Id) -> Result<BackupArtifact, ExecError>;

    /// Restores `artifact` onto the instance of `spec` (its database and its
    /// files directory; the instance may be another than the one backed
    /// up). Every part's SHA-256 is checked first; the database is loaded
    /// beside the live one and swapped in at once, the files are unpacked
    /// beside the live directory and swapped in, so a failed restore leaves
    /// the instance as it was.
    ///
    /// # Errors
    /// [`ExecError::Refused`] for a missing or corrupt part (nothing
    /// touched); load or unpack failures.
    async fn restore_instance(&self, spec: &InstanceSpec, artifact: &BackupArtifact)
        -> Result<(), ExecError>;

    /// Removes a backup's directory and parts. Idempotent.
    ///
    /// # Errors
    /// I/O.
    async fn remove_backup(&self, artifact: &BackupArtifact) -> Result<(), ExecError>;

    /// Checks every host the executor works on: reachable, roots and
    /// programs there. One report per host, unreachable ones included.
    ///
    /// # Behavior
    /// The default answers no host (an executor without hosts of its own).
    ///
    /// # Errors
    /// [`ExecError`] when the check itself could not run.
    async fn check_hosts(&self) -> Result<Vec<HostReport>, ExecError> {
        Ok(Vec::new())
    }

    /// Compares the route map on each load balancer with what `map`
    /// renders to, changing nothing. One entry per load balancer.
    ///
    /// # Behavior
    /// The default answers no load balancer (an executor that publishes
    /// nowhere).
    ///
    /// # Errors
    /// [`ExecError::Refused`] for a route that cannot be rendered.
    async fn check_routes(&self, map: &RouteMap) -> Result<Vec<RouteMapCheck>, ExecError> {
        let _ = map;
        Ok(Vec::new())
    }

    /// Compares the instance of `spec` on every host it lives on with
    /// what `spec` says, changing nothing: code links and checkouts
    /// (`HEAD` at the recorded commit), settings files (by hash against
    /// what they render to), the database (exists, its user logs in) and
    /// the web links (for a launched instance, pointing at it). One
    /// [`DriftFinding`] per difference, naming its host.
    ///
    /// # Behavior
    /// The default finds nothing (an executor with nothing to compare).
    /// Every finding's `healable` says whether re-applying the desired
    /// state with the other operations fixes it; database findings never
    /// are.
    ///
    /// # Errors
    /// [`ExecError::Refused`] for a spec that fails validation; failures
    /// that stop the comparison itself (a host that cannot be reached).
    async fn verify_instance(&self, spec: &InstanceSpec) -> Result<Vec<DriftFinding>, ExecError> {
        let _ = spec;
        Ok(Vec::new())
    }
}

macro_rules! forward_executor {
    ($($name:ident($($arg:ident: $ty:ty),*) -> $ret:ty;)+) => {
        #[async_trait]
        impl<E: Executor + ?Sized> Executor for Arc<E> {
            $(async fn $name(&self, $($arg: $ty),*) -> Result<$ret, ExecError> {
                (**self).$name($($arg),*).await
            })+
        }
    };
}

forward_executor! {
    deploy_code(spec: &CodeSpec) -> ();
    update_code(previous: &CodeSpec, next: &CodeSpec) -> ();
    remove_code(spec: &CodeSpec) -> ();
    provision(spec: &InstanceSpec) -> ();
    install(spec: &InstanceSpec) -> ();
    switch_code(spec: &InstanceSpec) -> ();
    rebuild_registry(spec: &InstanceSpec) -> ();
    update_database(spec: &InstanceSpec) -> ();
    write_settings(spec: &InstanceSpec) -> ();
    launch(spec: &InstanceSpec) -> ();
    take_down(spec: &InstanceSpec) -> ();
    restore(spec: &InstanceSpec) -> ();
    remove_instance(spec: &InstanceSpec) -> ();
    correct_file_permissions(spec: &InstanceSpec) -> ();
    clear_caches(spec: &InstanceSpec) -> ();
    drush_cron(spec: &InstanceSpec) -> ();
    clear_apc() -> ();
    update_homepage_extra_files() -> ();
    run_command(spec: &CommandSpec) -> CommandOutput;
    publish_routes(map: &RouteMap) -> ();
    backup_instance(spec: &InstanceSpec, backup: &Id) -> BackupArtifact;
    restore_instance(spec: &InstanceSpec, artifact: &BackupArtifact) -> ();
    remove_backup(artifact: &BackupArtifact) -> ();
    check_hosts() -> Vec<HostReport>;
    check_routes(map: &RouteMap) -> Vec<RouteMapCheck>;
    verify_instance(spec: &InstanceSpec) -> Vec<DriftFinding>;
}
