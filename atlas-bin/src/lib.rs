//! `atlas-bin`: the `atlas` binary: configuration, wiring and subcommands. It
//! holds no business logic.
//!
//! Filled by the atlas-bin issue; until then this crate only reserves its
//! place in the workspace.
#![forbid(unsafe_code)]
