//! [`MemoryStore`]: the reference in-memory `Store`.

/// In-memory store (being written).
#[derive(Debug, Default)]
pub struct MemoryStore;
