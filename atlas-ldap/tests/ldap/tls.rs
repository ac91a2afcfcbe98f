//! `ldaps://` and StartTLS with a CA file against the test directory
//! serving a certificate of its own test CA.

use atlas_http::Authenticator;
use atlas_ldap::testing::{Slapd, ALICE_PASSWORD};
use atlas_ldap::{LdapAuthenticator, LdapConfig};

#[tokio::test]
async fn ldaps_with_the_directorys_ca_file_signs_in() {
    let Some(slapd) = Slapd::start_tls() else {
        return;
    };
    let cfg = LdapConfig {
        url: slapd.ldaps_url().unwrap(),
        ca_file: Some(slapd.ca_file()),
        ..slapd.config()
    };
    let auth = LdapAuthenticator::new(&cfg).unwrap();
    assert_eq!(
        auth.authenticate("alice", ALICE_PASSWORD).await,
        Ok(Some("alice".into()))
    );
    assert_eq!(auth.authenticate("alice", "nope").await, Ok(None));
}

#[tokio::test]
async fn starttls_with_the_directorys_ca_file_signs_in() {
    let Some(slapd) = Slapd::start_tls() else {
        return;
    };
    let cfg = LdapConfig {
        url: format!("ldap://localhost:{}", slapd.port),
        starttls: true,
        ca_file: Some(slapd.ca_file()),
        ..slapd.config()
    };
    let auth = LdapAuthenticator::new(&cfg).unwrap();
    assert_eq!(
        auth.authenticate("alice", ALICE_PASSWORD).await,
        Ok(Some("alice".into()))
    );
}

#[tokio::test]
async fn a_certificate_no_trusted_ca_signed_is_unavailable_not_accepted() {
    let Some(slapd) = Slapd::start_tls() else {
        return;
    };
    let cfg = LdapConfig {
        url: slapd.ldaps_url().unwrap(),
        ..slapd.config()
    };
    let auth = LdapAuthenticator::new(&cfg).unwrap();
    let e = auth.authenticate("alice", ALICE_PASSWORD).await.unwrap_err();
    assert!(e.backend.contains("ldaps://localhost"), "{e}");
}
