//! The `backup` schema: one backup of one instance (its database dump and
//! files archive). Clients name the instance (and may label the kind);
//! everything else is set by Atlas as the backup job runs.

use crate::model::{BackupKind, BackupState, Resource, SID_PATTERN};
use crate::schema::field::{datetime, dict, field, integer, list, objectid, string, Schema};

pub(super) fn schema() -> Schema {
    Schema::new(vec![
        field("instance", objectid(Resource::Instance).required()),
        field("sid", string().regex(SID_PATTERN).readonly().indexed()),
        field(
            "kind",
            string()
                .allowed_str(BackupKind::ALL.iter().map(|k| k.as_str()))
                .default(BackupKind::Manual.as_str()),
        ),
        field(
            "state",
            string()
                .allowed_str(BackupState::ALL.iter().map(|s| s.as_str()))
                .readonly()
                .indexed(),
        ),
        field("finished", datetime().nullable().readonly()),
        field("size", integer().nullable().readonly()),
        field("host", string().nullable().readonly()),
        field("dir", string().nullable().readonly()),
        field(
            "parts",
            list(dict(vec![
                field("kind", string().allowed_str(["database", "files"])),
                field("file", string()),
                field("size", integer()),
                field("sha256", string()),
            ]))
            .readonly(),
        ),
        // The code the site ran when the backup was taken: a restore puts
        // the instance back on these items.
        field(
            "code",
            list(dict(vec![
                field("id", objectid(Resource::Code).not_embeddable()),
                field("code_type", string()),
                field("name", string()),
                field("version", string()),
                field("commit_hash", string()),
            ]))
            .readonly(),
        ),
        field("error", string().nullable().readonly()),
        field("created_by", string()),
        field("modified_by", string()),
    ])
}
