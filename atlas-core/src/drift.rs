//! Drift: how an instance on its servers differs from what its records
//! say it should be ([`DriftFinding`]), the `drift` field an instance
//! keeps from its newest verification ([`Drift`]), which findings are new
//! since the previous one, and what a heal re-applies ([`heal_plan`]).
//!
//! # Rules
//! - A finding names the host it was found on, its [`DriftKind`], what was
//!   expected and what was found (never a secret: settings files compare
//!   by hash), and whether re-applying the desired state fixes it.
//! - Database findings are never healed, whatever the executor says:
//!   recreating a database or its user could lose or hide data, so they
//!   are reported for a person to look at.
//! - A finding is *new* when no finding of the previous verification has
//!   the same host, kind, detail and code item; only new findings are
//!   notified.
//! - A heal re-applies, with the executor's idempotent operations, only
//!   what the healable findings need: the checkouts named (redeploy), the
//!   code links (code switch), the settings files (rewrite), and the web
//!   links (a launch for a `launched` instance, a take-down for a `down`
//!   one; other statuses have no web-link operation to re-apply).

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::model::{Doc, Id, Status, Timestamp};

/// The statuses whose instances are verified: provisioned and not in the
/// middle of lifecycle work (which changes what the servers hold).
pub const VERIFIED_STATUSES: [Status; 4] = [
    Status::Available,
    Status::Installed,
    Status::Launched,
    Status::Down,
];

/// What part of an instance a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftKind {
    /// A link of the instance's code tree (core entries, profile,
    /// packages) is missing or points elsewhere.
    CodeLink,
    /// A code checkout is missing or its `HEAD` is not the recorded
    /// commit.
    CheckoutHead,
    /// A settings file differs from what the instance renders to (or is
    /// missing).
    Settings,
    /// The database is missing, or its user cannot log in to it.
    Database,
    /// A web link (the instance's web link, a launched route's link, or
    /// `current`) is missing or points elsewhere.
    WebLink,
}

impl DriftKind {
    /// Every kind.
    pub const ALL: [DriftKind; 5] = [
        DriftKind::CodeLink,
        DriftKind::CheckoutHead,
        DriftKind::Settings,
        DriftKind::Database,
        DriftKind::WebLink,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            DriftKind::CodeLink => "code_link",
            DriftKind::CheckoutHead => "checkout_head",
            DriftKind::Settings => "settings",
            DriftKind::Database => "database",
            DriftKind::WebLink => "web_link",
        }
    }
}

impl fmt::Display for DriftKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One difference between an instance's records and one host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftFinding {
    /// The host it was found on (`local` for the Atlas host alone).
    pub host: String,
    /// What part of the instance it is about.
    pub kind: DriftKind,
    /// What was expected and what was found.
    pub detail: String,
    /// Whether re-applying the desired state fixes it (never for
    /// [`DriftKind::Database`]).
    pub healable: bool,
    /// The code item whose checkout it is about ([`DriftKind::CheckoutHead`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<Id>,
}

impl DriftFinding {
    /// A finding on `host`; healable unless it is about the database.
    pub fn new(host: impl Into<String>, kind: DriftKind, detail: impl Into<String>) -> Self {
        Self {
            host: host.into(),
            kind,
            detail: detail.into(),
            healable: kind != DriftKind::Database,
            code: None,
        }
    }

    /// The same finding, about the checkout of `code`.
    pub fn about_code(mut self, code: Id) -> Self {
        self.code = Some(code);
        self
    }

    /// The same finding, marked not healable (nothing re-applies it).
    pub fn not_healable(mut self) -> Self {
        self.healable = false;
        self
    }

    /// Whether a heal re-applies it: healable and not about the database.
    pub fn heals(&self) -> bool {
        self.healable && self.kind != DriftKind::Database
    }

    fn same_as(&self, other: &DriftFinding) -> bool {
        self.host == other.host
            && self.kind == other.kind
            && self.detail == other.detail
            && self.code == other.code
    }
}

/// An instance's `drift` field: the findings of its newest verification
/// and when it ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drift {
    /// When the verification ran.
    pub checked: Timestamp,
    /// What it found (empty: the servers match the records).
    pub findings: Vec<DriftFinding>,
}

impl Drift {
    /// The `drift` of an instance record (`None`: never verified, or a
    /// value this version cannot read).
    pub fn of_doc(doc: &Doc) -> Option<Drift> {
        let v = doc.body.get("drift")?;
        if v.is_null() {
            return None;
        }
        serde_json::from_value(v.clone()).ok()
    }

    /// Whether anything differs.
    pub fn drifted(&self) -> bool {
        !self.findings.is_empty()
    }

    /// The findings not in `previous` (all of them without one).
    pub fn new_since<'a>(&'a self, previous: Option<&Drift>) -> Vec<&'a DriftFinding> {
        self.findings
            .iter()
            .filter(|f| !previous.is_some_and(|p| p.findings.iter().any(|o| o.same_as(f))))
            .collect()
    }

    /// The stored value: the checked date, the findings and their count
    /// (which `/metrics` counts drifted instances by).
    pub fn to_value(&self) -> Value {
        json!({
            "checked": self.checked.to_string(),
            "count": self.findings.len(),
            "findings": self.findings,
        })
    }
}

/// One operation a heal re-applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealStep {
    /// Redeploy the code item (checkout brought to its commit).
    Deploy(Id),
    /// Re-link the instance's code tree (the code switch).
    Relink,
    /// Rewrite the settings files.
    WriteSettings,
    /// Re-apply the launch links (a `launched` instance).
    Launch,
    /// Point the instance at the down page again (a `down` instance).
    TakeDown,
}

impl HealStep {
    /// The executor operation it runs, for results and logs.
    pub fn operation(self) -> &'static str {
        match self {
            HealStep::Deploy(_) => "deploy_code",
            HealStep::Relink => "switch_code",
            HealStep::WriteSettings => "write_settings",
            HealStep::Launch => "launch",
            HealStep::TakeDown => "take_down",
        }
    }
}

/// What a heal of an instance in `status` runs for `findings`, in order:
/// checkouts first (links point into them), then links, settings and web
/// links. Findings that do not heal ([`DriftFinding::heals`]) add nothing.
pub fn heal_plan(findings: &[DriftFinding], status: Status) -> Vec<HealStep> {
    let healing: Vec<&DriftFinding> = findings.iter().filter(|f| f.heals()).collect();
    let any = |k: DriftKind| healing.iter().any(|f| f.kind == k);
    let mut steps = Vec::new();
    for f in &healing {
        if let (DriftKind::CheckoutHead, Some(code)) = (f.kind, f.code) {
            if !steps.contains(&HealStep::Deploy(code)) {
                steps.push(HealStep::Deploy(code));
            }
        }
    }
    if any(DriftKind::CodeLink) {
        steps.push(HealStep::Relink);
    }
    if any(DriftKind::Settings) {
        steps.push(HealStep::WriteSettings);
    }
    if any(DriftKind::WebLink) {
        match status {
            Status::Launched => steps.push(HealStep::Launch),
            Status::Down => steps.push(HealStep::TakeDown),
            _ => {}
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_unix(secs)
    }

    fn finding(host: &str, kind: DriftKind, detail: &str) -> DriftFinding {
        DriftFinding::new(host, kind, detail)
    }

    #[test]
    fn database_findings_never_heal_even_when_marked_healable() {
        let mut f = finding("web1", DriftKind::Database, "database p1x is missing");
        assert!(!f.healable);
        f.healable = true;
        assert!(!f.heals());
        assert!(heal_plan(&[f], Status::Launched).is_empty());
    }

    #[test]
    fn only_findings_absent_from_the_previous_check_are_new() {
        let old = finding("web1", DriftKind::Settings, "settings.php differs");
        let new = finding("web2", DriftKind::Settings, "settings.php differs");
        let before = Drift {
            checked: at(1),
            findings: vec![old.clone()],
        };
        let now = Drift {
            checked: at(2),
            findings: vec![old, new.clone()],
        };
        assert_eq!(now.new_since(Some(&before)), [&new]);
        assert_eq!(now.new_since(None).len(), 2);
    }

    #[test]
    fn the_heal_plan_redeploys_named_checkouts_first_then_links_settings_and_web_links() {
        let code = Id::from_bytes([7; 12]);
        let findings = [
            finding("web1", DriftKind::WebLink, "web link missing"),
            finding("web1", DriftKind::Settings, "settings.php differs"),
            finding("web1", DriftKind::CodeLink, "profiles/express"),
            finding("web1", DriftKind::CheckoutHead, "HEAD differs").about_code(code),
            finding("web2", DriftKind::CheckoutHead, "HEAD differs").about_code(code),
            finding("web1", DriftKind::Database, "cannot log in"),
        ];
        assert_eq!(
            heal_plan(&findings, Status::Launched),
            [
                HealStep::Deploy(code),
                HealStep::Relink,
                HealStep::WriteSettings,
                HealStep::Launch
            ]
        );
        assert_eq!(heal_plan(&findings[..1], Status::Down), [HealStep::TakeDown]);
        assert!(heal_plan(&findings[..1], Status::Installed).is_empty());
    }

    #[test]
    fn a_finding_marked_not_healable_adds_no_step() {
        let f = finding("web1", DriftKind::WebLink, "web link is a directory").not_healable();
        assert!(heal_plan(&[f], Status::Launched).is_empty());
    }

    #[test]
    fn the_stored_value_reads_back_with_its_count() {
        let d = Drift {
            checked: at(86_400),
            findings: vec![finding("local", DriftKind::CodeLink, "x").about_code(Id::from_bytes([1; 12]))],
        };
        let v = d.to_value();
        assert_eq!(v["count"], 1);
        let doc = Doc::new(
            Id::from_bytes([2; 12]),
            json!({ "sid": "p1abcdef01", "drift": v })
                .as_object()
                .cloned()
                .unwrap(),
            at(0),
        );
        assert_eq!(Drift::of_doc(&doc), Some(d));
    }
}
