//! Test support for metrics and readiness (feature `testing`; always on in
//! this crate's own tests): [`Exposition`], a strict parser of the text
//! exposition that fails on any line it does not understand, and
//! [`BreakableStore`], a store that can be closed on demand.

mod breakable;
mod exposition;

pub use breakable::BreakableStore;
pub use exposition::{Exposition, Sample};
