//! The physical layout: one table per resource (current versions), one
//! history table per resource, the jobs table, and the names of the
//! indexes. Identifiers come only from here: fixed names, never data.

use atlas_core::model::Resource;
use atlas_core::schema::{unique_keys, UniqueKey};

/// The SQL table of a resource's current versions: the resource's own
/// fixed name (`code`, `instance`, …).
pub(crate) fn table_name(res: Resource) -> &'static str {
    res.as_str()
}

/// The SQL table of a resource's versions.
pub(crate) fn history_name(res: Resource) -> &'static str {
    match res {
        Resource::Code => "code_history",
        Resource::Instance => "instance_history",
        Resource::Route => "route_history",
        Resource::Commands => "commands_history",
        Resource::Statistics => "statistics_history",
        Resource::Site => "site_history",
        Resource::Backup => "backup_history",
        Resource::Rollout => "rollout_history",
    }
}

/// Name of the GIN index over a resource's bodies (every indexed path,
/// array-contains included).
pub(crate) fn gin_index_name(res: Resource) -> String {
    format!("gx_{}_body", table_name(res))
}

/// Name of the unique index enforcing `key` on a resource.
pub(crate) fn unique_index_name(res: Resource, key: &UniqueKey) -> String {
    format!("ux_{}_{}", table_name(res), key.field.replace('.', "_"))
}

/// The unique key whose index is called `index`, if any.
pub(crate) fn unique_key_by_index(res: Resource, index: &str) -> Option<&'static UniqueKey> {
    unique_keys(res)
        .iter()
        .find(|k| unique_index_name(res, k) == index)
}

/// `'{a,b}'`: a PostgreSQL text-array literal for a dotted path whose
/// segments are schema names (ASCII letters, digits, `_`).
pub(crate) fn path_literal(path: &str) -> String {
    debug_assert!(plain_path(path), "{path}");
    format!("'{{{}}}'", path.replace('.', ","))
}

/// `nullif(body #> '{a,b}', 'null')`: the value a record holds at `path`
/// for a unique key, SQL `NULL` when missing or JSON `null` (not enforced).
pub(crate) fn key_expr(path: &str) -> String {
    format!("nullif(body #> {}, 'null'::jsonb)", path_literal(path))
}

/// Whether every segment of `path` is ASCII letters, digits and `_`, and
/// not all digits (an all-digit segment indexes arrays in the query
/// language).
pub(crate) fn plain_path(path: &str) -> bool {
    path.split('.').all(|seg| {
        !seg.is_empty()
            && seg.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !seg.bytes().all(|b| b.is_ascii_digit())
    })
}

/// The DDL of the unique index enforcing `key` on `res`: partial (live
/// records, and `only_when_true` when set), over the key's values.
pub(crate) fn unique_index_ddl(res: Resource, key: &UniqueKey) -> String {
    let exprs: Vec<String> = key.paths.iter().map(|p| key_expr(p)).collect();
    let mut cond = String::from("NOT deleted");
    if let Some(flag) = key.only_when_true {
        cond.push_str(&format!(" AND body #> {} = 'true'::jsonb", path_literal(flag)));
    }
    format!(
        "CREATE UNIQUE INDEX {} ON {} (({})) WHERE {cond}",
        unique_index_name(res, key),
        table_name(res),
        exprs.join("), ("),
    )
}

/// Every table Atlas keeps, as fixed names.
#[cfg(feature = "testing")]
pub(crate) fn all_tables() -> Vec<&'static str> {
    let mut t: Vec<&'static str> = Resource::ALL.iter().map(|r| table_name(*r)).collect();
    t.extend(Resource::ALL.iter().map(|r| history_name(*r)));
    t.extend(["jobs", "leader"]);
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unique_path_is_plain_and_maps_back_to_its_key() {
        for res in Resource::ALL {
            for k in unique_keys(res) {
                assert!(k.paths.iter().all(|p| plain_path(p)));
                assert_eq!(unique_key_by_index(res, &unique_index_name(res, k)), Some(k));
            }
        }
    }

    #[test]
    fn unique_index_ddl_is_partial_on_live_records() {
        let k = &unique_keys(Resource::Code)[2];
        assert_eq!(
            unique_index_ddl(Resource::Code, k),
            "CREATE UNIQUE INDEX ux_code_meta_is_current ON code \
             ((nullif(body #> '{meta,name}', 'null'::jsonb)), (nullif(body #> '{meta,code_type}', 'null'::jsonb))) \
             WHERE NOT deleted AND body #> '{meta,is_current}' = 'true'::jsonb"
        );
    }
}
