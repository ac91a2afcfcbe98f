//! `atlas-shell`: the `Executor` that does the real work on this host (files,
//! git, mysql, drush).
//!
//! Filled by the atlas-shell issue; until then this crate only reserves its
//! place in the workspace.
#![forbid(unsafe_code)]
