//! The store conformance suite and test helpers.
