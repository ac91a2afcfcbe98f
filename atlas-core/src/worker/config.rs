//! [`WorkerConfig`]: the worker's knobs and their defaults.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::jobs::Backoff;

/// How a worker claims and runs jobs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerConfig {
    /// Name written on leases; must be unique among running workers. Empty:
    /// `<host>-<pid>`, chosen when the worker starts.
    pub owner: String,
    /// Jobs run at once (at least 1).
    pub concurrency: usize,
    /// Lease length; renewed every third of it while the job runs.
    #[serde(with = "crate::serde_secs")]
    pub lease: Duration,
    /// Per-attempt time limit (the original's 600 s).
    #[serde(with = "crate::serde_secs")]
    pub time_limit: Duration,
    /// Delay before the first retry; doubles per attempt.
    #[serde(with = "crate::serde_secs")]
    pub backoff_base: Duration,
    /// Longest retry delay.
    #[serde(with = "crate::serde_secs")]
    pub backoff_max: Duration,
    /// How often to look for work when the queue is empty.
    #[serde(with = "crate::serde_secs")]
    pub poll_interval: Duration,
    /// How often to requeue jobs whose worker died.
    #[serde(with = "crate::serde_secs")]
    pub reap_interval: Duration,
    /// On shutdown, how long running jobs may take to finish.
    #[serde(with = "crate::serde_secs")]
    pub shutdown_grace: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        let backoff = Backoff::default();
        Self {
            owner: String::new(),
            concurrency: 4,
            lease: Duration::from_secs(60),
            time_limit: Duration::from_secs(600),
            backoff_base: backoff.base,
            backoff_max: backoff.max,
            poll_interval: Duration::from_secs(1),
            reap_interval: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

impl WorkerConfig {
    /// The lease owner name: `owner`, or `<host>-<pid>` when it is empty.
    pub fn owner_name(&self) -> String {
        if !self.owner.is_empty() {
            return self.owner.clone();
        }
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_else(|| "atlas".into());
        format!("{host}-{}", std::process::id())
    }

    /// The retry policy.
    pub fn backoff(&self) -> Backoff {
        Backoff {
            base: self.backoff_base,
            max: self.backoff_max,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_original_time_limit() {
        let c = WorkerConfig::default();
        assert_eq!(c.time_limit, Duration::from_secs(600));
        assert!(c.concurrency >= 1);
    }

    #[test]
    fn an_empty_owner_becomes_host_and_pid() {
        let c = WorkerConfig::default();
        assert!(c.owner_name().ends_with(&format!("-{}", std::process::id())));
        let named = WorkerConfig {
            owner: "w1".into(),
            ..WorkerConfig::default()
        };
        assert_eq!(named.owner_name(), "w1");
    }

    #[test]
    fn config_reads_seconds_and_refuses_unknown_keys() {
        let c: WorkerConfig = serde_json::from_str(r#"{"concurrency": 8, "time_limit": 30}"#).unwrap();
        assert_eq!(c.concurrency, 8);
        assert_eq!(c.time_limit, Duration::from_secs(30));
        assert!(serde_json::from_str::<WorkerConfig>(r#"{"threads": 8}"#).is_err());
    }
}
