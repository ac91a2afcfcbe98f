//! [`Command`]: a command item run across the instances its query selects.

use serde::Serialize;

use super::{Fields, ViewError};
use crate::model::{Doc, Id, Resource};

/// A `commands` record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Command {
    /// Record id.
    #[serde(rename = "_id")]
    pub id: Id,
    /// What the command does, for people.
    pub name: String,
    /// The shell string run on the server(s), or a hook command's name.
    pub command: String,
    /// A `where` selecting the instances to run on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// Run on one server only (default `true`).
    pub single_server: bool,
    /// Who created the record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// Who last changed the record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified_by: Option<String>,
}

impl Command {
    /// The typed view of a `commands` record.
    ///
    /// # Errors
    /// [`ViewError`] when `name` or `command` is missing, or any field has
    /// the wrong type.
    pub fn from_doc(doc: &Doc) -> Result<Self, ViewError> {
        let f = Fields::of(doc, Resource::Commands);
        Ok(Command {
            id: doc.id,
            name: f.required("name")?,
            command: f.required("command")?,
            query: f.optional("query")?,
            single_server: f.or("single_server", true)?,
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
    fn command_view_reads_every_field() {
        let d = doc(json!({"name": "Clear caches", "command": "drush cc all",
                           "query": "{\"status\":\"launched\"}", "single_server": false,
                           "created_by": "alice", "modified_by": "bob"}));
        let c = Command::from_doc(&d).unwrap();
        assert_eq!(c.name, "Clear caches");
        assert_eq!(c.command, "drush cc all");
        assert_eq!(c.query.as_deref(), Some("{\"status\":\"launched\"}"));
        assert!(!c.single_server);
        assert_eq!(c.created_by.as_deref(), Some("alice"));
        assert_eq!(c.modified_by.as_deref(), Some("bob"));
    }

    #[test]
    fn command_view_runs_on_a_single_server_by_default() {
        let c = Command::from_doc(&doc(json!({"name": "Cron", "command": "drush cron"}))).unwrap();
        assert!(c.single_server);
        assert_eq!(c.query, None);
    }

    #[test]
    fn command_view_refuses_a_non_string_query() {
        let d = doc(json!({"name": "Cron", "command": "drush cron", "query": {"status": "launched"}}));
        let e = Command::from_doc(&d).unwrap_err();
        assert_eq!(e.field(), "query");
        assert_eq!(e.record(), Resource::Commands);
    }
}
