//! [`PgConfig`]: where the database is and how to connect (the `[store]`
//! settings of `atlas.toml` with `backend = "postgres"`). The password never
//! appears in `Debug` output or logs.

use std::fmt;
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::tls::{Connector, PgTls};

/// How to connect to PostgreSQL.
#[derive(Clone, PartialEq, Eq)]
pub struct PgConfig {
    /// A libpq-style URL (`postgres://user@host:5432/db`) or key-value
    /// string (`host=… user=… dbname=…`). A password in it is accepted but
    /// better given in [`PgConfig::password`].
    pub url: String,
    /// The password, when not in the URL (read from a file or an
    /// environment variable by the binary).
    pub password: Option<String>,
    /// Connections in the pool.
    pub pool_size: usize,
    /// The schema Atlas's tables live in (created if missing); `None` uses
    /// the server's `search_path` (normally `public`). Letters, digits and
    /// `_` only.
    pub schema: Option<String>,
    /// How connections are secured (default: plain).
    pub tls: PgTls,
    /// With TLS: PEM file of the CA certificates to trust instead of the
    /// web PKI roots (a private CA).
    pub ca_file: Option<PathBuf>,
}

impl PgConfig {
    /// A configuration for `url` with a pool of 16 connections.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            password: None,
            pool_size: 16,
            schema: None,
            tls: PgTls::Disable,
            ca_file: None,
        }
    }

    /// Sets how connections are secured, trusting `ca_file`'s certificates
    /// (else the web PKI roots) when TLS is on.
    pub fn tls(mut self, tls: PgTls, ca_file: Option<PathBuf>) -> Self {
        self.tls = tls;
        self.ca_file = ca_file;
        self
    }

    /// The connector for [`PgConfig::tls`].
    pub(crate) fn connector(&self) -> Result<Connector> {
        crate::tls::connector(self.tls, self.ca_file.as_deref())
    }

    /// Sets the schema.
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }

    /// Sets the pool size (at least 1).
    pub fn pool_size(mut self, n: usize) -> Self {
        self.pool_size = n.max(1);
        self
    }

    /// The `NOTIFY` channel announcing claimable jobs: `atlas_jobs`, or
    /// `atlas_jobs_<schema>` so that Atlas installations in different
    /// schemas of one database do not wake each other. (The schema is
    /// checked to be a plain name before any channel is used.)
    pub fn channel(&self) -> String {
        match &self.schema {
            Some(s) if s.len() <= 52 => format!("atlas_jobs_{s}"),
            _ => "atlas_jobs".to_owned(),
        }
    }

    /// The driver's configuration.
    pub(crate) fn driver(&self) -> Result<tokio_postgres::Config> {
        let mut cfg: tokio_postgres::Config = self.url.parse().map_err(|e| {
            Error::Config(format!(
                "`[store] url` '{}' is not a PostgreSQL connection string: {e}; \
                 write it as postgres://user@host:5432/database",
                redact(&self.url)
            ))
        })?;
        if let Some(pw) = &self.password {
            cfg.password(pw.as_bytes());
        }
        if let Some(schema) = &self.schema {
            check_schema(schema)?;
            cfg.options(format!("-c search_path={schema}"));
        }
        if self.tls == PgTls::VerifyFull {
            cfg.ssl_mode(tokio_postgres::config::SslMode::Require);
        } else {
            cfg.ssl_mode(tokio_postgres::config::SslMode::Disable);
        }
        if cfg.get_application_name().is_none() {
            cfg.application_name("atlas");
        }
        Ok(cfg)
    }
}

/// Refuses a schema name that is not a plain identifier.
pub(crate) fn check_schema(schema: &str) -> Result<()> {
    let ok = !schema.is_empty()
        && schema.len() <= 63
        && schema
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !schema.as_bytes()[0].is_ascii_digit();
    if ok {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "`[store] schema` '{schema}' is not a plain schema name: use lowercase letters, \
             digits and _ (at most 63, not starting with a digit)"
        )))
    }
}

/// `url` with any password replaced by `***`.
pub fn redact(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let (auth, host) = match rest.rsplit_once('@') {
            Some((a, h)) => (a, h),
            None => return url.to_owned(),
        };
        let user = auth.split_once(':').map_or(auth, |(u, _)| u);
        let masked = if auth.contains(':') { ":***" } else { "" };
        return format!("{scheme}://{user}{masked}@{host}");
    }
    url.split_whitespace()
        .map(|kv| {
            if kv.starts_with("password=") {
                "password=***"
            } else {
                kv
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

impl fmt::Debug for PgConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgConfig")
            .field("url", &redact(&self.url))
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("pool_size", &self.pool_size)
            .field("schema", &self.schema)
            .field("tls", &self.tls)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_password() {
        let mut c = PgConfig::new("postgres://atlas:hunter2@db:5432/atlas");
        c.password = Some("s3cret".into());
        let text = format!("{c:?}");
        assert!(!text.contains("hunter2") && !text.contains("s3cret"), "{text}");
        assert!(text.contains("postgres://atlas:***@db:5432/atlas"), "{text}");
        assert_eq!(redact("host=db password=x user=a"), "host=db password=*** user=a");
    }

    #[test]
    fn a_schema_with_punctuation_is_refused_by_name() {
        let e = PgConfig::new("postgres://a@b/c")
            .schema("x; drop")
            .driver()
            .unwrap_err();
        assert!(e.to_string().contains("'x; drop'"), "{e}");
    }
}
