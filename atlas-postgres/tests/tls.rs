//! `tls = "verify-full"` against the test server: a connection over TLS
//! when the server's CA is given, a refusal when its certificate cannot be
//! verified. The server's TLS name and CA come from
//! `ATLAS_TEST_POSTGRES_TLS_URL` (default: the test URL with host
//! `localhost`) and `ATLAS_TEST_POSTGRES_TLS_CA` (default Debian's
//! `/etc/ssl/certs/ssl-cert-snakeoil.pem`, the certificate a Debian
//! PostgreSQL serves); skipped with a printed reason when the server has no
//! TLS or the CA file is missing, unless `ATLAS_TEST_REQUIRE` names
//! `postgres-tls`.

use atlas_core::testing::service::require_service;
use atlas_postgres::testing::{test_url, TestSchema};
use atlas_postgres::{PgStore, PgTls};
use tokio_postgres::NoTls;

fn tls_url(app: &str) -> String {
    let base = std::env::var("ATLAS_TEST_POSTGRES_TLS_URL")
        .unwrap_or_else(|_| test_url().replacen("127.0.0.1", "localhost", 1));
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}application_name={app}")
}

fn ca_file() -> Option<std::path::PathBuf> {
    let path = std::env::var("ATLAS_TEST_POSTGRES_TLS_CA")
        .unwrap_or_else(|_| "/etc/ssl/certs/ssl-cert-snakeoil.pem".to_owned());
    let path = std::path::PathBuf::from(path);
    let found = if path.is_file() {
        Ok(())
    } else {
        Err(format!(
            "no CA file at {} (set ATLAS_TEST_POSTGRES_TLS_CA)",
            path.display()
        ))
    };
    require_service("postgres-tls", found).then_some(path)
}

/// A plain connection to the test server for checks.
async fn plain() -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(&test_url(), NoTls).await.unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

async fn server_has_tls(client: &tokio_postgres::Client) -> bool {
    let on: String = client.query_one("SHOW ssl", &[]).await.unwrap().get(0);
    require_service(
        "postgres-tls",
        if on == "on" {
            Ok(())
        } else {
            Err("the server runs with ssl = off".into())
        },
    )
}

#[tokio::test]
async fn verify_full_talks_tls_to_a_server_whose_ca_is_given() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let Some(ca) = ca_file() else { return };
    let client = plain().await;
    if !server_has_tls(&client).await {
        return;
    }
    let app = format!("atlas_tls_ok_{}", std::process::id());
    let mut config = schema.config(2).tls(PgTls::VerifyFull, Some(ca));
    config.url = tls_url(&app);
    let store = PgStore::open(config)
        .await
        .expect("a TLS connection with the server's CA");
    // The store's connections are open and encrypted.
    let rows = client
        .query(
            "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.application_name = $1",
            &[&app],
        )
        .await
        .unwrap();
    assert!(!rows.is_empty(), "the store holds no connection named {app}");
    assert!(
        rows.iter().all(|r| r.get::<_, bool>(0)),
        "a connection is not encrypted"
    );
    drop(store);
}

#[tokio::test]
async fn verify_full_refuses_a_server_certificate_it_cannot_verify() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let client = plain().await;
    if !server_has_tls(&client).await {
        return;
    }
    // The web PKI roots do not vouch for a self-signed server certificate.
    let mut config = schema.config(1).tls(PgTls::VerifyFull, None);
    config.url = tls_url("atlas_tls_refused");
    let err = PgStore::open(config)
        .await
        .expect_err("an unverifiable certificate was accepted");
    let text = err.to_string();
    assert!(
        text.contains("invalid peer certificate"),
        "the cause is named: {text}"
    );
    assert!(text.contains("ca_file"), "the advice names the setting: {text}");
}
