//! `atlas-core`: the domain, rules and engine of Atlas. It talks to the world
//! only through traits ([`Store`], [`Executor`], [`Clock`], [`Notifier`]).
//!
//! # Layout
//! - [`model`]: ids, etags, timestamps, sids, documents, enumerations.
//! - [`schema`]: resource schemas as data, validation, unique keys.
//! - [`query`]: `where`/`sort`/paging/projection and the reference evaluator.
//! - [`lifecycle`]: the instance state machine.
//! - [`code_rules`]: code release rules.
//! - [`store`]: the `Store` port, batches, and [`MemoryStore`].
//! - [`jobs`]: job queue data and backoff.
//! - [`executor`], [`clock`], [`notify`]: the other ports.
//! - [`worker`]: the durable job runner; [`scheduler`]: the periodic tasks.
//! - `testing` (feature `testing`): the store conformance suite, fixtures,
//!   `MockExecutor`, `FailingStore`.
//!
//! # Contracts
//! - Every store passes `testing::store_suite` (via [`store_conformance!`]).
//! - The in-memory evaluator in [`query`] defines filter, sort and paging
//!   semantics; stores reproduce it exactly.
//! - Nothing here reads the wall clock except [`SystemClock`].
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]

pub mod app;
pub mod clock;
pub mod code_rules;
pub mod engine;
pub mod error;
pub mod executor;
pub mod jobs;
pub mod lifecycle;
pub mod model;
pub mod notify;
pub mod query;
pub mod scheduler;
pub mod schema;
pub mod secrets;
pub mod serde_secs;
pub mod service;
pub mod store;
pub mod task;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod worker;

pub use app::{App, AppBuilder, AppConfig, AppError};
pub use clock::{Clock, ManualClock, SystemClock};
pub use engine::Engine;
pub use error::{ExecError, StoreError};
pub use executor::Executor;
pub use notify::Notifier;
pub use store::memory::MemoryStore;
pub use store::{Batch, Store, StoreExt, Write};
