//! [`LdapAuthenticator`]: the [`Authenticator`] that asks an LDAP
//! directory, one connection per sign-in (the API's gate remembers
//! verified credentials, so a burst of requests is one sign-in).
//!
//! # How a sign-in is decided
//! 1. An empty user name or password is rejected before anything is sent:
//!    a simple bind with an empty password is an unauthenticated bind,
//!    which directories answer with success.
//! 2. The user's entry: **search-then-bind** binds as the service account
//!    (`bind_dn`) and searches `user_base` with `user_filter`, the name
//!    escaped (RFC 4515); no entry, or more than one, is a rejection (after
//!    a bind to a DN that does not exist, so the answer takes about as long
//!    as for a wrong password). **Direct bind** binds as `dn_template`
//!    filled with the name escaped (RFC 4514) and reads the entry as that
//!    user.
//! 3. Group membership, when `required_group` is set: the entry's
//!    `memberOf`, or (with `group_base`) a search for groups matching
//!    `group_filter`, as the service account (search-then-bind) or the
//!    user (direct bind).
//! 4. Search-then-bind binds as the found DN with the given password; a
//!    refusal is a rejection.
//! 5. Authorization: with neither `allowed_users` nor `required_group`,
//!    every user the directory accepts signs in; with one or both, the
//!    user must be named in the list or be a member of the group (either
//!    is enough).
//!
//! The name answered is the entry's `name_attribute` (the canonical
//! spelling, e.g. `alice` for a sign-in as `Alice`), else the name typed.
//!
//! # Contracts
//! - A sign-in is accepted only after a bind with the user's own password
//!   succeeded.
//! - No answer from the directory (connection, TLS, time limit, "busy",
//!   "unavailable") and a refused service account are
//!   [`AuthUnavailable`], never a rejection and never an acceptance.
//! - Passwords are never logged or put in an error.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use atlas_http::{AuthUnavailable, Authenticator};
use atlas_observe::Metrics;
use ldap3::{Scope, SearchEntry};

use crate::config::LdapConfig;
use crate::directory::{describe, rc, Bind, Directory, Session, Unreachable};
use crate::error::LdapConfigError;
use crate::health::DirectoryHealth;
use crate::template;

/// How the user's entry is found.
#[derive(Debug)]
enum Lookup {
    /// Bind as the service account, search.
    Search {
        bind_dn: String,
        password: Secret,
        base: String,
        filter: String,
    },
    /// Bind as the DN the template makes.
    Direct { template: String },
}

/// The required group and how membership is read.
#[derive(Debug)]
struct Group {
    dn: String,
    /// `(base, filter)` of a group search; `None`: the `memberOf` values.
    search: Option<(String, String)>,
}

/// A password kept out of `Debug` output.
struct Secret(String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The user's entry as found.
#[derive(Debug)]
struct Found {
    dn: String,
    /// The `name_attribute` value, when the entry was read.
    name: Option<String>,
    member_of: Vec<String>,
}

/// What the directory said about a sign-in.
#[derive(Debug, PartialEq, Eq)]
enum Decision {
    /// Accepted as this (canonical) name.
    Accept(String),
    /// Rejected, for this reason (for the log).
    Reject(&'static str),
}

/// Signs users in against an LDAP directory. See the module doc for how.
pub struct LdapAuthenticator {
    directory: Directory,
    lookup: Lookup,
    user_base: String,
    name_attribute: String,
    allowed_users: Vec<String>,
    group: Option<Group>,
    health: Arc<DirectoryHealth>,
    metrics: Option<Metrics>,
    /// The most one sign-in may take, all operations together.
    limit: Duration,
}

impl fmt::Debug for LdapAuthenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LdapAuthenticator")
            .field("directory", &self.directory)
            .field("lookup", &self.lookup)
            .field("allowed_users", &self.allowed_users)
            .field("group", &self.group)
            .finish_non_exhaustive()
    }
}

/// Operations one sign-in makes at most (connect, service bind, search,
/// group search, user bind), for its overall time limit.
const MAX_STEPS: u32 = 5;

impl LdapAuthenticator {
    /// An authenticator for `cfg` (validated here), reading the service
    /// account's password from its file or variable.
    ///
    /// # Errors
    /// An invalid setting, an unreadable password or CA file; the error
    /// names the setting.
    pub fn new(cfg: &LdapConfig) -> Result<Self, LdapConfigError> {
        cfg.validate()?;
        let directory = Directory::new(cfg)?;
        let lookup = match (&cfg.dn_template, &cfg.bind_dn) {
            (Some(template), _) => Lookup::Direct {
                template: template.clone(),
            },
            (None, Some(bind_dn)) => Lookup::Search {
                bind_dn: bind_dn.clone(),
                // `validate` made sure a password source goes with bind_dn.
                password: Secret(cfg.bind_password()?.unwrap_or_default()),
                base: cfg.user_base.clone(),
                filter: cfg.user_filter.clone(),
            },
            (None, None) => {
                return Err(LdapConfigError::Invalid {
                    key: "bind_dn",
                    problem: "is not set: set it (search-then-bind) or dn_template (direct bind)".into(),
                })
            }
        };
        let group = cfg.required_group.as_ref().map(|dn| Group {
            dn: dn.clone(),
            search: cfg
                .group_base
                .as_ref()
                .map(|base| (base.clone(), cfg.group_filter.clone())),
        });
        let health = Arc::new(DirectoryHealth::new(directory.url(), None));
        Ok(Self {
            limit: cfg.timeout() * MAX_STEPS,
            directory,
            lookup,
            user_base: cfg.user_base.clone(),
            name_attribute: cfg.name_attribute.clone(),
            allowed_users: cfg.allowed_users.clone(),
            group,
            health,
            metrics: None,
        })
    }

    /// The same authenticator, counting sign-ins into `metrics`
    /// (`atlas_ldap_binds_total`, `atlas_ldap_up`).
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.health = Arc::new(DirectoryHealth::new(self.directory.url(), Some(metrics.clone())));
        self.metrics = Some(metrics);
        self
    }

    /// The directory's health, for readiness checks.
    pub fn health(&self) -> Arc<DirectoryHealth> {
        self.health.clone()
    }

    /// The directory's URL.
    pub fn url(&self) -> &str {
        self.directory.url()
    }

    /// Whom clients and operators are told could not decide.
    fn backend(&self) -> String {
        format!("the LDAP directory {}", self.directory.url())
    }

    /// Connects and, with a service account, binds with it and looks at
    /// `user_base`: what `atlas config check` and the periodic probe do.
    /// Updates the directory's health.
    ///
    /// # Errors
    /// [`AuthUnavailable`] saying what failed and which setting to look at.
    pub async fn probe(&self) -> Result<(), AuthUnavailable> {
        let attempt = async {
            let mut s = self.directory.connect().await?;
            let r = self.probe_on(&mut s).await;
            s.close().await;
            r
        };
        let result = match tokio::time::timeout(self.limit, attempt).await {
            Ok(r) => r,
            Err(_) => Err(Unreachable(format!(
                "no answer within {} s",
                self.limit.as_secs()
            ))),
        };
        match result {
            Ok(()) => {
                self.health.answered();
                Ok(())
            }
            Err(Unreachable(reason)) => {
                self.health.failed(&reason);
                Err(AuthUnavailable::new(self.backend(), reason))
            }
        }
    }

    async fn probe_on(&self, s: &mut Session) -> Result<(), Unreachable> {
        let Lookup::Search {
            bind_dn,
            password,
            base,
            ..
        } = &self.lookup
        else {
            return Ok(());
        };
        service_bind(s, bind_dn, password).await?;
        let (_, code) = s.search(base, Scope::Base, "(objectClass=*)", &["1.1"]).await?;
        match code {
            rc::SUCCESS => Ok(()),
            rc::NO_SUCH_OBJECT => Err(Unreachable(format!(
                "auth.ldap.user_base '{base}' does not exist in the directory; give the DN users are under"
            ))),
            code => Err(Unreachable(format!(
                "reading auth.ldap.user_base '{base}' as the service account failed ({})",
                describe(code)
            ))),
        }
    }

    /// Probes the directory every `every`, the first time after `every`
    /// (keeping its health and `atlas_ldap_up` current while nobody signs
    /// in) until the returned task is aborted or the runtime stops.
    pub fn watch(self: Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            loop {
                tick.tick().await;
                if let Err(e) = self.probe().await {
                    tracing::warn!(directory = %self.url(), reason = %e.reason, "the LDAP directory does not answer");
                }
            }
        })
    }

    async fn decide(&self, user: &str, password: &str) -> Result<Decision, Unreachable> {
        let mut s = self.directory.connect().await?;
        let result = match &self.lookup {
            Lookup::Search {
                bind_dn,
                password: service,
                base,
                filter,
            } => {
                self.search_then_bind(&mut s, (bind_dn, service), base, filter, user, password)
                    .await
            }
            Lookup::Direct { template } => self.direct_bind(&mut s, template, user, password).await,
        };
        s.close().await;
        result
    }

    async fn search_then_bind(
        &self,
        s: &mut Session,
        (bind_dn, service): (&str, &Secret),
        base: &str,
        filter: &str,
        user: &str,
        password: &str,
    ) -> Result<Decision, Unreachable> {
        service_bind(s, bind_dn, service).await?;
        let filter = template::user_filter(filter, user);
        let attrs = [self.name_attribute.as_str(), "memberOf"];
        let (mut entries, code) = s.search(base, Scope::Subtree, &filter, &attrs).await?;
        match code {
            rc::SUCCESS => {}
            rc::SIZE_LIMIT_EXCEEDED => {
                self.decoy_bind(s, password).await;
                return Ok(Decision::Reject("more than one directory entry matches the name"));
            }
            rc::NO_SUCH_OBJECT => {
                return Err(Unreachable(format!(
                    "auth.ldap.user_base '{base}' does not exist in the directory"
                )))
            }
            code => {
                return Err(Unreachable(format!(
                    "the user search failed ({})",
                    describe(code)
                )));
            }
        }
        if entries.len() != 1 {
            self.decoy_bind(s, password).await;
            return Ok(Decision::Reject(if entries.is_empty() {
                "no directory entry matches the name"
            } else {
                "more than one directory entry matches the name"
            }));
        }
        let found = self.found(entries.remove(0), user);
        let in_group = self.in_group(s, &found, user).await?;
        match s.bind(&found.dn, password).await? {
            Bind::Accepted => Ok(self.authorize(found, in_group, user)),
            Bind::Refused(_) => Ok(Decision::Reject("the directory refused the password")),
        }
    }

    async fn direct_bind(
        &self,
        s: &mut Session,
        template: &str,
        user: &str,
        password: &str,
    ) -> Result<Decision, Unreachable> {
        let dn = template::user_dn(template, user);
        if let Bind::Refused(_) = s.bind(&dn, password).await? {
            return Ok(Decision::Reject("the directory refused the name or password"));
        }
        let attrs = [self.name_attribute.as_str(), "memberOf"];
        let (mut entries, code) = s.search(&dn, Scope::Base, "(objectClass=*)", &attrs).await?;
        let found = if code == rc::SUCCESS && entries.len() == 1 {
            self.found(entries.remove(0), user)
        } else {
            tracing::debug!(dn = %dn, result = %describe(code), "the user cannot read its own entry");
            Found {
                dn,
                name: None,
                member_of: Vec::new(),
            }
        };
        let in_group = self.in_group(s, &found, user).await?;
        Ok(self.authorize(found, in_group, user))
    }

    /// A bind to a DN no entry has, so that an unknown name takes about as
    /// long as a wrong password; its answer does not matter.
    async fn decoy_bind(&self, s: &mut Session, password: &str) {
        let mut raw = [0u8; 12];
        rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut raw);
        let nobody: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        let dn = format!("{}=atlas-nobody-{nobody},{}", self.name_attribute, self.user_base);
        let _ = s.bind(&dn, password).await;
    }

    fn found(&self, entry: SearchEntry, typed: &str) -> Found {
        let values = |attr: &str| -> Vec<String> {
            entry
                .attrs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(attr))
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let names = values(&self.name_attribute);
        let name = names
            .iter()
            .find(|n| n.eq_ignore_ascii_case(typed))
            .or_else(|| names.first())
            .cloned();
        Found {
            member_of: values("memberOf"),
            name,
            dn: entry.dn,
        }
    }

    /// `None` without a required group; else whether the user is in it.
    async fn in_group(
        &self,
        s: &mut Session,
        found: &Found,
        typed: &str,
    ) -> Result<Option<bool>, Unreachable> {
        let Some(group) = &self.group else {
            return Ok(None);
        };
        let Some((base, filter)) = &group.search else {
            return Ok(Some(
                found.member_of.iter().any(|m| template::same_dn(m, &group.dn)),
            ));
        };
        let name = found.name.as_deref().unwrap_or(typed);
        let filter = template::group_filter(filter, &found.dn, name);
        let (groups, code) = s.search_all(base, Scope::Subtree, &filter, &["1.1"]).await?;
        if code != rc::SUCCESS {
            return Err(Unreachable(format!(
                "the group search under auth.ldap.group_base '{base}' failed ({})",
                describe(code)
            )));
        }
        Ok(Some(groups.iter().any(|g| template::same_dn(&g.dn, &group.dn))))
    }

    fn authorize(&self, found: Found, in_group: Option<bool>, typed: &str) -> Decision {
        let name = found.name.unwrap_or_else(|| typed.to_owned());
        let listed = self.allowed_users.iter().any(|u| u.eq_ignore_ascii_case(&name));
        let restricted = !self.allowed_users.is_empty() || in_group.is_some();
        if !restricted || listed || in_group == Some(true) {
            Decision::Accept(name)
        } else {
            Decision::Reject("neither in auth.ldap.allowed_users nor a member of auth.ldap.required_group")
        }
    }

    fn count(&self, outcome: &'static str) {
        if let Some(m) = &self.metrics {
            m.ldap_bind(outcome);
        }
    }
}

/// Binds as the service account; a refusal means nobody can be decided.
async fn service_bind(s: &mut Session, bind_dn: &str, password: &Secret) -> Result<(), Unreachable> {
    match s.bind(bind_dn, &password.0).await? {
        Bind::Accepted => Ok(()),
        Bind::Refused(code) => Err(Unreachable(format!(
            "the service account auth.ldap.bind_dn '{bind_dn}' was refused ({}); check it and its password{}",
            describe(code),
            if code == rc::INVALID_CREDENTIALS {
                " (bind_password_file / bind_password_env)"
            } else if code == rc::INSUFFICIENT_ACCESS_RIGHTS {
                " and the directory's access rules"
            } else {
                ""
            }
        ))),
    }
}

#[async_trait]
impl Authenticator for LdapAuthenticator {
    async fn authenticate(&self, user: &str, password: &str) -> Result<Option<String>, AuthUnavailable> {
        if user.is_empty() || password.is_empty() {
            // Never an unauthenticated bind: the directory would say yes.
            return Ok(None);
        }
        let decided = match tokio::time::timeout(self.limit, self.decide(user, password)).await {
            Ok(d) => d,
            Err(_) => Err(Unreachable(format!(
                "no answer within {} s",
                self.limit.as_secs()
            ))),
        };
        match decided {
            Ok(Decision::Accept(name)) => {
                self.health.answered();
                self.count("accepted");
                tracing::info!(user = %name, "signed in through the LDAP directory");
                Ok(Some(name))
            }
            Ok(Decision::Reject(why)) => {
                self.health.answered();
                self.count("rejected");
                tracing::info!(user = %user, reason = why, "the LDAP directory sign-in was rejected");
                Ok(None)
            }
            Err(Unreachable(reason)) => {
                self.health.failed(&reason);
                self.count("unavailable");
                Err(AuthUnavailable::new(self.backend(), reason))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn closed_port_config() -> LdapConfig {
        // Port 1 on loopback: nothing listens there.
        LdapConfig {
            url: "ldap://127.0.0.1:1".into(),
            dn_template: Some("uid={user},ou=people,dc=example,dc=test".into()),
            timeout: 2,
            ..LdapConfig::default()
        }
    }

    #[tokio::test]
    async fn an_empty_password_or_name_is_rejected_without_asking_the_directory() {
        let metrics = Metrics::new();
        let auth = LdapAuthenticator::new(&closed_port_config())
            .unwrap()
            .with_metrics(metrics.clone());
        assert_eq!(auth.authenticate("alice", "").await, Ok(None));
        assert_eq!(auth.authenticate("", "pw").await, Ok(None));
        assert!(!metrics.encode().contains("atlas_ldap_binds_total{"));
    }

    #[tokio::test]
    async fn a_closed_port_is_unavailable_naming_the_directory() {
        let metrics = Metrics::new();
        let auth = LdapAuthenticator::new(&closed_port_config())
            .unwrap()
            .with_metrics(metrics.clone());
        let e = auth.authenticate("alice", "pw").await.unwrap_err();
        assert_eq!(e.backend, "the LDAP directory ldap://127.0.0.1:1");
        assert!(!auth.health().is_up());
        let text = metrics.encode();
        assert!(
            text.contains("atlas_ldap_binds_total{outcome=\"unavailable\"} 1"),
            "{text}"
        );
        assert!(auth.probe().await.is_err());
    }

    #[test]
    fn the_service_password_is_not_in_debug_output() {
        let cfg = LdapConfig {
            url: "ldap://127.0.0.1:1".into(),
            bind_dn: Some("cn=atlas,dc=example,dc=test".into()),
            bind_password_env: Some("ATLAS_LDAP_TEST_NEVER_SET".into()),
            user_base: "dc=example,dc=test".into(),
            ..LdapConfig::default()
        };
        // ATLAS_* is refused by validation, before any read.
        assert!(LdapAuthenticator::new(&cfg).is_err());
        let lookup = Lookup::Search {
            bind_dn: "cn=atlas".into(),
            password: Secret("s3cret-bind".into()),
            base: "dc=x".into(),
            filter: "(uid={user})".into(),
        };
        assert!(!format!("{lookup:?}").contains("s3cret-bind"));
    }
}
