//! The users file (`<data_dir>/users.toml`): API users and their argon2id
//! password hashes, managed by `atlas user …` and read by `atlas serve`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use rand::distributions::Alphanumeric;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// Name of the user created on first start.
pub const FIRST_USER: &str = "admin";

/// User name → argon2id PHC hash.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Users {
    /// The users.
    #[serde(default)]
    pub users: BTreeMap<String, String>,
}

/// The users file at `path`.
#[derive(Debug, Clone)]
pub struct UsersFile {
    path: PathBuf,
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c))
}

/// A random password for a new account.
pub fn random_password() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(24)
        .map(char::from)
        .collect()
}

impl UsersFile {
    /// The file at `path` (it need not exist yet).
    pub fn at(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the users (none when the file does not exist).
    ///
    /// # Errors
    /// Unreadable or malformed file.
    pub fn load(&self) -> anyhow::Result<Users> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => toml::from_str(&text)
                .with_context(|| format!("{} is not a valid users file", self.path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Users::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", self.path.display())),
        }
    }

    /// Writes the users atomically with mode 0600.
    ///
    /// # Errors
    /// I/O failures.
    pub fn save(&self, users: &Users) -> anyhow::Result<()> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let tmp = self.path.with_extension("toml.tmp");
        let text = toml::to_string(users).context("encoding the users file")?;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("writing {}", tmp.display()))?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, &self.path).with_context(|| format!("replacing {}", self.path.display()))?;
        Ok(())
    }

    /// Adds `name` with `password`.
    ///
    /// # Errors
    /// An invalid name, an existing user, I/O failures.
    pub fn add(&self, name: &str, password: &str) -> anyhow::Result<()> {
        if !valid_name(name) {
            bail!(
                "user name '{name}' is invalid: use 1-64 characters of letters, digits, '.', '_', '-', '@'"
            );
        }
        if password.len() < 8 {
            bail!("the password for '{name}' is too short: use at least 8 characters");
        }
        let mut users = self.load()?;
        if users.users.contains_key(name) {
            bail!("user '{name}' already exists; use `atlas user passwd {name}` to change the password");
        }
        users
            .users
            .insert(name.to_owned(), atlas_http::hash_password(password));
        self.save(&users)
    }

    /// Replaces `name`'s password.
    ///
    /// # Errors
    /// An unknown user, I/O failures.
    pub fn passwd(&self, name: &str, password: &str) -> anyhow::Result<()> {
        if password.len() < 8 {
            bail!("the password for '{name}' is too short: use at least 8 characters");
        }
        let mut users = self.load()?;
        let Some(slot) = users.users.get_mut(name) else {
            bail!("user '{name}' does not exist; add it with `atlas user add {name}`");
        };
        *slot = atlas_http::hash_password(password);
        self.save(&users)
    }

    /// Removes `name`.
    ///
    /// # Errors
    /// An unknown user, I/O failures.
    pub fn remove(&self, name: &str) -> anyhow::Result<()> {
        let mut users = self.load()?;
        if users.users.remove(name).is_none() {
            bail!("user '{name}' does not exist");
        }
        self.save(&users)
    }

    /// On a first start (no users at all), creates [`FIRST_USER`] with a
    /// random password and returns the password, to be shown once.
    ///
    /// # Errors
    /// I/O failures.
    pub fn ensure_first_user(&self) -> anyhow::Result<Option<String>> {
        if !self.load()?.users.is_empty() {
            return Ok(None);
        }
        let password = random_password();
        self.add(FIRST_USER, &password)?;
        Ok(Some(password))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_start_creates_admin_once_and_stores_only_a_hash() {
        let dir = tempfile::tempdir().unwrap();
        let f = UsersFile::at(dir.path().join("users.toml"));
        let pw = f.ensure_first_user().unwrap().expect("created");
        assert!(f.ensure_first_user().unwrap().is_none());
        let text = std::fs::read_to_string(f.path()).unwrap();
        assert!(text.contains("admin"));
        assert!(text.contains("$argon2id$"));
        assert!(!text.contains(&pw));
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(f.path()).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn users_are_added_renamed_passwords_changed_and_removed_with_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let f = UsersFile::at(dir.path().join("users.toml"));
        f.add("alice", "correct horse").unwrap();
        assert!(f
            .add("alice", "correct horse")
            .unwrap_err()
            .to_string()
            .contains("already exists"));
        assert!(f.add("bad name", "correct horse").is_err());
        assert!(f
            .add("bob", "short")
            .unwrap_err()
            .to_string()
            .contains("too short"));
        let before = f.load().unwrap().users["alice"].clone();
        f.passwd("alice", "battery staple").unwrap();
        assert_ne!(f.load().unwrap().users["alice"], before);
        assert!(f.passwd("carol", "battery staple").is_err());
        f.remove("alice").unwrap();
        assert!(f.load().unwrap().users.is_empty());
        assert!(f.remove("alice").is_err());
    }
}
