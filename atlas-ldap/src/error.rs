//! [`LdapConfigError`]: why the `[auth.ldap]` settings cannot be used.

/// An unusable `[auth.ldap]` setting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LdapConfigError {
    /// `key` (under `auth.ldap`) is wrong; `problem` says how and what to
    /// do. Never holds a password.
    #[error("auth.ldap.{key} {problem}")]
    Invalid {
        /// The setting, without the `auth.ldap.` prefix.
        key: &'static str,
        /// What is wrong and what to do.
        problem: String,
    },
}
