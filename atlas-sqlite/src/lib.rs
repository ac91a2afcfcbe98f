//! `atlas-sqlite`: the embedded SQLite implementation of the core `Store`
//! contract, the default store of `atlas serve`.
//!
//! Filled by the atlas-sqlite issue; until then this crate only reserves its
//! place in the workspace.
#![forbid(unsafe_code)]
