//! Resource schemas as data: one source of truth for validation, defaults,
//! unique constraints, data relations, OpenAPI and indexed paths.

mod unique;

pub use unique::{unique_keys, UniqueKey};
