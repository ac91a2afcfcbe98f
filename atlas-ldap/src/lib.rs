//! `atlas-ldap`: sign-in against an LDAP directory, the adapter behind the
//! [`Authenticator`](atlas_http::Authenticator) port of `atlas-http` (the
//! original authenticated every write with an LDAP bind plus an allow-list
//! of user names). `atlas serve` puts it behind the users file with
//! [`Chain`](atlas_http::Chain) when `[auth.ldap]` is configured.
//!
//! # Layout
//! - `config`: [`LdapConfig`], the `[auth.ldap]` section, its validation
//!   and the service account's password (from a file or a variable, never
//!   the configuration file); `error`: [`LdapConfigError`].
//! - `authenticator`: [`LdapAuthenticator`] — search-then-bind or direct
//!   bind, group and allow-list authorization, the canonical user name,
//!   and [`LdapAuthenticator::probe`] for `atlas config check`.
//! - `directory`: one connection (`ldap://`, `ldaps://`, StartTLS) and its
//!   operations under the time limit; `tls`: the rustls client
//!   configuration (`ca_file`); `template`: the name escaped into filters
//!   (RFC 4515) and DNs (RFC 4514).
//! - `health`: [`DirectoryHealth`], for `/readyz` and `atlas_ldap_up`.
//! - `testing` (feature `testing`): a throwaway `slapd` with a small
//!   directory.
//!
//! # Contracts
//! - Only a successful bind with the user's own, non-empty password signs
//!   anyone in; zero or several matching entries are a rejection.
//! - A directory that does not answer is "could not decide"
//!   ([`AuthUnavailable`](atlas_http::AuthUnavailable)), which the API
//!   answers with 503: never a rejection, never an acceptance.
//! - Passwords are never in logs, errors or `Debug` output.
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]

mod authenticator;
mod config;
mod directory;
mod error;
mod health;
mod template;
#[cfg(feature = "testing")]
pub mod testing;
mod tls;

pub use authenticator::LdapAuthenticator;
pub use config::{LdapConfig, DN_PLACEHOLDER, USER_PLACEHOLDER};
pub use error::LdapConfigError;
pub use health::DirectoryHealth;
