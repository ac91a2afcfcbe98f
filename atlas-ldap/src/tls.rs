//! The TLS client configuration of `ldaps://` and StartTLS connections:
//! rustls with the ring provider, trusting `ca_file`'s certificates when
//! given, else the web PKI roots.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

use crate::error::LdapConfigError;

fn invalid(problem: String) -> LdapConfigError {
    LdapConfigError::Invalid {
        key: "ca_file",
        problem,
    }
}

/// The client configuration trusting `ca_file` (else the web PKI roots).
///
/// # Errors
/// A CA file that cannot be read, holds no certificate or a certificate
/// unusable as a trust root.
pub(crate) fn client_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, LdapConfigError> {
    let mut roots = RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| {
                    invalid(format!(
                        "{}: cannot read its certificates ({e}); give a PEM file of the CA that signed \
                         the directory's certificate",
                        path.display()
                    ))
                })?;
            if certs.is_empty() {
                return Err(invalid(format!(
                    "{} holds no certificate; give a PEM file of the CA that signed the directory's certificate",
                    path.display()
                )));
            }
            for cert in certs {
                roots.add(cert).map_err(|e| {
                    invalid(format!(
                        "{}: a certificate is not usable as a trust root: {e}",
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
        .map_err(|e| invalid(format!("TLS setup failed: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_web_pki_roots_serve_without_a_ca_file() {
        assert!(client_config(None).is_ok());
    }

    #[test]
    fn a_missing_or_empty_ca_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let e = client_config(Some(&dir.path().join("missing.pem")))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("auth.ldap.ca_file") && e.contains("missing.pem"),
            "{e}"
        );
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let e = client_config(Some(&empty)).unwrap_err().to_string();
        assert!(e.contains("holds no certificate"), "{e}");
    }
}
