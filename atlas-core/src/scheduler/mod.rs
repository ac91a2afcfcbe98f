//! The periodic schedule: the fourteen maintenance tasks ([`PeriodicTask`]),
//! their cron expressions ([`Schedule`], pure `due`), and the
//! [`Scheduler`] that enqueues them as jobs.

mod run;
mod schedule;
mod task;

pub use run::{Scheduler, TaskStatus};
pub use schedule::{Schedule, ScheduleError};
pub use task::{PeriodicTask, UnknownTask};

#[cfg(test)]
mod tests;
