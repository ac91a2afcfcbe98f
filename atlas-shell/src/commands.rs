//! Command items: the one deliberate shell string, run as `sh -c <command>`
//! in the instance's web directory (or the web root when the command is not
//! for an instance), stdin closed, with a time limit; exit status and
//! output tails are reported, a non-zero exit is not an error.

use std::time::Duration;

use atlas_core::{CommandOutput, CommandSpec, ExecError, HostOutput};

use crate::config::ShellConfig;
use crate::fs::{blocking, entry, Entry};
use crate::paths::{check_sid, refused, Layout};
use crate::process::{run, Invocation};

/// Runs `spec` on this server (named `server` in the output).
pub(crate) async fn run_command(
    cfg: &ShellConfig,
    layout: &Layout,
    server: &str,
    spec: &CommandSpec,
) -> Result<CommandOutput, ExecError> {
    if spec.command.trim().is_empty() || spec.command.contains('\0') {
        return Err(refused("command", "must be non-empty text without NUL"));
    }
    let mut env = Vec::new();
    let cwd = match &spec.instance {
        Some(i) => {
            check_sid(i.sid.as_str())?;
            env.push(("ATLAS_SID", i.sid.to_string()));
            env.push(("ATLAS_INSTANCE_ID", i.id.to_string()));
            env.push(("ATLAS_INSTANCE_TYPE", i.instance_type.to_string()));
            env.push(("ATLAS_STATUS", i.status.to_string()));
            layout.web_sid(i.instance_type, &i.sid)
        }
        None => layout.instances_web_root.clone(),
    };
    {
        let cwd = cwd.clone();
        blocking(move || match entry(&cwd)? {
            Entry::Dir => Ok(()),
            Entry::Link(_) if cwd.is_dir() => Ok(()),
            _ => Err(ExecError::Io(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("working directory {} is missing", cwd.display()),
            ))),
        })
        .await?;
    }
    let timeout = spec
        .timeout
        .min(Duration::from_secs(cfg.timeouts.command_max_secs));
    let mut inv = Invocation::new(&cfg.programs, &cfg.programs.sh, timeout)
        .arg("-c")
        .arg(&spec.command)
        .cwd(&cwd)
        .env("PWD", cwd.as_os_str());
    for (k, v) in env {
        inv = inv.env(k, v);
    }
    tracing::info!(
        name = %spec.name,
        single_server = spec.single_server,
        cwd = %cwd.display(),
        timeout_ms = timeout.as_millis() as u64,
        "running command"
    );
    let f = run(&inv).await?;
    Ok(CommandOutput {
        exit_status: f.status,
        stdout: f.stdout.clone(),
        stderr: f.stderr.clone(),
        duration: f.duration,
        servers: vec![server.to_owned()],
        hosts: vec![HostOutput {
            host: server.to_owned(),
            exit_status: f.status,
            stdout: f.stdout,
            stderr: f.stderr,
            duration: f.duration,
        }],
    })
}
