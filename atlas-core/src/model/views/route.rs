//! [`Route`]: a route published to the load balancer.

use serde::Serialize;

use super::{Fields, ViewError};
use crate::model::{Doc, Id, Resource, RouteStatus, RouteType, Timestamp};

/// Route dates (`dates`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RouteDates {
    /// When the route was created.
    pub created: Option<Timestamp>,
}

/// A route record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Route {
    /// Record id.
    #[serde(rename = "_id")]
    pub id: Id,
    /// Where the route sends traffic.
    pub route_type: RouteType,
    /// Whether it is published (default `inactive`).
    pub route_status: RouteStatus,
    /// Whether launching its instance activates it.
    pub active_on_launch: bool,
    /// The path it serves (`domainroot` for the domain root).
    pub source: String,
    /// Redirect target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    /// Whether `source` is a regular expression.
    pub regex: bool,
    /// Whether a redirect keeps the rest of the path.
    pub path_preserving: bool,
    /// Redirect status code (301, 302 or 307).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_code: Option<u16>,
    /// The instance it serves.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<Id>,
    /// The site it belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site_id: Option<Id>,
    /// Dates.
    pub dates: RouteDates,
    /// Free tags.
    pub tag: Vec<serde_json::Value>,
    /// Who created the record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// Who last changed the record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified_by: Option<String>,
}

impl Route {
    /// The typed view of a `route` record.
    ///
    /// # Errors
    /// [`ViewError`] when `route_type` or `source` is missing, or any field
    /// has the wrong type or an unallowed value.
    pub fn from_doc(doc: &Doc) -> Result<Self, ViewError> {
        let f = Fields::of(doc, Resource::Route);
        let dates = f.nested("dates")?;
        Ok(Route {
            id: doc.id,
            route_type: f.required("route_type")?,
            route_status: f.or("route_status", RouteStatus::Inactive)?,
            active_on_launch: f.or("active_on_launch", false)?,
            source: f.required("source")?,
            destination: f.optional("destination")?,
            regex: f.or("regex", false)?,
            path_preserving: f.or("path_preserving", false)?,
            response_code: f.optional("response_code")?,
            instance_id: f.optional("instance_id")?,
            site_id: f.optional("site_id")?,
            dates: RouteDates {
                created: dates.optional("created")?,
            },
            tag: f.list("tag")?,
            created_by: f.optional("created_by")?,
            modified_by: f.optional("modified_by")?,
        })
    }

    /// Whether the route reaches the load balancer.
    pub fn is_active(&self) -> bool {
        self.route_status == RouteStatus::Active
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::doc;
    use super::*;
    use serde_json::json;

    #[test]
    fn route_view_reads_every_field() {
        let d = doc(json!({
            "route_type": "redirect", "route_status": "active", "active_on_launch": true,
            "source": "lab/atlas", "destination": "https://example.org/x", "regex": false,
            "path_preserving": true, "response_code": 301,
            "instance_id": "6b063bb73e47cec0540baa24", "site_id": "6b063bb73e47cec0540baa25",
            "dates": {"created": "2026-11-25 01:36:55 GMT"}, "tag": ["t"],
            "created_by": "alice", "modified_by": "bob"
        }));
        let r = Route::from_doc(&d).unwrap();
        assert_eq!(r.route_type, RouteType::Redirect);
        assert!(r.is_active());
        assert!(r.active_on_launch);
        assert_eq!(r.source, "lab/atlas");
        assert_eq!(r.destination.as_deref(), Some("https://example.org/x"));
        assert!(!r.regex);
        assert!(r.path_preserving);
        assert_eq!(r.response_code, Some(301));
        assert_eq!(r.instance_id.unwrap().to_string(), "6b063bb73e47cec0540baa24");
        assert_eq!(r.site_id.unwrap().to_string(), "6b063bb73e47cec0540baa25");
        assert!(r.dates.created.is_some());
        assert_eq!(r.tag, ["t"]);
        assert_eq!(r.created_by.as_deref(), Some("alice"));
        assert_eq!(r.modified_by.as_deref(), Some("bob"));
    }

    #[test]
    fn route_view_defaults_to_inactive_when_status_is_absent() {
        let r = Route::from_doc(&doc(json!({"route_type": "poolb-express", "source": "dept"}))).unwrap();
        assert_eq!(r.route_status, RouteStatus::Inactive);
        assert!(!r.is_active() && !r.active_on_launch);
        assert_eq!(r.instance_id, None);
    }

    #[test]
    fn route_view_requires_source_and_type() {
        let e = Route::from_doc(&doc(json!({"route_type": "legacy"}))).unwrap_err();
        assert_eq!(e.field(), "source");
        let e = Route::from_doc(&doc(json!({"source": "x"}))).unwrap_err();
        assert_eq!(e.field(), "route_type");
    }

    #[test]
    fn route_view_refuses_a_response_code_that_is_not_a_number() {
        let d = doc(json!({"route_type": "redirect", "source": "x", "response_code": "301"}));
        assert_eq!(Route::from_doc(&d).unwrap_err().field(), "response_code");
    }
}
