//! `atlas-sqlite`: the embedded SQLite implementation of the core
//! [`Store`](atlas_core::Store) contract, the default store of `atlas serve`.
//!
//! # Layout
//! - [`config`]: [`SqliteConfig`], the `[store.sqlite]` settings.
//! - `store`: [`SqliteStore`] — opening, pragmas, the `Store` impl.
//! - `writer_thread`: the single writer thread every change goes through.
//! - `request`: a change sent to the writer and its typed reply channel.
//! - `group_commit`: one transaction per group of concurrent requests, one
//!   savepoint per request when one of them fails.
//! - `durability`: the sync thread that fsyncs each group before its
//!   callers are answered, and the watermark readers wait on.
//! - `checkpoint`: keeping the WAL short (background checkpoints, and the
//!   writer's restart of a WAL they cannot keep short).
//! - `prepare`: batches prepared on the caller's task (new versions,
//!   etags, JSON, shapes), so the writer thread only runs SQL.
//! - `apply`: applying a batch: record versions, history, side table.
//! - `unique_clash`: which unique key a refused record write clashed on.
//! - `queue`: the job queue's changes (claim, renew, finish, requeue).
//! - `read`: the reader pool, `find` (count + page in one snapshot; the
//!   count read from the cached counts when they answer it).
//! - `translate`: `Filter` and sort → SQL, bound parameters only; which
//!   filters the cached counts answer.
//! - `functions`: `REGEXP`, date parsing, and the evaluator fallback.
//! - `shape`: the catalog of where documents hold arrays and objects.
//! - `tables`: table, column and index definitions shared by DDL and SQL,
//!   and the paths whose live rows are counted per value (`value_counts`).
//! - `migrations`: versioned schema in `PRAGMA user_version`, including the
//!   triggers that own `value_counts` (every write keeps it exact in its own
//!   transaction).
//! - `rows`: row newtypes, and the JSON text writes bind.
//! - `jsonb`: stored bodies (SQLite's binary JSON) decoded straight into
//!   `serde_json` values.
//! - `error`: the private error type and its mapping to `StoreError`.
//!
//! # Contracts
//! - Passes `atlas_core::store_conformance!` in memory and on disk.
//! - WAL, full durability by default: a caller is answered only after its
//!   batch is on disk (the WAL is fsynced once per group commit, on its own
//!   thread), readers of the store are never shown its writes before they
//!   are on disk, and a crash never leaves a batch half-applied.
//! - `find` equals the reference evaluator (`atlas_core::query::select`),
//!   order and total included (a cached total too: `integrity_check` checks
//!   every cached count against its rows).
//! - A database from a newer Atlas is refused, naming both schema versions.
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]

mod apply;
mod checkpoint;
pub mod config;
mod durability;
mod error;
mod functions;
mod group_commit;
mod jsonb;
mod migrations;
mod prepare;
mod queue;
mod read;
mod request;
mod rows;
mod shape;
mod store;
mod tables;
mod translate;
mod unique_clash;
mod writer_thread;

pub use config::{SqliteConfig, Synchronous, INLINE_FIND_ROWS};
pub use store::{SqliteStore, SCHEMA_VERSION};
pub use writer_thread::WriterStats;
