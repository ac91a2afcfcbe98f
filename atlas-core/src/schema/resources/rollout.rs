//! The `rollout` schema: moving the instances that use one code item
//! (`from`) to its next release (`to`) in ordered waves. Clients name the
//! two items and the wave policy; the progress fields are set by Atlas as
//! the waves run.

use crate::model::{OnFailure, Resource, RolloutState, DEFAULT_WAVE_SIZE};
use crate::schema::field::{boolean, datetime, dict, field, integer, list, objectid, string, Schema};

pub(super) fn schema() -> Schema {
    Schema::new(vec![
        field("from", objectid(Resource::Code).required().not_embeddable()),
        field("to", objectid(Resource::Code).required().not_embeddable()),
        // An Eve `where` (JSON) narrowing the instances; always combined
        // with "uses `from`".
        field("where", string().nullable()),
        field("wave_size", integer().default(DEFAULT_WAVE_SIZE)),
        field("max_failures", integer().default(0)),
        field(
            "on_failure",
            string()
                .allowed_str(OnFailure::ALL.iter().map(|o| o.as_str()))
                .default(OnFailure::Halt.as_str()),
        ),
        field("pause_between", integer().default(0)),
        field("backup", boolean().default(false)),
        field(
            "state",
            string()
                .allowed_str(RolloutState::ALL.iter().map(|s| s.as_str()))
                .readonly()
                .indexed(),
        ),
        field("wave", integer().readonly()),
        field(
            "current",
            list(objectid(Resource::Instance).not_embeddable()).readonly(),
        ),
        field("done", integer().readonly()),
        field("remaining", integer().readonly()),
        field(
            "failed",
            list(dict(vec![
                field("instance", objectid(Resource::Instance).not_embeddable()),
                field("sid", string()),
                field("error", string()),
            ]))
            .readonly(),
        ),
        field("skipped", list(string()).readonly()),
        field("started", datetime().nullable().readonly()),
        field("finished", datetime().nullable().readonly()),
        field("created_by", string()),
        field("modified_by", string()),
    ])
}
