//! `atlas-http`: the Eve-dialect REST server that translates HTTP requests into
//! calls on the core service.
//!
//! Filled by the atlas-http issue; until then this crate only reserves its
//! place in the workspace.
#![forbid(unsafe_code)]
