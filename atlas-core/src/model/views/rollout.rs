//! [`Rollout`]: one rollout of a code item's next release over the
//! instances using it, in waves, and [`RolloutFailure`], an instance whose
//! switch failed for good.

use serde::{Deserialize, Serialize};

use super::{Fields, ViewError};
use crate::model::{Doc, Id, InstanceCode, OnFailure, Resource, RolloutState, Timestamp};

/// Instances per wave when the client does not say.
pub const DEFAULT_WAVE_SIZE: u64 = 50;

/// An instance whose switch failed for good (`rollout.failed`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutFailure {
    /// The instance.
    pub instance: Id,
    /// Its sid.
    pub sid: String,
    /// The error of its last attempt.
    pub error: String,
}

/// A `rollout` record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rollout {
    /// Record id.
    #[serde(rename = "_id")]
    pub id: Id,
    /// The code item the instances move away from.
    pub from: Id,
    /// The code item they move to.
    pub to: Id,
    /// The client's Eve `where` narrowing the instances (absent: every
    /// instance using `from`).
    #[serde(rename = "where", skip_serializing_if = "Option::is_none")]
    pub where_: Option<String>,
    /// Most instances in one wave.
    pub wave_size: u64,
    /// Failures tolerated in one wave.
    pub max_failures: u64,
    /// What more failures than that do.
    pub on_failure: OnFailure,
    /// Seconds between the end of a wave and the start of the next.
    pub pause_between: u64,
    /// Whether each instance gets a `pre_update` backup first.
    pub backup: bool,
    /// Where it stands (a record without one is `pending`).
    pub state: RolloutState,
    /// The number of the current (or last) wave, 1-based; 0 before the first.
    pub wave: u64,
    /// The instances of the current wave (empty once its outcomes are
    /// folded into `done` and `failed`).
    pub current: Vec<Id>,
    /// Instances switched (or found already off `from`).
    pub done: u64,
    /// Instances still to switch, the current wave's included, as the last
    /// step counted them (failed and skipped ones are not).
    pub remaining: u64,
    /// Instances whose switch failed for good.
    pub failed: Vec<RolloutFailure>,
    /// Sids left out on an explicit `resume` with `{"failed": "skip"}`.
    pub skipped: Vec<String>,
    /// When its first wave was planned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started: Option<Timestamp>,
    /// When it completed or was aborted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished: Option<Timestamp>,
    /// Who asked for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
}

impl Rollout {
    /// The typed view of a `rollout` record.
    ///
    /// # Errors
    /// [`ViewError`] when `from` or `to` is missing or a field has the
    /// wrong type (an unknown state, a failure without its error, …).
    pub fn from_doc(doc: &Doc) -> Result<Self, ViewError> {
        let f = Fields::of(doc, Resource::Rollout);
        Ok(Rollout {
            id: doc.id,
            from: f.required("from")?,
            to: f.required("to")?,
            where_: f.optional("where")?,
            wave_size: f.or("wave_size", DEFAULT_WAVE_SIZE)?,
            max_failures: f.or("max_failures", 0)?,
            on_failure: f.or("on_failure", OnFailure::Halt)?,
            pause_between: f.or("pause_between", 0)?,
            backup: f.or("backup", false)?,
            state: f.or("state", RolloutState::Pending)?,
            wave: f.or("wave", 0)?,
            current: f.list("current")?,
            done: f.or("done", 0)?,
            remaining: f.or("remaining", 0)?,
            failed: f.list("failed")?,
            skipped: f.list("skipped")?,
            started: f.optional("started")?,
            finished: f.optional("finished")?,
            created_by: f.optional("created_by")?,
        })
    }

    /// Whether this is the rollout of a code PATCH: `from` and `to` are
    /// the same item, whose checkout moved under every instance using it at
    /// once; its one wave rebuilds their registries and updates their
    /// databases. Only the engine makes these (a client's rollout names two
    /// different releases).
    pub fn in_place(&self) -> bool {
        self.from == self.to
    }

    /// Whether `code` uses `from` (as core, profile or package).
    pub fn uses_from(&self, code: &InstanceCode) -> bool {
        code.core == Some(self.from) || code.profile == Some(self.from) || code.package.contains(&self.from)
    }

    /// `code` with `from` replaced by `to` wherever it appears (a package
    /// list that already holds `to` keeps it once).
    pub fn switched(&self, code: &InstanceCode) -> InstanceCode {
        let swap = |id: Option<Id>| id.map(|i| if i == self.from { self.to } else { i });
        let mut package = Vec::with_capacity(code.package.len());
        for p in &code.package {
            let p = if *p == self.from { self.to } else { *p };
            if !package.contains(&p) {
                package.push(p);
            }
        }
        InstanceCode {
            core: swap(code.core),
            profile: swap(code.profile),
            package,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::doc;
    use super::*;
    use serde_json::json;

    const FROM: &str = "6b063bb73e47cec0540baa24";
    const TO: &str = "6b063bb73e47cec0540baa25";
    const OTHER: &str = "6b063bb73e47cec0540baa26";

    fn id(s: &str) -> Id {
        Id::parse(s).unwrap()
    }

    #[test]
    fn a_new_rollout_reads_as_pending_with_the_defaults() {
        let r = Rollout::from_doc(&doc(json!({"from": FROM, "to": TO}))).unwrap();
        assert_eq!(r.state, RolloutState::Pending);
        assert_eq!((r.wave_size, r.max_failures, r.pause_between), (50, 0, 0));
        assert_eq!(r.on_failure, OnFailure::Halt);
        assert!(!r.backup && r.current.is_empty() && r.failed.is_empty());
    }

    #[test]
    fn rollout_view_names_a_failure_without_its_error() {
        let d = doc(json!({"from": FROM, "to": TO, "failed": [{"instance": OTHER, "sid": "p1abcdefgh"}]}));
        assert_eq!(Rollout::from_doc(&d).unwrap_err().field(), "failed.0");
    }

    #[test]
    fn switched_replaces_from_by_to_as_core_profile_or_package() {
        let r = Rollout::from_doc(&doc(json!({"from": FROM, "to": TO}))).unwrap();
        let code = InstanceCode {
            core: Some(id(OTHER)),
            profile: Some(id(FROM)),
            package: vec![id(FROM), id(OTHER)],
        };
        assert!(r.uses_from(&code));
        let after = r.switched(&code);
        assert_eq!(after.core, Some(id(OTHER)));
        assert_eq!(after.profile, Some(id(TO)));
        assert_eq!(after.package, vec![id(TO), id(OTHER)]);
        assert!(!r.uses_from(&after));
    }
}
