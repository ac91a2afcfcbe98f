//! The command line: one subcommand per module in `cmd/`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::client::args::{BackupCmd, CodeCmd, CommandCmd, InstanceCmd, JobsCmd, RolloutCmd};

/// Atlas runs a fleet of Drupal sites.
#[derive(Debug, Parser)]
#[command(name = "atlas", version, about, long_about = None)]
pub struct Cli {
    /// Configuration file (TOML); default: `ATLAS_CONFIG`, else built-in
    /// defaults only.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory (database, key file, users); overrides `data_dir`.
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the API, the worker and the scheduler in one process.
    Serve {
        /// Listen address, overriding `http.listen` (e.g. 127.0.0.1:8080).
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
        /// Serve the API only: no worker and no scheduler (API nodes in
        /// front of `atlas worker` nodes on one PostgreSQL database).
        #[arg(long)]
        no_worker: bool,
    },
    /// Run only the worker and the scheduler (next to a separate API).
    Worker,
    /// Manage API users.
    User {
        /// What to do with users.
        #[command(subcommand)]
        action: UserAction,
    },
    /// Print or check the configuration.
    Config {
        /// What to do with the configuration.
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Create or upgrade the database schema, then check its integrity.
    Migrate {
        /// Copy every record (with all its versions) and every job from
        /// this SQLite database (`sqlite:PATH`) into the configured
        /// PostgreSQL store, which must be empty.
        #[arg(long, value_name = "sqlite:PATH")]
        from: Option<String>,
    },
    /// Set up a local demo in DIR (default `atlas-demo`): local git
    /// repositories, stub drush and mysql, a configuration and an API
    /// user, so the README tour runs without network or a database.
    Demo {
        /// Directory to create (must not exist or be empty).
        #[arg(default_value = "atlas-demo")]
        dir: std::path::PathBuf,
    },
    /// Look at the load balancers' route maps.
    Routes {
        /// What to do with the route maps.
        #[command(subcommand)]
        action: RoutesAction,
    },
    /// Do one operation of a fleet host: read the request the controlling
    /// Atlas sends over SSH on standard input, answer on standard output.
    Agent,
    /// Instances on a running server, over its HTTP API (see docs/cli.md).
    Instance(InstanceCmd),
    /// Code items on a running server: list, add, current, release.
    Code(CodeCmd),
    /// Command items on a running server: list, add, run.
    #[command(name = "command")]
    Commands(CommandCmd),
    /// The job queue of a running server.
    Jobs(JobsCmd),
    /// Backups on a running server: list, create, restore.
    Backup(BackupCmd),
    /// Rollouts on a running server: list, show, start, pause, resume, abort.
    Rollout(RolloutCmd),
}

impl Command {
    /// Whether the command runs until stopped (`serve`, `worker`), logging
    /// as it goes, rather than doing one thing and printing its result.
    pub fn is_daemon(&self) -> bool {
        matches!(self, Self::Serve { .. } | Self::Worker)
    }

    /// Whether the command is a client of a running server (over its HTTP
    /// API only), which needs no server configuration.
    pub fn is_client(&self) -> bool {
        matches!(
            self,
            Self::Instance(_)
                | Self::Code(_)
                | Self::Commands(_)
                | Self::Jobs(_)
                | Self::Backup(_)
                | Self::Rollout(_)
        )
    }
}

/// `atlas user …`.
#[derive(Debug, Subcommand)]
pub enum UserAction {
    /// Add a user; the password is read from `ATLAS_PASSWORD` or stdin.
    Add {
        /// User name.
        name: String,
    },
    /// List user names.
    List,
    /// Remove a user.
    Remove {
        /// User name.
        name: String,
    },
    /// Change a user's password (read from `ATLAS_PASSWORD` or stdin).
    Passwd {
        /// User name.
        name: String,
    },
}

/// `atlas config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Print the fully commented default configuration.
    Default,
    /// Validate the configuration, roots, key file and programs.
    Check,
}

/// `atlas routes …`.
#[derive(Debug, Subcommand)]
pub enum RoutesAction {
    /// Compare each load balancer's route map with the records, print the
    /// differences and exit non-zero when any differs (changes nothing).
    Check,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }

    #[test]
    fn serve_takes_a_listen_override_and_global_flags() {
        let cli = Cli::parse_from([
            "atlas",
            "--data-dir",
            "/tmp/x",
            "serve",
            "--listen",
            "127.0.0.1:9",
        ]);
        assert_eq!(cli.data_dir, Some(PathBuf::from("/tmp/x")));
        assert!(matches!(
            cli.command,
            Command::Serve { listen: Some(ref l), no_worker: false } if l == "127.0.0.1:9"
        ));
        let api = Cli::parse_from(["atlas", "serve", "--no-worker"]);
        assert!(matches!(api.command, Command::Serve { no_worker: true, .. }));
    }

    #[test]
    fn client_flags_are_taken_before_or_after_the_action() {
        let cli = Cli::parse_from([
            "atlas",
            "instance",
            "--url",
            "http://h:1",
            "show",
            "p1abc",
            "--json",
        ]);
        let Command::Instance(cmd) = cli.command else {
            panic!("an instance command")
        };
        assert_eq!(cmd.conn.url.as_deref(), Some("http://h:1"));
        assert!(cmd.conn.json);
        let cli = Cli::parse_from(["atlas", "command", "run", "List files", "--wait"]);
        assert!(cli.command.is_client());
    }
}
