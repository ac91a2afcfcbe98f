//! The SSH transport: one multiplexed master connection per host (the
//! system OpenSSH client through the `openssh` crate, native mux), so
//! operators' `~/.ssh/config`, known hosts and agents apply. Host keys are
//! checked strictly: an unknown or changed key is refused.
//!
//! # Quoting
//! `sshd` runs the remote command through the remote user's shell. Only the
//! configured agent program and its fixed arguments are on that command
//! line, each passed with `openssh`'s `arg`, which single-quotes it for a
//! POSIX shell (`shell-escape`); record data travels on the agent's
//! standard input as JSON, never on a command line.
//!
//! A failed call drops the master connection, so the next call (a retried
//! job) connects afresh.

use std::sync::Arc;
use std::time::{Duration, Instant};

use atlas_core::ExecError;
use openssh::{KnownHosts, Session, SessionBuilder, Stdio};
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

use crate::agent::{Reply, Request};
use crate::hosts::{Address, HostConfig, SshConfig};

/// A host reached over SSH.
#[derive(Debug)]
pub(crate) struct SshHost {
    name: String,
    address: Address,
    shown: String,
    agent: Vec<String>,
    ssh: SshConfig,
    session: Mutex<Option<Arc<Session>>>,
}

/// A transport error for people: the host, what failed, what to do.
fn host_error(host: &str, address: &str, what: &str, detail: &str) -> ExecError {
    let hint =
        if detail.contains("Host key verification failed") || detail.contains("REMOTE HOST IDENTIFICATION") {
            "the host key is unknown or changed: check the host and its entry in the known hosts file"
        } else if detail.contains("Permission denied") {
            "the SSH key was not accepted: check the user, the identity and the host's authorized_keys"
        } else {
            "check that the host is up and reachable over SSH"
        };
    ExecError::Io(std::io::Error::other(format!(
        "host {host} ({address}): {what}: {detail}; {hint}"
    )))
}

/// An error and its sources on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !t.is_empty() && !s.contains(&t) {
            s.push_str(": ");
            s.push_str(t.trim());
        }
        cur = c.source();
    }
    s
}

impl SshHost {
    /// A host from its configuration (address validated by the config).
    pub(crate) fn new(host: &HostConfig, ssh: &SshConfig) -> Result<Self, ExecError> {
        let address = Address::parse(&host.address)
            .map_err(|r| host_error(&host.name, &host.address, "bad address", &r))?;
        Ok(Self {
            name: host.name.clone(),
            address,
            shown: host.address.clone(),
            agent: host.agent.clone(),
            ssh: ssh.clone(),
            session: Mutex::new(None),
        })
    }

    fn builder(&self) -> SessionBuilder {
        let mut b = SessionBuilder::default();
        b.known_hosts_check(KnownHosts::Strict)
            .connect_timeout(Duration::from_secs(self.ssh.connect_timeout_secs))
            .server_alive_interval(Duration::from_secs(self.ssh.connect_timeout_secs.max(5)))
            .control_directory(self.ssh.control_dir.clone().unwrap_or_else(std::env::temp_dir));
        if let Some(u) = &self.address.user {
            b.user(u.clone());
        }
        if let Some(p) = self.address.port {
            b.port(p);
        }
        if let Some(f) = &self.ssh.config_file {
            b.config_file(f);
        }
        if let Some(k) = &self.ssh.known_hosts {
            b.user_known_hosts_file(k);
        }
        if let Some(i) = &self.ssh.identity {
            b.keyfile(i);
        }
        b
    }

    /// The master connection, connecting when there is none.
    async fn session(&self) -> Result<Arc<Session>, ExecError> {
        let mut slot = self.session.lock().await;
        if let Some(s) = slot.as_ref() {
            return Ok(s.clone());
        }
        let started = Instant::now();
        let s = self
            .builder()
            .connect_mux(&self.address.host)
            .await
            .map_err(|e| host_error(&self.name, &self.shown, "cannot connect", &chain(&e)))?;
        tracing::info!(host = %self.name, duration_ms = started.elapsed().as_millis() as u64, "ssh master connected");
        let s = Arc::new(s);
        *slot = Some(s.clone());
        Ok(s)
    }

    /// Forgets the master connection (after a failure).
    async fn reset(&self) {
        if let Some(s) = self.session.lock().await.take() {
            if let Ok(s) = Arc::try_unwrap(s) {
                let _ = s.close().await;
            }
        }
    }

    /// Sends `req` to the host's agent and reads its reply, within
    /// `timeout`.
    pub(crate) async fn call(&self, req: &Request, timeout: Duration) -> Result<Reply, ExecError> {
        let r = tokio::time::timeout(timeout, self.call_inner(req)).await;
        let r = match r {
            Ok(r) => r,
            Err(_) => Err(host_error(
                &self.name,
                &self.shown,
                "no answer",
                &format!("timed out after {} s", timeout.as_secs()),
            )),
        };
        if r.is_err() {
            self.reset().await;
        }
        r
    }

    async fn call_inner(&self, req: &Request) -> Result<Reply, ExecError> {
        let body = serde_json::to_vec(req).map_err(|e| ExecError::Io(std::io::Error::other(e)))?;
        let session = self.session().await?;
        let (program, args) = self.agent.split_first().ok_or_else(|| {
            host_error(
                &self.name,
                &self.shown,
                "no agent program",
                "configure hosts.agent",
            )
        })?;
        let mut cmd = session.command(program.as_str());
        cmd.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let fail =
            |what: &str, e: &dyn std::error::Error| host_error(&self.name, &self.shown, what, &chain(e));
        let mut child = cmd
            .spawn()
            .await
            .map_err(|e| fail("cannot start the agent", &e))?;
        let mut stdin = child
            .stdin()
            .take()
            .ok_or_else(|| host_error(&self.name, &self.shown, "agent", "no standard input"))?;
        let write = async move {
            stdin.write_all(&body).await?;
            stdin.shutdown().await
        };
        let (w, out) = tokio::join!(write, child.wait_with_output());
        let out = out.map_err(|e| fail("the agent did not finish", &e))?;
        if !out.status.success() || out.stdout.is_empty() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let status = out
                .status
                .code()
                .map_or_else(|| "killed by a signal".to_owned(), |c| format!("exit status {c}"));
            return Err(host_error(
                &self.name,
                &self.shown,
                &format!("agent '{program}' failed ({status})"),
                stderr.trim(),
            ));
        }
        w.map_err(|e| fail("writing the request", &e))?;
        crate::agent::open_reply(&self.name, &out.stdout, |detail| {
            host_error(&self.name, &self.shown, "unreadable agent reply", &detail)
        })
    }
}
