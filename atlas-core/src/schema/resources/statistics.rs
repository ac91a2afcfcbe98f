//! The `statistics` schema: one record per instance, written by the
//! instance itself. Follows the original's fields (the union of its
//! versions) and is generous where the original listed Drupal content,
//! block and role names: those are maps of free keys.

use crate::model::Resource;
use crate::schema::field::{
    any_dict, any_list, boolean, dict, field, integer, map, objectid, string, Rules, Schema,
};

/// The bundles whose schema versions the original recorded.
const BUNDLES: &[&str] = &[
    "cu_advanced_content_bundle",
    "cu_advanced_design_bundle",
    "cu_advanced_layout_bundle",
    "cu_events_bundle",
    "cu_feeds_bundle",
    "cu_forms_bundle",
    "cu_news_bundle",
    "cu_people_bundle",
    "cu_photo_gallery_bundle",
    "cu_seo_bundle",
    "cu_social_media_bundle",
    "cu_seo_admin_bundle",
    "cu_test_content_admin_bundle",
    "cu_debug_admin_bundle",
    "cu_classes_bundle",
];

fn count() -> Rules {
    integer().nullable()
}

fn text() -> Rules {
    string().nullable()
}

/// A dict of free keys (type names, roles) to counts.
fn counts() -> Rules {
    map(count()).nullable()
}

pub(super) fn schema() -> Schema {
    let mut bundles: Vec<_> = BUNDLES
        .iter()
        .map(|b| field(b, dict(vec![field("schema_version", count())]).nullable()))
        .collect();
    bundles.push(field("other", text()));

    Schema::new(vec![
        field(
            "instance",
            objectid(Resource::Instance).not_embeddable().required().unique(),
        ),
        field("name", string().min(1).nullable()),
        field("status", string().min(1).nullable()),
        field("nodes_total", count()),
        field("node_revision_total", count()),
        field("nodes_by_type", counts()),
        field("nodes_other", text()),
        field("days_since_last_edit", count()),
        field("days_since_last_login", count()),
        field("beans_total", count()),
        field("beans_by_type", counts()),
        field("beans_other", text()),
        field(
            "context",
            dict(vec![field("condition", counts()), field("reaction", counts())]).nullable(),
        ),
        field("context_other_conditions", text()),
        field("context_other_reactions", text()),
        field("variable_cron_last", count()),
        field("variable_site_403", text()),
        field("variable_site_404", text()),
        field("variable_theme_default", text()),
        field("variable_ga_account", text()),
        field("variable_livechat_license_number", text()),
        field("profile_module_manager", text()),
        field("express_code_version", text()),
        field("express_core_schema_version", count()),
        field("theme_is_responsive", boolean().nullable()),
        field("overridden_features", any_dict().nullable()),
        field("drupal_system_status", boolean().nullable()),
        field("custom_logo_settings", boolean().nullable()),
        field(
            "users",
            dict(vec![
                // role -> email addresses / usernames
                field("email_address", map(any_list().nullable()).nullable()),
                field("username", map(any_list().nullable()).nullable()),
                field("no_valid_owner", boolean().nullable()),
                field("counts", counts()),
            ])
            .nullable(),
        ),
        field("bundles", dict(bundles).nullable()),
        field(
            "webforms",
            dict(vec![
                field("total_submissions", count()),
                field("active_forms", count()),
                field("inactive_forms", count()),
            ])
            .nullable(),
        ),
        field("created_by", text()),
        field("modified_by", text()),
    ])
}
