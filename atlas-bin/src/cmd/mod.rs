//! One module per subcommand, and the shutdown signal they share.

mod backup;
mod code;
mod command;
mod config;
mod demo;
mod drift;
mod instance;
mod jobs;
mod migrate;
mod observe;
mod rollout;
mod routes;
mod serve;
mod user;
mod worker;

use tokio::sync::watch;

use crate::cli::{Command, ConfigAction, RoutesAction};
use crate::client::args::Connection;
use crate::client::profile::Target;
use crate::client::Client;
use crate::config::AtlasConfig;

fn client(conn: &Connection) -> anyhow::Result<Client> {
    Client::new(Target::resolve(conn)?)
}

/// Runs a client subcommand ([`Command::is_client`]): no server
/// configuration, only the server's HTTP API.
///
/// # Errors
/// Whatever the subcommand fails with.
pub async fn run_client(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Instance(c) => instance::run(&client(&c.conn)?, &c.conn, c.action).await,
        Command::Code(c) => code::run(&client(&c.conn)?, &c.conn, c.action).await,
        Command::Commands(c) => command::run(&client(&c.conn)?, &c.conn, c.action).await,
        Command::Jobs(c) => jobs::run(&client(&c.conn)?, c).await,
        Command::Backup(c) => backup::run(&client(&c.conn)?, &c.conn, c.action).await,
        Command::Rollout(c) => rollout::run(&client(&c.conn)?, &c.conn, c.action).await,
        _ => anyhow::bail!("this subcommand is not one of instance, code, command, jobs, backup or rollout"),
    }
}

/// Runs `command`.
///
/// # Errors
/// Whatever the subcommand fails with.
pub async fn run(command: Command, cfg: AtlasConfig) -> anyhow::Result<()> {
    match command {
        Command::Serve { listen, no_worker } => serve::run(cfg, listen, !no_worker).await,
        Command::Worker => worker::run(cfg).await,
        Command::User { action } => user::run(cfg, action),
        Command::Config {
            action: ConfigAction::Default,
        } => {
            print!("{}", crate::config::DEFAULT_TOML);
            Ok(())
        }
        Command::Config {
            action: ConfigAction::Check,
        } => config::check(cfg).await,
        Command::Migrate { from } => migrate::run(cfg, from).await,
        Command::Demo { dir } => {
            drop(cfg);
            demo::run(&dir)
        }
        Command::Routes {
            action: RoutesAction::Check,
        } => routes::check(cfg).await,
        Command::Agent => {
            drop(cfg);
            atlas_shell::agent::run_stdio().await?;
            Ok(())
        }
        client @ (Command::Instance(_)
        | Command::Code(_)
        | Command::Commands(_)
        | Command::Jobs(_)
        | Command::Backup(_)
        | Command::Rollout(_)) => {
            drop(cfg);
            run_client(client).await
        }
    }
}

/// A shutdown signal: resolves on Ctrl-C or SIGTERM. Clones of the
/// returned receiver resolve together.
pub(crate) fn shutdown_signal() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! {
            _ = ctrl_c => {}
            _ = term => {}
        }
        tracing::info!("shutting down: finishing requests and running jobs");
        let _ = tx.send(true);
    });
    rx
}

/// Resolves when `rx` says shut down (or its sender is gone).
pub(crate) async fn until(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}
