//! What `atlas serve` and `atlas worker` need on this machine to do their
//! work, and [`find_program`] (shared with `atlas config check`).
//!
//! - `git` and `drush` (`[shell.programs]`), when code and sites live on
//!   this machine: no `[[shell.hosts]]`, or a host with
//!   `address = "local"`. Fleet hosts are checked on the hosts themselves
//!   by the `check_hosts` periodic task.
//! - `mysql`, when database work runs here: no `db_client` host, or a
//!   local one.
//! - The database admin account (`[shell.database] admin_user`), wherever
//!   database work runs.
//!
//! # Rule
//! A missing prerequisite is logged once at start (one warning each,
//! naming the setting and what to do) and listed by `/readyz` under
//! `degraded` for as long as it is missing. It does not make the node
//! unready: the API answers, and the jobs needing it fail with an error
//! naming the program and are retried, so installing it heals the node
//! without a restart.

use std::path::{Path, PathBuf};

use atlas_shell::{Role, ShellConfig};

/// Finds `program` on `PATH` (or checks it when it has a `/`): an
/// executable file.
pub(crate) fn find_program(program: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| {
        p.metadata()
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    };
    if program.components().count() > 1 {
        return executable(program).then(|| program.to_path_buf());
    }
    std::env::var_os("PATH")
        .map(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(program))
                .find(|p| executable(p))
        })
        .unwrap_or(None)
}

/// The missing prerequisites of this machine for `shell`, one sentence
/// each naming the setting and what to do (empty: none missing).
pub(crate) fn missing(shell: &ShellConfig) -> Vec<String> {
    let local_hosts: Vec<_> = shell.hosts.iter().filter(|h| h.is_local()).collect();
    let sites_here = shell.hosts.is_empty() || !local_hosts.is_empty();
    let db_client = shell.hosts.iter().find(|h| h.has(Role::DbClient));
    let database_here = db_client.is_none_or(|h| h.is_local());
    let p = &shell.programs;
    let mut wanted = Vec::new();
    if sites_here {
        wanted.push(("git", &p.git, "code deploys"));
        wanted.push(("drush", &p.drush, "site installs, updates, cache clears and cron"));
    }
    if database_here {
        wanted.push(("mysql", &p.mysql, "creating and dropping instance databases"));
    }
    let mut out = Vec::new();
    for (name, program, needed_for) in wanted {
        if find_program(Path::new(program)).is_none() {
            out.push(format!(
                "shell.programs.{name} = \"{program}\" is not found on this machine: install {name} \
                 or set shell.programs.{name} (ATLAS_SHELL__PROGRAMS__{}) to its path; {needed_for} \
                 fail until then",
                name.to_uppercase()
            ));
        }
    }
    if shell.database.admin_user.is_empty() {
        out.push(
            "shell.database.admin_user is not set: instance databases and users are created with \
             the mysql client's default account; set shell.database.admin_user and admin_password \
             to an account allowed to create databases and users"
                .to_owned(),
        );
    }
    out
}

/// Logs each missing prerequisite of `shell` as one warning.
pub(crate) fn warn_missing(shell: &ShellConfig) {
    for problem in missing(shell) {
        tracing::warn!(problem = %problem, "missing prerequisite");
    }
}

#[cfg(test)]
mod tests {
    use atlas_shell::{HostConfig, HostRoots};

    use super::*;

    fn absent(mut cfg: ShellConfig) -> ShellConfig {
        cfg.programs.git = "/nonexistent/git".into();
        cfg.programs.drush = "/nonexistent/drush".into();
        cfg.programs.mysql = "/nonexistent/mysql".into();
        cfg
    }

    fn host(name: &str, address: &str, roles: Vec<Role>) -> HostConfig {
        HostConfig {
            name: name.into(),
            address: address.into(),
            roles,
            roots: HostRoots::default(),
            agent: vec!["atlas".into(), "agent".into()],
        }
    }

    #[test]
    fn a_single_host_needs_every_program_and_the_admin_account() {
        let found = missing(&absent(ShellConfig::default()));
        assert_eq!(found.len(), 4, "{found:?}");
        assert!(found[0].starts_with("shell.programs.git = \"/nonexistent/git\" is not found"));
        assert!(found[1].contains("ATLAS_SHELL__PROGRAMS__DRUSH"), "{found:?}");
        assert!(found[2].starts_with("shell.programs.mysql"), "{found:?}");
        assert!(found[3].starts_with("shell.database.admin_user is not set"));
    }

    #[test]
    fn a_fleet_of_remote_hosts_needs_only_what_runs_here() {
        let mut cfg = absent(ShellConfig::default());
        cfg.database.admin_user = "atlas_admin".into();
        cfg.hosts = vec![host("web1", "atlas@web1", vec![Role::Web, Role::DbClient])];
        assert!(missing(&cfg).is_empty(), "{:?}", missing(&cfg));
        cfg.hosts = vec![host("web1", "atlas@web1", vec![Role::Web])];
        let found = missing(&cfg);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("shell.programs.mysql"));
    }
}
