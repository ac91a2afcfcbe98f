//! Versioned schema: `atlas_schema(version)` holds the version a database
//! is at; [`migrate`] applies the missing steps in one transaction, under
//! an advisory lock so nodes starting together migrate once, and refuses a
//! database from a newer Atlas, naming both versions.
//!
//! - Version 1: the tables of [`Resource::FIRST_SCHEMA`] (current and
//!   history, GIN, `updated` and unique indexes), jobs, leader.
//! - Version 2: the GIN indexes merge each write at once (no pending
//!   list, which every indexed search also scanned); what was pending is
//!   merged.
//! - Version 3: the `backup` tables, as version 1 makes each resource's,
//!   with their GIN index as version 2 leaves the others.
//! - Version 4: the `rollout` tables, the same way.

use atlas_core::model::Resource;
use atlas_core::schema::unique_keys;
use tokio_postgres::Client;

use crate::error::{Error, Result};
use crate::tables::{gin_index_name, history_name, table_name, unique_index_ddl};

/// The newest schema version this build knows.
pub(crate) const LATEST: i64 = 4;

/// Advisory lock key serialising migrations (`"atlasmig"` in ASCII).
const MIGRATION_LOCK: i64 = 0x6174_6c61_736d_6967;

/// The statements of step `version` (1-based).
fn step(version: i64) -> Vec<String> {
    match version {
        1 => version_1(),
        2 => version_2(),
        3 => added_resource(Resource::Backup),
        4 => added_resource(Resource::Rollout),
        _ => Vec::new(),
    }
}

/// The tables and indexes of one resource.
fn resource_tables(res: Resource) -> Vec<String> {
    let mut ddl = Vec::new();
    {
        let t = table_name(res);
        let h = history_name(res);
        ddl.push(format!(
            "CREATE TABLE {t} (
                id text PRIMARY KEY COLLATE \"C\",
                etag text NOT NULL,
                created bigint NOT NULL,
                updated bigint NOT NULL,
                version bigint NOT NULL,
                deleted boolean NOT NULL,
                body jsonb NOT NULL)"
        ));
        ddl.push(format!(
            "CREATE TABLE {h} (
                id text NOT NULL COLLATE \"C\",
                version bigint NOT NULL,
                etag text NOT NULL,
                created bigint NOT NULL,
                updated bigint NOT NULL,
                deleted boolean NOT NULL,
                body jsonb NOT NULL,
                PRIMARY KEY (id, version))"
        ));
        ddl.push(format!(
            "CREATE INDEX {} ON {t} USING gin (body jsonb_path_ops)",
            gin_index_name(res)
        ));
        ddl.push(format!("CREATE INDEX ix_{t}_updated ON {t} (updated)"));
        for key in unique_keys(res) {
            ddl.push(unique_index_ddl(res, key));
        }
    }
    ddl
}

fn version_1() -> Vec<String> {
    let mut ddl = Vec::new();
    for &res in Resource::FIRST_SCHEMA {
        ddl.extend(resource_tables(res));
    }
    ddl.push(
        "CREATE TABLE jobs (
            seq bigserial PRIMARY KEY,
            id text NOT NULL UNIQUE COLLATE \"C\",
            status text NOT NULL,
            key text,
            run_at bigint NOT NULL,
            created bigint NOT NULL,
            lease_until bigint,
            doc jsonb NOT NULL)"
            .to_owned(),
    );
    ddl.push("CREATE INDEX ix_jobs_claim ON jobs (run_at, created, id) WHERE status = 'queued'".to_owned());
    ddl.push("CREATE INDEX ix_jobs_key ON jobs (key, status, created, id) WHERE key IS NOT NULL".to_owned());
    ddl.push("CREATE INDEX ix_jobs_key_created ON jobs (key, created, id)".to_owned());
    ddl.push("CREATE INDEX ix_jobs_lease ON jobs (lease_until) WHERE status = 'running'".to_owned());
    ddl.push("CREATE INDEX ix_jobs_status ON jobs (status)".to_owned());
    ddl.push(
        "CREATE TABLE leader (
            name text PRIMARY KEY,
            owner text NOT NULL,
            until bigint NOT NULL)"
            .to_owned(),
    );
    ddl
}

/// Version 2: the GIN indexes take each write directly (`fastupdate`
/// off), and what waits in their pending lists is merged now. With the
/// pending list on, every search through a GIN index also scans the list
/// of entries not merged yet (up to 4 MB): at 100,000 instances an
/// equality find cost about 0.7 ms of server time before the list was
/// merged and 0.02 ms after; a write costs a little more instead.
fn version_2() -> Vec<String> {
    Resource::FIRST_SCHEMA
        .iter()
        .copied()
        .flat_map(|res| {
            let gin = gin_index_name(res);
            [
                format!("ALTER INDEX {gin} SET (fastupdate = off)"),
                format!("SELECT gin_clean_pending_list('{gin}'::regclass)"),
            ]
        })
        .collect()
}

/// Versions 3 (`backup`) and 4 (`rollout`): the tables and indexes of a
/// resource added after the first schema, its GIN index as version 2
/// leaves the others.
fn added_resource(res: Resource) -> Vec<String> {
    let mut ddl = resource_tables(res);
    ddl.push(format!(
        "ALTER INDEX {} SET (fastupdate = off)",
        gin_index_name(res)
    ));
    ddl
}

/// The version the database is at (0 for an empty schema).
pub(crate) async fn version(client: &Client) -> Result<i64> {
    let exists: bool = client
        .query_one("SELECT to_regclass('atlas_schema') IS NOT NULL", &[])
        .await?
        .get(0);
    if !exists {
        return Ok(0);
    }
    let row = client.query_opt("SELECT version FROM atlas_schema", &[]).await?;
    Ok(row.map_or(0, |r| r.get(0)))
}

/// Brings the database to `target` (at most [`LATEST`]); a database at a
/// newer version is refused.
pub(crate) async fn migrate_to(client: &mut Client, target: i64) -> Result<i64> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    let exists: bool = tx
        .query_one("SELECT to_regclass('atlas_schema') IS NOT NULL", &[])
        .await?
        .get(0);
    if !exists {
        tx.batch_execute("CREATE TABLE atlas_schema (version bigint NOT NULL)")
            .await?;
    }
    let found: i64 = tx
        .query_opt("SELECT version FROM atlas_schema", &[])
        .await?
        .map_or(0, |r| r.get(0));
    if found > LATEST {
        return Err(Error::NewerSchema {
            found,
            supported: LATEST,
        });
    }
    for v in found + 1..=target.min(LATEST) {
        for stmt in step(v) {
            tx.batch_execute(&stmt).await?;
        }
    }
    let now = found.max(target.min(LATEST));
    tx.execute("DELETE FROM atlas_schema", &[]).await?;
    tx.execute("INSERT INTO atlas_schema (version) VALUES ($1)", &[&now])
        .await?;
    tx.commit().await?;
    Ok(now)
}
