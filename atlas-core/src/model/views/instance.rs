//! [`Instance`]: a Drupal instance record and its nested parts
//! ([`InstanceSettings`], [`InstanceCode`], [`InstanceRoutes`],
//! [`InstanceDates`]).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Fields, ViewError};
use crate::model::{Doc, Environment, Id, InstanceType, Pool, Resource, Sid, Status, Timestamp};

/// Per-instance settings written into `settings.php`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct InstanceSettings {
    /// Page cache lifetime in seconds.
    pub page_cache_maximum_age: Option<i64>,
    /// Siteimprove site id.
    pub siteimprove_site: Option<i64>,
    /// Siteimprove group id.
    pub siteimprove_group: Option<i64>,
}

/// The code an instance runs (`code`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceCode {
    /// Drupal core item.
    pub core: Option<Id>,
    /// Install profile item.
    pub profile: Option<Id>,
    /// Package items, as requested (not yet expanded to dependencies).
    pub package: Vec<Id>,
}

/// The routes serving an instance (`routes`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct InstanceRoutes {
    /// The main route; required before launching.
    pub primary_route: Option<Id>,
    /// Further routes.
    pub secondary_route: Vec<Id>,
}

/// Lifecycle dates (`dates`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct InstanceDates {
    /// When the instance was created.
    pub created: Option<Timestamp>,
    /// When it was assigned (settled `installed` from `available`).
    pub assigned: Option<Timestamp>,
    /// When it was launched.
    pub launched: Option<Timestamp>,
    /// When it was taken down.
    pub taken_down: Option<Timestamp>,
}

/// An instance record. `Debug` never shows `db_key`.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct Instance {
    /// Record id.
    #[serde(rename = "_id")]
    pub id: Id,
    /// Site id, used in paths, database names and URLs.
    pub sid: Sid,
    /// URL path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// What kind of site this is (json `type`).
    #[serde(rename = "type")]
    pub instance_type: InstanceType,
    /// Lifecycle status.
    pub status: Status,
    /// Deployment environment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<Environment>,
    /// Server pool.
    pub pool: Pool,
    /// Update group (0–2 on create).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_group: Option<i64>,
    /// Whether the instance was imported from the inventory.
    pub import_from_inventory: bool,
    /// Settings.
    pub settings: InstanceSettings,
    /// Free tags (any JSON values, as the original accepted).
    pub tag: Vec<serde_json::Value>,
    /// Code it runs.
    pub code: InstanceCode,
    /// Routes serving it.
    pub routes: InstanceRoutes,
    /// Wrapping site record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site: Option<Id>,
    /// Its statistics record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statistics: Option<Id>,
    /// The backup this instance was created from (`POST /instance
    /// {"restore_from": id}`): its provision loads that backup.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restore_from: Option<Id>,
    /// Lifecycle dates.
    pub dates: InstanceDates,
    /// The database password as stored (encrypted at rest).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db_key: Option<String>,
    /// Who created the record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// Who last changed the record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified_by: Option<String>,
}

impl Instance {
    /// The typed view of an `instance` record.
    ///
    /// # Errors
    /// [`ViewError`] when `sid` is missing, or any field has the wrong type
    /// or an unallowed value.
    pub fn from_doc(doc: &Doc) -> Result<Self, ViewError> {
        let f = Fields::of(doc, Resource::Instance);
        let settings = f.nested("settings")?;
        let code = f.nested("code")?;
        let routes = f.nested("routes")?;
        let dates = f.nested("dates")?;
        Ok(Instance {
            id: doc.id,
            sid: f.required("sid")?,
            path: f.optional("path")?,
            instance_type: f.or("type", InstanceType::Express)?,
            status: f.or("status", Status::Pending)?,
            environment: f.optional("environment")?,
            pool: f.or("pool", Pool::PoolbExpress)?,
            update_group: f.optional("update_group")?,
            import_from_inventory: f.or("import_from_inventory", false)?,
            settings: InstanceSettings {
                page_cache_maximum_age: settings.optional("page_cache_maximum_age")?,
                siteimprove_site: settings.optional("siteimprove_site")?,
                siteimprove_group: settings.optional("siteimprove_group")?,
            },
            tag: f.list("tag")?,
            code: InstanceCode {
                core: code.optional("core")?,
                profile: code.optional("profile")?,
                package: code.list("package")?,
            },
            routes: InstanceRoutes {
                primary_route: routes.optional("primary_route")?,
                secondary_route: routes.list("secondary_route")?,
            },
            site: f.optional("site")?,
            statistics: f.optional("statistics")?,
            restore_from: f.optional("restore_from")?,
            dates: InstanceDates {
                created: dates.optional("created")?,
                assigned: dates.optional("assigned")?,
                launched: dates.optional("launched")?,
                taken_down: dates.optional("taken_down")?,
            },
            db_key: f.optional("db_key")?,
            created_by: f.optional("created_by")?,
            modified_by: f.optional("modified_by")?,
        })
    }
}

impl fmt::Debug for Instance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Instance")
            .field("id", &self.id)
            .field("sid", &self.sid)
            .field("path", &self.path)
            .field("instance_type", &self.instance_type)
            .field("status", &self.status)
            .field("environment", &self.environment)
            .field("pool", &self.pool)
            .field("update_group", &self.update_group)
            .field("import_from_inventory", &self.import_from_inventory)
            .field("settings", &self.settings)
            .field("tag", &self.tag)
            .field("code", &self.code)
            .field("routes", &self.routes)
            .field("site", &self.site)
            .field("statistics", &self.statistics)
            .field("restore_from", &self.restore_from)
            .field("dates", &self.dates)
            .field("db_key", &self.db_key.as_ref().map(|_| "[redacted]"))
            .field("created_by", &self.created_by)
            .field("modified_by", &self.modified_by)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::doc;
    use super::*;
    use serde_json::json;

    const A: &str = "6b063bb73e47cec0540baa24";
    const B: &str = "6b063bb73e47cec0540baa25";
    const C: &str = "6b063bb73e47cec0540baa26";

    fn id(s: &str) -> Id {
        Id::parse(s).unwrap()
    }

    #[test]
    fn instance_view_reads_every_field() {
        let d = doc(json!({
            "sid": "p1abcdef0123", "path": "p1abcdef0123", "type": "custom", "status": "launched",
            "environment": "production", "pool": "poola-custom", "update_group": 2,
            "import_from_inventory": true,
            "settings": {"page_cache_maximum_age": 300, "siteimprove_site": 7, "siteimprove_group": 8},
            "tag": ["a"],
            "code": {"core": A, "profile": B, "package": [C]},
            "routes": {"primary_route": A, "secondary_route": [B, C]},
            "site": B, "statistics": C,
            "dates": {"created": "2026-11-25 01:36:55 GMT", "assigned": "2026-11-25T02:00:00Z",
                      "launched": "2026-11-26 00:00:00 GMT", "taken_down": null},
            "db_key": "ciphertext", "created_by": "alice", "modified_by": "bob"
        }));
        let i = Instance::from_doc(&d).unwrap();
        assert_eq!(i.id, d.id);
        assert_eq!(i.sid.as_str(), "p1abcdef0123");
        assert_eq!(i.path.as_deref(), Some("p1abcdef0123"));
        assert_eq!(i.instance_type, InstanceType::Custom);
        assert_eq!(i.status, Status::Launched);
        assert_eq!(i.environment, Some(Environment::Production));
        assert_eq!(i.pool, Pool::PoolaCustom);
        assert_eq!(i.update_group, Some(2));
        assert!(i.import_from_inventory);
        assert_eq!(
            i.settings,
            InstanceSettings {
                page_cache_maximum_age: Some(300),
                siteimprove_site: Some(7),
                siteimprove_group: Some(8)
            }
        );
        assert_eq!(i.tag, ["a"]);
        assert_eq!(
            i.code,
            InstanceCode {
                core: Some(id(A)),
                profile: Some(id(B)),
                package: vec![id(C)]
            }
        );
        assert_eq!(i.routes.primary_route, Some(id(A)));
        assert_eq!(i.routes.secondary_route, [id(B), id(C)]);
        assert_eq!(i.site, Some(id(B)));
        assert_eq!(i.statistics, Some(id(C)));
        assert_eq!(i.dates.created.unwrap().to_string(), "2026-11-25 01:36:55 GMT");
        assert_eq!(i.dates.assigned.unwrap().to_string(), "2026-11-25 02:00:00 GMT");
        assert!(i.dates.launched.is_some());
        assert_eq!(i.dates.taken_down, None);
        assert_eq!(i.db_key.as_deref(), Some("ciphertext"));
        assert_eq!(i.created_by.as_deref(), Some("alice"));
        assert_eq!(i.modified_by.as_deref(), Some("bob"));
    }

    #[test]
    fn instance_view_applies_schema_defaults_when_fields_are_absent() {
        let i = Instance::from_doc(&doc(json!({"sid": "p1abcdef0123"}))).unwrap();
        assert_eq!(i.instance_type, InstanceType::Express);
        assert_eq!(i.status, Status::Pending);
        assert_eq!(i.pool, Pool::PoolbExpress);
        assert!(!i.import_from_inventory);
        assert_eq!(i.code, InstanceCode::default());
        assert_eq!(i.routes, InstanceRoutes::default());
        assert_eq!(i.dates, InstanceDates::default());
        assert_eq!(i.environment, None);
    }

    #[test]
    fn instance_view_requires_a_valid_sid() {
        let e = Instance::from_doc(&doc(json!({"status": "pending"}))).unwrap_err();
        assert_eq!(e.field(), "sid");
        let e = Instance::from_doc(&doc(json!({"sid": "../etc/pass"}))).unwrap_err();
        assert_eq!(e.field(), "sid");
        assert!(e.to_string().contains("not a valid sid"), "{e}");
    }

    #[test]
    fn instance_view_refuses_an_unknown_status() {
        let e = Instance::from_doc(&doc(json!({"sid": "p1abcdef0123", "status": "locked"}))).unwrap_err();
        assert_eq!(e.field(), "status");
    }

    #[test]
    fn instance_view_names_a_bad_nested_id() {
        let d = doc(json!({"sid": "p1abcdef0123", "routes": {"primary_route": 12}}));
        let e = Instance::from_doc(&d).unwrap_err();
        assert_eq!(e.field(), "routes.primary_route");
        assert_eq!(e.record(), Resource::Instance);
    }

    #[test]
    fn instance_view_refuses_a_bad_date() {
        let d = doc(json!({"sid": "p1abcdef0123", "dates": {"launched": "yesterday"}}));
        let e = Instance::from_doc(&d).unwrap_err();
        assert_eq!(e.field(), "dates.launched");
    }

    #[test]
    fn instance_debug_redacts_the_db_key() {
        let i = Instance::from_doc(&doc(json!({"sid": "p1abcdef0123", "db_key": "hunter2"}))).unwrap();
        let shown = format!("{i:?}");
        assert!(!shown.contains("hunter2"));
        assert!(shown.contains("[redacted]"));
    }
}
