//! [`ServiceConfig`]: the knobs of the API rules and periodic tasks.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::{Environment, Status};
use crate::retention::Retention;

/// Rules configuration shared by the service, the job handlers and the
/// periodic tasks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceConfig {
    /// Where this Atlas runs; `local` shrinks the pool, `production`
    /// disables the 35-day take-down.
    pub environment: Environment,
    /// Name of the core new instances get when none is given.
    pub default_core: String,
    /// Name of the profile new instances get when none is given.
    pub default_profile: String,
    /// `available` + `pending` instances to keep; `None`: 5, or 2 when the
    /// environment is `local`.
    pub pool_size: Option<u32>,
    /// Whether deploying a current core or profile tops the pool up at
    /// once (a fresh install gets its pool without waiting for the
    /// five-minute tick); the periodic top-up runs either way.
    pub pool_top_up_on_deploy: bool,
    /// Age after which a `pending` instance counts as stuck (seconds).
    #[serde(with = "crate::serde_secs")]
    pub stuck_pending_after: Duration,
    /// Age after which an `installed` instance is taken down outside
    /// production (seconds).
    #[serde(with = "crate::serde_secs")]
    pub take_down_installed_after: Duration,
    /// Statistics older than this are reported (seconds).
    #[serde(with = "crate::serde_secs")]
    pub statistics_stale_after: Duration,
    /// Package whose instances get their own cron schedule.
    pub classes_bundle: String,
    /// Time limit of one command run on one instance (seconds).
    #[serde(with = "crate::serde_secs")]
    pub command_timeout: Duration,
    /// Base URL of this Atlas, for links in notifications.
    pub atlas_url: String,
    /// Most documents one bulk create may hold; a longer list is refused
    /// whole ([`ServiceError::TooManyItems`](crate::ServiceError::TooManyItems)).
    pub max_bulk_items: usize,
    /// The statuses of the instances the periodic backup (`backup_launched`)
    /// backs up.
    pub backup_statuses: Vec<Status>,
    /// Of an instance's scheduled backups, the periodic backup keeps the
    /// newest of each of this many most recent days...
    pub backup_keep_daily: usize,
    /// ...and the newest of each of this many most recent weeks; it deletes
    /// the others (manual and `pre_delete` backups are never pruned).
    pub backup_keep_weekly: usize,
    /// Whether a code switch of a provisioned instance (a change of its
    /// `code`) takes a `pre_update` backup first; a failed backup leaves
    /// the code unswitched.
    pub backup_pre_update: bool,
    /// An instance in [`ServiceConfig::backup_statuses`] whose newest
    /// complete backup is older than this (seconds), or that has none and
    /// was created longer ago, is reported by the `check_backups` task
    /// (metrics, and a notification when it newly becomes so).
    #[serde(with = "crate::serde_secs")]
    pub backup_max_age: Duration,
    /// Whether the periodic `verify_instances` task queues a verification
    /// of every verified instance (`POST /instance/<id>/verify` works
    /// either way).
    pub drift_verify: bool,
    /// Whether a verification that finds healable drift heals it at once
    /// (re-applying links, settings and checkouts, never the database),
    /// as `POST /instance/<id>/heal` does.
    pub drift_auto_heal: bool,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            environment: Environment::Local,
            default_core: "drupal".into(),
            default_profile: "express".into(),
            pool_size: None,
            pool_top_up_on_deploy: true,
            stuck_pending_after: Duration::from_secs(15 * 60),
            take_down_installed_after: Duration::from_secs(35 * 24 * 3600),
            statistics_stale_after: Duration::from_secs(36 * 3600),
            classes_bundle: "cu_classes_bundle".into(),
            command_timeout: Duration::from_secs(600),
            atlas_url: "http://127.0.0.1:8080".into(),
            max_bulk_items: 1000,
            backup_statuses: vec![Status::Launched],
            backup_keep_daily: 7,
            backup_keep_weekly: 4,
            backup_pre_update: false,
            backup_max_age: Duration::from_secs(36 * 3600),
            drift_verify: true,
            drift_auto_heal: false,
        }
    }
}

impl ServiceConfig {
    /// The retention the periodic backup prunes with.
    pub fn backup_retention(&self) -> Retention {
        Retention {
            daily: self.backup_keep_daily,
            weekly: self.backup_keep_weekly,
        }
    }

    /// How many `available` + `pending` instances the pool keeps.
    pub fn pool_target(&self) -> u32 {
        self.pool_size
            .unwrap_or(if self.environment == Environment::Local {
                2
            } else {
                5
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_target_is_two_locally_and_five_elsewhere_unless_set() {
        let mut c = ServiceConfig::default();
        assert_eq!(c.pool_target(), 2);
        c.environment = Environment::Production;
        assert_eq!(c.pool_target(), 5);
        c.pool_size = Some(9);
        assert_eq!(c.pool_target(), 9);
    }
}
