//! Host health: what a host needs to do its work (its roots exist and are
//! directories, its programs are found), checked on the host itself, and
//! the last known state of every host of a fleet (reachable, last error,
//! from every call made to it).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use serde::Serialize;

use crate::config::ShellConfig;

/// Problems of this host for `cfg` (empty: healthy), one line each, naming
/// the setting and what to do.
pub(crate) async fn check_here(cfg: &ShellConfig) -> Vec<String> {
    let cfg = cfg.clone();
    tokio::task::spawn_blocking(move || check_blocking(&cfg))
        .await
        .unwrap_or_else(|e| vec![format!("health check did not finish: {e}")])
}

fn check_blocking(cfg: &ShellConfig) -> Vec<String> {
    let mut problems = Vec::new();
    for (field, root) in [
        ("code_root", &cfg.code_root),
        ("instances_code_root", &cfg.instances_code_root),
        ("instances_web_root", &cfg.instances_web_root),
        ("files_root", &cfg.files_root),
    ] {
        if !root.is_dir() {
            problems.push(format!(
                "{field} {} is not a directory: create it or fix the root",
                root.display()
            ));
        }
    }
    for (field, program) in [
        ("programs.git", &cfg.programs.git),
        ("programs.drush", &cfg.programs.drush),
        ("programs.sh", &cfg.programs.sh),
    ] {
        if !program_found(program) {
            problems.push(format!(
                "{field} '{program}' is not found: install it or fix the path"
            ));
        }
    }
    problems
}

/// Whether `program` is an existing absolute path or found in `PATH`.
fn program_found(program: &str) -> bool {
    if program.contains('/') {
        return Path::new(program).is_file();
    }
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
}

/// The last known state of one host.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct HostState {
    /// The host's name.
    pub name: String,
    /// Whether the last call reached it.
    pub reachable: bool,
    /// The last error, if the last call failed.
    pub last_error: Option<String>,
    /// Calls that failed since the start.
    pub failures: u64,
}

/// The state of every host, updated after each call.
#[derive(Debug, Default)]
pub(crate) struct Board(Mutex<BTreeMap<String, HostState>>);

impl Board {
    pub(crate) fn new(names: impl IntoIterator<Item = String>) -> Self {
        Self(Mutex::new(
            names
                .into_iter()
                .map(|n| {
                    let s = HostState {
                        name: n.clone(),
                        reachable: true,
                        ..HostState::default()
                    };
                    (n, s)
                })
                .collect(),
        ))
    }

    /// Records a call's outcome; `reached` is false when the host itself
    /// could not be reached (as opposed to an operation failing there).
    pub(crate) fn record(&self, name: &str, reached: bool, error: Option<String>) {
        let mut m = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let s = m.entry(name.to_owned()).or_default();
        s.name = name.to_owned();
        s.reachable = reached;
        if error.is_some() {
            s.failures += 1;
        }
        s.last_error = error;
    }

    pub(crate) fn snapshot(&self) -> Vec<HostState> {
        let m = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        m.values().cloned().collect()
    }
}
