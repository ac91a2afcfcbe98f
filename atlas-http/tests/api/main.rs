//! The API over a real socket: one binary, one module per resource or
//! concern (zero2prod layout). `helpers` holds `TestApp`.

mod backup;
mod code;
mod commands;
mod drift;
mod errors;
mod hardening;
mod headers;
mod helpers;
mod hidden;
mod instance;
mod instance_jobs;
mod jobs;
mod limits;
mod meta;
mod observability;
mod others;
mod paths;
mod queries;
mod rollout;
mod signed_in;
mod versions;
mod wire;
