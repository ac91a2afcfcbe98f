//! [`LdapConfig`]: the `[auth.ldap]` section — where the directory is, how
//! a user's entry is found (search-then-bind with a service account, or a
//! direct bind with a DN template), and who may sign in (an allow-list,
//! a group) — with its validation ([`LdapConfig::validate`]) and the
//! reading of the service account's password, which is never in the file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::LdapConfigError;

/// The placeholder for the (escaped) user name in `user_filter`,
/// `dn_template` and `group_filter`.
pub const USER_PLACEHOLDER: &str = "{user}";

/// The placeholder for the user's (escaped) DN in `group_filter`.
pub const DN_PLACEHOLDER: &str = "{dn}";

/// The `[auth.ldap]` section. The service account's password is read from
/// `bind_password_file` or the variable `bind_password_env` names, never
/// from this file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LdapConfig {
    /// `ldap://host[:port]` or `ldaps://host[:port]`.
    pub url: String,
    /// Upgrade an `ldap://` connection with StartTLS.
    pub starttls: bool,
    /// PEM file of the CA certificates to trust for `ldaps://` and
    /// StartTLS (else the web PKI roots); relative to `data_dir`.
    pub ca_file: Option<PathBuf>,
    /// Seconds to connect, and for each operation.
    pub timeout: u64,
    /// The service account that searches for users (search-then-bind).
    pub bind_dn: Option<String>,
    /// File holding the service account's password (first line); relative
    /// to `data_dir`.
    pub bind_password_file: Option<PathBuf>,
    /// Environment variable holding the service account's password.
    pub bind_password_env: Option<String>,
    /// Where users are searched (subtree).
    pub user_base: String,
    /// The search filter; `{user}` is the name, escaped (RFC 4515).
    pub user_filter: String,
    /// Direct bind instead of a search: the user's DN, `{user}` the name,
    /// escaped (RFC 4514), e.g. `uid={user},ou=people,dc=example,dc=edu`.
    pub dn_template: Option<String>,
    /// The attribute holding the canonical user name (recorded as
    /// `created_by`/`modified_by`).
    pub name_attribute: String,
    /// Names that may sign in (empty: not restricted by name).
    pub allowed_users: Vec<String>,
    /// DN of the group whose members may sign in (unset: not restricted by
    /// group). Without `group_base`, read from the user's `memberOf`.
    pub required_group: Option<String>,
    /// Search groups here (subtree) with `group_filter` instead of reading
    /// `memberOf`.
    pub group_base: Option<String>,
    /// The group search filter; `{dn}` is the user's DN and `{user}` the
    /// canonical name, both escaped (RFC 4515).
    pub group_filter: String,
}

impl Default for LdapConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            starttls: false,
            ca_file: None,
            timeout: 5,
            bind_dn: None,
            bind_password_file: None,
            bind_password_env: None,
            user_base: String::new(),
            user_filter: "(uid={user})".to_owned(),
            dn_template: None,
            name_attribute: "uid".to_owned(),
            allowed_users: Vec::new(),
            required_group: None,
            group_base: None,
            group_filter: "(&(objectClass=groupOfNames)(member={dn}))".to_owned(),
        }
    }
}

fn invalid(key: &'static str, problem: impl Into<String>) -> LdapConfigError {
    LdapConfigError::Invalid {
        key,
        problem: problem.into(),
    }
}

impl LdapConfig {
    /// The connect and operation time limit.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout)
    }

    /// Whether the connection is encrypted (`ldaps://` or StartTLS).
    pub fn uses_tls(&self) -> bool {
        self.starttls || self.url.starts_with("ldaps://")
    }

    /// Relative file settings (`ca_file`, `bind_password_file`) placed
    /// under `data_dir`.
    pub fn resolved(mut self, data_dir: &Path) -> Self {
        for p in [self.ca_file.as_mut(), self.bind_password_file.as_mut()]
            .into_iter()
            .flatten()
            .filter(|p| p.is_relative())
        {
            *p = data_dir.join(&*p);
        }
        self
    }

    /// Checks every setting; the error names the key and what to do.
    ///
    /// # Errors
    /// [`LdapConfigError::Invalid`] for the first unusable setting.
    pub fn validate(&self) -> Result<(), LdapConfigError> {
        let url = self.url.trim();
        let rest = url
            .strip_prefix("ldaps://")
            .or_else(|| url.strip_prefix("ldap://"))
            .ok_or_else(|| {
                invalid(
                    "url",
                    format!(
                        "'{url}' is not an LDAP URL: give ldap://host[:port] or ldaps://host[:port], \
                         e.g. ldaps://ldap.example.edu"
                    ),
                )
            })?;
        if rest.trim_end_matches('/').is_empty() || rest.trim_end_matches('/').contains('/') {
            return Err(invalid(
                "url",
                format!("'{url}' must name a host (and port) only, e.g. ldaps://ldap.example.edu:636"),
            ));
        }
        if self.starttls && url.starts_with("ldaps://") {
            return Err(invalid(
                "starttls",
                "an ldaps:// connection is encrypted already: use starttls with an ldap:// URL, or drop it",
            ));
        }
        if self.ca_file.is_some() && !self.uses_tls() {
            return Err(invalid(
                "ca_file",
                "is set but the connection is not encrypted: use an ldaps:// URL or starttls = true",
            ));
        }
        if self.timeout == 0 {
            return Err(invalid("timeout", "must be at least 1 second"));
        }
        if self.bind_password_file.is_some() && self.bind_password_env.is_some() {
            return Err(invalid(
                "bind_password_file",
                "and auth.ldap.bind_password_env are both set: keep one",
            ));
        }
        if let Some(var) = &self.bind_password_env {
            if var.starts_with("ATLAS_") {
                return Err(invalid(
                    "bind_password_env",
                    format!(
                        "names {var}: ATLAS_* variables are read as settings; name a variable outside \
                         ATLAS_* (e.g. LDAP_BIND_PASSWORD)"
                    ),
                ));
            }
        }
        if self.bind_dn.is_some() != (self.bind_password_file.is_some() || self.bind_password_env.is_some()) {
            return Err(invalid(
                "bind_dn",
                "and the service account's password go together: set bind_dn and one of \
                 bind_password_file / bind_password_env (or none of them with dn_template)",
            ));
        }
        match &self.dn_template {
            Some(t) => {
                if !t.contains(USER_PLACEHOLDER) {
                    return Err(invalid(
                        "dn_template",
                        format!("'{t}' has no {{user}}: e.g. uid={{user}},ou=people,dc=example,dc=edu"),
                    ));
                }
            }
            None => {
                if self.bind_dn.is_none() {
                    return Err(invalid(
                        "bind_dn",
                        "is not set: searching for users needs a service account (bind_dn and \
                         bind_password_file or bind_password_env), or set dn_template to bind directly",
                    ));
                }
                if self.user_base.trim().is_empty() {
                    return Err(invalid(
                        "user_base",
                        "is empty: give the DN users are searched under, e.g. ou=people,dc=example,dc=edu",
                    ));
                }
                check_filter("user_filter", &self.user_filter, USER_PLACEHOLDER)?;
            }
        }
        if self.name_attribute.trim().is_empty() {
            return Err(invalid("name_attribute", "is empty: e.g. uid"));
        }
        if self.group_base.is_some() {
            if self.required_group.is_none() {
                return Err(invalid(
                    "group_base",
                    "is set without auth.ldap.required_group: name the group's DN, or drop group_base",
                ));
            }
            if !self.group_filter.contains(DN_PLACEHOLDER) && !self.group_filter.contains(USER_PLACEHOLDER) {
                return Err(invalid(
                    "group_filter",
                    format!(
                        "'{}' has neither {{dn}} nor {{user}}: e.g. (&(objectClass=groupOfNames)(member={{dn}}))",
                        self.group_filter
                    ),
                ));
            }
            check_filter("group_filter", &self.group_filter, "")?;
        }
        if let Some(g) = &self.required_group {
            if !g.contains('=') {
                return Err(invalid(
                    "required_group",
                    format!("'{g}' is not a DN: e.g. cn=atlas-admins,ou=groups,dc=example,dc=edu"),
                ));
            }
        }
        Ok(())
    }

    /// The service account's password, from its file (first line) or
    /// variable; `None` without a service account.
    ///
    /// # Errors
    /// A file that cannot be read or is empty, a variable that is not set
    /// or is empty; the error names the setting, never the password.
    pub fn bind_password(&self) -> Result<Option<String>, LdapConfigError> {
        let password = if let Some(path) = &self.bind_password_file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                invalid(
                    "bind_password_file",
                    format!(
                        "{}: cannot be read ({e}); create it (mode 0600) with the service account's \
                         password on its first line",
                        path.display()
                    ),
                )
            })?;
            let first = text.lines().next().unwrap_or_default().to_owned();
            if first.is_empty() {
                return Err(invalid(
                    "bind_password_file",
                    format!(
                        "{}: its first line is empty; put the password there",
                        path.display()
                    ),
                ));
            }
            first
        } else if let Some(var) = &self.bind_password_env {
            let value = std::env::var(var).map_err(|_| {
                invalid(
                    "bind_password_env",
                    format!("names {var}, which is not set: export it or use bind_password_file"),
                )
            })?;
            if value.is_empty() {
                return Err(invalid(
                    "bind_password_env",
                    format!("names {var}, which is empty: an empty password would be an anonymous bind"),
                ));
            }
            value
        } else {
            return Ok(None);
        };
        Ok(Some(password))
    }
}

/// A filter must be parenthesised and, when `placeholder` is not empty,
/// contain it.
fn check_filter(key: &'static str, filter: &str, placeholder: &str) -> Result<(), LdapConfigError> {
    let f = filter.trim();
    if !(f.starts_with('(') && f.ends_with(')')) {
        return Err(invalid(
            key,
            format!("'{f}' is not an LDAP filter: enclose it in parentheses, e.g. (uid={{user}})"),
        ));
    }
    if !placeholder.is_empty() && !f.contains(placeholder) {
        return Err(invalid(
            key,
            format!("'{f}' has no {placeholder}: e.g. (uid={{user}})"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn search() -> LdapConfig {
        LdapConfig {
            url: "ldap://127.0.0.1:389".into(),
            bind_dn: Some("cn=atlas,ou=services,dc=example,dc=edu".into()),
            bind_password_env: Some("LDAP_TEST_UNSET_VARIABLE_OF_ATLAS".into()),
            user_base: "ou=people,dc=example,dc=edu".into(),
            ..LdapConfig::default()
        }
    }

    fn key_of(cfg: &LdapConfig) -> String {
        cfg.validate().unwrap_err().to_string()
    }

    #[test]
    fn a_search_configuration_with_a_service_account_is_valid() {
        search().validate().unwrap();
    }

    #[test]
    fn a_direct_bind_configuration_needs_no_service_account() {
        let cfg = LdapConfig {
            url: "ldaps://ldap.example.edu".into(),
            dn_template: Some("uid={user},ou=people,dc=example,dc=edu".into()),
            ..LdapConfig::default()
        };
        cfg.validate().unwrap();
    }

    #[test]
    fn errors_name_the_key_that_is_wrong() {
        let cases: Vec<(LdapConfig, &str)> = vec![
            (
                LdapConfig {
                    url: "http://x".into(),
                    ..search()
                },
                "auth.ldap.url",
            ),
            (LdapConfig::default(), "auth.ldap.url"),
            (
                LdapConfig {
                    url: "ldaps://x".into(),
                    starttls: true,
                    ..search()
                },
                "auth.ldap.starttls",
            ),
            (
                LdapConfig {
                    ca_file: Some("ca.pem".into()),
                    ..search()
                },
                "auth.ldap.ca_file",
            ),
            (
                LdapConfig {
                    timeout: 0,
                    ..search()
                },
                "auth.ldap.timeout",
            ),
            (
                LdapConfig {
                    bind_password_env: None,
                    ..search()
                },
                "auth.ldap.bind_dn",
            ),
            (
                LdapConfig {
                    user_base: String::new(),
                    ..search()
                },
                "auth.ldap.user_base",
            ),
            (
                LdapConfig {
                    user_filter: "(uid=alice)".into(),
                    ..search()
                },
                "auth.ldap.user_filter",
            ),
            (
                LdapConfig {
                    user_filter: "uid={user}".into(),
                    ..search()
                },
                "auth.ldap.user_filter",
            ),
            (
                LdapConfig {
                    bind_password_env: Some("ATLAS_LDAP_PW".into()),
                    ..search()
                },
                "auth.ldap.bind_password_env",
            ),
            (
                LdapConfig {
                    group_base: Some("ou=groups,dc=example,dc=edu".into()),
                    ..search()
                },
                "auth.ldap.group_base",
            ),
            (
                LdapConfig {
                    dn_template: Some("ou=people".into()),
                    bind_dn: None,
                    bind_password_env: None,
                    ..search()
                },
                "auth.ldap.dn_template",
            ),
            (
                LdapConfig {
                    required_group: Some("admins".into()),
                    ..search()
                },
                "auth.ldap.required_group",
            ),
        ];
        for (cfg, key) in cases {
            let e = key_of(&cfg);
            assert!(e.starts_with(key), "{key}: {e}");
        }
    }

    #[test]
    fn the_password_comes_from_its_file_and_errors_never_show_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ldap.pw"), "s3cret-bind\nignored\n").unwrap();
        let cfg = LdapConfig {
            bind_password_env: None,
            bind_password_file: Some("ldap.pw".into()),
            ..search()
        }
        .resolved(dir.path());
        assert_eq!(cfg.bind_password().unwrap().as_deref(), Some("s3cret-bind"));
        assert!(!format!("{cfg:?}").contains("s3cret-bind"));
        let missing = LdapConfig {
            bind_password_file: Some(dir.path().join("nope.pw")),
            ..cfg
        };
        let e = missing.bind_password().unwrap_err().to_string();
        assert!(e.starts_with("auth.ldap.bind_password_file"), "{e}");
        assert!(e.contains("nope.pw"), "{e}");
    }

    #[test]
    fn an_unset_password_variable_is_named() {
        let e = search().bind_password().unwrap_err().to_string();
        assert!(e.contains("LDAP_TEST_UNSET_VARIABLE_OF_ATLAS"), "{e}");
    }
}
