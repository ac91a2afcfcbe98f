//! `atlas-shell`: the [`Executor`](atlas_core::Executor) that does the real
//! work on this host — files and links natively in Rust, `git`, `mysql` and
//! `drush` as programs — doing what the original's Fabric tasks and
//! `drush dslm-*` commands did.
//!
//! # Layout
//! - [`config`]: [`ShellConfig`] (roots, programs, database, caches, route
//!   map, permissions, timeouts) and its validation.
//! - `paths`: validation of sids, code names, versions, commits, git URLs,
//!   route sources, database identifiers; where everything lives; the
//!   root-confinement check.
//! - `fs`: idempotent file helpers (mkdir -p, atomic symlink replace,
//!   atomic write, link-safe removal). `perms`: groups and modes.
//! - `process`: argv-only spawning with stdin control, time limits
//!   (process-group kill), output tails and one log event per run.
//! - `code`, `instance`, `database`, `settings` (+ `templates/`), `routes`,
//!   `commands`: the operations. `drift`: what an instance here holds
//!   against its spec (verification, read only). `backup`: backups of an instance (database
//!   dump and files archive) and their restore and removal.
//! - `executor`: [`ShellExecutor`], the trait implementation for this host.
//! - [`hosts`]: the fleet's hosts and SSH settings; `ssh`: the transport
//!   (one multiplexed OpenSSH master per host); [`agent`]: the request a
//!   host's agent does with its own `ShellExecutor`; `fleet`:
//!   [`FleetExecutor`], fan-out over the hosts; `health`: host checks and
//!   last known state.
//!
//! On disk:
//! ```text
//! <code_root>/{cores,profiles,modules,themes,libraries}/<name>/<name>-<version>   checkouts
//! <code_root>/<type>s/<name>/<name>-current -> <name>-<version>                   when current
//! <instances_code_root>/<sid>/<sid>/            the Drupal tree, assembled from links
//! <instances_code_root>/<sid>/current -> <sid>  (or -> the down page when down)
//! <instances_web_root>/<type>/<sid> -> current  (type "homepage" uses homepage-instances/)
//! <instances_web_root>/<type>/<source> -> current, <instances_web_root>/homepage -> current
//! <files_root>/sitefiles/<sid>/{files,tmp}      sites/default/files -> …/files
//! <backup_root>/<sid>/<backup id>/{database.sql.gz,files.tar.gz}   backups
//! ```
//!
//! # Contracts
//! - No shell string is built from data: programs get argument vectors; the
//!   only shell string is a command item's `command`, run with `sh -c`.
//! - Sids, code names, versions, commits, git URLs, route sources and
//!   database identifiers are re-validated; a refused spec touches nothing
//!   ([`ExecError::Refused`](atlas_core::ExecError::Refused)).
//! - Every path is built under a configured root and checked not to pass
//!   through a symlink below it; removal unlinks links, never follows them.
//! - Every operation is idempotent: links are replaced atomically (temporary
//!   link + rename), files written atomically (temporary file + rename),
//!   SQL uses `IF [NOT] EXISTS`; re-running, or running after a kill,
//!   converges on the same tree.
//! - Passwords never appear in argv: `mysql` gets admin credentials in a
//!   mode-0600 option file and SQL on stdin.
//! - `switch_code` runs `drush rr` and `drush updb -y` itself; `restore`
//!   runs `drush updb -y` itself.
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]

pub mod agent;
mod backup;
mod code;
mod commands;
pub mod config;
mod database;
mod drift;
mod executor;
mod fleet;
mod fs;
mod health;
pub mod hosts;
mod instance;
mod paths;
mod perms;
mod process;
mod routes;
mod settings;
mod ssh;

pub use config::{
    ConfigError, ConfigSecret, DatabaseConfig, PermissionsConfig, Programs, RouteMapConfig, RouteMapFormat,
    ServiceAccount, ShellConfig, Timeouts,
};
pub use executor::ShellExecutor;
pub use fleet::FleetExecutor;
pub use health::HostState;
pub use hosts::{Address, HostConfig, HostRoots, Role, SshConfig};
