//! [`DirectoryHealth`]: whether the directory answered its last bind or
//! probe, for `/readyz` ([`DirectoryHealth::problems`], an advisory check:
//! users of the users file still sign in while the directory is down) and
//! the `atlas_ldap_up` gauge.

use std::sync::{Mutex, PoisonError};

use atlas_observe::Metrics;

/// The directory's last known state. Shared by the authenticator and the
/// readiness check.
#[derive(Debug)]
pub struct DirectoryHealth {
    url: String,
    last_failure: Mutex<Option<String>>,
    metrics: Option<Metrics>,
}

impl DirectoryHealth {
    /// The health of the directory at `url`, up until told otherwise;
    /// `atlas_ldap_up` set in `metrics` on every report.
    pub(crate) fn new(url: &str, metrics: Option<Metrics>) -> Self {
        Self {
            url: url.to_owned(),
            last_failure: Mutex::new(None),
            metrics,
        }
    }

    /// The directory's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The directory answered.
    pub(crate) fn answered(&self) {
        *self.last_failure.lock().unwrap_or_else(PoisonError::into_inner) = None;
        if let Some(m) = &self.metrics {
            m.ldap_up(&self.url, true);
        }
    }

    /// The directory could not be used, for `reason`.
    pub(crate) fn failed(&self, reason: &str) {
        *self.last_failure.lock().unwrap_or_else(PoisonError::into_inner) = Some(reason.to_owned());
        if let Some(m) = &self.metrics {
            m.ldap_up(&self.url, false);
        }
    }

    /// Whether the last bind or probe got an answer.
    pub fn is_up(&self) -> bool {
        self.last_failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_none()
    }

    /// Nothing while the directory answers; else one line naming it, why,
    /// and what it means (for a readiness check).
    pub fn problems(&self) -> Vec<String> {
        let last = self
            .last_failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        last.map(|reason| {
            format!(
                "the LDAP directory {} does not answer ({reason}); directory users get 503 until it does",
                self.url
            )
        })
        .into_iter()
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_is_a_problem_naming_the_directory_until_it_answers_again() {
        let metrics = Metrics::new();
        let h = DirectoryHealth::new("ldap://127.0.0.1:1", Some(metrics.clone()));
        assert!(h.problems().is_empty());
        h.failed("cannot connect: connection refused");
        let p = h.problems();
        assert!(
            p[0].contains("ldap://127.0.0.1:1") && p[0].contains("connection refused"),
            "{p:?}"
        );
        assert!(!h.is_up());
        assert!(metrics
            .encode()
            .contains("atlas_ldap_up{directory=\"ldap://127.0.0.1:1\"} 0"));
        h.answered();
        assert!(h.problems().is_empty());
        assert!(metrics
            .encode()
            .contains("atlas_ldap_up{directory=\"ldap://127.0.0.1:1\"} 1"));
    }
}
