//! [`Schedule`]: each periodic task's cron expression, and the pure
//! [`Schedule::due`] that decides what runs now.

use std::collections::BTreeMap;
use std::str::FromStr;

use crate::model::Timestamp;
use crate::scheduler::PeriodicTask;

/// A schedule entry that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("schedule for '{task}' is not a cron expression ('{expr}'): {reason}; use 5 fields (min hour day month weekday) or 6 with seconds first, e.g. '*/5 * * * *'")]
pub struct ScheduleError {
    /// The task.
    pub task: String,
    /// The expression given.
    pub expr: String,
    /// The parser's complaint.
    pub reason: String,
}

/// The cron schedule of every periodic task.
#[derive(Debug, Clone)]
pub struct Schedule {
    entries: BTreeMap<PeriodicTask, (String, cron::Schedule)>,
}

fn parse(task: PeriodicTask, expr: &str) -> Result<cron::Schedule, ScheduleError> {
    let fields = expr.split_whitespace().count();
    let full = if fields == 5 {
        format!("0 {expr}")
    } else {
        expr.to_owned()
    };
    cron::Schedule::from_str(&full).map_err(|e| ScheduleError {
        task: task.name().to_owned(),
        expr: expr.to_owned(),
        reason: e.to_string(),
    })
}

impl Default for Schedule {
    fn default() -> Self {
        Self::new(&BTreeMap::new()).expect("the default schedules parse")
    }
}

impl Schedule {
    /// The default schedules with `overrides` (task → cron expression)
    /// applied.
    ///
    /// # Errors
    /// [`ScheduleError`] naming the first entry that does not parse.
    pub fn new(overrides: &BTreeMap<PeriodicTask, String>) -> Result<Self, ScheduleError> {
        let mut entries = BTreeMap::new();
        for task in PeriodicTask::ALL {
            let expr = overrides
                .get(&task)
                .map(String::as_str)
                .unwrap_or(task.default_schedule());
            entries.insert(task, (expr.to_owned(), parse(task, expr)?));
        }
        Ok(Self { entries })
    }

    /// The cron expression of `task`.
    pub fn expression(&self, task: PeriodicTask) -> &str {
        self.entries
            .get(&task)
            .map(|(e, _)| e.as_str())
            .unwrap_or_default()
    }

    /// The first tick of `task` strictly after `t`.
    pub fn next_after(&self, task: PeriodicTask, t: Timestamp) -> Option<Timestamp> {
        let (_, s) = self.entries.get(&task)?;
        s.after(&t.to_chrono()).next().map(Timestamp::from_chrono)
    }

    /// The tasks due at `now`: those with a tick after their last run
    /// (`last`, or `since` for a task that never ran) and at or before
    /// `now`. However many ticks were missed, a task is due once.
    pub fn due(
        &self,
        now: Timestamp,
        last: &BTreeMap<PeriodicTask, Timestamp>,
        since: Timestamp,
    ) -> Vec<PeriodicTask> {
        PeriodicTask::ALL
            .into_iter()
            .filter(|t| {
                let base = last.get(t).copied().unwrap_or(since);
                self.next_after(*t, base).is_some_and(|next| next <= now)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn t(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    #[test]
    fn a_task_is_due_once_its_next_tick_has_come() {
        let s = Schedule::default();
        let since = t("2026-11-25 00:00:30 GMT");
        let last = BTreeMap::new();
        assert!(s.due(t("2026-11-25 00:04:59 GMT"), &last, since).is_empty());
        let due = s.due(t("2026-11-25 00:05:00 GMT"), &last, since);
        assert_eq!(
            due,
            vec![
                PeriodicTask::PoolTopUp,
                PeriodicTask::DeleteStuckPending,
                PeriodicTask::CheckHosts
            ]
        );
    }

    #[test]
    fn after_downtime_a_missed_task_is_due_once_not_per_missed_tick() {
        let s = Schedule::default();
        let mut last = BTreeMap::new();
        last.insert(PeriodicTask::PoolTopUp, t("2026-11-25 00:00:00 GMT"));
        let later = t("2026-11-25 06:00:00 GMT");
        let due = s.due(later, &last, later);
        assert_eq!(due.iter().filter(|d| **d == PeriodicTask::PoolTopUp).count(), 1);
        last.insert(PeriodicTask::PoolTopUp, later);
        assert!(!s
            .due(later.plus(Duration::from_secs(60)), &last, later)
            .contains(&PeriodicTask::PoolTopUp));
    }

    #[test]
    fn five_field_expressions_are_accepted_and_bad_ones_name_the_task() {
        let mut o = BTreeMap::new();
        o.insert(PeriodicTask::CronInstalled, "*/10 * * * *".to_owned());
        let s = Schedule::new(&o).unwrap();
        assert_eq!(s.expression(PeriodicTask::CronInstalled), "*/10 * * * *");
        o.insert(PeriodicTask::CronInstalled, "every hour".to_owned());
        let e = Schedule::new(&o).unwrap_err();
        assert!(e.to_string().contains("cron_installed"), "{e}");
    }
}
