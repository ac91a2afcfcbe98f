//! [`Chain`]: the users file first, then another [`Authenticator`] (the
//! LDAP directory in `atlas serve` when `[auth.ldap]` is configured).
//!
//! # Contracts
//! - A user named in the file is decided by the file alone: a wrong
//!   password there is a rejection even when the directory would accept
//!   it, and the directory is never asked about that name.
//! - Every other name is decided by the next authenticator, whose "could
//!   not decide" ([`AuthUnavailable`]) is passed on unchanged.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::auth::{AuthUnavailable, Authenticator, StaticUsers};

/// The users file, then `next`.
pub struct Chain {
    file: StaticUsers,
    next: Arc<dyn Authenticator>,
}

impl Chain {
    /// `file`'s users decided by `file`, everyone else by `next`.
    pub fn new(file: StaticUsers, next: Arc<dyn Authenticator>) -> Self {
        Self { file, next }
    }
}

impl fmt::Debug for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chain")
            .field("file", &self.file)
            .field("next", &self.next)
            .finish()
    }
}

#[async_trait]
impl Authenticator for Chain {
    async fn authenticate(&self, user: &str, password: &str) -> Result<Option<String>, AuthUnavailable> {
        if self.file.contains(user) {
            self.file.authenticate(user, password).await
        } else {
            self.next.authenticate(user, password).await
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use argon2::password_hash::rand_core::OsRng;
    use argon2::password_hash::{PasswordHasher, SaltString};
    use argon2::{Algorithm, Argon2, Params, Version};

    use super::*;

    /// Accepts any name with password `dir-pw` as its upper-case spelling,
    /// or is down; counts calls.
    #[derive(Debug, Default)]
    struct Directory {
        down: bool,
        calls: AtomicUsize,
    }

    #[async_trait]
    impl Authenticator for Directory {
        async fn authenticate(&self, user: &str, password: &str) -> Result<Option<String>, AuthUnavailable> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if self.down {
                return Err(AuthUnavailable::new(
                    "the directory ldap://test",
                    "connection refused",
                ));
            }
            Ok((password == "dir-pw").then(|| user.to_uppercase()))
        }
    }

    fn cheap(password: &str) -> String {
        let params = Params::new(8, 1, 1, None).unwrap();
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(password.as_bytes(), &SaltString::generate(&mut OsRng))
            .unwrap()
            .to_string()
    }

    fn chain(down: bool) -> (Arc<Directory>, Chain) {
        let dir = Arc::new(Directory {
            down,
            ..Directory::default()
        });
        let file = StaticUsers::new([("admin", cheap("file-pw"))]).unwrap();
        (dir.clone(), Chain::new(file, dir))
    }

    #[tokio::test]
    async fn a_user_in_the_file_is_decided_by_the_file_alone() {
        let (dir, c) = chain(false);
        assert_eq!(c.authenticate("admin", "file-pw").await, Ok(Some("admin".into())));
        assert_eq!(c.authenticate("admin", "dir-pw").await, Ok(None));
        assert_eq!(dir.calls.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn other_users_are_decided_by_the_next_authenticator_with_its_spelling() {
        let (dir, c) = chain(false);
        assert_eq!(c.authenticate("carol", "dir-pw").await, Ok(Some("CAROL".into())));
        assert_eq!(c.authenticate("carol", "file-pw").await, Ok(None));
        assert_eq!(dir.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn file_users_still_sign_in_while_the_directory_is_down() {
        let (_, c) = chain(true);
        assert_eq!(c.authenticate("admin", "file-pw").await, Ok(Some("admin".into())));
        let e = c.authenticate("carol", "dir-pw").await.unwrap_err();
        assert_eq!(e.backend, "the directory ldap://test");
    }
}
