//! The command-line shape of the client subcommands (`atlas instance …`,
//! `code …`, `command …`, `jobs`, `backup …`, `rollout …`) and the connection flags
//! they share. docs/cli.md documents each one.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};

/// Which server, as whom, and how to print; every client subcommand takes
/// these (before or after its action).
#[derive(Debug, Clone, Args)]
pub struct Connection {
    /// The server's URL [default: the profile's `url`, else
    /// http://127.0.0.1:8080].
    #[arg(
        long,
        global = true,
        env = "ATLAS_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub url: Option<String>,
    /// The API user [default: the profile's `user`, else admin].
    #[arg(
        long,
        global = true,
        env = "ATLAS_USER",
        hide_env_values = true,
        value_name = "NAME"
    )]
    pub user: Option<String>,
    /// A file whose first line is the user's password [default: the
    /// profile's `password_file`, else asked for on the terminal].
    #[arg(
        long,
        global = true,
        env = "ATLAS_PASSWORD_FILE",
        hide_env_values = true,
        value_name = "FILE"
    )]
    pub password_file: Option<PathBuf>,
    /// Print JSON for scripts instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// How long `--wait` waits, in seconds.
    #[arg(long, global = true, value_name = "SECS", default_value_t = 900)]
    pub timeout: u64,
}

impl Connection {
    /// `--timeout` as a duration.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout)
    }
}

/// `atlas instance …`.
#[derive(Debug, Args)]
pub struct InstanceCmd {
    /// Server and output.
    #[command(flatten)]
    pub conn: Connection,
    /// What to do.
    #[command(subcommand)]
    pub action: InstanceAction,
}

/// What `atlas instance` does.
#[derive(Debug, Subcommand)]
pub enum InstanceAction {
    /// List instances (all, or those a status or query selects).
    List {
        /// Only instances in this status (e.g. launched).
        #[arg(long, value_name = "STATUS")]
        status: Option<String>,
        /// Only instances this JSON query selects (the API's `where`, e.g.
        /// '{"type": "express"}').
        #[arg(long = "where", value_name = "JSON")]
        where_: Option<String>,
    },
    /// Show one instance.
    Show {
        /// Its sid or id.
        instance: String,
    },
    /// Create an instance: it is provisioned and becomes available.
    Create {
        /// Its sid (default: generated, p1 + 10 hex).
        #[arg(long)]
        sid: Option<String>,
        /// Its path (default: the sid).
        #[arg(long)]
        path: Option<String>,
        /// express (default), custom, legacy or homepage.
        #[arg(long = "type", value_name = "TYPE")]
        type_: Option<String>,
        /// Its core code item id (default: the current default core).
        #[arg(long, value_name = "CODE_ID")]
        core: Option<String>,
        /// Its profile code item id (default: the current default profile).
        #[arg(long, value_name = "CODE_ID")]
        profile: Option<String>,
        /// Provision it from this complete backup instead of a fresh
        /// install.
        #[arg(long, value_name = "BACKUP_ID")]
        restore_from: Option<String>,
        /// Wait until it is available.
        #[arg(long)]
        wait: bool,
    },
    /// Install an available instance (available → installing → installed).
    Install {
        /// Its sid or id.
        instance: String,
        /// Wait until it is installed.
        #[arg(long)]
        wait: bool,
    },
    /// Launch an installed instance on a new route: creates the route,
    /// makes it the primary route, requests launching.
    Launch {
        /// Its sid or id.
        instance: String,
        /// The route's source (the path the site is served at, e.g. mysite).
        #[arg(long, value_name = "SOURCE")]
        route: String,
        /// The route's type [default: from the instance's pool].
        #[arg(long, value_name = "TYPE")]
        route_type: Option<String>,
        /// Wait until it is launched.
        #[arg(long)]
        wait: bool,
    },
    /// Take a launched instance down (launched → take_down → down).
    TakeDown {
        /// Its sid or id.
        instance: String,
        /// Wait until it is down.
        #[arg(long)]
        wait: bool,
    },
    /// Restore a down instance (down → restore → installed).
    Restore {
        /// Its sid or id.
        instance: String,
        /// Wait until it is installed.
        #[arg(long)]
        wait: bool,
    },
    /// Compare an instance on its servers with its records (drift);
    /// with `--wait`, exits non-zero when it found drift.
    Verify {
        /// Its sid or id.
        instance: String,
        /// Wait for the check and print its findings.
        #[arg(long)]
        wait: bool,
    },
    /// Re-apply what drifted and is safe to fix (links, settings,
    /// checkouts), then verify again; with `--wait`, exits non-zero when
    /// drift remains (database findings are only reported).
    Heal {
        /// Its sid or id.
        instance: String,
        /// Wait for the repair and print what remains.
        #[arg(long)]
        wait: bool,
    },
    /// Delete an instance (a pre_delete backup is kept first).
    Delete {
        /// Its sid or id.
        instance: String,
        /// Delete it even when it is launched (live on its routes).
        #[arg(long)]
        force: bool,
        /// Wait until its removal job has finished.
        #[arg(long)]
        wait: bool,
    },
}

/// `atlas code …`.
#[derive(Debug, Args)]
pub struct CodeCmd {
    /// Server and output.
    #[command(flatten)]
    pub conn: Connection,
    /// What to do.
    #[command(subcommand)]
    pub action: CodeAction,
}

/// What `atlas code` does.
#[derive(Debug, Subcommand)]
pub enum CodeAction {
    /// List code items.
    List {
        /// Only items of this name.
        #[arg(long)]
        name: Option<String>,
        /// Only current items.
        #[arg(long)]
        current: bool,
    },
    /// Add a code item, from a JSON body (`--from-file`) or from flags.
    Add {
        /// A file holding the item's JSON body (as POST /code takes it).
        #[arg(long, value_name = "FILE", conflicts_with_all = ["name", "version", "code_type", "git_url", "commit"])]
        from_file: Option<PathBuf>,
        /// Its name (meta.name).
        #[arg(long, required_unless_present = "from_file")]
        name: Option<String>,
        /// Its version (meta.version).
        #[arg(long, required_unless_present = "from_file")]
        version: Option<String>,
        /// core, profile, module, theme or library (meta.code_type).
        #[arg(long = "type", value_name = "TYPE", required_unless_present = "from_file")]
        code_type: Option<String>,
        /// Its git repository.
        #[arg(long, required_unless_present = "from_file")]
        git_url: Option<String>,
        /// Its commit.
        #[arg(long, value_name = "HASH", required_unless_present = "from_file")]
        commit: Option<String>,
        /// Make it the current item of its name and type.
        #[arg(long)]
        current: bool,
        /// Wait until it is deployed.
        #[arg(long)]
        wait: bool,
    },
    /// Show the current item(s) of a name.
    Current {
        /// The name (meta.name).
        name: String,
    },
    /// Release a new commit of a current item: POST a new item or PATCH
    /// the current one, as the operator guide's rule says; then wait for
    /// the deploy.
    Release {
        /// The name (meta.name) of the current item.
        name: String,
        /// The new commit.
        #[arg(long, value_name = "HASH")]
        commit: String,
        /// The new version (needed when a new item is POSTed).
        #[arg(long)]
        version: Option<String>,
        /// The current version has an error that this commit fixes.
        #[arg(long)]
        fixes_error: bool,
        /// The fix needs an update hook (hook_update_N) to run.
        #[arg(long)]
        needs_update_hook: bool,
        /// Do not wait for the deploy job(s).
        #[arg(long)]
        no_wait: bool,
    },
}

/// `atlas command …`.
#[derive(Debug, Args)]
pub struct CommandCmd {
    /// Server and output.
    #[command(flatten)]
    pub conn: Connection,
    /// What to do.
    #[command(subcommand)]
    pub action: CommandAction,
}

/// What `atlas command` does.
#[derive(Debug, Subcommand)]
pub enum CommandAction {
    /// List command items.
    List,
    /// Add a command item.
    Add {
        /// Its name.
        #[arg(long)]
        name: String,
        /// The shell string (or hook name) it runs.
        #[arg(long)]
        command: String,
        /// The JSON query selecting its instances (e.g. '{"status":
        /// "launched"}'; '{}' selects every instance).
        #[arg(long, value_name = "JSON")]
        query: String,
        /// Run it on every web server, not only the first.
        #[arg(long)]
        all_servers: bool,
    },
    /// Run a command item on the instances its query selects.
    Run {
        /// Its name or id.
        command: String,
        /// Wait for every instance, show the outcomes, and fail when any
        /// instance failed.
        #[arg(long)]
        wait: bool,
    },
}

/// `atlas jobs`.
#[derive(Debug, Args)]
pub struct JobsCmd {
    /// Server and output.
    #[command(flatten)]
    pub conn: Connection,
    /// Only the jobs of this instance (sid or id).
    #[arg(long, value_name = "SID")]
    pub instance: Option<String>,
    /// Only jobs in this status (queued, running, succeeded, dead).
    #[arg(long)]
    pub status: Option<String>,
    /// Only jobs of this kind (e.g. provision, command_instance).
    #[arg(long)]
    pub kind: Option<String>,
    /// How many of the newest jobs to show.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Keep watching: print each job again when its status changes, until
    /// interrupted.
    #[arg(long)]
    pub follow: bool,
}

/// `atlas backup …`.
#[derive(Debug, Args)]
pub struct BackupCmd {
    /// Server and output.
    #[command(flatten)]
    pub conn: Connection,
    /// What to do.
    #[command(subcommand)]
    pub action: BackupAction,
}

/// What `atlas backup` does.
#[derive(Debug, Subcommand)]
pub enum BackupAction {
    /// List backups, newest first.
    List {
        /// Only the backups of this instance (sid or id).
        #[arg(long, value_name = "SID")]
        instance: Option<String>,
    },
    /// Back up an instance.
    Create {
        /// Its sid or id.
        instance: String,
        /// Wait until the backup is complete.
        #[arg(long)]
        wait: bool,
    },
    /// Put a complete backup back onto its instance.
    Restore {
        /// The backup's id.
        backup: String,
        /// Wait until the restore job has finished.
        #[arg(long)]
        wait: bool,
    },
}

/// `atlas rollout …`.
#[derive(Debug, Args)]
pub struct RolloutCmd {
    /// Server and output.
    #[command(flatten)]
    pub conn: Connection,
    /// What to do.
    #[command(subcommand)]
    pub action: RolloutAction,
}

/// What a halted rollout's resume does with its failed instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailedChoice {
    /// Put them back into the plan.
    Retry,
    /// Record them in `skipped` and leave them out.
    Skip,
}

/// What `atlas rollout` does.
#[derive(Debug, Subcommand)]
pub enum RolloutAction {
    /// List rollouts, newest first.
    List {
        /// Only rollouts in this state (pending, running, paused, halted,
        /// completed, aborted).
        #[arg(long, value_name = "STATE")]
        state: Option<String>,
    },
    /// Show one rollout: its plan, progress and failures.
    Show {
        /// The rollout's id.
        rollout: String,
    },
    /// Start moving the instances on one release of a code item to another.
    Start {
        /// The code item (id) the instances move away from.
        #[arg(long, value_name = "CODE_ID")]
        from: String,
        /// The release (id) they move to: same name and type as `--from`.
        #[arg(long, value_name = "CODE_ID")]
        to: String,
        /// Only the instances this JSON query selects (the API's `where`).
        #[arg(long = "where", value_name = "JSON")]
        where_: Option<String>,
        /// Most instances in one wave [server default: 50].
        #[arg(long, value_name = "N")]
        wave_size: Option<u64>,
        /// Failures one wave tolerates before the rollout halts [server
        /// default: 0].
        #[arg(long, value_name = "N")]
        max_failures: Option<u64>,
        /// Record failures and go on instead of halting.
        #[arg(long)]
        continue_on_failure: bool,
        /// Seconds between the end of a wave and the start of the next.
        #[arg(long, value_name = "SECS")]
        pause_between: Option<u64>,
        /// Back up each instance before its switch.
        #[arg(long)]
        backup: bool,
        /// Wait until the rollout completes, halts or is aborted.
        #[arg(long)]
        wait: bool,
    },
    /// Let the current wave finish and start no other.
    Pause {
        /// The rollout's id.
        rollout: String,
    },
    /// Go on with a paused or halted rollout.
    Resume {
        /// The rollout's id.
        rollout: String,
        /// For a halted rollout: retry its failed instances or skip them.
        #[arg(long, value_enum, value_name = "CHOICE")]
        failed: Option<FailedChoice>,
        /// Wait until the rollout completes, halts or is aborted.
        #[arg(long)]
        wait: bool,
    },
    /// Stop the rollout and cancel its wave's queued switches.
    Abort {
        /// The rollout's id.
        rollout: String,
    },
}
