//! Serde for `Duration` fields written as whole seconds in configuration
//! (`#[serde(with = "atlas_core::serde_secs")]`).

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

/// Writes `d` as its whole seconds.
///
/// # Errors
/// The serializer's.
pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_secs())
}

/// Reads whole seconds.
///
/// # Errors
/// A value that is not a non-negative integer.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    u64::deserialize(d).map(Duration::from_secs)
}
