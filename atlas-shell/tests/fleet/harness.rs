//! The two-host fleet the tests (and the fleet benchmark) drive.

use std::path::PathBuf;

use atlas_core::testing::service;
use atlas_shell::{FleetExecutor, HostConfig, HostRoots, Role, ShellConfig, SshConfig};

use crate::helpers::TestEnv;
use crate::sshd::{self, Client, Sshd};

/// Two hosts (`web1`, `web2`) and an executor over them.
pub struct Fleet {
    pub env: TestEnv,
    pub client: Client,
    pub hosts: Vec<Sshd>,
    pub exec: FleetExecutor,
}

/// A host's roots under `<tmp>/<name>/`.
pub fn roots(top: &std::path::Path, name: &str) -> HostRoots {
    let d = top.join(name);
    HostRoots {
        code_root: Some(d.join("code")),
        instances_code_root: Some(d.join("instances")),
        instances_web_root: Some(d.join("web")),
        files_root: Some(d.join("files")),
        backup_root: Some(d.join("backups")),
        down_page: Some(d.join("down")),
        route_map_path: Some(d.join("lb/routes.map")),
    }
}

impl Fleet {
    /// Two web hosts; `tweak` adjusts the config before the executor is
    /// built. `None` (reason printed) when sshd is not available.
    pub fn start(tweak: impl FnOnce(&mut ShellConfig, &[Sshd])) -> Option<Self> {
        let sshd_bin = sshd::available()?;
        let git = service::program("git", "git")?;
        let env = TestEnv::new();
        let t = env.t().to_path_buf();
        let client = sshd::client(&t);
        let hosts: Vec<Sshd> = ["web1", "web2"]
            .iter()
            .map(|n| Sshd::start(&sshd_bin, n, &t.join("sshd").join(n), &client))
            .collect();
        let known: String = hosts.iter().map(|h| h.known_hosts_line(&h.host_key)).collect();
        std::fs::write(&client.known_hosts, known).unwrap();
        let mut cfg = env.cfg.clone();
        cfg.programs.git = git.display().to_string();
        cfg.ssh = SshConfig {
            config_file: Some(client.config_file.clone()),
            known_hosts: Some(client.known_hosts.clone()),
            identity: Some(client.key.clone()),
            connect_timeout_secs: 5,
            control_dir: Some(t.clone()),
            parallelism: 8,
        };
        cfg.hosts = hosts
            .iter()
            .map(|h| HostConfig {
                name: h.name.clone(),
                address: h.address(),
                roles: vec![Role::Web],
                roots: roots(&t, &h.name),
                agent: vec![env!("CARGO_BIN_EXE_atlas-shell-agent").to_owned()],
            })
            .collect();
        tweak(&mut cfg, &hosts);
        let exec = FleetExecutor::new(cfg.clone()).expect("valid fleet config");
        Some(Self {
            env,
            client,
            hosts,
            exec,
        })
    }

    /// `rel` under host `name`'s directory.
    pub fn p(&self, name: &str, rel: &str) -> PathBuf {
        self.env.t().join(name).join(rel)
    }

    /// Deploys every code item of the test environment to both hosts.
    pub async fn deploy_all(&self) {
        use atlas_core::Executor;
        let mut v1 = self.env.core_v1();
        v1.is_current = false;
        for c in [
            v1,
            self.env.core_v2(),
            self.env.profile_spec(),
            self.env.base_spec(),
            self.env.feature_spec(),
        ] {
            self.exec.deploy_code(&c).await.unwrap();
        }
        self.env.clear_calls();
    }

    /// Recorded drush calls, as (host, args) from the tree they ran in.
    pub fn drush_calls(&self) -> Vec<(String, Vec<String>)> {
        self.env
            .calls_of("drush")
            .into_iter()
            .map(|c| {
                let host = ["web1", "web2"]
                    .into_iter()
                    .find(|h| c.cwd.starts_with(&self.p(h, "").display().to_string()))
                    .unwrap_or("?")
                    .to_owned();
                (host, c.args)
            })
            .collect()
    }
}
