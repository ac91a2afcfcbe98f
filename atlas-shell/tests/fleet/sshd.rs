//! Real `sshd` hosts on loopback for the fleet tests: generated host and
//! client keys in a temp dir, a known hosts file listing each host's key
//! (the client checks it strictly), one `sshd -D` per host that a test can
//! kill (with every session it forked) and start again on the same port
//! with the same key. Skipped with a printed reason when `sshd`, `ssh` or
//! `ssh-keygen` is missing, unless `ATLAS_TEST_REQUIRE` names `ssh`.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use atlas_core::testing::service;

/// The client side: a key and a known hosts file.
pub struct Client {
    pub key: PathBuf,
    pub known_hosts: PathBuf,
    pub config_file: PathBuf,
}

/// One `sshd` on `127.0.0.1:<port>`.
pub struct Sshd {
    pub name: String,
    pub port: u16,
    dir: PathBuf,
    sshd: PathBuf,
    child: Option<Child>,
    /// `ssh-ed25519 AAAA…` of this host.
    pub host_key: String,
}

fn keygen(path: &Path) -> String {
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "atlas-test", "-f"])
        .arg(path)
        .status()
        .expect("ssh-keygen runs");
    assert!(st.success(), "ssh-keygen failed");
    let public = std::fs::read_to_string(path.with_extension("pub")).unwrap();
    public.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}

/// Whether the programs are there (the skip/require rule applies).
pub fn available() -> Option<PathBuf> {
    let sshd = service::program("ssh", "/usr/sbin/sshd")?;
    service::program("ssh", "ssh")?;
    service::program("ssh", "ssh-keygen")?;
    Some(sshd)
}

/// A client key pair in `dir`.
pub fn client(dir: &Path) -> Client {
    let key = dir.join("client_key");
    keygen(&key);
    let config_file = dir.join("ssh_config");
    std::fs::write(&config_file, "# empty: the tests give every option\n").unwrap();
    Client {
        key,
        known_hosts: dir.join("known_hosts"),
        config_file,
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Sshd {
    /// A host in `dir` accepting `client`'s key; started.
    pub fn start(sshd: &Path, name: &str, dir: &Path, client: &Client) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        // Privilege separation needs this directory when run as root.
        let _ = std::fs::create_dir_all("/run/sshd");
        let host_key = keygen(&dir.join("host_key"));
        let client_pub = std::fs::read_to_string(client.key.with_extension("pub")).unwrap();
        std::fs::write(dir.join("authorized_keys"), client_pub).unwrap();
        let mut s = Self {
            name: name.to_owned(),
            port: free_port(),
            dir: dir.to_path_buf(),
            sshd: sshd.to_path_buf(),
            child: None,
            host_key,
        };
        s.write_config();
        s.spawn();
        s
    }

    fn write_config(&self) {
        let d = self.dir.display();
        let user = std::env::var("USER").unwrap_or_else(|_| "root".into());
        std::fs::write(
            self.dir.join("sshd_config"),
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n\
                 AuthorizedKeysFile {d}/authorized_keys\nPubkeyAuthentication yes\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
                 StrictModes no\nPermitRootLogin prohibit-password\nAllowUsers {user}\n\
                 MaxSessions 200\nMaxStartups 100\nLogLevel ERROR\n",
                port = self.port
            ),
        )
        .unwrap();
    }

    /// The address for `[[shell.hosts]]`.
    pub fn address(&self) -> String {
        let user = std::env::var("USER").unwrap_or_else(|_| "root".into());
        format!("{user}@127.0.0.1:{}", self.port)
    }

    /// The known hosts line of this host with `key`.
    pub fn known_hosts_line(&self, key: &str) -> String {
        format!("[127.0.0.1]:{} {key}\n", self.port)
    }

    fn spawn(&mut self) {
        let log = std::fs::File::create(self.dir.join("sshd.log")).unwrap();
        let child = Command::new(&self.sshd)
            .args(["-D", "-e", "-f"])
            .arg(self.dir.join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("sshd starts");
        self.child = Some(child);
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "sshd {} did not listen: {}",
                self.name,
                std::fs::read_to_string(self.dir.join("sshd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the host: `sshd` and every process it forked (the sessions),
    /// by process id.
    pub fn kill(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = child.id();
        for p in descendants(pid) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(p as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Starts the host again (same port, same key).
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Every process below `pid` (from `/proc`).
fn descendants(pid: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(p) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
                continue;
            };
            // pid (comm) state ppid …: comm may hold spaces, so split after ')'.
            let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
                continue;
            };
            if let Some(ppid) = rest.split_whitespace().nth(1).and_then(|x| x.parse().ok()) {
                parents.push((p, ppid));
            }
        }
    }
    let mut out = Vec::new();
    let mut frontier = vec![pid];
    while let Some(cur) = frontier.pop() {
        for &(p, pp) in &parents {
            if pp == cur && !out.contains(&p) {
                out.push(p);
                frontier.push(p);
            }
        }
    }
    out
}
