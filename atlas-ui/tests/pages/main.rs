//! The dashboard in process, in front of the API over a `MemoryStore`:
//! one module per page, each checking what the page shows against what
//! the API answers, and that actions change state only with a signed-in
//! session and its CSRF token. `harness` holds `Harness`.

mod auth;
mod code;
mod commands;
mod harness;
mod instances;
mod jobs;
mod overview;
mod rollouts;
