//! [`AppConfig`] and [`SchedulerConfig`]: the knobs of an [`App`](super::App)
//! beyond its ports, with serde so a configuration file can hold them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::scheduler::{PeriodicTask, Schedule, ScheduleError};
use crate::service::ServiceConfig;
use crate::worker::WorkerConfig;

/// How an app's service, worker and scheduler behave.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppConfig {
    /// The service's rules (pool size, environment, notification texts…).
    pub service: ServiceConfig,
    /// How jobs are claimed and run.
    pub worker: WorkerConfig,
    /// Whether and when periodic tasks run.
    pub scheduler: SchedulerConfig,
}

/// The `[scheduler]` settings: whether this process queues periodic tasks,
/// how often it looks, and schedule overrides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SchedulerConfig {
    /// Whether this process runs the periodic tasks.
    pub enabled: bool,
    /// How often the scheduler looks for due tasks, in seconds (at least 1).
    pub tick_secs: u64,
    /// Cron expressions overriding the default of a task, by task name
    /// (`pool_top_up = "*/5 * * * *"`).
    pub tasks: BTreeMap<String, String>,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            tick_secs: 30,
            tasks: BTreeMap::new(),
        }
    }
}

impl SchedulerConfig {
    /// The schedule with the overrides applied.
    ///
    /// # Errors
    /// [`ScheduleError`] naming an unknown task or a bad cron expression.
    pub fn schedule(&self) -> Result<Schedule, ScheduleError> {
        let mut overrides = BTreeMap::new();
        for (name, expr) in &self.tasks {
            let task: PeriodicTask = name.parse().map_err(|_| {
                let names: Vec<&str> = PeriodicTask::ALL.iter().map(|t| t.name()).collect();
                ScheduleError {
                    task: name.clone(),
                    expr: expr.clone(),
                    reason: format!("there is no such task; use one of {}", names.join(", ")),
                }
            })?;
            overrides.insert(task, expr.clone());
        }
        Schedule::new(&overrides)
    }

    /// The tick as a duration.
    pub fn tick(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.tick_secs.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_replace_a_tasks_default_schedule() {
        let cfg = SchedulerConfig {
            tasks: BTreeMap::from([("pool_top_up".to_owned(), "*/2 * * * *".to_owned())]),
            ..SchedulerConfig::default()
        };
        let s = cfg.schedule().unwrap();
        assert_eq!(s.expression(PeriodicTask::PoolTopUp), "*/2 * * * *");
        assert_eq!(
            s.expression(PeriodicTask::CronLaunched),
            PeriodicTask::CronLaunched.default_schedule()
        );
    }

    #[test]
    fn an_unknown_task_name_lists_the_known_ones() {
        let cfg = SchedulerConfig {
            tasks: BTreeMap::from([("defragment".to_owned(), "* * * * *".to_owned())]),
            ..SchedulerConfig::default()
        };
        let e = cfg.schedule().unwrap_err().to_string();
        assert!(e.contains("'defragment'"), "{e}");
        assert!(e.contains("pool_top_up"), "{e}");
    }

    #[test]
    fn the_tick_is_at_least_a_second() {
        let cfg = SchedulerConfig {
            tick_secs: 0,
            ..SchedulerConfig::default()
        };
        assert_eq!(cfg.tick(), std::time::Duration::from_secs(1));
    }
}
