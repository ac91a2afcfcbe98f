//! The probe behind `atlas config check` and the readiness of the
//! directory.

use atlas_http::Authenticator;
use atlas_ldap::testing::{free_port, Slapd, ALICE_PASSWORD};
use atlas_ldap::{LdapAuthenticator, LdapConfig};

#[tokio::test]
async fn the_service_account_probe_passes_against_a_good_configuration() {
    let Some(slapd) = Slapd::start() else {
        return;
    };
    let auth = LdapAuthenticator::new(&slapd.config()).unwrap();
    auth.probe().await.unwrap();
    assert!(auth.health().problems().is_empty());
}

#[tokio::test]
async fn a_wrong_service_password_is_reported_naming_bind_dn_and_nobody_is_decided() {
    let Some(slapd) = Slapd::start() else {
        return;
    };
    let pw = slapd.dir().join("wrong.pw");
    std::fs::write(&pw, "not-the-password\n").unwrap();
    let cfg = LdapConfig {
        bind_password_file: Some(pw),
        ..slapd.config()
    };
    let auth = LdapAuthenticator::new(&cfg).unwrap();
    let e = auth.probe().await.unwrap_err();
    assert!(e.reason.contains("auth.ldap.bind_dn"), "{e}");
    assert!(e.reason.contains("invalid credentials"), "{e}");
    assert!(!e.reason.contains("not-the-password"), "{e}");
    let e = auth.authenticate("alice", ALICE_PASSWORD).await.unwrap_err();
    assert!(e.reason.contains("auth.ldap.bind_dn"), "{e}");
}

#[tokio::test]
async fn a_user_base_that_does_not_exist_is_reported_naming_it() {
    let Some(slapd) = Slapd::start() else {
        return;
    };
    let cfg = LdapConfig {
        user_base: "ou=nobody,dc=atlas,dc=test".into(),
        ..slapd.config()
    };
    let e = LdapAuthenticator::new(&cfg).unwrap().probe().await.unwrap_err();
    assert!(e.reason.contains("auth.ldap.user_base"), "{e}");
}

#[tokio::test]
async fn a_directory_nobody_listens_for_is_reported_and_unready() {
    let cfg = LdapConfig {
        url: format!("ldap://127.0.0.1:{}", free_port()),
        dn_template: Some("uid={user},dc=atlas,dc=test".into()),
        timeout: 2,
        ..LdapConfig::default()
    };
    let auth = LdapAuthenticator::new(&cfg).unwrap();
    let e = auth.probe().await.unwrap_err();
    assert!(e.backend.contains(&cfg.url), "{e}");
    let problems = auth.health().problems();
    assert!(problems[0].contains(&cfg.url), "{problems:?}");
}
