//! Wall-clock time as a port: [`SystemClock`] in production, [`ManualClock`]
//! in tests.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::model::Timestamp;

/// The source of "now". Share as `Arc<dyn Clock>`.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current time, truncated to whole seconds.
    fn now(&self) -> Timestamp;
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that moves only when told to. Clones share the same time.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<Timestamp>>);

impl ManualClock {
    /// A clock standing at `t`.
    pub fn at(t: Timestamp) -> Self {
        Self(Arc::new(Mutex::new(t)))
    }

    /// Moves the clock forward by `d` (whole seconds are kept).
    pub fn advance(&self, d: Duration) {
        let mut t = self.0.lock().expect("manual clock poisoned");
        *t = t.plus(d);
    }

    /// Sets the clock to `t`.
    pub fn set(&self, t: Timestamp) {
        *self.0.lock().expect("manual clock poisoned") = t;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().expect("manual clock poisoned")
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> Timestamp {
        (**self).now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_advances_only_when_told() {
        let start = Timestamp::parse("2026-11-25 01:36:55 GMT").unwrap();
        let clock = ManualClock::at(start);
        assert_eq!(clock.now(), start);
        clock.advance(Duration::from_secs(90));
        assert_eq!(clock.now().to_string(), "2026-11-25 01:38:25 GMT");
    }
}
