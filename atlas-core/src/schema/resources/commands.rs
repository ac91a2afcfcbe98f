//! The `commands` schema: a shell command run across the instances a
//! `where` query selects.

use crate::schema::field::{boolean, field, string, Schema};

pub(super) fn schema() -> Schema {
    Schema::new(vec![
        field("name", string().min(3).required().indexed()),
        field("command", string().min(3).required()),
        field("query", string()),
        field("single_server", boolean().default(true).required()),
        field("created_by", string()),
        field("modified_by", string()),
    ])
}
