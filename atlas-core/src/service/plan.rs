//! [`Plan`]: the extra writes and jobs a hook adds around the main write of
//! an operation.

use crate::batch::Write;
use crate::model::Timestamp;
use crate::task::Task;

/// Writes a hook adds: `before` the main write (un-currenting the previous
/// current code item must precede the insert), `after` it (records that
/// refer to it, jobs).
#[derive(Debug, Default)]
pub(crate) struct Plan {
    pub(crate) before: Vec<Write>,
    pub(crate) after: Vec<Write>,
    /// Fields the hook established itself (generated values, ids it just
    /// read or inserts in the same batch): the store checks skip them.
    pub(crate) verified: Vec<&'static str>,
}

impl Plan {
    pub(crate) fn job(&mut self, spec: crate::jobs::JobSpec) {
        self.after.push(Write::Enqueue(spec));
    }

    /// Queues `task` after the main write, as its kind is always queued.
    pub(crate) fn task(&mut self, task: &Task, now: Timestamp) {
        self.job(task.spec(now));
    }

    pub(crate) fn has_jobs(&self) -> bool {
        self.before
            .iter()
            .chain(&self.after)
            .any(|w| matches!(w, Write::Enqueue(_)))
    }
}
