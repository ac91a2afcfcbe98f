//! The fleet's hosts (`[[shell.hosts]]`): name, SSH address
//! (`user@host:port`), roles and optional roots of their own, plus the SSH
//! client settings (`[shell.ssh]`). No hosts configured means the local
//! host alone, acting exactly as a single-host [`crate::ShellExecutor`].

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, ShellConfig};

/// What a host is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Serves sites: code, instance trees, settings, links, commands.
    Web,
    /// Runs the `mysql` client for database create/drop/grant (the first
    /// such host; the controller itself when none is).
    DbClient,
    /// Runs `drush` work that happens once (site install, updates, cron):
    /// the first `cron` host, else the first `web` host.
    Cron,
    /// A load balancer: receives the route map and runs the reload.
    Lb,
}

impl Role {
    /// The configured name (`web`, `db_client`, `cron`, `lb`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Web => "web",
            Role::DbClient => "db_client",
            Role::Cron => "cron",
            Role::Lb => "lb",
        }
    }
}

/// Where an SSH host is reached: `[user@]host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// Remote user (`None`: the SSH client's default).
    pub user: Option<String>,
    /// Host name or IP address.
    pub host: String,
    /// Port (`None`: the SSH client's default).
    pub port: Option<u16>,
}

impl Address {
    /// Parses `[user@]host[:port]`; IPv6 hosts in brackets (`[::1]:22`).
    ///
    /// # Errors
    /// A reason for people when the text is not such an address.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (user, rest) = match s.split_once('@') {
            Some((u, r)) => (Some(u), r),
            None => (None, s),
        };
        if let Some(u) = user {
            if u.is_empty()
                || u.starts_with('-')
                || !u
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b"._-".contains(&c))
            {
                return Err(format!("'{u}' is not a user name"));
            }
        }
        let (host, port) = if let Some(r) = rest.strip_prefix('[') {
            let (h, tail) = r.split_once(']').ok_or("an IPv6 address needs a closing ']'")?;
            (h, tail.strip_prefix(':'))
        } else {
            match rest.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (rest, None),
            }
        };
        if host.is_empty()
            || host.starts_with('-')
            || !host
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b".-_:".contains(&c))
        {
            return Err(format!("'{host}' is not a host name or IP address"));
        }
        let port = port
            .map(|p| match p.parse::<u16>() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(format!("'{p}' is not a port (1-65535)")),
            })
            .transpose()?;
        Ok(Self {
            user: user.map(str::to_owned),
            host: host.to_owned(),
            port,
        })
    }
}

/// Roots of one host when they differ from the shared `[shell]` roots.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HostRoots {
    /// `code_root` on this host.
    pub code_root: Option<PathBuf>,
    /// `instances_code_root` on this host.
    pub instances_code_root: Option<PathBuf>,
    /// `instances_web_root` on this host.
    pub instances_web_root: Option<PathBuf>,
    /// `files_root` on this host.
    pub files_root: Option<PathBuf>,
    /// `backup_root` on this host.
    pub backup_root: Option<PathBuf>,
    /// `down_page` on this host.
    pub down_page: Option<PathBuf>,
    /// `route_map.path` on this host (load balancers).
    pub route_map_path: Option<PathBuf>,
}

/// One host of the fleet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostConfig {
    /// Name used in logs, errors, metrics and command results.
    pub name: String,
    /// `[user@]host[:port]` reached over SSH; `local` is this host itself
    /// (no SSH).
    pub address: String,
    /// What the host is used for (`web`, `db_client`, `cron`, `lb`).
    pub roles: Vec<Role>,
    /// Roots of this host (default: the shared `[shell]` roots).
    #[serde(default)]
    pub roots: HostRoots,
    /// The agent program and its arguments on this host: it reads one
    /// request on standard input and does it with this crate's executor
    /// there (`atlas agent`).
    #[serde(default = "default_agent")]
    pub agent: Vec<String>,
}

fn default_agent() -> Vec<String> {
    vec!["atlas".into(), "agent".into()]
}

impl HostConfig {
    /// Whether this is the host Atlas runs on (`address = "local"`).
    pub fn is_local(&self) -> bool {
        self.address == "local"
    }

    /// Whether the host has `role`.
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// The configuration the executor on this host uses: `shared` with
    /// this host's roots, without hosts and without the database admin
    /// password (database work never runs through a host's agent).
    pub fn effective(&self, shared: &ShellConfig) -> ShellConfig {
        let mut c = shared.clone();
        c.hosts.clear();
        c.database.admin_password = Default::default();
        let r = &self.roots;
        let set = |slot: &mut PathBuf, v: &Option<PathBuf>| {
            if let Some(p) = v {
                slot.clone_from(p);
            }
        };
        set(&mut c.code_root, &r.code_root);
        set(&mut c.instances_code_root, &r.instances_code_root);
        set(&mut c.instances_web_root, &r.instances_web_root);
        set(&mut c.files_root, &r.files_root);
        set(&mut c.backup_root, &r.backup_root);
        set(&mut c.down_page, &r.down_page);
        set(&mut c.route_map.path, &r.route_map_path);
        c.server_name = Some(self.name.clone());
        c
    }
}

/// SSH client settings shared by every host. Anything unset is left to the
/// system OpenSSH client (`~/.ssh/config`, known hosts, agent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SshConfig {
    /// `ssh -F`: the client configuration file (`None`: `~/.ssh/config`).
    pub config_file: Option<PathBuf>,
    /// Known hosts file (`None`: the user's). Host keys are always checked
    /// strictly: an unknown or changed key is refused.
    pub known_hosts: Option<PathBuf>,
    /// Private key (`None`: the agent and the default keys).
    pub identity: Option<PathBuf>,
    /// Connection timeout, in seconds.
    pub connect_timeout_secs: u64,
    /// Directory of the multiplexed master connections' sockets (`None`:
    /// the system temporary directory).
    pub control_dir: Option<PathBuf>,
    /// How many hosts an operation works on at once.
    pub parallelism: usize,
}

impl Default for SshConfig {
    fn default() -> Self {
        Self {
            config_file: None,
            known_hosts: None,
            identity: None,
            connect_timeout_secs: 10,
            control_dir: None,
            parallelism: 8,
        }
    }
}

/// Checks the host list: unique names, addresses that parse, at least one
/// `web` host, known roles, an agent program, roots that validate.
pub(crate) fn validate(cfg: &ShellConfig) -> Result<(), ConfigError> {
    if cfg.hosts.is_empty() {
        return Ok(());
    }
    let err = |i: usize, field: &str, reason: String| ConfigError {
        field: format!("hosts[{i}].{field}"),
        reason,
    };
    for (i, h) in cfg.hosts.iter().enumerate() {
        if h.name.is_empty()
            || !h
                .name
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"._-".contains(&c))
        {
            return Err(err(
                i,
                "name",
                format!("'{}': use letters, digits, '.', '_', '-'", h.name),
            ));
        }
        if cfg.hosts[..i].iter().any(|o| o.name == h.name) {
            return Err(err(i, "name", format!("'{}' is used twice", h.name)));
        }
        if !h.is_local() {
            Address::parse(&h.address)
                .map_err(|r| err(i, "address", format!("{r} (use user@host:port or local)")))?;
        }
        if h.roles.is_empty() {
            return Err(err(
                i,
                "roles",
                "give at least one of web, db_client, cron, lb".into(),
            ));
        }
        if h.agent.first().is_none_or(|p| p.is_empty()) {
            return Err(err(
                i,
                "agent",
                "give the agent program (e.g. [\"atlas\", \"agent\"])".into(),
            ));
        }
        h.effective(cfg).validate_roots().map_err(|e| ConfigError {
            field: format!("hosts[{i}].roots.{}", e.field),
            reason: e.reason,
        })?;
    }
    if !cfg.hosts.iter().any(|h| h.has(Role::Web)) {
        return Err(ConfigError {
            field: "hosts".into(),
            reason: "no host has the web role".into(),
        });
    }
    if cfg.ssh.parallelism == 0 {
        return Err(ConfigError {
            field: "ssh.parallelism".into(),
            reason: "must be positive".into(),
        });
    }
    if cfg.ssh.connect_timeout_secs == 0 {
        return Err(ConfigError {
            field: "ssh.connect_timeout_secs".into(),
            reason: "must be positive".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_with_and_without_user_and_port() {
        let a = Address::parse("atlas@web1.example.edu:2222").unwrap();
        assert_eq!(
            (a.user.as_deref(), a.host.as_str(), a.port),
            (Some("atlas"), "web1.example.edu", Some(2222))
        );
        let a = Address::parse("10.0.0.5").unwrap();
        assert_eq!((a.user, a.port), (None, None));
        let a = Address::parse("root@[::1]:22").unwrap();
        assert_eq!((a.host.as_str(), a.port), ("::1", Some(22)));
    }

    #[test]
    fn addresses_that_could_be_ssh_options_or_shell_are_refused() {
        for bad in [
            "-oProxyCommand=x",
            "a@-x",
            "host:0",
            "host:99999",
            "a b",
            "u;rm@h",
            "@h",
            "h:",
        ] {
            assert!(Address::parse(bad).is_err(), "{bad}");
        }
    }

    fn host(name: &str, roles: &[Role]) -> HostConfig {
        HostConfig {
            name: name.into(),
            address: "atlas@127.0.0.1:22".into(),
            roles: roles.to_vec(),
            roots: HostRoots::default(),
            agent: default_agent(),
        }
    }

    #[test]
    fn hosts_need_unique_names_and_a_web_host() {
        let mut cfg = ShellConfig {
            hosts: vec![host("web1", &[Role::Web]), host("web1", &[Role::Web])],
            ..ShellConfig::default()
        };
        assert_eq!(cfg.validate().unwrap_err().field, "hosts[1].name");
        cfg.hosts = vec![host("lb1", &[Role::Lb])];
        assert_eq!(cfg.validate().unwrap_err().field, "hosts");
        cfg.hosts = vec![host("web1", &[Role::Web]), host("lb1", &[Role::Lb])];
        cfg.validate().unwrap();
    }

    #[test]
    fn a_host_root_override_is_validated_like_the_shared_roots() {
        let mut h = host("web1", &[Role::Web]);
        h.roots.files_root = Some("relative/files".into());
        let cfg = ShellConfig {
            hosts: vec![h],
            ..ShellConfig::default()
        };
        assert_eq!(cfg.validate().unwrap_err().field, "hosts[0].roots.files_root");
    }

    #[test]
    fn the_effective_config_has_the_host_roots_and_no_admin_password() {
        let mut h = host("web2", &[Role::Web]);
        h.roots.code_root = Some("/srv/web2/code".into());
        let mut shared = ShellConfig::default();
        shared.database.admin_password = crate::ConfigSecret::new("admin-secret");
        shared.hosts = vec![h.clone()];
        let c = h.effective(&shared);
        assert_eq!(c.code_root, PathBuf::from("/srv/web2/code"));
        assert_eq!(c.files_root, shared.files_root);
        assert!(c.hosts.is_empty() && !c.database.admin_password.is_set());
        assert_eq!(c.server_name.as_deref(), Some("web2"));
    }
}
