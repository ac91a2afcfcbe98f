//! Authentication: the pluggable [`Authenticator`] port and its
//! [`AuthUnavailable`] answer ("could not decide"), [`StaticUsers`] (users
//! from configuration with argon2id password hashes), the [`hash_password`]
//! helper behind `atlas user add`, and the reading of Basic credentials
//! from a request. Putting one authenticator in front of another is
//! [`Chain`](crate::Chain)'s (`chain`).
//!
//! # Contracts
//! - Checking a password takes the same work whether the user exists or not
//!   (unknown users are checked against a dummy hash with the same cost).
//! - An authenticator answers one of three things: the user's name
//!   (accepted), `None` (rejected: wrong password, unknown or unauthorized
//!   user) or [`AuthUnavailable`] (it could not decide, e.g. its directory
//!   is down). Only the first lets anyone in.
//! - Comparisons of secrets are constant-time.
//! - Remembering verified credentials, throttling failures and bounding
//!   concurrent checks are the gate's (`crate::gate`), in front of any
//!   [`Authenticator`].

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{
    Output, ParamsString, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::{Algorithm, Argon2, Params, Version};
use async_trait::async_trait;
use axum::http::{header, HeaderMap};
use base64::Engine as _;

/// Checks a user name and password. Share as `Arc<dyn Authenticator>`; an
/// LDAP bind (the original's method, crate `atlas-ldap`) is another
/// implementation.
#[async_trait]
pub trait Authenticator: Send + Sync + fmt::Debug + 'static {
    /// `Ok(Some(name))`: the credentials are valid and `name` is the user
    /// (the canonical spelling, which becomes `created_by`/`modified_by`);
    /// `Ok(None)`: they are not (the client gets 401).
    ///
    /// # Behavior
    /// Should not reveal through timing whether `user` exists (as far as
    /// its backend allows), and must not block the async runtime (run slow
    /// work on a blocking thread).
    ///
    /// # Errors
    /// [`AuthUnavailable`] when it cannot decide (its directory does not
    /// answer); the client gets 503 and the attempt is not counted as a
    /// failed login. Never for wrong credentials.
    async fn authenticate(&self, user: &str, password: &str) -> Result<Option<String>, AuthUnavailable>;
}

/// An [`Authenticator`] could not decide whether credentials are valid
/// (its directory is down or refused its service account). Nobody is let
/// in; the API answers 503 naming [`backend`](Self::backend) and asking to
/// retry later.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{backend} could not check the credentials: {reason}")]
pub struct AuthUnavailable {
    /// What could not decide, for clients and operators, e.g. `the
    /// directory ldaps://ldap.example.edu:636` (never a secret).
    pub backend: String,
    /// Why, for the log (never a secret).
    pub reason: String,
}

impl AuthUnavailable {
    /// `backend` could not decide because of `reason`.
    pub fn new(backend: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            backend: backend.into(),
            reason: reason.into(),
        }
    }
}

/// Why a [`StaticUsers`] cannot be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthConfigError {
    /// A configured hash is not an argon2 PHC string.
    #[error("the password hash of user '{user}' is not an argon2 PHC string ({reason}); create it with `atlas user add`")]
    InvalidHash {
        /// The user whose hash is wrong.
        user: String,
        /// What the parser said.
        reason: String,
    },
}

/// Users from configuration: name → argon2id PHC hash.
pub struct StaticUsers {
    users: HashMap<String, Arc<str>>,
    dummy: Arc<str>,
}

impl fmt::Debug for StaticUsers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&String> = self.users.keys().collect();
        names.sort();
        f.debug_struct("StaticUsers")
            .field("users", &names)
            .finish_non_exhaustive()
    }
}

impl StaticUsers {
    /// Users from `(name, PHC hash)` pairs.
    ///
    /// # Errors
    /// [`AuthConfigError::InvalidHash`] naming the first user whose hash
    /// does not parse.
    pub fn new<I, U, H>(users: I) -> Result<Self, AuthConfigError>
    where
        I: IntoIterator<Item = (U, H)>,
        U: Into<String>,
        H: Into<String>,
    {
        let mut map = HashMap::new();
        let mut cost: Option<Params> = None;
        for (user, hash) in users {
            let (user, hash) = (user.into(), hash.into());
            let parsed = PasswordHash::new(&hash).map_err(|e| AuthConfigError::InvalidHash {
                user: user.clone(),
                reason: e.to_string(),
            })?;
            let params = Params::try_from(&parsed).map_err(|e| AuthConfigError::InvalidHash {
                user: user.clone(),
                reason: e.to_string(),
            })?;
            cost.get_or_insert(params);
            map.insert(user, Arc::<str>::from(hash));
        }
        let dummy = dummy_hash(cost.unwrap_or_default());
        Ok(Self {
            users: map,
            dummy: dummy.into(),
        })
    }

    /// Whether `user` is one of these users.
    pub fn contains(&self, user: &str) -> bool {
        self.users.contains_key(user)
    }
}

#[async_trait]
impl Authenticator for StaticUsers {
    async fn authenticate(&self, user: &str, password: &str) -> Result<Option<String>, AuthUnavailable> {
        let known = self.users.get(user).cloned();
        let hash = known.clone().unwrap_or_else(|| self.dummy.clone());
        let password = password.to_owned();
        let ok = tokio::task::spawn_blocking(move || verify(&password, &hash))
            .await
            .unwrap_or(false);
        Ok((ok && known.is_some()).then(|| user.to_owned()))
    }
}

fn verify(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// An argon2id PHC string with `params`, a random salt and a random
/// output, for unknown users: checking a password against it costs what
/// checking a real hash costs, and succeeds for none (its output is no
/// password's hash but with chance 2^-256). Made without hashing, so it
/// costs neither the time nor the memory (`m_cost` KiB) of a hash.
#[allow(clippy::expect_used)]
fn dummy_hash(params: Params) -> String {
    let salt = SaltString::generate(&mut OsRng);
    let mut raw = [0u8; 32];
    rand::RngCore::fill_bytes(&mut OsRng, &mut raw);
    PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        // Parameters from a parsed hash or the defaults always render.
        params: ParamsString::try_from(&params).expect("argon2 parameters render as a PHC string"),
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&raw).expect("32 bytes is a valid argon2 output")),
    }
    .to_string()
}

/// An argon2id PHC hash of `password` with `params` and a random salt.
#[allow(clippy::expect_used)]
fn hash_with(password: &str, params: Params) -> String {
    let salt = SaltString::generate(&mut OsRng);
    // Fails only for parameters out of range (ours come from a parsed hash
    // or the defaults) or passwords longer than 4 GiB.
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2id hashing with valid parameters cannot fail")
        .to_string()
}

/// The argon2id PHC hash (`$argon2id$v=19$m=19456,t=2,p=1$…`) of
/// `password`, with a random salt and the OWASP-recommended cost; this is
/// what `atlas user add` stores in `[http.users]`.
pub fn hash_password(password: &str) -> String {
    hash_with(password, Params::default())
}

/// The user name and password of a `Authorization: Basic …` header.
pub(crate) fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap(password: &str) -> String {
        hash_with(password, Params::new(8, 1, 1, None).unwrap())
    }

    fn users() -> StaticUsers {
        StaticUsers::new([("alice", cheap("wonderland"))]).unwrap()
    }

    #[tokio::test]
    async fn static_users_accept_the_right_password() {
        assert_eq!(
            users().authenticate("alice", "wonderland").await,
            Ok(Some("alice".into()))
        );
    }

    #[tokio::test]
    async fn static_users_refuse_a_wrong_password_even_after_a_right_one() {
        let u = users();
        assert!(u.authenticate("alice", "wonderland").await.unwrap().is_some());
        assert_eq!(u.authenticate("alice", "wonderland!").await, Ok(None));
        assert_eq!(u.authenticate("alice", "").await, Ok(None));
    }

    #[tokio::test]
    async fn static_users_refuse_unknown_users() {
        assert_eq!(users().authenticate("bob", "wonderland").await, Ok(None));
        assert!(!users().contains("bob"));
        assert!(users().contains("alice"));
    }

    #[tokio::test]
    async fn a_password_is_checked_against_its_own_user_only() {
        let u = StaticUsers::new([("alice", cheap("pw")), ("bob", cheap("other"))]).unwrap();
        assert!(u.authenticate("alice", "pw").await.unwrap().is_some());
        assert_eq!(u.authenticate("bob", "pw").await, Ok(None));
    }

    #[test]
    fn static_users_refuse_a_hash_that_is_not_phc() {
        let err = StaticUsers::new([("alice", "plaintext")]).unwrap_err();
        assert!(err.to_string().contains("user 'alice'"), "{err}");
    }

    #[test]
    fn dummy_hash_uses_the_cost_of_the_configured_hashes() {
        let u = users();
        let dummy = PasswordHash::new(&u.dummy).unwrap();
        assert_eq!(dummy.algorithm.as_str(), "argon2id");
        assert_eq!(Params::try_from(&dummy).unwrap().m_cost(), 8);
        assert_eq!(dummy.version, Some(19));
        assert_eq!(dummy.hash.map(|h| h.len()), Some(32));
    }

    #[test]
    fn the_dummy_hash_is_checked_in_full_and_matches_no_password() {
        let params = Params::new(8, 1, 1, None).unwrap();
        let dummy = dummy_hash(params);
        // A real hash with the same parameters has the same shape.
        let real = hash_with("x", Params::new(8, 1, 1, None).unwrap());
        assert_eq!(dummy.matches('$').count(), real.matches('$').count());
        assert_eq!(dummy.len(), real.len());
        for password in ["", "x", "wonderland"] {
            assert!(!verify(password, &dummy), "{password:?} matched the dummy hash");
        }
        assert_ne!(
            dummy,
            dummy_hash(Params::new(8, 1, 1, None).unwrap()),
            "salt and output are random"
        );
    }

    #[test]
    fn hash_password_makes_argon2id_phc_strings_that_verify() {
        let h = hash_password("s3cret");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("s3cret", &h));
        assert!(!verify("S3cret", &h));
    }

    #[test]
    fn basic_credentials_are_decoded_from_the_header() {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            "Basic YWxpY2U6d29uZDplcmxhbmQ=".parse().unwrap(),
        );
        assert_eq!(
            basic_credentials(&h),
            Some(("alice".into(), "wond:erland".into()))
        );
        h.insert(header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert_eq!(basic_credentials(&h), None);
        h.insert(header::AUTHORIZATION, "Basic !!!".parse().unwrap());
        assert_eq!(basic_credentials(&h), None);
    }
}
