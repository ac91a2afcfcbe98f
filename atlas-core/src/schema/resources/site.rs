//! The `site` schema: an optional wrapper grouping instances.

use crate::model::{InstanceType, Resource};
use crate::schema::field::{any_list, field, list, map, objectid, string, Schema};

pub(super) fn schema() -> Schema {
    Schema::new(vec![
        field("instance", list(objectid(Resource::Instance))),
        field(
            "site_type",
            string().allowed_str(InstanceType::ALL.iter().map(|t| t.as_str())),
        ),
        // role -> usernames
        field("users", map(list(string()))),
        field("tag", any_list()),
        field("created_by", string()),
        field("modified_by", string()),
    ])
}
