//! `atlas-sqlite`: the embedded SQLite implementation of the core
//! [`Store`](atlas_core::Store) contract, the default store of `atlas serve`.
//!
//! # Layout
//! - [`config`]: [`SqliteConfig`], the `[store.sqlite]` settings.
//! - `store`: [`SqliteStore`] — opening, pragmas, the `Store` impl.
//! - `writer`: the single writer thread with group commit (one transaction
//!   per group of concurrent batches, one savepoint per batch), the sync
//!   thread that fsyncs each group before its callers are answered.
//! - `checkpoint`: keeping the WAL short (background checkpoints, and the
//!   writer's restart of a WAL they cannot keep short).
//! - `prepare`: batches prepared on the caller's task (new versions,
//!   etags, JSON, shapes), so the writer thread only runs SQL.
//! - `write`: record versions, history, side table, the job queue.
//! - `read`: the reader pool, `find` (count + page in one snapshot).
//! - `translate`: `Filter` and sort → SQL, bound parameters only.
//! - `functions`: `REGEXP`, date parsing, and the evaluator fallback.
//! - `shape`: the catalog of where documents hold arrays and objects.
//! - `tables`: table, column and index definitions shared by DDL and SQL.
//! - `migrations`: versioned schema in `PRAGMA user_version`.
//! - `rows`, `error`: row newtypes, the private error type.
//!
//! # Contracts
//! - Passes `atlas_core::store_conformance!` in memory and on disk.
//! - WAL, full durability by default: a caller is answered only after its
//!   batch is on disk (the WAL is fsynced once per group commit, on its own
//!   thread), readers of the store are never shown its writes before they
//!   are on disk, and a crash never leaves a batch half-applied.
//! - `find` equals the reference evaluator (`atlas_core::query::select`),
//!   order and total included.
//! - A database from a newer Atlas is refused, naming both schema versions.
#![forbid(unsafe_code)]

mod checkpoint;
pub mod config;
mod error;
mod functions;
mod migrations;
mod prepare;
mod read;
mod rows;
mod shape;
mod store;
mod tables;
mod translate;
mod write;
mod writer;

pub use config::{SqliteConfig, Synchronous, INLINE_FIND_ROWS};
pub use store::{SqliteStore, SCHEMA_VERSION};
pub use writer::WriterStats;
