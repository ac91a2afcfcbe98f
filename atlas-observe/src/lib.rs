//! `atlas-observe`: how an Atlas process is watched. Prometheus metrics,
//! the store decorator that feeds them, the readiness checks, and the
//! separate listener serving `/metrics`, `/healthz` and `/readyz` apart
//! from the API. It needs neither the REST API nor any HTTP client: a
//! process running only the worker and scheduler (`atlas worker`) links
//! this crate and not `atlas-http`; the API (`atlas-http`) uses it to count
//! its requests and to answer its own `/healthz` and `/readyz`.
//!
//! # Layout
//! - `metrics`: [`Metrics`], the registry (`prometheus-client`) with every
//!   Atlas family, the request, store and job observations, and the
//!   scrape-time gauges read from the store (queue, instances, hosts) and
//!   the scheduler.
//! - `config`: [`MetricsConfig`] (the `[metrics]` section).
//! - `metered`: [`MeteredStore`], a `Store` decorator timing every
//!   operation and observing job attempts.
//! - `health`: [`Readiness`] (store, worker, scheduler and host checks,
//!   and advisory checks that degrade without failing),
//!   [`ReadinessReport`] / [`Check`], and the [`healthz`] handler.
//! - `listener`: [`MetricsState`], [`metrics_router`] / [`serve_metrics`]
//!   (the separate listener), [`METRICS_CONTENT_TYPE`].
//! - `testing` (feature `testing`): a strict parser of the exposition and a
//!   store that can be closed on demand.
//!
//! # Contracts
//! - Metric names, types and labels are the table in [`Metrics`]' module
//!   doc; label values never come from raw client input (the API passes
//!   route templates, methods outside the usual set share `other`).
//! - A scrape whose store queries fail still answers, with
//!   `atlas_store_up 0` and the gauges of the last good scrape.
//! - [`MeteredStore`] behaves exactly as the store it wraps.
//! - `/healthz` answers `200 ok` while the process runs; `/readyz` answers
//!   `200` when every check passes, else `503` with a JSON body naming
//!   each failed check.
//! - [`serve_metrics`] stops accepting on shutdown and finishes in-flight
//!   scrapes.
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]

mod config;
mod health;
mod listener;
mod metered;
mod metrics;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use config::MetricsConfig;
pub use health::{healthz, Check, Readiness, ReadinessReport};
pub use listener::{metrics_router, serve_metrics, MetricsState, METRICS_CONTENT_TYPE};
pub use metered::MeteredStore;
pub use metrics::Metrics;
