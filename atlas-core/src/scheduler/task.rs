//! [`PeriodicTask`]: the fourteen periodic maintenance tasks and their default
//! schedules (docs/architecture.md "Periodic tasks").

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

/// A periodic maintenance task.
///
/// Stored by [`PeriodicTask::name`]; decoding an unknown name names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodicTask {
    /// Keep N `available` + `pending` instances (every 5 min).
    PoolTopUp,
    /// Delete `pending` instances stuck longer than 15 min (every 5 min).
    DeleteStuckPending,
    /// `drush cron` on launched express instances without
    /// `cu_classes_bundle` (every 60 min).
    CronLaunched,
    /// Delete statistics whose instance is gone (every 60 min).
    RemoveOrphanStatistics,
    /// `drush cron` on instances with `cu_classes_bundle` (every 2 h).
    CronClassesBundle,
    /// Non-production: take down `installed` instances older than 35 days
    /// (every 2 h).
    TakeDownOldInstalled,
    /// `drush cron` on installed instances without `cu_classes_bundle`
    /// (every 3 h).
    CronInstalled,
    /// Replace every `available` instance: routine integration test (every
    /// 24 h).
    ReplaceAvailable,
    /// Report statistics not updated in 36 h (every 24 h).
    VerifyStatistics,
    /// Check every host the executor works on: reachable, roots and
    /// programs (every 5 min). Its result is what `/readyz` and
    /// `/metrics` report per host.
    CheckHosts,
    /// Compare the route map on each load balancer with the records and
    /// report the differences (hourly).
    CheckRoutes,
    /// Back up every instance in the configured statuses (`launched` by
    /// default) and prune their scheduled backups per the retention
    /// (daily at 02:00).
    BackupLaunched,
    /// Find the instances in the backed-up statuses whose newest complete
    /// backup is older than `backup_max_age` (or that have none), notify
    /// the newly stale ones; its result is what `/metrics` reports of
    /// backups (hourly).
    CheckBackups,
    /// Queue a verification of every instance in the verified statuses
    /// (`available`, `installed`, `launched`, `down`): its servers against
    /// its records, the findings kept as its `drift` (daily at 05:15).
    VerifyInstances,
}

impl PeriodicTask {
    /// Every task, in the order of docs/architecture.md "Periodic tasks".
    pub const ALL: [PeriodicTask; 14] = [
        PeriodicTask::PoolTopUp,
        PeriodicTask::DeleteStuckPending,
        PeriodicTask::CronLaunched,
        PeriodicTask::RemoveOrphanStatistics,
        PeriodicTask::CronClassesBundle,
        PeriodicTask::TakeDownOldInstalled,
        PeriodicTask::CronInstalled,
        PeriodicTask::ReplaceAvailable,
        PeriodicTask::VerifyStatistics,
        PeriodicTask::CheckHosts,
        PeriodicTask::CheckRoutes,
        PeriodicTask::BackupLaunched,
        PeriodicTask::CheckBackups,
        PeriodicTask::VerifyInstances,
    ];

    /// The config key and job payload name.
    pub fn name(self) -> &'static str {
        match self {
            PeriodicTask::PoolTopUp => "pool_top_up",
            PeriodicTask::DeleteStuckPending => "delete_stuck_pending",
            PeriodicTask::CronLaunched => "cron_launched",
            PeriodicTask::RemoveOrphanStatistics => "remove_orphan_statistics",
            PeriodicTask::CronClassesBundle => "cron_classes_bundle",
            PeriodicTask::TakeDownOldInstalled => "take_down_old_installed",
            PeriodicTask::CronInstalled => "cron_installed",
            PeriodicTask::ReplaceAvailable => "replace_available",
            PeriodicTask::VerifyStatistics => "verify_statistics",
            PeriodicTask::CheckHosts => "check_hosts",
            PeriodicTask::CheckRoutes => "check_routes",
            PeriodicTask::BackupLaunched => "backup_launched",
            PeriodicTask::CheckBackups => "check_backups",
            PeriodicTask::VerifyInstances => "verify_instances",
        }
    }

    /// The default schedule, a cron expression with a seconds field.
    pub fn default_schedule(self) -> &'static str {
        match self {
            PeriodicTask::PoolTopUp | PeriodicTask::DeleteStuckPending | PeriodicTask::CheckHosts => {
                "0 */5 * * * *"
            }
            PeriodicTask::CheckRoutes => "0 30 * * * *",
            PeriodicTask::CronLaunched | PeriodicTask::RemoveOrphanStatistics => "0 0 * * * *",
            PeriodicTask::CronClassesBundle | PeriodicTask::TakeDownOldInstalled => "0 0 */2 * * *",
            PeriodicTask::CronInstalled => "0 0 */3 * * *",
            PeriodicTask::ReplaceAvailable => "0 0 3 * * *",
            PeriodicTask::VerifyStatistics => "0 0 4 * * *",
            PeriodicTask::BackupLaunched => "0 0 2 * * *",
            PeriodicTask::CheckBackups => "0 45 * * * *",
            PeriodicTask::VerifyInstances => "0 15 5 * * *",
        }
    }

    /// The serialisation key of this task's jobs.
    pub fn job_key(self) -> String {
        format!("periodic:{}", self.name())
    }
}

impl fmt::Display for PeriodicTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a string names no [`PeriodicTask`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown periodic task '{0}'")]
pub struct UnknownTask(pub String);

impl FromStr for PeriodicTask {
    type Err = UnknownTask;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PeriodicTask::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| UnknownTask(s.to_owned()))
    }
}

impl<'de> Deserialize<'de> for PeriodicTask {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = std::borrow::Cow::<'de, str>::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}
