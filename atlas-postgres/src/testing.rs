//! Test support (feature `testing`): [`TestSchema`], a uniquely named,
//! freshly migrated schema on the test server, dropped again when the value
//! is dropped. The server is `ATLAS_TEST_POSTGRES_URL` (default
//! [`DEFAULT_URL`]); when it cannot be reached the test is skipped with a
//! printed reason, unless `ATLAS_TEST_REQUIRE` names `postgres`
//! ([`atlas_core::testing::require_service`]).

use std::sync::atomic::{AtomicU32, Ordering};

use tokio_postgres::NoTls;

use crate::{PgConfig, PgStore};

/// The variable naming the test server.
pub const URL_VAR: &str = "ATLAS_TEST_POSTGRES_URL";

/// The test server when [`URL_VAR`] is not set.
pub const DEFAULT_URL: &str = "postgres://root@127.0.0.1:5432/test";

/// The test server's URL.
pub fn test_url() -> String {
    std::env::var(URL_VAR).unwrap_or_else(|_| DEFAULT_URL.to_owned())
}

/// A fresh schema on the test server; dropped (with everything in it) on drop.
#[derive(Debug)]
pub struct TestSchema {
    url: String,
    name: String,
}

impl TestSchema {
    /// Creates a uniquely named schema, or `None` (after printing why) when
    /// the server is unreachable and not required.
    ///
    /// # Panics
    /// When the server is unreachable and `ATLAS_TEST_REQUIRE` names
    /// `postgres`, or the schema cannot be created.
    pub async fn create() -> Option<TestSchema> {
        static N: AtomicU32 = AtomicU32::new(0);
        let url = test_url();
        let client = match connect(&url).await {
            Ok(c) => c,
            Err(reason) => {
                atlas_core::testing::require_service("postgres", Err(format!("{url}: {reason}")));
                return None;
            }
        };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!(
            "atlas_t_{}_{}_{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        client
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .await
            .unwrap_or_else(|e| panic!("cannot create schema {name}: {e}"));
        Some(TestSchema { url, name })
    }

    /// The schema's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The server's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A configuration for this schema with a pool of `pool` connections.
    pub fn config(&self, pool: usize) -> PgConfig {
        PgConfig::new(self.url.clone())
            .schema(self.name.clone())
            .pool_size(pool)
    }

    /// A client connection of its own to the server (its connection task
    /// spawned), for statements a test sends beside the store.
    ///
    /// # Panics
    /// When connecting fails.
    pub async fn client(&self) -> tokio_postgres::Client {
        connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("connect to {}: {e}", self.url))
    }

    /// A new store (its own pool) on this schema, migrated.
    ///
    /// # Panics
    /// When opening fails.
    pub async fn store(&self) -> PgStore {
        PgStore::open(self.config(8))
            .await
            .unwrap_or_else(|e| panic!("open the test store on {}: {e}", self.name))
    }
}

async fn connect(url: &str) -> Result<tokio_postgres::Client, String> {
    let (client, conn) = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        tokio_postgres::connect(url, NoTls),
    )
    .await
    .map_err(|_| "connecting timed out".to_owned())?
    .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        let (url, name) = (self.url.clone(), self.name.clone());
        // Drop may run inside a runtime: drop the schema from a thread of its own.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                return;
            };
            rt.block_on(async move {
                if let Ok(client) = connect(&url).await {
                    let _ = client
                        .batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                        .await;
                }
            });
        })
        .join();
    }
}

impl PgStore {
    /// Empties every Atlas table of the store's schema (between the cases
    /// of a property test).
    ///
    /// # Errors
    /// [`atlas_core::StoreError::Backend`].
    pub async fn truncate_all_for_tests(&self) -> Result<(), atlas_core::StoreError> {
        let tables = crate::tables::all_tables().join(", ");
        self.batch_execute(&format!("TRUNCATE {tables}")).await
    }
}

impl PgStore {
    /// `ANALYZE` of every Atlas table (plan tests).
    ///
    /// # Errors
    /// [`atlas_core::StoreError::Backend`].
    pub async fn analyze_for_tests(&self) -> Result<(), atlas_core::StoreError> {
        let tables = crate::tables::all_tables().join(", ");
        self.batch_execute(&format!("ANALYZE {tables}")).await
    }
}

impl PgStore {
    /// The storage options of index `index` of the store's schema
    /// (`["fastupdate=off"]`).
    ///
    /// # Errors
    /// [`atlas_core::StoreError::Backend`].
    pub async fn index_options_for_tests(&self, index: &str) -> Result<Vec<String>, atlas_core::StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT coalesce(reloptions, '{}') FROM pg_class WHERE oid = to_regclass($1)",
                &[&index],
            )
            .await
            .map_err(crate::error::Error::from)?;
        Ok(row.get(0))
    }

    /// Marks the database as being at schema `version` (to test how a
    /// database from another Atlas is treated).
    ///
    /// # Errors
    /// [`atlas_core::StoreError::Backend`].
    pub async fn set_schema_version_for_tests(&self, version: i64) -> Result<(), atlas_core::StoreError> {
        self.execute("UPDATE atlas_schema SET version = $1", &[&version])
            .await
            .map(drop)
    }
}
