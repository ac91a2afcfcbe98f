//! [`Directory`]: how to reach the configured LDAP server (URL, TLS,
//! time limits), and [`Session`], one connection with its bind and search
//! operations, each under the time limit. Every failure to get an answer
//! is an [`Unreachable`] (the sign-in cannot be decided); an answer with a
//! result code is left to the caller to judge, except "busy" and
//! "unavailable", which are [`Unreachable`] too.

use std::fmt;
use std::time::Duration;

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Scope, SearchEntry, SearchOptions};

use crate::config::LdapConfig;
use crate::error::LdapConfigError;
use crate::tls;

/// Result codes (RFC 4511) this crate names.
pub(crate) mod rc {
    /// The operation succeeded.
    pub(crate) const SUCCESS: u32 = 0;
    /// More entries matched than the size limit.
    pub(crate) const SIZE_LIMIT_EXCEEDED: u32 = 4;
    /// The base DN of a search does not exist.
    pub(crate) const NO_SUCH_OBJECT: u32 = 32;
    /// Wrong DN or password.
    pub(crate) const INVALID_CREDENTIALS: u32 = 49;
    /// The bound identity may not do that.
    pub(crate) const INSUFFICIENT_ACCESS_RIGHTS: u32 = 50;
    /// The server is too busy.
    pub(crate) const BUSY: u32 = 51;
    /// The server is shutting down or cannot serve.
    pub(crate) const UNAVAILABLE: u32 = 52;
}

/// A result code with its RFC 4511 name, for messages.
pub(crate) fn describe(code: u32) -> String {
    let name = match code {
        0 => "success",
        1 => "operations error",
        2 => "protocol error",
        3 => "time limit exceeded",
        4 => "size limit exceeded",
        7 => "authentication method not supported",
        8 => "stronger authentication required",
        32 => "no such object",
        34 => "invalid DN syntax",
        48 => "inappropriate authentication",
        49 => "invalid credentials",
        50 => "insufficient access rights",
        51 => "busy",
        52 => "unavailable",
        53 => "unwilling to perform",
        80 => "other",
        _ => "see RFC 4511",
    };
    format!("code {code}: {name}")
}

/// Why the directory could not answer: a reason for people and the log,
/// never a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unreachable(pub(crate) String);

/// What a bind got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bind {
    /// The DN and password are valid.
    Accepted,
    /// The directory refused them with this result code.
    Refused(u32),
}

/// The configured server.
pub(crate) struct Directory {
    url: String,
    settings: LdapConnSettings,
    timeout: Duration,
}

impl fmt::Debug for Directory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Directory")
            .field("url", &self.url)
            .field("starttls", &self.settings.starttls())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Directory {
    /// The server of `cfg`.
    ///
    /// # Errors
    /// An unusable `ca_file`.
    pub(crate) fn new(cfg: &LdapConfig) -> Result<Self, LdapConfigError> {
        let timeout = cfg.timeout();
        let mut settings = LdapConnSettings::new()
            .set_conn_timeout(timeout)
            .set_starttls(cfg.starttls);
        if cfg.uses_tls() {
            settings = settings.set_config(tls::client_config(cfg.ca_file.as_deref())?);
        }
        Ok(Self {
            url: cfg.url.trim().to_owned(),
            settings,
            timeout,
        })
    }

    /// The URL, as configured.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// A new connection (TLS negotiated, StartTLS done).
    ///
    /// # Errors
    /// [`Unreachable`] when it cannot be made within the time limit.
    pub(crate) async fn connect(&self) -> Result<Session, Unreachable> {
        let (conn, ldap) = LdapConnAsync::with_settings(self.settings.clone(), &self.url)
            .await
            .map_err(|e| Unreachable(format!("cannot connect: {e}")))?;
        ldap3::drive!(conn);
        Ok(Session {
            ldap,
            timeout: self.timeout,
        })
    }
}

/// One connection.
pub(crate) struct Session {
    ldap: Ldap,
    timeout: Duration,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session").finish_non_exhaustive()
    }
}

impl Session {
    /// A simple bind as `dn`. The caller never sends an empty password
    /// (that would be an unauthenticated bind, which servers accept).
    ///
    /// # Errors
    /// [`Unreachable`] without an answer, or for "busy" / "unavailable".
    pub(crate) async fn bind(&mut self, dn: &str, password: &str) -> Result<Bind, Unreachable> {
        debug_assert!(
            !password.is_empty(),
            "an empty password is an unauthenticated bind"
        );
        let res = self
            .ldap
            .with_timeout(self.timeout)
            .simple_bind(dn, password)
            .await
            .map_err(|e| Unreachable(format!("the bind got no answer: {e}")))?;
        match res.rc {
            rc::SUCCESS => Ok(Bind::Accepted),
            code @ (rc::BUSY | rc::UNAVAILABLE) => Err(Unreachable(format!(
                "the bind was not served ({})",
                describe(code)
            ))),
            code => Ok(Bind::Refused(code)),
        }
    }

    /// Entries under `base` (`scope`) matching `filter` with `attrs`, at
    /// most two (the caller needs to know "more than one"), and the
    /// result code.
    ///
    /// # Errors
    /// [`Unreachable`] without an answer, or for "busy" / "unavailable".
    pub(crate) async fn search(
        &mut self,
        base: &str,
        scope: Scope,
        filter: &str,
        attrs: &[&str],
    ) -> Result<(Vec<SearchEntry>, u32), Unreachable> {
        self.search_limited(base, scope, filter, attrs, 2).await
    }

    /// Every entry under `base` (`scope`) matching `filter` with `attrs`
    /// (as many as the server gives), and the result code.
    ///
    /// # Errors
    /// [`Unreachable`] without an answer, or for "busy" / "unavailable".
    pub(crate) async fn search_all(
        &mut self,
        base: &str,
        scope: Scope,
        filter: &str,
        attrs: &[&str],
    ) -> Result<(Vec<SearchEntry>, u32), Unreachable> {
        self.search_limited(base, scope, filter, attrs, 0).await
    }

    async fn search_limited(
        &mut self,
        base: &str,
        scope: Scope,
        filter: &str,
        attrs: &[&str],
        size_limit: i32,
    ) -> Result<(Vec<SearchEntry>, u32), Unreachable> {
        let res = self
            .ldap
            .with_timeout(self.timeout)
            .with_search_options(SearchOptions::new().sizelimit(size_limit))
            .search(base, scope, filter, attrs.to_vec())
            .await
            .map_err(|e| Unreachable(format!("the search got no answer: {e}")))?;
        let code = res.1.rc;
        if matches!(code, rc::BUSY | rc::UNAVAILABLE) {
            return Err(Unreachable(format!(
                "the search was not served ({})",
                describe(code)
            )));
        }
        Ok((res.0.into_iter().map(SearchEntry::construct).collect(), code))
    }

    /// Ends the connection (an unbind; its failure does not matter).
    pub(crate) async fn close(mut self) {
        let _ = self.ldap.with_timeout(self.timeout).unbind().await;
    }
}
