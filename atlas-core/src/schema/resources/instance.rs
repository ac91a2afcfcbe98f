//! The `instance` schema: one Drupal site and its lifecycle.

use super::SAFE_PATH_PATTERN;
use crate::drift::DriftKind;
use crate::model::{Environment, InstanceType, Pool, Resource, Status, SID_PATTERN};
use crate::schema::field::{
    any_list, boolean, datetime, dict, field, integer, list, objectid, string, Schema,
};

pub(super) fn schema() -> Schema {
    Schema::new(vec![
        field("sid", string().min(9).max(14).regex(SID_PATTERN).unique()),
        field("path", string().regex(SAFE_PATH_PATTERN).unique()),
        field(
            "type",
            string()
                .allowed_str(InstanceType::ALL.iter().map(|t| t.as_str()))
                .default(InstanceType::Express.as_str()),
        ),
        field(
            "status",
            string()
                .allowed_str(Status::ALL.iter().map(|s| s.as_str()))
                .default(Status::Pending.as_str()),
        ),
        field(
            "environment",
            string().allowed_str(Environment::ALL.iter().map(|e| e.as_str())),
        ),
        field(
            "pool",
            string()
                .allowed_str(Pool::ALL.iter().map(|p| p.as_str()))
                .default(Pool::PoolbExpress.as_str()),
        ),
        field("update_group", integer().indexed()),
        field("import_from_inventory", boolean().default(false)),
        field(
            "settings",
            dict(vec![
                field("page_cache_maximum_age", integer().default(300)),
                field("siteimprove_site", integer()),
                field("siteimprove_group", integer()),
            ]),
        ),
        field("tag", any_list()),
        field(
            "code",
            dict(vec![
                field("core", objectid(Resource::Code)),
                field("profile", objectid(Resource::Code)),
                field("package", list(objectid(Resource::Code))),
            ]),
        ),
        field(
            "routes",
            dict(vec![
                field("primary_route", objectid(Resource::Route)),
                field("secondary_route", list(objectid(Resource::Route))),
            ]),
        ),
        field("site", objectid(Resource::Site)),
        field("statistics", objectid(Resource::Statistics)),
        // The complete backup a new instance is provisioned from; set on
        // create only.
        field("restore_from", objectid(Resource::Backup)),
        field(
            "dates",
            dict(vec![
                field("created", datetime().indexed()),
                field("assigned", datetime()),
                field("launched", datetime()),
                field("taken_down", datetime().nullable()),
            ]),
        ),
        field("db_key", string().readonly().internal()),
        // Why the instance's last work failed for good (set by the engine,
        // cleared when work next succeeds): what an operator reads first.
        field(
            "last_error",
            dict(vec![
                field("job", string()),
                field("kind", string()),
                field("error", string()),
                field("at", datetime()),
            ])
            .nullable()
            .readonly(),
        ),
        // What the newest verification found different on the servers
        // (set by the engine's verify and heal jobs).
        field(
            "drift",
            dict(vec![
                field("checked", datetime()),
                field("count", integer()),
                field(
                    "findings",
                    list(dict(vec![
                        field("host", string()),
                        field(
                            "kind",
                            string().allowed_str(DriftKind::ALL.iter().map(|k| k.as_str())),
                        ),
                        field("detail", string()),
                        field("healable", boolean()),
                        field("code", string()),
                    ])),
                ),
            ])
            .nullable()
            .readonly(),
        ),
        field("created_by", string()),
        field("modified_by", string()),
    ])
}
