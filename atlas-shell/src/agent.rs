//! The host agent: what a fleet host runs for each operation. The
//! controller sends one JSON [`Request`] (the host's configuration and one
//! [`Op`]) on the agent's standard input; the agent does it with a local
//! [`ShellExecutor`] and writes one JSON [`Reply`] on standard output. So
//! every host runs exactly the same idempotent code as a single host, with
//! its own roots, and record data never reaches a command line: the remote
//! command is the configured agent program and its fixed arguments.
//!
//! `atlas agent` (the binary) and the `atlas-shell-agent` test program call
//! [`run_stdio`].
//!
//! # Protocol version
//! Every request and every reply carries [`PROTOCOL`]. An agent refuses a
//! request of another version before reading its operation, and the
//! controller refuses a reply of another version (or one without a
//! version: an agent older than versioning) with an
//! [`ExecError::Refused`] naming the host, both versions and the fix:
//! install the same Atlas version on the host. Any change to [`Op`],
//! [`Reply`], [`Request`] or the configuration they carry that an agent
//! of the previous version would misread raises [`PROTOCOL`].

use std::time::Duration;

use atlas_core::model::Id;
use atlas_core::{
    BackupArtifact, CodeSpec, CommandOutput, CommandSpec, DriftFinding, ExecError, Executor, InstanceSpec,
    RouteMap,
};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::config::ShellConfig;
use crate::executor::ShellExecutor;

/// The version of the agent protocol this build speaks.
pub const PROTOCOL: u32 = 1;

/// The Atlas version of this build, for messages about mismatches.
const ATLAS_VERSION: &str = env!("CARGO_PKG_VERSION");

/// One operation on one host.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// Checks the host: roots and programs ([`Reply::Health`]).
    Check,
    /// `deploy_code`.
    DeployCode {
        /// The item.
        spec: CodeSpec,
    },
    /// `update_code`.
    UpdateCode {
        /// What is deployed.
        previous: CodeSpec,
        /// What should be.
        next: CodeSpec,
    },
    /// `remove_code`.
    RemoveCode {
        /// The item.
        spec: CodeSpec,
    },
    /// Provision's part on a host (no database work).
    ProvisionFiles {
        /// The instance.
        spec: InstanceSpec,
        /// Whether this host creates the files directories.
        own_files: bool,
    },
    /// Switch's re-link on a host (no drush).
    Relink {
        /// The instance.
        spec: InstanceSpec,
        /// Whether this host owns the files directories.
        own_files: bool,
    },
    /// `drush` commands in the instance's tree.
    Drush {
        /// The instance.
        spec: InstanceSpec,
        /// Argument lists, run in order.
        commands: Vec<Vec<String>>,
    },
    /// `write_settings`.
    WriteSettings {
        /// The instance.
        spec: InstanceSpec,
    },
    /// `launch`.
    Launch {
        /// The instance.
        spec: InstanceSpec,
    },
    /// `take_down`.
    TakeDown {
        /// The instance.
        spec: InstanceSpec,
    },
    /// Restore's part on a host: `current` → the tree (no drush).
    PointAtTree {
        /// The instance.
        spec: InstanceSpec,
    },
    /// Removal's part on a host (no database work).
    RemoveFiles {
        /// The instance.
        spec: InstanceSpec,
        /// Whether this host removes the files directories.
        own_files: bool,
    },
    /// Creates (or refreshes) the instance's database and user (the
    /// `db_client` host; its configuration carries the admin password).
    CreateDatabase {
        /// The instance.
        spec: InstanceSpec,
    },
    /// Drops the instance's database and user.
    DropDatabase {
        /// The instance.
        spec: InstanceSpec,
    },
    /// `correct_file_permissions` on a host.
    FixPermissions {
        /// The instance.
        spec: InstanceSpec,
        /// Whether this host fixes the files directories.
        own_files: bool,
    },
    /// `clear_apc`.
    ClearApc,
    /// `update_homepage_extra_files`.
    HomepageExtraFiles,
    /// `run_command` on this host.
    RunCommand {
        /// The command.
        spec: CommandSpec,
    },
    /// `publish_routes` on a load balancer.
    PublishRoutes {
        /// The routes.
        map: RouteMap,
    },
    /// The route map file as it is on the host ([`Reply::Text`]; empty when
    /// missing).
    ReadRouteMap,
    /// Takes a backup of the instance into the host's backup root
    /// ([`Reply::Backup`]; the host needs the database admin account).
    BackupInstance {
        /// The instance.
        spec: InstanceSpec,
        /// The backup's id (its directory name).
        backup: Id,
    },
    /// Restores a backup held in the host's backup root onto the instance.
    RestoreInstance {
        /// The instance restored.
        spec: InstanceSpec,
        /// The backup.
        artifact: BackupArtifact,
    },
    /// Removes a backup from the host's backup root.
    RemoveBackup {
        /// The backup.
        artifact: BackupArtifact,
    },
    /// Compares the instance's checkouts, code links, settings and web
    /// links on the host with the spec ([`Reply::Drift`]; changes nothing).
    VerifyFiles {
        /// The instance.
        spec: InstanceSpec,
    },
    /// Checks that the instance's database exists and its user logs in
    /// ([`Reply::Drift`]; the host needs the database admin account).
    VerifyDatabase {
        /// The instance.
        spec: InstanceSpec,
    },
}

/// What the agent reads: the protocol version, the host's configuration
/// and the operation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Request {
    /// The controller's protocol version ([`PROTOCOL`]).
    #[serde(default)]
    pub protocol: u32,
    /// The host's effective configuration.
    pub config: ShellConfig,
    /// What to do.
    pub op: Op,
    /// How long the controller waits (informational; program time limits
    /// come from `config.timeouts`).
    #[serde(with = "atlas_core::serde_secs")]
    pub deadline: Duration,
}

/// What the agent answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    /// Done.
    Done,
    /// A command's output.
    Command {
        /// The output.
        output: CommandOutput,
    },
    /// A file's text.
    Text {
        /// The text.
        text: String,
    },
    /// The backup taken by [`Op::BackupInstance`] (its host is `local`:
    /// the controller names the host).
    Backup {
        /// The backup.
        artifact: BackupArtifact,
    },
    /// What [`Op::VerifyFiles`] or [`Op::VerifyDatabase`] found (host
    /// `local`: the controller names the host).
    Drift {
        /// One finding per difference (empty: none).
        findings: Vec<DriftFinding>,
    },
    /// Problems found by [`Op::Check`] (empty: healthy).
    Health {
        /// One line per problem.
        problems: Vec<String>,
    },
    /// The operation failed.
    Error {
        /// The error.
        error: WireError,
    },
}

/// A reply as it travels: the agent's protocol version and Atlas version
/// beside the [`Reply`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The agent's protocol version (absent, read as 0, from agents older
    /// than versioning).
    #[serde(default)]
    pub protocol: u32,
    /// The agent's Atlas version.
    #[serde(default)]
    pub atlas_version: Option<String>,
    /// The reply.
    #[serde(flatten)]
    pub reply: Reply,
}

impl Envelope {
    fn of(reply: Reply) -> Self {
        Self {
            protocol: PROTOCOL,
            atlas_version: Some(ATLAS_VERSION.to_owned()),
            reply,
        }
    }
}

/// The refusal of talking across protocol versions, naming the host,
/// both versions and what to do.
fn mismatch(host: &str, agent: u32, agent_version: Option<&str>) -> ExecError {
    let agent_atlas = agent_version.map_or_else(
        || "an Atlas older than agent protocol versions".to_owned(),
        |v| format!("Atlas {v}"),
    );
    ExecError::Refused {
        what: format!("the agent on host {host}"),
        reason: format!(
            "it speaks agent protocol {agent} ({agent_atlas}) and this Atlas {ATLAS_VERSION} speaks \
             protocol {PROTOCOL}; install the same Atlas version on host {host} as on this node"
        ),
    }
}

/// Reads an agent's reply (the bytes it wrote) from `host`: its protocol
/// version first, then the reply.
///
/// # Errors
/// [`ExecError::Refused`] for another protocol version; the `unreadable`
/// error for a reply that does not parse.
pub(crate) fn open_reply(
    host: &str,
    out: &[u8],
    unreadable: impl Fn(String) -> ExecError,
) -> Result<Reply, ExecError> {
    let value: serde_json::Value = serde_json::from_slice(out)
        .map_err(|e| unreadable(format!("{e}: {}", String::from_utf8_lossy(out))))?;
    let protocol = value
        .get("protocol")
        .and_then(serde_json::Value::as_u64)
        .map_or(0, |p| u32::try_from(p).unwrap_or(u32::MAX));
    if protocol != PROTOCOL {
        let version = value.get("atlas_version").and_then(serde_json::Value::as_str);
        return Err(mismatch(host, protocol, version));
    }
    serde_json::from_value::<Envelope>(value)
        .map(|e| e.reply)
        .map_err(|e| unreadable(format!("{e}: {}", String::from_utf8_lossy(out))))
}

/// An [`ExecError`] on the wire, so a refusal stays final and a failure
/// stays retryable across hosts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WireError {
    /// [`ExecError::Failed`].
    Failed {
        /// Program.
        program: String,
        /// Exit status.
        status: Option<i32>,
        /// Standard error tail.
        stderr: String,
    },
    /// [`ExecError::Timeout`].
    Timeout {
        /// Limit in milliseconds.
        millis: u64,
    },
    /// [`ExecError::Refused`].
    Refused {
        /// What.
        what: String,
        /// Why.
        reason: String,
    },
    /// [`ExecError::Io`] (its message).
    Io {
        /// Message.
        message: String,
    },
}

impl From<&ExecError> for WireError {
    fn from(e: &ExecError) -> Self {
        match e {
            ExecError::Failed {
                program,
                status,
                stderr,
            } => Self::Failed {
                program: program.clone(),
                status: *status,
                stderr: stderr.clone(),
            },
            ExecError::Timeout(d) => Self::Timeout {
                millis: u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
            },
            ExecError::Refused { what, reason } => Self::Refused {
                what: what.clone(),
                reason: reason.clone(),
            },
            ExecError::Io(e) => Self::Io {
                message: e.to_string(),
            },
            other => Self::Io {
                message: other.to_string(),
            },
        }
    }
}

impl WireError {
    /// The error as it happened on `host`: the host is named in the
    /// program or message; a refusal stays a refusal (final), everything
    /// else stays retryable (a time limit becomes an I/O error naming the
    /// host).
    pub fn on_host(self, host: &str) -> ExecError {
        match self {
            Self::Failed {
                program,
                status,
                stderr,
            } => ExecError::Failed {
                program: format!("{program} on host {host}"),
                status,
                stderr,
            },
            Self::Timeout { millis } => ExecError::Io(std::io::Error::other(format!(
                "on host {host}: {}",
                ExecError::Timeout(Duration::from_millis(millis))
            ))),
            Self::Refused { what, reason } => ExecError::Refused {
                what,
                reason: format!("{reason} (on host {host})"),
            },
            Self::Io { message } => {
                ExecError::Io(std::io::Error::other(format!("on host {host}: {message}")))
            }
        }
    }
}

/// Does `op` with `exec` (this host's executor).
///
/// # Errors
/// The operation's.
pub(crate) async fn dispatch(exec: &ShellExecutor, op: Op) -> Result<Reply, ExecError> {
    match op {
        Op::Check => {
            return Ok(Reply::Health {
                problems: crate::health::check_here(exec.config()).await,
            })
        }
        Op::DeployCode { spec } => exec.deploy_code(&spec).await?,
        Op::UpdateCode { previous, next } => exec.update_code(&previous, &next).await?,
        Op::RemoveCode { spec } => exec.remove_code(&spec).await?,
        Op::ProvisionFiles { spec, own_files } => exec.provision_files(&spec, own_files).await?,
        Op::Relink { spec, own_files } => exec.relink(&spec, own_files).await?,
        Op::Drush { spec, commands } => exec.drush_here(&spec, &commands).await?,
        Op::WriteSettings { spec } => exec.write_settings(&spec).await?,
        Op::Launch { spec } => exec.launch(&spec).await?,
        Op::TakeDown { spec } => exec.take_down(&spec).await?,
        Op::PointAtTree { spec } => exec.point_at_tree(&spec).await?,
        Op::RemoveFiles { spec, own_files } => exec.remove_files(&spec, own_files).await?,
        Op::FixPermissions { spec, own_files } => exec.fix_permissions(&spec, own_files).await?,
        Op::CreateDatabase { spec } => exec.create_database(&spec).await?,
        Op::DropDatabase { spec } => exec.drop_database(&spec).await?,
        Op::ClearApc => exec.clear_apc().await?,
        Op::HomepageExtraFiles => exec.update_homepage_extra_files().await?,
        Op::RunCommand { spec } => {
            return Ok(Reply::Command {
                output: exec.run_command(&spec).await?,
            })
        }
        Op::PublishRoutes { map } => exec.publish_routes(&map).await?,
        Op::BackupInstance { spec, backup } => {
            return Ok(Reply::Backup {
                artifact: exec.backup_here(&spec, &backup).await?,
            })
        }
        Op::RestoreInstance { spec, artifact } => exec.restore_here(&spec, &artifact).await?,
        Op::RemoveBackup { artifact } => exec.remove_backup_here(&artifact).await?,
        Op::VerifyFiles { spec } => {
            return Ok(Reply::Drift {
                findings: exec.verify_files_here(&spec).await?,
            })
        }
        Op::VerifyDatabase { spec } => {
            return Ok(Reply::Drift {
                findings: exec.verify_database_here(&spec).await?,
            })
        }
        Op::ReadRouteMap => {
            let text = crate::routes::read_map(&exec.config().route_map.path).await?;
            return Ok(Reply::Text { text });
        }
    }
    Ok(Reply::Done)
}

/// Handles one request (JSON bytes) and answers the reply (JSON bytes).
/// A request of another protocol version is refused before its
/// operation is read.
pub async fn handle(input: &[u8]) -> Vec<u8> {
    let reply = match serde_json::from_slice::<serde_json::Value>(input) {
        Err(e) => unreadable(&e),
        Ok(value) => {
            let protocol = value
                .get("protocol")
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0);
            if protocol == u64::from(PROTOCOL) {
                match serde_json::from_value::<Request>(value) {
                    Err(e) => unreadable(&e),
                    Ok(req) => run(req).await,
                }
            } else {
                Reply::Error {
                    error: WireError::Refused {
                        what: "the request".into(),
                        reason: format!(
                            "it is agent protocol {protocol} and this agent (Atlas {ATLAS_VERSION}) speaks \
                             protocol {PROTOCOL}; install the same Atlas version on this host as on the \
                             controlling node"
                        ),
                    },
                }
            }
        }
    };
    serde_json::to_vec(&Envelope::of(reply)).unwrap_or_else(|e| {
        format!(r#"{{"protocol":{PROTOCOL},"reply":"error","error":{{"kind":"io","message":"agent: {e}"}}}}"#)
            .into_bytes()
    })
}

fn unreadable(e: &serde_json::Error) -> Reply {
    Reply::Error {
        error: WireError::Io {
            message: format!("agent: unreadable request: {e}"),
        },
    }
}

async fn run(req: Request) -> Reply {
    match ShellExecutor::new(req.config) {
        Err(e) => Reply::Error {
            error: WireError::Refused {
                what: "host configuration".into(),
                reason: e.to_string(),
            },
        },
        Ok(exec) => dispatch(&exec, req.op).await.unwrap_or_else(|e| Reply::Error {
            error: WireError::from(&e),
        }),
    }
}

/// The agent's main: one request from standard input, one reply on
/// standard output. Exits 0 whenever a reply was written (errors travel in
/// the reply).
///
/// # Errors
/// Reading standard input or writing standard output failed.
pub async fn run_stdio() -> std::io::Result<()> {
    let mut input = Vec::new();
    tokio::io::stdin().read_to_end(&mut input).await?;
    let out = handle(&input).await;
    let mut stdout = tokio::io::stdout();
    stdout.write_all(&out).await?;
    stdout.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_from_a_host_name_it_and_keep_refusals_final() {
        let failed = WireError::from(&ExecError::Failed {
            program: "git".into(),
            status: Some(128),
            stderr: "fatal: bad object".into(),
        })
        .on_host("web2");
        assert_eq!(
            failed.to_string(),
            "git on host web2 failed (exit status 128): fatal: bad object"
        );
        let refused = WireError::from(&ExecError::Refused {
            what: "sid".into(),
            reason: "bad".into(),
        })
        .on_host("web2");
        assert!(matches!(&refused, ExecError::Refused { reason, .. } if reason.contains("web2")));
        let timeout = WireError::from(&ExecError::Timeout(Duration::from_secs(60))).on_host("web1");
        assert_eq!(timeout.to_string(), "on host web1: timed out after 60 s");
    }

    fn unreadable_reply(detail: String) -> ExecError {
        ExecError::Io(std::io::Error::other(detail))
    }

    #[tokio::test]
    async fn an_unreadable_request_is_answered_with_an_error_reply() {
        let out = handle(b"not json").await;
        let reply = open_reply("web1", &out, unreadable_reply).unwrap();
        assert!(
            matches!(&reply, Reply::Error { error: WireError::Io { message } } if message.contains("unreadable request")),
            "{reply:?}"
        );
    }

    #[tokio::test]
    async fn an_agent_refuses_a_request_of_another_protocol_before_reading_its_operation() {
        let out = handle(br#"{"protocol": 99, "op": {"op": "no_such_operation"}}"#).await;
        let reply = open_reply("web1", &out, unreadable_reply).unwrap();
        let Reply::Error {
            error: WireError::Refused { reason, .. },
        } = &reply
        else {
            panic!("{reply:?}")
        };
        assert!(
            reason.contains("agent protocol 99")
                && reason.contains(&format!("speaks protocol {PROTOCOL}"))
                && reason.contains("install the same Atlas version"),
            "{reason}"
        );
    }

    #[test]
    fn a_reply_of_another_protocol_is_refused_naming_the_host_and_both_versions() {
        let newer = br#"{"protocol": 7, "atlas_version": "9.1.0", "reply": "done"}"#;
        let e = open_reply("web2", newer, unreadable_reply).unwrap_err();
        assert!(matches!(e, ExecError::Refused { .. }), "{e:?}");
        let text = e.to_string();
        assert!(
            text.contains("host web2")
                && text.contains("agent protocol 7 (Atlas 9.1.0)")
                && text.contains(&format!("speaks protocol {PROTOCOL}"))
                && text.contains("install the same Atlas version on host web2"),
            "{text}"
        );
        let unversioned = br#"{"reply": "done"}"#;
        let text = open_reply("web2", unversioned, unreadable_reply)
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("agent protocol 0 (an Atlas older than agent protocol versions)"),
            "{text}"
        );
    }

    #[test]
    fn a_reply_of_this_protocol_is_read() {
        let out = serde_json::to_vec(&Envelope::of(Reply::Text { text: "x".into() })).unwrap();
        assert_eq!(
            open_reply("web1", &out, unreadable_reply).unwrap(),
            Reply::Text { text: "x".into() }
        );
    }
}
