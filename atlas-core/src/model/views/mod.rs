//! Typed, read-only views of stored records ([`Code`], [`Instance`],
//! [`Route`], [`Command`], [`Statistics`], [`Site`], [`Backup`], [`Rollout`]) for the rules and the
//! engine, each built from a [`Doc`] with `from_doc` or [`Doc::view`]
//! through the [`View`] trait.
//!
//! Views are lenient about what may be absent (a missing or `null` optional
//! field takes its default) and strict about types: a value of the wrong type
//! is a [`ViewError`] naming the record and the dotted field (`code.package.2`),
//! never a silent default.

mod backup;
mod code;
mod command;
mod instance;
mod rollout;
mod route;
mod site;
mod statistics;

pub use backup::{Backup, BackupCode};
pub use code::{Code, CodeMeta};
pub use command::Command;
pub use instance::{Instance, InstanceCode, InstanceDates, InstanceRoutes, InstanceSettings};
pub use rollout::{Rollout, RolloutFailure, DEFAULT_WAVE_SIZE};
pub use route::{Route, RouteDates};
pub use site::Site;
pub use statistics::Statistics;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::model::{Body, Doc, Id, Resource};

/// A typed view of one resource's records, read with [`Doc::view`]
/// (`doc.view::<Instance>()`).
pub trait View: Sized {
    /// The resource whose records this view reads.
    const RESOURCE: Resource;

    /// Reads `doc` as this view.
    ///
    /// # Errors
    /// [`ViewError`] naming the field that is missing or of the wrong type.
    fn from_doc(doc: &Doc) -> Result<Self, ViewError>;
}

macro_rules! impl_view {
    ($($view:ty => $resource:expr),+ $(,)?) => {$(
        impl View for $view {
            const RESOURCE: Resource = $resource;
            fn from_doc(doc: &Doc) -> Result<Self, ViewError> {
                <$view>::from_doc(doc)
            }
        }
    )+};
}

impl_view! {
    Backup => Resource::Backup,
    Code => Resource::Code,
    Command => Resource::Commands,
    Instance => Resource::Instance,
    Rollout => Resource::Rollout,
    Route => Resource::Route,
    Site => Resource::Site,
    Statistics => Resource::Statistics,
}

/// Why a stored record does not fit its typed view.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ViewError {
    /// A field the view needs is absent or `null`.
    #[error("{record} {id}: required field '{field}' is missing")]
    Missing {
        /// The record's resource.
        record: Resource,
        /// The record's id.
        id: Id,
        /// Dotted path of the field.
        field: String,
    },
    /// A field holds a value of the wrong type or shape.
    #[error("{record} {id}: field '{field}' is invalid: {problem}")]
    Invalid {
        /// The record's resource.
        record: Resource,
        /// The record's id.
        id: Id,
        /// Dotted path of the field (list items by index).
        field: String,
        /// What is wrong with the value.
        problem: String,
    },
}

impl ViewError {
    /// The resource of the record that did not fit.
    pub fn record(&self) -> Resource {
        match self {
            ViewError::Missing { record, .. } | ViewError::Invalid { record, .. } => *record,
        }
    }

    /// The dotted path of the offending field.
    pub fn field(&self) -> &str {
        match self {
            ViewError::Missing { field, .. } | ViewError::Invalid { field, .. } => field,
        }
    }
}

/// Reads typed fields out of one (possibly nested) object of a record,
/// naming the full dotted path in every error.
#[derive(Debug, Clone)]
struct Fields<'a> {
    record: Resource,
    id: Id,
    map: Option<&'a Body>,
    prefix: String,
}

impl<'a> Fields<'a> {
    /// The top level of `doc`'s body.
    fn of(doc: &'a Doc, record: Resource) -> Self {
        Fields {
            record,
            id: doc.id,
            map: Some(&doc.body),
            prefix: String::new(),
        }
    }

    fn path(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.prefix)
        }
    }

    /// The value at `key`, `None` when absent or `null`.
    fn raw(&self, key: &str) -> Option<&'a Value> {
        self.map?.get(key).filter(|v| !v.is_null())
    }

    fn missing(&self, key: &str) -> ViewError {
        ViewError::Missing {
            record: self.record,
            id: self.id,
            field: self.path(key),
        }
    }

    fn invalid(&self, field: String, problem: impl ToString) -> ViewError {
        ViewError::Invalid {
            record: self.record,
            id: self.id,
            field,
            problem: problem.to_string(),
        }
    }

    fn parse<T: DeserializeOwned>(&self, field: impl FnOnce() -> String, v: &Value) -> Result<T, ViewError> {
        T::deserialize(v).map_err(|e| self.invalid(field(), e))
    }

    /// A field that must be present and not `null`.
    fn required<T: DeserializeOwned>(&self, key: &str) -> Result<T, ViewError> {
        let v = self.raw(key).ok_or_else(|| self.missing(key))?;
        self.parse(|| self.path(key), v)
    }

    /// A field that may be absent or `null`.
    fn optional<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, ViewError> {
        self.raw(key)
            .map(|v| self.parse(|| self.path(key), v))
            .transpose()
    }

    /// A field that takes `default` when absent or `null`.
    fn or<T: DeserializeOwned>(&self, key: &str, default: T) -> Result<T, ViewError> {
        Ok(self.optional(key)?.unwrap_or(default))
    }

    /// A list field (empty when absent or `null`); item errors name the index.
    fn list<T: DeserializeOwned>(&self, key: &str) -> Result<Vec<T>, ViewError> {
        let Some(v) = self.raw(key) else {
            return Ok(Vec::new());
        };
        let items = v
            .as_array()
            .ok_or_else(|| self.invalid(self.path(key), format!("expected a list, found {}", kind(v))))?;
        items
            .iter()
            .enumerate()
            .map(|(i, item)| self.parse(|| format!("{}.{i}", self.path(key)), item))
            .collect()
    }

    /// A nested object (reads as empty when absent or `null`).
    fn nested(&self, key: &str) -> Result<Fields<'a>, ViewError> {
        let map = match self.raw(key) {
            None => None,
            Some(Value::Object(m)) => Some(m),
            Some(other) => {
                return Err(self.invalid(
                    self.path(key),
                    format!("expected an object, found {}", kind(other)),
                ))
            }
        };
        Ok(Fields {
            record: self.record,
            id: self.id,
            map,
            prefix: self.path(key),
        })
    }

    /// Every field except `keys`, as raw JSON.
    fn rest(&self, keys: &[&str]) -> Body {
        self.map
            .map(|m| {
                m.iter()
                    .filter(|(k, _)| !keys.contains(&k.as_str()))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use serde_json::Value;

    use crate::model::{Doc, Id, Timestamp};

    /// A stored document with `body` (which must be a JSON object).
    pub(crate) fn doc(body: Value) -> Doc {
        let now = Timestamp::parse("2026-11-25 01:36:55 GMT").expect("fixed date parses");
        let body = body.as_object().cloned().expect("test bodies are objects");
        Doc::new(Id::generate(now), body, now)
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::doc;
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_name_nested_paths_and_list_indexes_in_errors() {
        let d = doc(json!({"code": {"package": ["6b063bb73e47cec0540baa24", 5]}}));
        let f = Fields::of(&d, Resource::Instance);
        let code = f.nested("code").unwrap();
        let e = code.list::<Id>("package").unwrap_err();
        assert_eq!(e.field(), "code.package.1");
        assert_eq!(e.record(), Resource::Instance);
        assert!(e.to_string().starts_with(&format!("instance {}", d.id)));
    }

    #[test]
    fn fields_treat_null_as_absent() {
        let d = doc(json!({"label": null, "tag": null, "settings": null}));
        let f = Fields::of(&d, Resource::Code);
        assert_eq!(f.optional::<String>("label").unwrap(), None);
        assert!(f.list::<String>("tag").unwrap().is_empty());
        assert!(f.nested("settings").unwrap().map.is_none());
        let e = f.required::<String>("label").unwrap_err();
        assert!(matches!(e, ViewError::Missing { ref field, .. } if field == "label"));
    }

    #[test]
    fn fields_refuse_a_scalar_where_an_object_or_list_belongs() {
        let d = doc(json!({"settings": "x", "tag": "y"}));
        let f = Fields::of(&d, Resource::Instance);
        let e = f.nested("settings").unwrap_err();
        assert!(
            e.to_string().contains("expected an object, found a string"),
            "{e}"
        );
        let e = f.list::<String>("tag").unwrap_err();
        assert!(e.to_string().contains("expected a list, found a string"), "{e}");
    }
}
