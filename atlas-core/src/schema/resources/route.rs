//! The `route` schema: a path on the load balancer and where it leads.

use super::SAFE_PATH_PATTERN;
use crate::model::{Resource, RouteStatus, RouteType};
use crate::schema::field::{any_list, boolean, datetime, dict, field, integer, objectid, string, Schema};

pub(super) fn schema() -> Schema {
    Schema::new(vec![
        field(
            "route_type",
            string()
                .allowed_str(RouteType::ALL.iter().map(|t| t.as_str()))
                .required(),
        ),
        field(
            "route_status",
            string()
                .allowed_str(RouteStatus::ALL.iter().map(|s| s.as_str()))
                .default(RouteStatus::Inactive.as_str()),
        ),
        field("active_on_launch", boolean().default(false)),
        field("source", string().regex(SAFE_PATH_PATTERN).required().unique()),
        field("destination", string()),
        field("regex", boolean().default(false)),
        field("path_preserving", boolean().default(false)),
        field("response_code", integer().allowed_int([301, 302, 307])),
        field("instance_id", objectid(Resource::Instance)),
        field("site_id", objectid(Resource::Site)),
        field("dates", dict(vec![field("created", datetime())])),
        field("tag", any_list()),
        field("created_by", string()),
        field("modified_by", string()),
    ])
}
