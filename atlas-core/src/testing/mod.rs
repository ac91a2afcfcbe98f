//! Test support for Atlas and for every [`crate::Store`] backend (feature
//! `testing`, and always under `cfg(test)` inside `atlas-core`):
//!
//! - [`store_suite`]: the store conformance suite, one `pub async fn` per
//!   behaviour a store must have (atomic batches, etag compare-and-swap,
//!   unique keys, soft delete, history, filter semantics equal to the
//!   reference evaluator, sort and paging, and the job queue: claim
//!   exclusivity, leases, per-key serialisation, backoff, dead letter).
//!   [`crate::store_conformance!`] turns it into one `#[tokio::test]` per case,
//!   each on a fresh store. [`crate::MemoryStore`] runs it in its own tests; an
//!   adapter crate runs it from an integration test, with `atlas-core`
//!   (feature `testing`) and `tokio` as dev-dependencies:
//!
//!   ```ignore
//!   // atlas-sqlite/tests/conformance.rs
//!   use atlas_sqlite::SqliteStore;
//!   atlas_core::store_conformance!(async { SqliteStore::open_in_memory().await.unwrap() });
//!   ```
//!
//! - [`fixtures`]: builders of realistic record bodies
//!   (`fixtures::instance().status(Status::Installed).build()`).
//! - [`seed_fleet`]: a current core and profile and many instances on them,
//!   for benchmarks and load tests.
//! - [`FailingStore`]: wraps a store and fails its Nth commit.
//! - [`record_host_check`]: a finished host check in a store.
//! - [`RecordingExecutor`]: an executor fake recording every call;
//!   [`MockExecutor`]: the mockall mock of [`crate::Executor`].
//! - [`ManualClock`]: a clock that moves only when told to.
//! - [`service`]: the skip/require rule of tests that need a real service
//!   (`ATLAS_TEST_REQUIRE`); [`require_service`] applies it to a
//!   reachability check.

mod faulty;
pub mod fixtures;
mod fleet;
mod host_checks;
mod recording;
pub mod service;
pub mod store_suite;

pub use crate::clock::ManualClock;
pub use crate::executor::MockExecutor;
pub use faulty::{FailingStore, InjectedFailure};
pub use fleet::{seed_fleet, Fleet};
pub use host_checks::{record_backup_check, record_host_check};
pub use recording::{Call, RecordingExecutor};
pub use service::{is_required as service_required, require_service, REQUIRE_VAR};
