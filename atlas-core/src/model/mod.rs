//! Typed views of records and the value types every layer shares: [`Id`],
//! [`JobId`], [`Etag`], [`Timestamp`], [`Sid`], [`Resource`], [`Doc`], [`Secret`] and
//! the schema's enumerations.

mod doc;
mod etag;
mod id;
mod job_id;
mod kinds;
mod resource;
mod secret;
mod sid;
mod string_serde;
mod time;
mod views;

pub use doc::{merge_patch, Body, Doc, META_FIELDS};
pub use etag::{canonical_json, Etag};
pub use id::{Id, IdError};
pub use job_id::JobId;
pub use kinds::{
    BackupKind, BackupState, CodeType, Environment, InstanceType, OnFailure, Pool, RolloutState, RouteStatus,
    RouteType, Status, UnallowedValue,
};
pub use resource::{Resource, UnknownResource};
pub use secret::Secret;
pub use sid::{Sid, SidError, SID_PATTERN};
pub use time::{Timestamp, TimestampError, DATE_FORMAT};
pub use views::{
    Backup, BackupCode, Code, CodeMeta, Command, Instance, InstanceCode, InstanceDates, InstanceRoutes,
    InstanceSettings, Rollout, RolloutFailure, Route, RouteDates, Site, Statistics, View, ViewError,
    DEFAULT_WAVE_SIZE,
};
