//! [`Statistics`]: the per-instance statistics record, written by the
//! instance itself.

use serde::Serialize;

use super::{Fields, ViewError};
use crate::model::{Body, Doc, Id, Resource, Timestamp};

/// A `statistics` record: the instance it describes plus the reported
/// values, kept as raw JSON (their shape is the instance's business).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Statistics {
    /// Record id.
    #[serde(rename = "_id")]
    pub id: Id,
    /// When the record was last written (`_updated`).
    #[serde(rename = "_updated")]
    pub updated: Timestamp,
    /// The instance these statistics describe.
    pub instance: Id,
    /// Every other field, as stored.
    #[serde(flatten)]
    pub fields: Body,
}

impl Statistics {
    /// The typed view of a `statistics` record.
    ///
    /// # Errors
    /// [`ViewError`] when `instance` is missing or not an id.
    pub fn from_doc(doc: &Doc) -> Result<Self, ViewError> {
        let f = Fields::of(doc, Resource::Statistics);
        Ok(Statistics {
            id: doc.id,
            updated: doc.updated,
            instance: f.required("instance")?,
            fields: f.rest(&["instance"]),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::doc;
    use super::*;
    use serde_json::json;

    #[test]
    fn statistics_view_keeps_the_instance_apart_from_the_raw_values() {
        let d = doc(json!({"instance": "6b063bb73e47cec0540baa24", "nodes_total": 12,
                           "users": {"counts": {"site_owner": 1}}}));
        let s = Statistics::from_doc(&d).unwrap();
        assert_eq!(s.instance.to_string(), "6b063bb73e47cec0540baa24");
        assert_eq!(s.updated, d.updated);
        assert_eq!(s.fields.get("nodes_total"), Some(&json!(12)));
        assert!(s.fields.contains_key("users"));
        assert!(!s.fields.contains_key("instance"));
    }

    #[test]
    fn statistics_view_requires_the_instance() {
        let e = Statistics::from_doc(&doc(json!({"nodes_total": 1}))).unwrap_err();
        assert_eq!(e.field(), "instance");
        assert_eq!(e.record(), Resource::Statistics);
    }
}
