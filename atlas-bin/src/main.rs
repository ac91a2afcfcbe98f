//! `atlas`: a thin entry point — parse the command line, load the
//! configuration, start telemetry, run the subcommand. The client
//! subcommands (`instance`, `code`, `command`, `jobs`, `backup`) only talk
//! to a server over HTTP: they skip the configuration and telemetry.

mod allocator;
mod cli;
mod client;
mod cmd;
mod config;
mod prerequisites;
mod telemetry;
mod users;
mod wiring;

use clap::Parser;

fn main() -> std::process::ExitCode {
    allocator::tune();
    let cli = cli::Cli::parse();
    if cli.command.is_client() {
        return run_client(cli.command);
    }
    let cfg = match config::AtlasConfig::load(cli.config.as_deref(), cli.data_dir.as_deref()) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("atlas: {e:#}");
            return std::process::ExitCode::FAILURE;
        }
    };
    telemetry::init(&cfg.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("atlas: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let daemon = cli.command.is_daemon();
    match runtime.block_on(cmd::run(cli.command, cfg)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // A daemon's logs are where its operator looks; a one-shot
            // command has already printed what it found and says it once.
            if daemon {
                telemetry::report(&e);
            }
            eprintln!("atlas: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// A client subcommand: no server configuration, no logging setup (it
/// prints what it does), a small runtime.
fn run_client(command: cli::Command) -> std::process::ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("atlas: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cmd::run_client(command)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("atlas: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
