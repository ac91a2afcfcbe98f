//! [`Code`]: a deployable code item (core, profile or package) and its
//! [`CodeMeta`].

use std::fmt;

use serde::Serialize;

use super::{Fields, ViewError};
use crate::model::{CodeType, Doc, Id, Resource};

/// The identifying part of a code item (`meta`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CodeMeta {
    /// Name (the git repository's short name, e.g. `drupal`).
    pub name: String,
    /// Version string (e.g. `7.42`).
    pub version: String,
    /// What the item is.
    pub code_type: CodeType,
    /// Human label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Whether this is the current item of its `(name, code_type)`.
    pub is_current: bool,
    /// Free tags (any JSON values, as the original accepted).
    pub tag: Vec<serde_json::Value>,
    /// Code items this one needs (packages).
    pub dependency: Vec<Id>,
}

/// A code record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Code {
    /// Record id.
    #[serde(rename = "_id")]
    pub id: Id,
    /// Name, version, type, current flag, tags, dependencies.
    pub meta: CodeMeta,
    /// Where the code is cloned from.
    pub git_url: String,
    /// The commit deployed.
    pub commit_hash: String,
    /// Who created the record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// Who last changed the record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified_by: Option<String>,
}

impl CodeMeta {
    fn read(f: &Fields<'_>) -> Result<Self, ViewError> {
        Ok(CodeMeta {
            name: f.required("name")?,
            version: f.required("version")?,
            code_type: f.required("code_type")?,
            label: f.optional("label")?,
            is_current: f.or("is_current", false)?,
            tag: f.list("tag")?,
            dependency: f.list("dependency")?,
        })
    }
}

impl Code {
    /// The typed view of a `code` record.
    ///
    /// # Errors
    /// [`ViewError`] when `meta.name`, `meta.version`, `meta.code_type`,
    /// `git_url` or `commit_hash` is missing, or any field has the wrong type.
    pub fn from_doc(doc: &Doc) -> Result<Self, ViewError> {
        let f = Fields::of(doc, Resource::Code);
        let meta = f.nested("meta")?;
        if meta.map.is_none() {
            return Err(f.missing("meta"));
        }
        Ok(Code {
            id: doc.id,
            meta: CodeMeta::read(&meta)?,
            git_url: f.required("git_url")?,
            commit_hash: f.required("commit_hash")?,
            created_by: f.optional("created_by")?,
            modified_by: f.optional("modified_by")?,
        })
    }
}

/// `'drupal' 7.42 (core, <id>)`: how messages name a code item.
impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "'{}' {} ({}, {})",
            self.meta.name, self.meta.version, self.meta.code_type, self.id
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::doc;
    use super::*;
    use serde_json::json;

    #[test]
    fn code_view_reads_every_field() {
        let d = doc(json!({
            "meta": {"name": "drupal", "version": "7.42", "code_type": "core", "label": "Drupal",
                     "is_current": true, "tag": ["lts"], "dependency": ["6b063bb73e47cec0540baa24"]},
            "git_url": "https://example.org/drupal.git",
            "commit_hash": "9ee4a2",
            "created_by": "alice",
            "modified_by": "bob"
        }));
        let c = Code::from_doc(&d).unwrap();
        assert_eq!(c.id, d.id);
        assert_eq!(c.meta.name, "drupal");
        assert_eq!(c.meta.version, "7.42");
        assert_eq!(c.meta.code_type, CodeType::Core);
        assert_eq!(c.meta.label.as_deref(), Some("Drupal"));
        assert!(c.meta.is_current);
        assert_eq!(c.meta.tag, ["lts"]);
        assert_eq!(
            c.meta.dependency,
            [Id::parse("6b063bb73e47cec0540baa24").unwrap()]
        );
        assert_eq!(c.git_url, "https://example.org/drupal.git");
        assert_eq!(c.commit_hash, "9ee4a2");
        assert_eq!(c.created_by.as_deref(), Some("alice"));
        assert_eq!(c.modified_by.as_deref(), Some("bob"));
    }

    #[test]
    fn code_view_defaults_optional_fields_when_absent() {
        let d = doc(json!({
            "meta": {"name": "cu_module", "version": "1", "code_type": "module"},
            "git_url": "/srv/git/cu_module.git", "commit_hash": "abc"
        }));
        let c = Code::from_doc(&d).unwrap();
        assert!(!c.meta.is_current);
        assert!(c.meta.tag.is_empty() && c.meta.dependency.is_empty());
        assert_eq!(c.meta.label, None);
    }

    #[test]
    fn code_view_names_a_missing_required_field() {
        let d = doc(
            json!({"meta": {"name": "drupal", "code_type": "core"}, "git_url": "/g.git", "commit_hash": "abc"}),
        );
        let e = Code::from_doc(&d).unwrap_err();
        assert!(matches!(e, ViewError::Missing { .. }));
        assert_eq!(e.field(), "meta.version");
        let e = Code::from_doc(&doc(json!({"git_url": "/g.git", "commit_hash": "abc"}))).unwrap_err();
        assert_eq!(e.field(), "meta");
        let d =
            doc(json!({"meta": {"name": "drupal", "version": "7", "code_type": "core"}, "commit_hash": "a"}));
        assert_eq!(Code::from_doc(&d).unwrap_err().field(), "git_url");
    }

    #[test]
    fn code_view_refuses_a_wrong_type_naming_the_field() {
        let d = doc(json!({
            "meta": {"name": "drupal", "version": "7.42", "code_type": "core", "is_current": "yes"},
            "git_url": "/g.git", "commit_hash": "abc"
        }));
        let e = Code::from_doc(&d).unwrap_err();
        assert_eq!(e.field(), "meta.is_current");
        assert!(e.to_string().contains("expected a boolean"), "{e}");
    }

    #[test]
    fn code_view_refuses_an_unknown_code_type() {
        let d = doc(
            json!({"meta": {"name": "drupal", "version": "7", "code_type": "plugin"}, "git_url": "/g.git", "commit_hash": "a"}),
        );
        let e = Code::from_doc(&d).unwrap_err();
        assert_eq!(e.field(), "meta.code_type");
        assert!(e.to_string().contains("plugin"), "{e}");
    }

    #[test]
    fn code_view_refuses_a_dependency_that_is_not_an_id() {
        let d = doc(json!({
            "meta": {"name": "pkg", "version": "1", "code_type": "module", "dependency": ["nope"]},
            "git_url": "/g.git", "commit_hash": "a"
        }));
        let e = Code::from_doc(&d).unwrap_err();
        assert_eq!(e.field(), "meta.dependency.0");
        assert!(e.to_string().contains("'nope' is not an id"), "{e}");
    }

    #[test]
    fn code_displays_as_name_version_type_and_id() {
        let d = doc(
            json!({"meta": {"name": "drupal", "version": "7.42", "code_type": "core"}, "git_url": "/g.git", "commit_hash": "a"}),
        );
        let c = Code::from_doc(&d).unwrap();
        assert_eq!(c.to_string(), format!("'drupal' 7.42 (core, {})", d.id));
    }
}
