//! [`Backup`]: one backup of one instance, and [`BackupCode`], a code item
//! the instance ran when it was taken.

use serde::{Deserialize, Serialize};

use super::{Fields, ViewError};
use crate::executor::{BackupArtifact, BackupPart};
use crate::model::{BackupKind, BackupState, CodeType, Doc, Id, InstanceCode, Resource, Timestamp};

/// A code item an instance ran when a backup was taken (`backup.code`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupCode {
    /// The code record's id.
    pub id: Id,
    /// Core, profile, module, theme or library.
    pub code_type: CodeType,
    /// `meta.name`.
    pub name: String,
    /// `meta.version`.
    pub version: String,
    /// The checked-out commit.
    pub commit_hash: String,
}

/// A `backup` record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Backup {
    /// Record id.
    #[serde(rename = "_id")]
    pub id: Id,
    /// The instance backed up.
    pub instance: Id,
    /// That instance's sid (set when the backup is recorded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Why it was taken (default `manual`).
    pub kind: BackupKind,
    /// Where it stands (a record without one is `pending`).
    pub state: BackupState,
    /// When it completed or failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished: Option<Timestamp>,
    /// Total stored bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// The host holding the parts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The backup's directory under the executor's backup root.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir: Option<String>,
    /// The stored parts.
    pub parts: Vec<BackupPart>,
    /// The code the instance ran.
    pub code: Vec<BackupCode>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Backup {
    /// The typed view of a `backup` record.
    ///
    /// # Errors
    /// [`ViewError`] when `instance` is missing or a field has the wrong
    /// type (an unknown state or kind, a part without its checksum, …).
    pub fn from_doc(doc: &Doc) -> Result<Self, ViewError> {
        let f = Fields::of(doc, Resource::Backup);
        Ok(Backup {
            id: doc.id,
            instance: f.required("instance")?,
            sid: f.optional("sid")?,
            kind: f.or("kind", BackupKind::Manual)?,
            state: f.or("state", BackupState::Pending)?,
            finished: f.optional("finished")?,
            size: f.optional("size")?,
            host: f.optional("host")?,
            dir: f.optional("dir")?,
            parts: f.list("parts")?,
            code: f.list("code")?,
            error: f.optional("error")?,
        })
    }

    /// Where the stored parts are, when the backup has any (host and
    /// directory known, at least one part).
    pub fn artifact(&self) -> Option<BackupArtifact> {
        match (&self.host, &self.dir) {
            (Some(host), Some(dir)) if !self.parts.is_empty() => Some(BackupArtifact {
                host: host.clone(),
                dir: dir.clone(),
                parts: self.parts.clone(),
            }),
            _ => None,
        }
    }

    /// The stored parts of a backup that can be restored: complete, with
    /// parts (`None` otherwise).
    pub fn restorable(&self) -> Option<BackupArtifact> {
        self.artifact().filter(|_| self.state == BackupState::Complete)
    }

    /// Why this backup cannot be restored (`None`: it can).
    pub fn not_restorable(&self) -> Option<String> {
        self.restorable().is_none().then(|| {
            format!(
                "backup {} is '{}': only a complete backup can be restored",
                self.id, self.state
            )
        })
    }

    /// The instance `code` field the backup's items make: core, profile,
    /// and the others as packages.
    pub fn instance_code(&self) -> InstanceCode {
        let mut code = InstanceCode::default();
        for item in &self.code {
            match item.code_type {
                CodeType::Core => code.core = Some(item.id),
                CodeType::Profile => code.profile = Some(item.id),
                _ => code.package.push(item.id),
            }
        }
        code
    }
}

impl BackupCode {
    /// Why a restore of backup `backup` cannot go ahead while this item
    /// no longer exists, and what to do.
    pub fn gone(&self, backup: &Id) -> String {
        format!(
            "backup {backup} needs code item '{}' {} ({}, {}) which no longer exists: \
             recreate it (same name, version and commit) before restoring",
            self.name, self.version, self.code_type, self.id
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::doc;
    use super::*;
    use crate::executor::BackupPartKind;
    use serde_json::json;

    #[test]
    fn backup_view_reads_every_field_and_rebuilds_the_artifact() {
        let d = doc(json!({
            "instance": "6b063bb73e47cec0540baa24", "sid": "p1abcdefgh", "kind": "pre_delete",
            "state": "complete", "finished": "2026-11-25 01:40:00 GMT", "size": 30,
            "host": "local", "dir": "p1abcdefgh/6b063bb73e47cec0540baa25",
            "parts": [{"kind": "database", "file": "database.sql.gz", "size": 10, "sha256": "ab"},
                      {"kind": "files", "file": "files.tar.gz", "size": 20, "sha256": "cd"}],
            "code": [{"id": "6b063bb73e47cec0540baa26", "code_type": "core", "name": "drupal",
                      "version": "7.1", "commit_hash": "abc"}]
        }));
        let b = Backup::from_doc(&d).unwrap();
        assert_eq!(b.kind, BackupKind::PreDelete);
        assert_eq!(b.state, BackupState::Complete);
        assert_eq!(b.size, Some(30));
        assert_eq!(b.code[0].code_type, CodeType::Core);
        let a = b.artifact().unwrap();
        assert_eq!(a.parts[1].kind, BackupPartKind::Files);
        assert_eq!(a.size(), 30);
    }

    #[test]
    fn a_new_backup_reads_as_a_pending_manual_one_without_parts() {
        let b = Backup::from_doc(&doc(json!({"instance": "6b063bb73e47cec0540baa24"}))).unwrap();
        assert_eq!((b.kind, b.state), (BackupKind::Manual, BackupState::Pending));
        assert!(b.artifact().is_none());
    }

    #[test]
    fn backup_view_names_a_part_without_its_checksum() {
        let d = doc(json!({"instance": "6b063bb73e47cec0540baa24",
                           "parts": [{"kind": "database", "file": "d", "size": 1}]}));
        assert_eq!(Backup::from_doc(&d).unwrap_err().field(), "parts.0");
    }
}
