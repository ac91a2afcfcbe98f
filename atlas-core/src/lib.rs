//! `atlas-core`: the domain, rules and engine of Atlas. It talks to the world
//! only through traits ([`Store`], [`Executor`], [`Clock`], [`Notifier`]).
//!
//! # Using it
//! [`App::builder`] wires everything from a store and an executor:
//! [`App::service`] is the [`Service`] every client operation goes through
//! (the HTTP API calls it too), [`App::run`] runs the [`Worker`] and the
//! [`Scheduler`], [`App::drain`] runs queued jobs to completion.
//!
//! # What is here
//! - This root: the app, the service, the ports and the types they speak
//!   ([`Batch`], [`Job`], [`Task`], the executor specs, errors…).
//! - [`model`]: ids, etags, timestamps, sids, documents, enumerations and the
//!   typed views of records.
//! - [`query`]: `where`/`sort`/paging/projection and the reference evaluator
//!   every store reproduces.
//! - [`schema`]: resource schemas as data, validation, unique keys.
//! - [`rollout`]: the wave rules of rollouts and their progress for
//!   `/metrics`.
//! - [`serde_secs`]: durations as whole seconds in configuration files.
//! - `testing` (feature `testing`): the store conformance suite, fixtures,
//!   `MockExecutor`, `RecordingExecutor`, `FailingStore`.
//!
//! # Contracts
//! - Every store passes `testing::store_suite` (via `store_conformance!`, feature `testing`).
//! - The in-memory evaluator in [`query`] defines filter, sort and paging
//!   semantics; stores reproduce it exactly.
//! - Nothing here reads the wall clock except [`SystemClock`].
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]

mod app;
mod backup_check;
mod batch;
mod clock;
mod code_rules;
mod drift;
mod engine;
mod error;
mod executor;
mod host_check;
mod jobs;
mod lifecycle;
pub mod model;
mod notify;
pub mod query;
pub mod retention;
pub mod rollout;
mod scheduler;
pub mod schema;
mod secrets;
pub mod serde_secs;
mod service;
mod store;
mod task;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod worker;

pub use app::{App, AppBuilder, AppConfig, AppError, SchedulerConfig};
pub use backup_check::{BackupCheck, InstanceBackups};
pub use batch::{Batch, Committed, Write, Written};
pub use clock::{Clock, ManualClock, SystemClock};
pub use code_rules::{recommend, CurrentVersion, PostReason, Recommendation};
pub use drift::{heal_plan, Drift, DriftFinding, DriftKind, HealStep, VERIFIED_STATUSES};
pub use engine::{Engine, RouteCheckError};
pub use error::{BoxError, ExecError, StoreError};
pub use executor::{
    BackupArtifact, BackupPart, BackupPartKind, CodeSpec, CommandOutput, CommandSpec, DatabaseSpec, Executor,
    HostOutput, HostReport, InstanceSpec, RouteMap, RouteMapCheck, RouteSpec, SiteSettings,
};
pub use host_check::HostCheck;
pub use jobs::{
    Backoff, Job, JobAction, JobChange, JobFailure, JobSpec, JobStatus, LeaseSpec, DEFAULT_MAX_ATTEMPTS,
};
pub use lifecycle::{GuardError, TransitionError, Work};
pub use model::JobId;
pub use notify::{Level, Notification, Notifier, NotifyError, NullNotifier, RecordingNotifier};
pub use scheduler::{PeriodicTask, Schedule, ScheduleError, Scheduler, TaskStatus, UnknownTask};
pub use secrets::{generate_password, SecretError, SecretKey};
pub use service::{
    Actor, FailedChoice, Invalid, RunOutcome, RunSummary, Service, ServiceConfig, ServiceError, Version,
};
pub use store::memory::MemoryStore;
pub use store::{write_target, FindPage, JobPage, Outcome, Store, StoreExt, SCHEDULER_ROLE};
pub use task::{
    code_key, instance_key, rollout_key, CommandOperation, PreUpdate, Task, TaskError, ROUTES_KEY,
};
pub use worker::{Handled, HandlerError, JobHandler, Worker, WorkerConfig};
