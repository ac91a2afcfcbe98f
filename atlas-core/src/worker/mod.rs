//! The durable worker: claims jobs with a lease, bounded concurrency,
//! per-key serialisation (by the store's claim rule), per-attempt time limit,
//! retries with exponential backoff and jitter, dead letter after the
//! attempt budget, lease renewal, recovery of expired leases, graceful
//! shutdown.

mod config;
mod handler;
mod run;

pub use config::WorkerConfig;
pub use handler::{Handled, HandlerError, JobHandler};
pub use run::Worker;

#[cfg(test)]
mod tests;
