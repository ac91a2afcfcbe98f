//! `atlas user add|list|remove|passwd`.

use std::io::BufRead;

use anyhow::{bail, Context};

use crate::cli::UserAction;
use crate::config::AtlasConfig;
use crate::users::UsersFile;

fn read_password() -> anyhow::Result<String> {
    if let Ok(p) = std::env::var("ATLAS_PASSWORD") {
        return Ok(p);
    }
    eprintln!("password (one line on stdin):");
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from stdin")?;
    let p = line.trim_end_matches(['\r', '\n']).to_owned();
    if p.is_empty() {
        bail!("no password given: pass it on stdin or in ATLAS_PASSWORD");
    }
    Ok(p)
}

/// Runs a user subcommand.
///
/// # Errors
/// Invalid names, unknown users, I/O.
pub fn run(cfg: AtlasConfig, action: UserAction) -> anyhow::Result<()> {
    let users = UsersFile::at(cfg.users_file());
    match action {
        UserAction::Add { name } => {
            users.add(&name, &read_password()?)?;
            println!("added user {name}");
        }
        UserAction::List => {
            for name in users.load()?.users.keys() {
                println!("{name}");
            }
        }
        UserAction::Remove { name } => {
            users.remove(&name)?;
            println!("removed user {name}");
        }
        UserAction::Passwd { name } => {
            users.passwd(&name, &read_password()?)?;
            println!("changed the password of {name}");
        }
    }
    Ok(())
}
