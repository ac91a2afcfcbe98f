//! [`HostCheck`]: the fleet's hosts as the newest successful
//! `check_hosts` periodic job found them, and the readiness rule on it.
//!
//! The check runs as a job (on whichever node's worker claims it) and
//! keeps its reports in the job's result, so every node reading the
//! store — an API-only node too — reports the same hosts in `/readyz` and
//! `/metrics`.
//!
//! # Readiness rule
//! An unhealthy or unreachable host is reported, not fatal: the node
//! stays ready while at least one `web` host was reachable at the last
//! check ([`HostCheck::serving`]). With no web host reachable, nothing can
//! serve a site or run a job's host work, and the node is not ready.
//! Before the first check, nothing is known and nothing is held against
//! the node.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::StoreError;
use crate::executor::HostReport;
use crate::jobs::{Job, JobStatus};
use crate::model::Timestamp;
use crate::query::{Filter, FindQuery};
use crate::scheduler::PeriodicTask;
use crate::store::Store;

/// The reports of one host check and when it finished.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostCheck {
    /// When the check finished.
    pub checked_at: Timestamp,
    /// One report per host.
    pub hosts: Vec<HostReport>,
}

impl HostCheck {
    /// The job result a check with `hosts` reports: every host's report
    /// and the names of the unhealthy ones.
    pub fn job_result(hosts: &[HostReport]) -> Value {
        let unhealthy: Vec<&str> = hosts
            .iter()
            .filter(|h| !h.healthy())
            .map(|h| h.host.as_str())
            .collect();
        json!({ "hosts": hosts, "unhealthy": unhealthy })
    }

    /// The check a finished `check_hosts` job holds (`None` for any other
    /// job, or one without a readable result).
    pub fn from_job(job: &Job) -> Option<HostCheck> {
        if job.status != JobStatus::Succeeded || job.key.as_deref() != Some(&job_key()) {
            return None;
        }
        let hosts = job.result.as_ref()?.get("hosts")?.clone();
        Some(HostCheck {
            checked_at: job.finished.unwrap_or(job.updated),
            hosts: serde_json::from_value(hosts).ok()?,
        })
    }

    /// The newest successful check in `store` (`None`: none yet).
    ///
    /// # Errors
    /// The store's.
    pub async fn latest(store: &dyn Store) -> Result<Option<HostCheck>, StoreError> {
        let q = FindQuery::newest_job(Filter::and(vec![
            Filter::eq("key", job_key()),
            Filter::eq("status", JobStatus::Succeeded.as_str()),
        ]));
        let page = store.find_jobs(&q).await?;
        Ok(page.items.first().and_then(HostCheck::from_job))
    }

    /// Whether the fleet can serve: some `web` host was reachable (or
    /// the check knows no web host at all).
    pub fn serving(&self) -> bool {
        let mut web = self.hosts.iter().filter(|h| h.is_web()).peekable();
        web.peek().is_none() || web.any(|h| h.reachable)
    }
}

fn job_key() -> String {
    PeriodicTask::CheckHosts.job_key()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::Batch;
    use crate::jobs::{JobFailure, LeaseSpec};
    use crate::store::Outcome;
    use crate::task::Task;
    use crate::testing::record_host_check;
    use crate::MemoryStore;

    fn host(name: &str, roles: &[&str], reachable: bool, problems: &[&str]) -> HostReport {
        HostReport {
            host: name.into(),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            reachable,
            problems: problems.iter().map(|p| (*p).to_owned()).collect(),
        }
    }

    fn check(hosts: Vec<HostReport>) -> HostCheck {
        HostCheck {
            checked_at: Timestamp::from_unix(100),
            hosts,
        }
    }

    #[test]
    fn the_fleet_serves_while_one_web_host_is_reachable() {
        let one_down = check(vec![
            host("web1", &["web"], false, &["cannot connect"]),
            host("web2", &["web"], true, &["code_root missing"]),
            host("lb1", &["lb"], false, &["cannot connect"]),
        ]);
        assert!(one_down.serving());
        let all_down = check(vec![
            host("web1", &["web"], false, &["cannot connect"]),
            host("lb1", &["lb"], true, &[]),
        ]);
        assert!(!all_down.serving());
        assert!(check(vec![host("lb1", &["lb"], false, &["x"])]).serving());
        assert!(check(Vec::new()).serving());
    }

    #[test]
    fn the_job_result_lists_every_host_and_names_the_unhealthy() {
        let v = HostCheck::job_result(&[
            host("web1", &["web"], true, &[]),
            host("web2", &["web"], true, &["drush missing"]),
        ]);
        assert_eq!(v["unhealthy"], json!(["web2"]));
        assert_eq!(v["hosts"][1]["problems"], json!(["drush missing"]));
    }

    async fn failed_check(store: &MemoryStore, at: i64) {
        let now = Timestamp::from_unix(at);
        let mut b = Batch::new(now);
        b.enqueue(
            Task::Periodic {
                task: PeriodicTask::CheckHosts,
            }
            .spec(now),
        );
        store.commit(b).await.unwrap();
        let lease = LeaseSpec {
            owner: "w".into(),
            duration: std::time::Duration::from_secs(60),
        };
        let job = store.claim(&lease, now).await.unwrap().unwrap();
        let outcome = Outcome {
            owner: "w".into(),
            now,
            result: Err(JobFailure {
                error: "boom".into(),
                retry_at: None,
                result: None,
            }),
            follow_up: Batch::new(now),
        };
        store.finish(&job.id, outcome).await.unwrap();
    }

    #[tokio::test]
    async fn the_latest_successful_check_is_read_back_from_the_queue() {
        let store = MemoryStore::new();
        assert_eq!(HostCheck::latest(&store).await.unwrap(), None);
        let first = [host("web1", &["web"], true, &[])];
        record_host_check(&store, Timestamp::from_unix(100), &first)
            .await
            .unwrap();
        let second = [host("web1", &["web"], false, &["cannot connect"])];
        record_host_check(&store, Timestamp::from_unix(200), &second)
            .await
            .unwrap();
        failed_check(&store, 300).await;
        let latest = HostCheck::latest(&store).await.unwrap().unwrap();
        assert_eq!(latest.hosts, second);
        assert_eq!(latest.checked_at, Timestamp::from_unix(200));
    }
}
