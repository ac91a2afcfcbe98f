//! Atlas: runs a fleet of Drupal sites.
//!
//! This facade re-exports the workspace crates so an embedder depends on one
//! package and picks adapters with features:
//!
//! | feature   | crate           | what it brings                                  |
//! | --------- | --------------- | ----------------------------------------------- |
//! | (always)  | `atlas-core`    | domain, rules, engine, `Store`/`Executor` ports |
//! | `sqlite`  | `atlas-sqlite`  | the embedded SQLite `Store`                     |
//! | `postgres` | `atlas-postgres` | the PostgreSQL `Store` for several nodes      |
//! | `http`    | `atlas-http`    | the Eve-dialect REST server (implies `observe`) |
//! | `shell`   | `atlas-shell`   | the `Executor` that works on this host          |
//! | `observe` | `atlas-observe` | metrics, metered store, readiness, `/metrics`   |
#![forbid(unsafe_code)]

pub use atlas_core as core;
#[cfg(feature = "http")]
pub use atlas_http as http;
#[cfg(feature = "observe")]
pub use atlas_observe as observe;
#[cfg(feature = "postgres")]
pub use atlas_postgres as postgres;
#[cfg(feature = "shell")]
pub use atlas_shell as shell;
#[cfg(feature = "sqlite")]
pub use atlas_sqlite as sqlite;
