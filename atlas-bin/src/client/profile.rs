//! Where the CLI finds its server and credentials, in order: flags
//! (`--url`, `--user`, `--password-file`), environment (`ATLAS_URL`,
//! `ATLAS_USER`, `ATLAS_PASSWORD_FILE`), the profile file
//! (`$XDG_CONFIG_HOME/atlas/cli.toml`, else `~/.config/atlas/cli.toml`,
//! with `url`, `user` and `password_file`), then the defaults
//! (`http://127.0.0.1:8080`, user `admin`). The password itself never
//! comes from the command line: it is read from the password file, or
//! asked for without echo when standard input is a terminal.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::Deserialize;

use crate::client::args::Connection;

/// The server when nothing names one (where `atlas serve` listens).
pub const DEFAULT_URL: &str = "http://127.0.0.1:8080";
/// The user when nothing names one (the first user `atlas serve` creates).
pub const DEFAULT_USER: &str = "admin";

/// The profile file's contents; every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileFile {
    /// The server's URL.
    pub url: Option<String>,
    /// The API user.
    pub user: Option<String>,
    /// A file holding the user's password (relative: to the profile's
    /// directory).
    pub password_file: Option<PathBuf>,
}

/// The profile file's path: `$XDG_CONFIG_HOME/atlas/cli.toml`, else
/// `$HOME/.config/atlas/cli.toml`; `None` when neither variable is set.
pub fn profile_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("atlas").join("cli.toml"))
}

fn read_profile(path: &Path) -> anyhow::Result<ProfileFile> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ProfileFile::default()),
        Err(e) => bail!("cannot read the CLI profile {}: {e}", path.display()),
    };
    let mut p: ProfileFile = toml::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "the CLI profile {} is invalid: {} (allowed keys: url, user, password_file)",
            path.display(),
            e.message()
        )
    })?;
    if let (Some(f), Some(dir)) = (p.password_file.as_mut(), path.parent()) {
        if f.is_relative() {
            *f = dir.join(&*f);
        }
    }
    Ok(p)
}

/// Where the password comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    /// A file named by `--password-file`, `ATLAS_PASSWORD_FILE` or the
    /// profile (the first line is the password).
    File(PathBuf),
    /// Asked for on the terminal, when there is one.
    Prompt,
}

/// The resolved server and credentials.
#[derive(Debug, Clone)]
pub struct Target {
    /// The server's base URL, without a trailing `/`.
    pub url: String,
    /// The API user.
    pub user: String,
    /// Where the password comes from.
    pub password: PasswordSource,
}

impl Target {
    /// Resolves flags (clap has already merged `ATLAS_URL`, `ATLAS_USER`
    /// and `ATLAS_PASSWORD_FILE` into them), the profile file and the
    /// defaults.
    ///
    /// # Errors
    /// An unreadable or invalid profile, a URL that is not `http(s)://`.
    pub fn resolve(conn: &Connection) -> anyhow::Result<Self> {
        let profile = match profile_path() {
            Some(p) => read_profile(&p)?,
            None => ProfileFile::default(),
        };
        let url = conn
            .url
            .clone()
            .or(profile.url)
            .unwrap_or_else(|| DEFAULT_URL.to_owned());
        let url = url.trim_end_matches('/').to_owned();
        let parsed = reqwest::Url::parse(&url)
            .with_context(|| format!("the server URL '{url}' is not a URL: pass e.g. --url {DEFAULT_URL}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            bail!("the server URL '{url}' must start with http:// or https:// (e.g. --url {DEFAULT_URL})");
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            bail!("the server URL must not hold credentials: name the user with --user or ATLAS_USER and the password with ATLAS_PASSWORD_FILE");
        }
        let user = conn
            .user
            .clone()
            .or(profile.user)
            .unwrap_or_else(|| DEFAULT_USER.to_owned());
        let password = conn
            .password_file
            .clone()
            .or(profile.password_file)
            .map_or(PasswordSource::Prompt, PasswordSource::File);
        Ok(Self { url, user, password })
    }

    /// Reads the password: the first line of the password file, or asked
    /// for without echo on the terminal.
    ///
    /// # Errors
    /// An unreadable or empty file; no file and no terminal to ask on.
    pub fn read_password(&self) -> anyhow::Result<String> {
        match &self.password {
            PasswordSource::File(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| anyhow::anyhow!("cannot read the password file {}: {e}", path.display()))?;
                let line = text.lines().next().unwrap_or("").to_owned();
                if line.is_empty() {
                    bail!(
                        "the password file {} is empty: write the password of {} on its first line",
                        path.display(),
                        self.user
                    );
                }
                Ok(line)
            }
            PasswordSource::Prompt => {
                if !std::io::stdin().is_terminal() {
                    bail!(
                        "this needs the password of {} and there is no terminal to ask on: name a file \
                         holding it with ATLAS_PASSWORD_FILE, --password-file, or password_file in {}",
                        self.user,
                        profile_path()
                            .map_or_else(|| "the CLI profile".to_owned(), |p| p.display().to_string())
                    );
                }
                let p = rpassword::prompt_password(format!("password of {} at {}: ", self.user, self.url))
                    .context("reading the password from the terminal")?;
                if p.is_empty() {
                    bail!("no password given for {}", self.user);
                }
                Ok(p)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_with_an_unknown_key_is_refused_naming_the_allowed_keys() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("cli.toml");
        std::fs::write(&f, "url = \"http://x\"\npassword = \"s3cret\"\n").unwrap();
        let e = read_profile(&f).unwrap_err().to_string();
        assert!(e.contains("password_file"), "{e}");
        assert!(!e.contains("s3cret"), "{e}");
    }

    #[test]
    fn a_relative_password_file_is_read_from_the_profile_directory() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("cli.toml");
        std::fs::write(&f, "password_file = \"pw\"\n").unwrap();
        let p = read_profile(&f).unwrap();
        assert_eq!(p.password_file, Some(dir.path().join("pw")));
    }
}
