//! [`BackupCheck`]: the fleet's backups as the newest successful
//! `check_backups` periodic job found them — per instance the newest
//! complete backup and whether it is too old, and the backup records by
//! state with the bytes they hold — and the staleness rule.
//!
//! Like the host check, it runs as a job and keeps its findings in the
//! job's result, so every node reading the store (an API-only node too)
//! reports the same backup metrics.
//!
//! # Staleness rule
//! An instance in [`ServiceConfig::backup_statuses`] is *stale* when its
//! newest complete backup finished more than
//! [`ServiceConfig::backup_max_age`] ago, or when it has none and was
//! created longer ago than that (a new instance gets one backup period of
//! grace). Only instances that become stale since the previous check are
//! notified; the metrics list every stale one.
//!
//! [`ServiceConfig::backup_statuses`]: crate::ServiceConfig::backup_statuses
//! [`ServiceConfig::backup_max_age`]: crate::ServiceConfig::backup_max_age

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::StoreError;
use crate::jobs::{Job, JobStatus};
use crate::model::{Backup, BackupState, Id, Instance, Timestamp};
use crate::query::{Filter, FindQuery};
use crate::scheduler::PeriodicTask;
use crate::store::Store;

/// One instance's backups as a check found them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceBackups {
    /// The instance.
    pub instance: Id,
    /// Its sid.
    pub sid: String,
    /// When its newest complete backup finished (`None`: it has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success: Option<Timestamp>,
    /// Whether it is stale (see the module's staleness rule).
    pub stale: bool,
}

/// The findings of one backup check and when it finished.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupCheck {
    /// When the check finished (the job's finish; the check's own time in
    /// a job result being written).
    pub checked_at: Timestamp,
    /// Every instance in the backed-up statuses.
    pub instances: Vec<InstanceBackups>,
    /// Live backup records by state (`pending`, `running`, `complete`,
    /// `failed`).
    pub states: BTreeMap<String, u64>,
    /// Bytes held by the complete backups.
    pub bytes: u64,
}

impl BackupCheck {
    /// Checks `instances` (those in the backed-up statuses) against every
    /// live backup record, at `now`, with `max_age` as the staleness limit.
    pub fn compute(now: Timestamp, max_age: Duration, instances: &[Instance], backups: &[Backup]) -> Self {
        let mut states: BTreeMap<String, u64> = BackupState::ALL
            .iter()
            .map(|s| (s.as_str().to_owned(), 0))
            .collect();
        let mut bytes = 0;
        let mut newest: BTreeMap<Id, Timestamp> = BTreeMap::new();
        for b in backups {
            *states.entry(b.state.as_str().to_owned()).or_default() += 1;
            if b.state != BackupState::Complete {
                continue;
            }
            bytes += b.size.unwrap_or(0);
            if let Some(at) = b.finished {
                let slot = newest.entry(b.instance).or_insert(at);
                if at > *slot {
                    *slot = at;
                }
            }
        }
        let old = |at: Timestamp| now.since(at) > max_age;
        let instances = instances
            .iter()
            .map(|inst| {
                let last_success = newest.get(&inst.id).copied();
                let stale = match last_success {
                    Some(at) => old(at),
                    None => inst.dates.created.is_some_and(old),
                };
                InstanceBackups {
                    instance: inst.id,
                    sid: inst.sid.to_string(),
                    last_success,
                    stale,
                }
            })
            .collect();
        BackupCheck {
            checked_at: now,
            instances,
            states,
            bytes,
        }
    }

    /// The stale instances.
    pub fn stale(&self) -> impl Iterator<Item = &InstanceBackups> {
        self.instances.iter().filter(|i| i.stale)
    }

    /// The instances stale now that were not in `previous` (all stale ones
    /// when there is no previous check).
    pub fn newly_stale<'a>(&'a self, previous: Option<&BackupCheck>) -> Vec<&'a InstanceBackups> {
        let was_stale = |id: &Id| previous.is_some_and(|p| p.stale().any(|i| i.instance == *id));
        self.stale().filter(|i| !was_stale(&i.instance)).collect()
    }

    /// The job result this check is kept as: the check, plus the sids of
    /// the stale instances for people reading the job.
    pub fn job_result(&self) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Some(obj) = v.as_object_mut() {
            let stale: Vec<&str> = self.stale().map(|i| i.sid.as_str()).collect();
            obj.insert("stale".into(), serde_json::json!(stale));
        }
        v
    }

    /// The check a finished `check_backups` job holds (`None` for any
    /// other job, or one without a readable result).
    pub fn from_job(job: &Job) -> Option<BackupCheck> {
        if job.status != JobStatus::Succeeded || job.key.as_deref() != Some(&job_key()) {
            return None;
        }
        let mut check: BackupCheck = serde_json::from_value(job.result.clone()?).ok()?;
        check.checked_at = job.finished.unwrap_or(job.updated);
        Some(check)
    }

    /// The newest successful check in `store` (`None`: none yet).
    ///
    /// # Errors
    /// The store's.
    pub async fn latest(store: &dyn Store) -> Result<Option<BackupCheck>, StoreError> {
        let q = FindQuery::newest_job(Filter::and(vec![
            Filter::eq("key", job_key()),
            Filter::eq("status", JobStatus::Succeeded.as_str()),
        ]));
        let page = store.find_jobs(&q).await?;
        Ok(page.items.first().and_then(BackupCheck::from_job))
    }
}

fn job_key() -> String {
    PeriodicTask::CheckBackups.job_key()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Doc;
    use serde_json::json;

    const DAY: i64 = 86_400;

    fn now() -> Timestamp {
        Timestamp::from_unix(100 * DAY)
    }

    fn ago(days: i64) -> String {
        Timestamp::from_unix(100 * DAY - days * DAY).to_string()
    }

    fn instance(n: u8, created_days_ago: i64) -> Instance {
        let doc = Doc::new(
            Id::from_bytes([n; 12]),
            json!({"sid": format!("p1instance{n:02}"), "status": "launched",
                   "dates": {"created": ago(created_days_ago)}})
            .as_object()
            .cloned()
            .unwrap(),
            Timestamp::from_unix(0),
        );
        Instance::from_doc(&doc).unwrap()
    }

    fn backup(instance: u8, state: &str, finished_days_ago: i64, size: u64) -> Backup {
        let doc = Doc::new(
            Id::generate(Timestamp::from_unix(finished_days_ago)),
            json!({"instance": Id::from_bytes([instance; 12]).to_string(), "state": state,
                   "finished": ago(finished_days_ago), "size": size})
            .as_object()
            .cloned()
            .unwrap(),
            Timestamp::from_unix(0),
        );
        Backup::from_doc(&doc).unwrap()
    }

    fn check(instances: &[Instance], backups: &[Backup]) -> BackupCheck {
        BackupCheck::compute(now(), Duration::from_secs(36 * 3600), instances, backups)
    }

    #[test]
    fn an_instance_is_stale_when_its_newest_complete_backup_is_older_than_the_limit() {
        let insts = [instance(1, 30), instance(2, 30), instance(3, 30)];
        let c = check(
            &insts,
            &[
                backup(1, "complete", 1, 10),
                backup(1, "complete", 5, 10),
                backup(2, "complete", 3, 10),
                // A newer failed backup does not count as a success.
                backup(2, "failed", 0, 0),
            ],
        );
        let by_sid: Vec<(&str, bool)> = c.instances.iter().map(|i| (i.sid.as_str(), i.stale)).collect();
        assert_eq!(
            by_sid,
            [
                ("p1instance01", false),
                ("p1instance02", true),
                ("p1instance03", true)
            ]
        );
        assert_eq!(c.instances[0].last_success.unwrap().to_string(), ago(1));
        assert_eq!(c.instances[2].last_success, None);
    }

    #[test]
    fn a_new_instance_without_a_backup_gets_one_period_of_grace() {
        let c = check(&[instance(1, 1)], &[]);
        assert!(!c.instances[0].stale);
    }

    #[test]
    fn states_and_bytes_count_every_live_backup() {
        let c = check(
            &[],
            &[
                backup(1, "complete", 1, 10),
                backup(2, "complete", 2, 32),
                backup(2, "failed", 0, 0),
                backup(3, "pending", 0, 0),
            ],
        );
        assert_eq!(c.bytes, 42);
        assert_eq!(c.states["complete"], 2);
        assert_eq!(c.states["failed"], 1);
        assert_eq!(c.states["pending"], 1);
        assert_eq!(c.states["running"], 0);
    }

    #[test]
    fn only_instances_not_stale_at_the_previous_check_are_new() {
        let insts = [instance(1, 30), instance(2, 30)];
        let before = check(&insts[..1], &[]);
        let now = check(&insts, &[]);
        let new: Vec<&str> = now
            .newly_stale(Some(&before))
            .iter()
            .map(|i| i.sid.as_str())
            .collect();
        assert_eq!(new, ["p1instance02"]);
        assert_eq!(now.newly_stale(None).len(), 2);
    }

    #[test]
    fn the_job_result_reads_back_as_the_check_and_lists_the_stale_sids() {
        let c = check(&[instance(1, 30)], &[backup(1, "complete", 3, 7)]);
        let v = c.job_result();
        assert_eq!(v["stale"], json!(["p1instance01"]));
        let back: BackupCheck = serde_json::from_value(v).unwrap();
        assert_eq!(back, c);
    }
}
