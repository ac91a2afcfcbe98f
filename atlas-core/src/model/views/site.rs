//! [`Site`]: the optional wrapper grouping instances.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Fields, ViewError};
use crate::model::{Doc, Id, InstanceType, Resource};

/// A `site` record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Site {
    /// Record id.
    #[serde(rename = "_id")]
    pub id: Id,
    /// The instances it groups.
    pub instance: Vec<Id>,
    /// What kind of site it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site_type: Option<InstanceType>,
    /// Its users: role name → user names.
    pub users: BTreeMap<String, Vec<String>>,
    /// Free tags.
    pub tag: Vec<serde_json::Value>,
    /// Who created the record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// Who last changed the record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified_by: Option<String>,
}

impl Site {
    /// The typed view of a `site` record.
    ///
    /// # Errors
    /// [`ViewError`] when a field has the wrong type (an instance that is not
    /// an id, an unallowed `site_type`, users that are not lists of names).
    pub fn from_doc(doc: &Doc) -> Result<Self, ViewError> {
        let f = Fields::of(doc, Resource::Site);
        let users = f.nested("users")?;
        let mut by_role = BTreeMap::new();
        for role in users.map.into_iter().flat_map(|m| m.keys()) {
            by_role.insert(role.clone(), users.list(role)?);
        }
        Ok(Site {
            id: doc.id,
            instance: f.list("instance")?,
            site_type: f.optional("site_type")?,
            users: by_role,
            tag: f.list("tag")?,
            created_by: f.optional("created_by")?,
            modified_by: f.optional("modified_by")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::doc;
    use super::*;
    use serde_json::json;

    #[test]
    fn site_view_reads_every_field() {
        let d = doc(
            json!({"instance": ["6b063bb73e47cec0540baa24"], "site_type": "express",
                           "users": {"owner": ["alice"], "editor": ["bob", "carol"]}, "tag": ["t"],
                           "created_by": "alice", "modified_by": "bob"}),
        );
        let s = Site::from_doc(&d).unwrap();
        assert_eq!(s.instance, [Id::parse("6b063bb73e47cec0540baa24").unwrap()]);
        assert_eq!(s.site_type, Some(InstanceType::Express));
        assert_eq!(s.users["owner"], ["alice"]);
        assert_eq!(s.users["editor"], ["bob", "carol"]);
        assert_eq!(s.tag, ["t"]);
        assert_eq!(s.created_by.as_deref(), Some("alice"));
        assert_eq!(s.modified_by.as_deref(), Some("bob"));
    }

    #[test]
    fn site_view_is_empty_when_nothing_is_set() {
        let s = Site::from_doc(&doc(json!({}))).unwrap();
        assert!(s.instance.is_empty() && s.users.is_empty() && s.tag.is_empty());
        assert_eq!(s.site_type, None);
    }

    #[test]
    fn site_view_names_the_bad_instance_index() {
        let d = doc(json!({"instance": ["6b063bb73e47cec0540baa24", "x"]}));
        assert_eq!(Site::from_doc(&d).unwrap_err().field(), "instance.1");
    }

    #[test]
    fn site_view_names_the_bad_user_entry() {
        let d = doc(json!({"users": {"owner": ["alice", 3]}}));
        assert_eq!(Site::from_doc(&d).unwrap_err().field(), "users.owner.1");
    }

    #[test]
    fn site_view_refuses_an_unknown_site_type() {
        let d = doc(json!({"site_type": "blog"}));
        assert_eq!(Site::from_doc(&d).unwrap_err().field(), "site_type");
    }
}
