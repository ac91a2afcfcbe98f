//! The physical layout: one table per resource, the jobs table, and the
//! facts the query translator needs about each (which JSON fields live in
//! real columns, which paths are indexed, which side table answers
//! `code.package`, which values are counted in [`COUNTS`]). The DDL in
//! `migrations` is generated from the same definitions, so an index, the
//! count triggers and the queries meant to use them always spell the same
//! expression.
//!
//! # Cached counts
//! [`COUNTS`] (`value_counts`) holds, per record table, the number of live
//! (not soft-deleted) rows ([`WHOLE_TABLE`]) and, for each of the table's
//! [`counted_paths`], the number of live rows per value of the path. The
//! counts are owned by SQLite triggers on each record table (created by
//! `migrations`, see [`count_expr`]), so every write path keeps them exact in
//! the transaction, or savepoint, of the write itself; `read::find` reads
//! a total from them instead of counting when the filter is one they
//! answer (`translate::count_key`).

use atlas_core::model::Resource;
use atlas_core::schema::{unique_keys, UniqueKey};

/// How a real column renders in the document JSON filters see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ColKind {
    /// A string, never null (`_id`, `_etag`, job `status`).
    Text,
    /// A string or `null` (job `key`).
    NullableText,
    /// An integer (`_version`).
    Int,
    /// A boolean stored as 0/1 (`_deleted`).
    Bool,
    /// Unix seconds, rendered as a `DATE_FORMAT` string (`_updated`).
    Date,
}

/// A document field stored in its own column.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Column {
    /// The top-level field name in the document JSON.
    pub(crate) field: &'static str,
    /// The SQL column.
    pub(crate) sql: &'static str,
    /// How it renders.
    pub(crate) kind: ColKind,
}

/// A side table listing, per record, the strings one array path holds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SideTable {
    /// The dotted path it answers (`code.package`).
    pub(crate) path: &'static str,
    /// The table.
    pub(crate) table: &'static str,
}

/// What the translator knows about one table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TableSpec {
    /// SQL table name.
    pub(crate) name: &'static str,
    /// The column holding the JSON (JSONB) document or body.
    pub(crate) body: &'static str,
    /// Fields stored in their own columns (looked up before the body).
    pub(crate) columns: &'static [Column],
    /// Whether the table has a `deleted` column (records) or not (jobs).
    pub(crate) soft_delete: bool,
    /// A side table for array-contains on one path.
    pub(crate) side: Option<SideTable>,
    /// `None` when the table keeps no [`COUNTS`] (jobs); otherwise its
    /// [`counted_paths`] (besides the [`WHOLE_TABLE`] count every record
    /// table keeps).
    pub(crate) counted: Option<&'static [&'static str]>,
}

const DOC_COLUMNS: &[Column] = &[
    Column {
        field: "_id",
        sql: "id",
        kind: ColKind::Text,
    },
    Column {
        field: "_etag",
        sql: "etag",
        kind: ColKind::Text,
    },
    Column {
        field: "_created",
        sql: "created",
        kind: ColKind::Date,
    },
    Column {
        field: "_updated",
        sql: "updated",
        kind: ColKind::Date,
    },
    Column {
        field: "_version",
        sql: "version",
        kind: ColKind::Int,
    },
    Column {
        field: "_deleted",
        sql: "deleted",
        kind: ColKind::Bool,
    },
];

const JOB_COLUMNS: &[Column] = &[
    Column {
        field: "_id",
        sql: "id",
        kind: ColKind::Text,
    },
    Column {
        field: "status",
        sql: "status",
        kind: ColKind::Text,
    },
    Column {
        field: "key",
        sql: "key",
        kind: ColKind::NullableText,
    },
    Column {
        field: "run_at",
        sql: "run_at",
        kind: ColKind::Date,
    },
    Column {
        field: "created",
        sql: "created",
        kind: ColKind::Date,
    },
];

/// The side table answering "`code.package` holds X" on instances.
pub(crate) const PACKAGE_SIDE: SideTable = SideTable {
    path: "code.package",
    table: "instance_package",
};

/// The jobs table.
pub(crate) const JOBS: TableSpec = TableSpec {
    name: "jobs",
    body: "doc",
    columns: JOB_COLUMNS,
    soft_delete: false,
    side: None,
    counted: None,
};

/// The table of a resource.
pub(crate) fn table(res: Resource) -> TableSpec {
    TableSpec {
        name: table_name(res),
        body: "body",
        columns: DOC_COLUMNS,
        soft_delete: true,
        side: (res == Resource::Instance).then_some(PACKAGE_SIDE),
        counted: Some(counted_paths(res)),
    }
}

/// The table of cached counts: `(tbl, field, value, n)`, `n` live rows of
/// `tbl` holding `value` at the body path `field` (see the module docs).
pub(crate) const COUNTS: &str = "value_counts";

/// The `field` (and the `value`) of a table's whole-table count of live
/// rows in [`COUNTS`]. No counted path is empty, so it never clashes.
pub(crate) const WHOLE_TABLE: &str = "";

/// Body paths whose live rows are counted per value in [`COUNTS`], so the
/// total of `find` with the filter `{path: "<string>"}` (the hot
/// `GET /instance?where={"status":"pending"}`) is one lookup rather than a
/// count over the matching index entries. Each costs every write of its
/// table a little (the triggers extract the path from the old and the new
/// body), so only paths whose totals are asked for all the time, with few
/// distinct values, belong here: rows whose count drops to 0 are kept.
///
/// Part of the schema: the triggers of an existing database count what
/// this list said when they were created, so a change needs a migration
/// step calling `migrations::rebuild_counts` (and opening a database whose
/// triggers differ from this build's rebuilds them, see `migrations`).
/// Every path is a [`hot_paths`] one (a test checks it): the counts use the
/// index's expression, [`json_value`], so they agree with the translator.
pub(crate) fn counted_paths(res: Resource) -> &'static [&'static str] {
    match res {
        Resource::Instance => &["status", "type"],
        Resource::Code
        | Resource::Route
        | Resource::Statistics
        | Resource::Backup
        | Resource::Rollout
        | Resource::Commands
        | Resource::Site => &[],
    }
}

/// The value a row of a record table is counted under for `field`, as an
/// SQL expression over the row's body column `body` (`new.body` in a
/// trigger): the constant `''` for [`WHOLE_TABLE`], else [`json_value`] (a
/// row where it is `NULL`, the path missing or `null`, is not counted).
pub(crate) fn count_expr(body: &str, field: &str) -> String {
    if field == WHOLE_TABLE {
        "''".to_owned()
    } else {
        json_value(body, field)
    }
}

/// The SQL table name of a resource.
///
/// Each resource's table is named as its collection: the names come from
/// the fixed [`Resource`] set, never from a request.
pub(crate) fn table_name(res: Resource) -> &'static str {
    res.as_str()
}

/// Body paths Atlas filters on all the time (issue 4's list), indexed as
/// `(json_extract(body, path), deleted, id)` so equality, counting and the
/// first page by id all come from the index (or, for a path that is a
/// unique key, by the key's unique index: see [`hot_indexed_paths`]). (An expression index, not a
/// generated column: SQLite never treats an index on a generated column as
/// covering, while an expression index serves `count(*)` from the index.)
///
/// Every one is among the schema's [`atlas_core::schema::indexed_paths`] (a test checks it),
/// but not every scalar indexed path of the schema is here: each
/// expression index costs every write, and indexing all thirteen scalar
/// instance paths cut durable insert throughput by about a third. Array
/// paths cannot be served by an expression index at all; `code.package`
/// has the side table instead.
pub(crate) fn hot_paths(res: Resource) -> &'static [&'static str] {
    match res {
        Resource::Instance => &["status", "sid", "path", "type", "code.core", "code.profile"],
        Resource::Code => &["meta.name", "meta.code_type", "meta.is_current"],
        Resource::Route => &["source", "instance_id", "route_status"],
        Resource::Statistics => &["instance"],
        Resource::Backup => &["instance", "state"],
        Resource::Rollout => &["state"],
        Resource::Commands | Resource::Site => &[],
    }
}

/// The hot paths that get an index of their own: all but those that are
/// the whole of a unique key, which the key's partial unique index
/// (`WHERE deleted = 0`) already serves for every query on live records.
pub(crate) fn hot_indexed_paths(res: Resource) -> impl Iterator<Item = &'static str> {
    hot_paths(res).iter().copied().filter(move |p| {
        !unique_keys(res)
            .iter()
            .any(|k| k.only_when_true.is_none() && k.paths == [*p])
    })
}

/// Whether one dotted-path segment can be written into a JSON path literal
/// as is: ASCII letters, digits and `_`, not all digits (an all-digit
/// segment indexes arrays in the query language).
pub(crate) fn plain_segment(seg: &str) -> bool {
    !seg.is_empty()
        && seg.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !seg.bytes().all(|b| b.is_ascii_digit())
}

/// Whether every segment of `path` is [`plain_segment`].
pub(crate) fn plain_path(path: &str) -> bool {
    path.split('.').all(plain_segment)
}

/// `json_extract(<body>,'$.<path>')`: the one spelling of a body path used
/// by indexes and queries alike (SQLite matches expression indexes
/// textually). `path` must be [`plain_path`].
pub(crate) fn json_value(body: &str, path: &str) -> String {
    format!("json_extract({body},'$.{path}')")
}

/// `json_type(<body>,'$.<path>')` (`NULL` when missing).
pub(crate) fn json_type(body: &str, path: &str) -> String {
    format!("json_type({body},'$.{path}')")
}

/// Name of the hot-path index of `path` on `table`.
pub(crate) fn hot_index_name(table: &str, path: &str) -> String {
    format!("ix_{table}_{}", path.replace('.', "_"))
}

/// Name of the unique index enforcing `key` on `table`.
pub(crate) fn unique_index_name(table: &str, key: &UniqueKey) -> String {
    format!("ux_{table}_{}", key.field.replace('.', "_"))
}

/// The unique key whose index is called `index`, if any.
pub(crate) fn unique_key_by_index(res: Resource, index: &str) -> Option<&'static UniqueKey> {
    let t = table_name(res);
    unique_keys(res).iter().find(|k| unique_index_name(t, k) == index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_segments_exclude_digits_only_and_punctuation() {
        assert!(plain_path("meta.code_type"));
        assert!(plain_path("a1.b2"));
        assert!(!plain_path("a.0"));
        assert!(!plain_path("a..b"));
        assert!(!plain_path("a-b"));
        assert!(!plain_path("a'b"));
        assert!(!plain_path(""));
    }

    #[test]
    fn index_and_query_spell_the_same_expression() {
        assert_eq!(
            json_value("body", "meta.name"),
            "json_extract(body,'$.meta.name')"
        );
        assert_eq!(hot_index_name("code", "meta.name"), "ix_code_meta_name");
    }

    #[test]
    fn unique_indexes_map_back_to_their_keys() {
        let k = &unique_keys(Resource::Code)[2];
        let name = unique_index_name("code", k);
        assert_eq!(name, "ux_code_meta_is_current");
        assert_eq!(unique_key_by_index(Resource::Code, &name), Some(k));
        assert_eq!(unique_key_by_index(Resource::Code, "nope"), None);
    }

    #[test]
    fn unique_paths_reuse_their_unique_index() {
        let own: Vec<&str> = hot_indexed_paths(Resource::Instance).collect();
        assert_eq!(own, ["status", "type", "code.core", "code.profile"]);
        assert_eq!(hot_indexed_paths(Resource::Statistics).count(), 0);
    }

    #[test]
    fn every_hot_path_is_one_the_schema_declares_indexed() {
        for res in Resource::ALL {
            let declared = atlas_core::schema::indexed_paths(res);
            for p in hot_paths(res) {
                assert!(
                    declared.iter().any(|d| d == p),
                    "{res} {p} is not in schema::indexed_paths"
                );
            }
        }
    }

    #[test]
    fn counted_paths_are_plain_hot_body_paths() {
        for res in Resource::ALL {
            let spec = table(res);
            for p in counted_paths(res) {
                assert!(hot_paths(res).contains(p), "{res} {p} is not a hot path");
                assert!(plain_path(p) && *p != WHOLE_TABLE, "{p}");
                assert!(!spec.columns.iter().any(|c| c.field == *p), "{p} is a column");
            }
        }
        assert!(JOBS.counted.is_none());
    }

    #[test]
    fn counts_use_the_index_expression_and_a_constant_for_the_whole_table() {
        assert_eq!(
            count_expr("new.body", "status"),
            "json_extract(new.body,'$.status')"
        );
        assert_eq!(count_expr("body", WHOLE_TABLE), "''");
    }

    #[test]
    fn every_hot_and_unique_path_is_plain() {
        for res in Resource::ALL {
            for p in hot_paths(res) {
                assert!(plain_path(p), "{p}");
            }
            for k in unique_keys(res) {
                assert!(k.paths.iter().all(|p| plain_path(p)));
                if let Some(flag) = k.only_when_true {
                    assert!(plain_path(flag));
                }
            }
        }
    }
}
