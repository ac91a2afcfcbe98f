//! [`Doc`]: a stored record, its user fields plus the meta fields every
//! record carries (`_id _etag _created _updated _version _deleted`).

use serde_json::{Map, Value};

use crate::model::{Etag, Id, Timestamp};

/// The JSON object type of record bodies (insertion-ordered).
pub type Body = Map<String, Value>;

/// The meta field names, in the order Eve writes them after the body.
pub const META_FIELDS: [&str; 6] = ["_updated", "_created", "_deleted", "_version", "_etag", "_id"];

/// A stored record at one version.
#[derive(Debug, Clone, PartialEq)]
pub struct Doc {
    /// Record id.
    pub id: Id,
    /// Etag of this version (see [`Doc::compute_etag`]).
    pub etag: Etag,
    /// When the record was created.
    pub created: Timestamp,
    /// When this version was written.
    pub updated: Timestamp,
    /// Version number, 1 on create, +1 on every write (delete included).
    pub version: u64,
    /// Soft-deleted.
    pub deleted: bool,
    /// The user fields, in stored order.
    pub body: Body,
}

impl Doc {
    /// A new version-1 document with its etag computed.
    pub fn new(id: Id, body: Body, now: Timestamp) -> Self {
        let mut d = Doc {
            id,
            etag: Etag::from_client(""),
            created: now,
            updated: now,
            version: 1,
            deleted: false,
            body,
        };
        d.etag = d.compute_etag();
        d
    }

    /// The etag this document's content gives: sha1 of the canonical JSON of
    /// the body plus `_id _created _updated _version _deleted`. Every store
    /// uses this, so an etag never depends on the backend.
    pub fn compute_etag(&self) -> Etag {
        let meta = [
            ("_id", Value::String(self.id.to_string())),
            ("_created", Value::String(self.created.to_string())),
            ("_updated", Value::String(self.updated.to_string())),
            ("_version", Value::from(self.version)),
            ("_deleted", Value::Bool(self.deleted)),
        ];
        // The body with the meta fields added (replacing any of the same name).
        let mut fields: Vec<(&str, &Value)> = self
            .body
            .iter()
            .filter(|(k, _)| !meta.iter().any(|(m, _)| m == k))
            .map(|(k, v)| (k.as_str(), v))
            .chain(meta.iter().map(|(k, v)| (*k, v)))
            .collect();
        Etag::of_fields(&mut fields)
    }

    /// The document as JSON: body fields in stored order, then
    /// `_updated _created _deleted _version _etag _id`. This is also the
    /// shape filters and sorts are evaluated against.
    pub fn to_json(&self) -> Value {
        self.clone().into_json()
    }

    /// [`Doc::to_json`], consuming the document (no copy of the body).
    pub fn into_json(self) -> Value {
        let mut m = self.body;
        m.insert("_updated".into(), Value::String(self.updated.to_string()));
        m.insert("_created".into(), Value::String(self.created.to_string()));
        m.insert("_deleted".into(), Value::Bool(self.deleted));
        m.insert("_version".into(), Value::from(self.version));
        m.insert("_etag".into(), Value::String(self.etag.to_string()));
        m.insert("_id".into(), Value::String(self.id.to_string()));
        Value::Object(m)
    }

    /// A body field by dotted path (`meta.name`), without array traversal.
    pub fn field(&self, path: &str) -> Option<&Value> {
        let mut parts = path.split('.');
        let mut cur = self.body.get(parts.next()?)?;
        for p in parts {
            cur = cur.as_object()?.get(p)?;
        }
        Some(cur)
    }

    /// A body field as a string.
    pub fn str_field(&self, path: &str) -> Option<&str> {
        self.field(path).and_then(Value::as_str)
    }

    /// This record as the typed view `V` (`doc.view::<Instance>()`).
    ///
    /// # Errors
    /// [`ViewError`](crate::model::ViewError) naming the field that is
    /// missing or of the wrong type.
    pub fn view<V: crate::model::View>(&self) -> Result<V, crate::model::ViewError> {
        V::from_doc(self)
    }
}

/// Merges `patch` into `target` the way Eve's PATCH does: nested objects are
/// merged key by key, every other value (arrays and `null` included)
/// replaces what was there.
pub fn merge_patch(target: &mut Body, patch: &Body) {
    for (k, v) in patch {
        match (target.get_mut(k), v) {
            (Some(Value::Object(t)), Value::Object(p)) => merge_patch(t, p),
            _ => {
                target.insert(k.clone(), v.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: Value) -> Body {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn etag_is_the_etag_of_the_body_with_the_meta_fields_added() {
        let now = Timestamp::parse("2026-11-25 01:36:55 GMT").unwrap();
        // A body field named like a meta field is replaced by the meta value.
        let mut d = Doc::new(
            Id::generate(now),
            body(json!({"z": [1, {"b": 2}], "_version": 9, "a": "x"})),
            now,
        );
        d.version = 3;
        d.deleted = true;
        let mut m = d.body.clone();
        m.insert("_id".into(), json!(d.id.to_string()));
        m.insert("_created".into(), json!(d.created.to_string()));
        m.insert("_updated".into(), json!(d.updated.to_string()));
        m.insert("_version".into(), json!(3));
        m.insert("_deleted".into(), json!(true));
        assert_eq!(d.compute_etag(), Etag::of(&Value::Object(m)));
    }

    #[test]
    fn to_json_puts_meta_fields_after_the_body_in_eve_order() {
        let now = Timestamp::parse("2026-11-25 01:36:55 GMT").unwrap();
        let d = Doc::new(Id::generate(now), body(json!({"b": 1, "a": 2})), now);
        let keys: Vec<String> = d.to_json().as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            keys,
            ["b", "a", "_updated", "_created", "_deleted", "_version", "_etag", "_id"]
        );
    }

    #[test]
    fn etag_changes_with_version_and_content() {
        let now = Timestamp::parse("2026-11-25 01:36:55 GMT").unwrap();
        let mut d = Doc::new(Id::generate(now), body(json!({"a": 1})), now);
        let first = d.etag.clone();
        d.version = 2;
        assert_ne!(d.compute_etag(), first);
    }

    #[test]
    fn merge_patch_merges_nested_objects_and_replaces_the_rest() {
        let mut t = body(json!({"meta": {"name": "drupal", "is_current": true}, "tag": ["a"]}));
        merge_patch(
            &mut t,
            &body(json!({"meta": {"is_current": false}, "tag": ["b"]})),
        );
        assert_eq!(
            Value::Object(t),
            json!({"meta": {"name": "drupal", "is_current": false}, "tag": ["b"]})
        );
    }

    #[test]
    fn field_reads_dotted_paths() {
        let now = Timestamp::parse("2026-11-25 01:36:55 GMT").unwrap();
        let d = Doc::new(Id::generate(now), body(json!({"meta": {"name": "drupal"}})), now);
        assert_eq!(d.str_field("meta.name"), Some("drupal"));
        assert_eq!(d.field("meta.nope"), None);
    }
}
