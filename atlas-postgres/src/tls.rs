//! How connections to PostgreSQL are secured ([`PgTls`]) and the connector
//! each mode needs. With TLS, the server's certificate is always verified —
//! against the trusted roots of the web PKI, or only the certificates of a
//! CA file — and its name against the host of the URL; there is no mode that
//! encrypts without knowing whom it talks to.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::error::{Error, Result};

/// How Atlas connects to PostgreSQL.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PgTls {
    /// Plain TCP (a server on the same host or a trusted network).
    #[default]
    Disable,
    /// TLS required; the server's certificate must chain to a trusted root
    /// (or the configured CA file) and name the URL's host. A server
    /// without TLS is refused.
    VerifyFull,
}

impl PgTls {
    /// The mode named `s` (`disable`, `verify-full`), as written in the
    /// configuration.
    ///
    /// # Errors
    /// Any other name.
    pub fn parse(s: &str) -> std::result::Result<Self, String> {
        match s {
            "disable" => Ok(Self::Disable),
            "verify-full" => Ok(Self::VerifyFull),
            other => Err(format!(
                "'{other}' is not a TLS mode: use disable (plain) or verify-full (TLS, certificate and host verified)"
            )),
        }
    }
}

/// The connector of one mode.
#[derive(Clone)]
pub(crate) enum Connector {
    /// No TLS.
    Plain,
    /// TLS with the verified configuration.
    Tls(MakeRustlsConnect),
}

/// The connector for `mode`, trusting `ca_file`'s certificates when given
/// (else the web PKI roots).
///
/// # Errors
/// A CA file that cannot be read or holds no certificate.
pub(crate) fn connector(mode: PgTls, ca_file: Option<&Path>) -> Result<Connector> {
    if mode == PgTls::Disable {
        return Ok(Connector::Plain);
    }
    let mut roots = RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<std::result::Result<Vec<_>, _>>())
                .map_err(|e| {
                    Error::Config(format!(
                        "`[store] ca_file` {}: cannot read its certificates ({e}); give a PEM file of the CA that signed the server's certificate",
                        path.display()
                    ))
                })?;
            if certs.is_empty() {
                return Err(Error::Config(format!(
                    "`[store] ca_file` {} holds no certificate; give a PEM file of the CA that signed the server's certificate",
                    path.display()
                )));
            }
            for cert in certs {
                roots.add(cert).map_err(|e| {
                    Error::Config(format!(
                        "`[store] ca_file` {}: a certificate is not usable as a trust root: {e}",
                        path.display()
                    ))
                })?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    // The ring provider explicitly: no dependence on a process default.
    let config = ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config(format!("TLS setup failed: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Connector::Tls(MakeRustlsConnect::new(config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_by_their_configuration_names() {
        assert_eq!(PgTls::parse("disable").unwrap(), PgTls::Disable);
        assert_eq!(PgTls::parse("verify-full").unwrap(), PgTls::VerifyFull);
        let err = PgTls::parse("require").unwrap_err();
        assert!(err.contains("verify-full"), "{err}");
    }

    #[test]
    fn a_ca_file_without_certificates_is_refused_naming_the_setting() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("ca.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let Err(err) = connector(PgTls::VerifyFull, Some(&empty)) else {
            panic!("an empty CA file was accepted");
        };
        assert!(err.to_string().contains("ca_file"), "{err}");
        let Err(err) = connector(PgTls::VerifyFull, Some(&dir.path().join("missing.pem"))) else {
            panic!("a missing CA file was accepted");
        };
        assert!(err.to_string().contains("missing.pem"), "{err}");
    }

    #[test]
    fn without_a_ca_file_the_web_roots_are_trusted() {
        assert!(matches!(
            connector(PgTls::VerifyFull, None).unwrap(),
            Connector::Tls(_)
        ));
        assert!(matches!(
            connector(PgTls::Disable, None).unwrap(),
            Connector::Plain
        ));
    }
}
