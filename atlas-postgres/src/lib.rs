//! `atlas-postgres`: the PostgreSQL implementation of the core
//! [`Store`](atlas_core::Store) contract, for several Atlas nodes (API
//! servers, workers) sharing one database.
//!
//! # Layout
//! - [`config`]: [`PgConfig`] (URL, password, pool size, schema).
//! - `store`: [`PgStore`] — the pool, migrations on open, the `Store` impl.
//! - `apply`: applying a batch in a transaction; unique clashes named.
//! - `group`: group commit of creates (concurrent batches of inserts and
//!   enqueues in one transaction, one statement per table).
//! - `import`: copying another store's records, versions and jobs as they are.
//! - `queue`: claims with `FOR UPDATE SKIP LOCKED`, per-key exclusion,
//!   leases.
//! - `listen`: `LISTEN/NOTIFY` wake-ups for idle workers.
//! - `wake`: the `NOTIFY` after a commit that made jobs claimable,
//!   coalesced (never inside the writing transaction, which would
//!   serialise commits).
//! - `leader`: one holder of a role (the periodic scheduler) across nodes.
//! - `translate`: the indexed prefilter of `find` (bound parameters only).
//! - `tables`: table and index names, unique index DDL.
//! - `migrations`: the versioned schema.
//! - `rows`, `db`, `error`: rows to core types, statements, errors.
//! - [`testing`] (feature `testing`): a fresh schema per test.
//!
//! # Contracts
//! - Passes `atlas_core::store_conformance!`; `find` equals the reference
//!   evaluator (`atlas_core::query::select`), order and total included.
//! - Records are `jsonb`; each resource has a GIN (`jsonb_path_ops`) index
//!   over its bodies, which answers equality on any indexed path and
//!   array-contains (`code.package`), and partial unique indexes for the
//!   schema's unique keys.
//! - Two jobs of one key never run at once, whichever nodes claim them.
//! - A database from a newer Atlas is refused, naming both schema versions.
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]

mod apply;
pub mod config;
mod db;
mod error;
mod group;
mod import;
mod leader;
mod listen;
mod migrations;
mod queue;
mod rows;
mod store;
mod tables;
#[cfg(feature = "testing")]
pub mod testing;
mod tls;
mod translate;
mod wake;

pub use config::PgConfig;
pub use listen::JobListener;
pub use store::{PgStore, SCHEMA_VERSION};
pub use tls::PgTls;
