//! `atlas config check`: validates the configuration, the roots, the
//! encryption key and the programs Atlas runs, connects to the hosts and
//! the LDAP directory (binding with its service account), and lists
//! every problem.

use std::path::Path;

use anyhow::bail;
use atlas_core::{Executor, SecretKey};

use crate::config::AtlasConfig;
use crate::prerequisites::find_program;

/// Every problem of `cfg`, as sentences naming the setting.
pub(crate) fn problems(cfg: &AtlasConfig) -> Vec<String> {
    let mut out = Vec::new();
    if let Err(e) = cfg.shell.validate() {
        out.push(format!("[shell] {e}"));
    }
    if let Err(e) = cfg.scheduler.schedule() {
        out.push(format!("[scheduler] {e:#}"));
    }
    let key = cfg.key_file();
    match std::fs::read_to_string(&key) {
        Ok(text) => {
            if let Err(e) = SecretKey::parse(&text) {
                out.push(format!("[secrets] key file {}: {e}", key.display()));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => out.push(format!("[secrets] key file {}: {e}", key.display())),
    }
    let p = &cfg.shell.programs;
    for (name, program) in [
        ("git", &p.git),
        ("drush", &p.drush),
        ("mysql", &p.mysql),
        ("sh", &p.sh),
    ] {
        if find_program(Path::new(program)).is_none() {
            out.push(format!(
                "[shell.programs] {name} = \"{program}\" is not an executable on this machine"
            ));
        }
    }
    if let Err(e) = cfg.notify.build() {
        out.push(format!("[notify] {e}"));
    }
    if cfg.worker.concurrency == 0 {
        out.push("[worker] concurrency must be at least 1".into());
    }
    out
}

/// Connects to every `[[shell.hosts]]` host and checks its roots and
/// programs there (nothing without hosts, or with an invalid `[shell]`).
async fn host_problems(cfg: &AtlasConfig) -> Vec<String> {
    if cfg.shell.hosts.is_empty() {
        return Vec::new();
    }
    let Ok(fleet) = atlas_shell::FleetExecutor::new(cfg.shell.clone()) else {
        return Vec::new();
    };
    let reports = match fleet.check_hosts().await {
        Ok(r) => r,
        Err(e) => return vec![format!("[shell.hosts] the hosts could not be checked: {e}")],
    };
    let mut out = Vec::new();
    for h in reports {
        if h.problems.is_empty() {
            println!("host {}: ok", h.host);
        }
        out.extend(
            h.problems
                .into_iter()
                .map(|p| format!("[shell.hosts] {}: {p}", h.host)),
        );
    }
    out
}

/// Connects to the `[auth.ldap]` directory and binds with its service
/// account (nothing without the section).
async fn ldap_problems(cfg: &AtlasConfig) -> Vec<String> {
    let Some(ldap) = &cfg.auth.ldap else {
        return Vec::new();
    };
    let directory = match atlas_ldap::LdapAuthenticator::new(ldap) {
        Ok(d) => d,
        Err(e) => return vec![format!("[auth.ldap] {e}")],
    };
    match directory.probe().await {
        Ok(()) => {
            println!("LDAP directory {}: ok", directory.url());
            Vec::new()
        }
        Err(e) => vec![format!(
            "[auth.ldap] {} cannot be used: {}. Check that it is reachable from this machine \
             (auth.ldap.url, starttls, ca_file){}",
            directory.url(),
            e.reason,
            if ldap.bind_dn.is_some() {
                " and that the service account can bind (auth.ldap.bind_dn and its password)"
            } else {
                ""
            }
        )],
    }
}

/// Prints the checks and fails when any problem was found.
///
/// # Errors
/// One error summarising the problems.
pub async fn check(cfg: AtlasConfig) -> anyhow::Result<()> {
    let mut found = problems(&cfg);
    found.extend(host_problems(&cfg).await);
    found.extend(ldap_problems(&cfg).await);
    println!("data_dir: {}", cfg.data_dir.display());
    println!("key file: {}", cfg.key_file().display());
    for p in &found {
        println!("problem: {p}");
    }
    if found.is_empty() {
        println!("configuration ok");
        Ok(())
    } else {
        bail!("{} configuration problem(s) found", found.len())
    }
}
