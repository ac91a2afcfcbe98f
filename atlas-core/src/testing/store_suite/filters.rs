//! Filter semantics: for every filter operator (`$eq $ne $gt $gte $lt $lte
//! $in $nin $exists $regex $and $or $nor`), dotted paths, array fields,
//! dates, record meta fields and 24-hex ids, `find` returns what the
//! reference evaluator selects from the same records, in the same order,
//! with the same total, on the first page and on page 2 of 3 (see
//! [`FindFixture`]).

use std::sync::Arc;

use serde_json::json;

use crate::model::{CodeType, Id};
use crate::query::{Filter, FindQuery, Op, Operand};
use crate::store::Store;

use super::find_fixture::FindFixture;
use super::{at, field, id, j, query, regex, sorted};

/// Sort by `update_group`, descending.
const BY_GROUP: &[(&str, bool)] = &[("update_group", true)];
/// Sort by `sid`, ascending.
const BY_SID: &[(&str, bool)] = &[("sid", false)];

/// The ids as string operands.
fn id_operands(ids: &[Id]) -> Vec<Operand> {
    ids.iter().map(|i| j(json!(i.to_string()))).collect()
}

/// `$eq` (explicit and bare) and `$ne` compare a field with a value; `$eq`
/// works on the `_version` meta field too.
pub async fn find_filters_by_equality_and_inequality(store: Arc<dyn Store>) {
    let fx = FindFixture::load(&*store).await;
    fx.assert_instances(vec![
        ("$eq", query(field("status", Op::Eq(j(json!("installed")))))),
        ("bare eq", sorted(Filter::eq("type", "custom"), BY_SID)),
        (
            "$ne",
            sorted(field("status", Op::Ne(j(json!("pending")))), BY_GROUP),
        ),
        ("_version", query(Filter::eq("_version", 1))),
    ])
    .await;
}

/// Ids given as 24-hex strings match `_id` (by `$eq` and `$in`) and id
/// fields of the body.
pub async fn find_matches_ids_given_as_hex_strings(store: Arc<dyn Store>) {
    let fx = FindFixture::load(&*store).await;
    fx.assert_instances(vec![
        (
            "$eq on _id (24 hex)",
            query(Filter::eq("_id", fx.instances[5].to_string())),
        ),
        (
            "$in on _id",
            query(field(
                "_id",
                Op::In(id_operands(&[fx.instances[1], fx.instances[3], fx.instances[8]])),
            )),
        ),
        (
            "id field eq",
            query(Filter::eq("code.core", fx.core_old.to_string())),
        ),
    ])
    .await;
}

/// `$gt`, `$gte`, `$lt` and `$lte` order numbers, and strings too.
pub async fn find_filters_by_ordering_comparisons(store: Arc<dyn Store>) {
    let fx = FindFixture::load(&*store).await;
    fx.assert_instances(vec![
        (
            "$gt",
            sorted(field("update_group", Op::Gt(j(json!(0)))), &[("sid", true)]),
        ),
        ("$gte", query(field("update_group", Op::Gte(j(json!(2)))))),
        ("$lt", query(field("update_group", Op::Lt(j(json!(1)))))),
        (
            "$lte",
            sorted(field("update_group", Op::Lte(j(json!(1)))), BY_GROUP),
        ),
        (
            "$gt on strings",
            query(field("sid", Op::Gt(j(json!("p1test000020"))))),
        ),
    ])
    .await;
}

/// `$in` and `$nin` match a field against a set of values.
pub async fn find_filters_by_membership_in_a_set(store: Arc<dyn Store>) {
    let fx = FindFixture::load(&*store).await;
    fx.assert_instances(vec![
        (
            "$in",
            sorted(
                field(
                    "status",
                    Op::In(vec![j(json!("installed")), j(json!("launched"))]),
                ),
                BY_GROUP,
            ),
        ),
        ("$nin", query(field("type", Op::Nin(vec![j(json!("express"))])))),
    ])
    .await;
}

/// `$exists` tells present from missing fields, nested ones included.
pub async fn find_filters_by_field_existence(store: Arc<dyn Store>) {
    let fx = FindFixture::load(&*store).await;
    fx.assert_instances(vec![
        (
            "$exists true",
            sorted(
                field("settings.siteimprove_site", Op::Exists(true)),
                &[("settings.siteimprove_site", true)],
            ),
        ),
        ("$exists false", query(field("tag", Op::Exists(false)))),
        (
            "$exists on nested missing",
            query(field("dates.launched", Op::Exists(true))),
        ),
    ])
    .await;
}

/// `$regex` matches strings, honours options (`i`), and matches array
/// elements.
pub async fn find_filters_by_regex(store: Arc<dyn Store>) {
    let fx = FindFixture::load(&*store).await;
    fx.assert_instances(vec![
        ("$regex", query(field("sid", regex("^p1test00000[0-9]$", "")))),
        ("$regex with options", query(field("pool", regex("^POOLA", "i")))),
        (
            "$regex on array elements",
            query(field("tag", regex("^prio", ""))),
        ),
    ])
    .await;
}

/// `$and`, `$or` and `$nor` combine filters, nested ones included.
pub async fn find_combines_filters_with_and_or_nor(store: Arc<dyn Store>) {
    let fx = FindFixture::load(&*store).await;
    fx.assert_instances(vec![
        (
            "$and",
            query(Filter::and(vec![
                Filter::eq("status", "installed"),
                field("update_group", Op::Gte(j(json!(1)))),
            ])),
        ),
        (
            "$or",
            sorted(
                Filter::or(vec![Filter::eq("type", "custom"), Filter::eq("status", "down")]),
                BY_GROUP,
            ),
        ),
        (
            "$nor",
            query(Filter::Nor(vec![
                Filter::eq("status", "pending"),
                Filter::eq("update_group", 0),
            ])),
        ),
        (
            "nested $or in $and",
            query(Filter::and(vec![
                Filter::or(vec![Filter::eq("update_group", 0), Filter::eq("update_group", 2)]),
                field("status", Op::Ne(j(json!("down")))),
            ])),
        ),
    ])
    .await;
}

/// A dotted path reaches into nested objects.
pub async fn find_filters_by_nested_path(store: Arc<dyn Store>) {
    let fx = FindFixture::load(&*store).await;
    fx.assert_instances(vec![(
        "dotted path",
        query(field("settings.page_cache_maximum_age", Op::Gt(j(json!(300))))),
    )])
    .await;
}

/// On an array field (`code.package`) `$eq` means "contains", `$in` "holds
/// one of", `$nin` "holds none of" and `$ne` "does not contain".
pub async fn find_matches_array_fields_by_element(store: Arc<dyn Store>) {
    let fx = FindFixture::load(&*store).await;
    fx.assert_instances(vec![
        (
            "array contains",
            sorted(Filter::eq("code.package", fx.ga.to_string()), BY_SID),
        ),
        (
            "array $in",
            query(field(
                "code.package",
                Op::In(id_operands(&[fx.webform, fx.ctools])),
            )),
        ),
        (
            "array $nin",
            query(field("code.package", Op::Nin(id_operands(&[fx.ga])))),
        ),
        (
            "array $ne",
            query(field("code.package", Op::Ne(j(json!(fx.views.to_string()))))),
        ),
    ])
    .await;
}

/// Dates in the body (`dates.created`) compare as instants, given as dates or
/// as date strings.
pub async fn find_compares_body_dates(store: Arc<dyn Store>) {
    let fx = FindFixture::load(&*store).await;
    fx.assert_instances(vec![
        (
            "dates.created $gte",
            sorted(
                field("dates.created", Op::Gte(Operand::Date(at(20 * 86_400)))),
                &[("dates.created", true)],
            ),
        ),
        (
            "dates.created $lt",
            query(field("dates.created", Op::Lt(Operand::Date(at(5 * 86_400))))),
        ),
        (
            "dates.created via string",
            query(Filter::eq("dates.created", at(7 * 86_400).to_string())),
        ),
    ])
    .await;
}

/// The record timestamps `_created` and `_updated` compare as instants; a
/// filter on `_updated` still leaves soft-deleted records out.
pub async fn find_compares_record_timestamps(store: Arc<dyn Store>) {
    let fx = FindFixture::load(&*store).await;
    fx.assert_instances(vec![
        (
            "_created $gt",
            sorted(
                field("_created", Op::Gt(Operand::Date(at(10 * 600)))),
                &[("_created", true)],
            ),
        ),
        (
            "_created $lte",
            query(field("_created", Op::Lte(Operand::Date(at(6 * 600))))),
        ),
        (
            "_updated $gt (deleted excluded)",
            query(field("_updated", Op::Gt(Operand::Date(at(0))))),
        ),
    ])
    .await;
}

/// Soft-deleted records are found by a filter on `_deleted` or with
/// `show_deleted`, mixed with live ones in the same order as the reference.
pub async fn find_returns_deleted_records_when_asked(store: Arc<dyn Store>) {
    let fx = FindFixture::load(&*store).await;
    fx.assert_instances(vec![
        ("_deleted true", query(Filter::eq("_deleted", true))),
        (
            "show_deleted",
            FindQuery {
                show_deleted: true,
                ..sorted(Filter::eq("status", "launched"), BY_SID)
            },
        ),
    ])
    .await;
}

/// Code items filter by type and currency (`meta.code_type`,
/// `meta.is_current`), also negated with `$nor`.
pub async fn find_filters_code_by_type_and_currency(store: Arc<dyn Store>) {
    let fx = FindFixture::load(&*store).await;
    fx.assert_codes(vec![
        (
            "code type",
            query(Filter::eq("meta.code_type", CodeType::Module.as_str())),
        ),
        (
            "current cores and profiles",
            query(Filter::and(vec![
                Filter::eq("meta.is_current", true),
                field(
                    "meta.code_type",
                    Op::In(vec![j(json!("core")), j(json!("profile"))]),
                ),
            ])),
        ),
        (
            "$nor on type",
            query(Filter::Nor(vec![Filter::eq("meta.code_type", "module")])),
        ),
    ])
    .await;
}

/// Code items' array fields `meta.tag` and `meta.dependency` match by
/// element.
pub async fn find_filters_code_by_tag_and_dependency(store: Arc<dyn Store>) {
    let fx = FindFixture::load(&*store).await;
    fx.assert_codes(vec![
        ("tag contains", query(Filter::eq("meta.tag", "beta"))),
        (
            "dependency contains",
            query(Filter::eq("meta.dependency", fx.ctools.to_string())),
        ),
    ])
    .await;
}

/// Code items filter by name, version, label and commit hash.
pub async fn find_filters_code_by_name_version_label_and_hash(store: Arc<dyn Store>) {
    let fx = FindFixture::load(&*store).await;
    fx.assert_codes(vec![
        (
            "version regex",
            sorted(
                field("meta.version", regex(r"^7\.x-", "")),
                &[("meta.name", false)],
            ),
        ),
        (
            "name $gte",
            sorted(
                field("meta.name", Op::Gte(j(json!("d")))),
                &[("meta.name", true), ("meta.version", true)],
            ),
        ),
        ("label exists", query(field("meta.label", Op::Exists(true)))),
        (
            "commit hash",
            query(Filter::eq("commit_hash", fx.code(3).body["commit_hash"].clone())),
        ),
    ])
    .await;
}

/// Whole-array and whole-object equality compare numbers numerically, as
/// the reference evaluator does: `[1.0, 10]` matches a stored `[1, 10]` and
/// `{"a": 1.0}` a stored `{"a": 1}` — and nothing else.
pub async fn find_compares_whole_arrays_and_objects_numerically(store: Arc<dyn Store>) {
    use crate::batch::Batch;
    use crate::model::Resource;

    let mut b = Batch::new(at(1));
    b.insert(
        Resource::Statistics,
        id(1),
        super::body(json!({"arr": [1, 10], "obj": {"a": 1}})),
    );
    b.insert(
        Resource::Statistics,
        id(2),
        super::body(json!({"arr": [1, 11], "obj": {"a": 2}})),
    );
    b.insert(
        Resource::Statistics,
        id(3),
        super::body(json!({"arr": [10, 1], "obj": {"a": 1, "b": 0}})),
    );
    store.commit(b).await.unwrap();
    let ids = |q: FindQuery| {
        let store = store.clone();
        async move {
            let page = store.find(Resource::Statistics, &q).await.unwrap();
            page.items.iter().map(|d| d.id).collect::<Vec<_>>()
        }
    };
    assert_eq!(
        ids(query(field("arr", Op::Eq(j(json!([1.0, 10])))))).await,
        [id(1)]
    );
    assert_eq!(
        ids(query(field("obj", Op::Eq(j(json!({"a": 1.0})))))).await,
        [id(1)]
    );
    assert_eq!(
        ids(query(field("arr", Op::Ne(j(json!([1.0, 10])))))).await,
        [id(2), id(3)]
    );
    assert_eq!(
        ids(query(field("obj", Op::In(vec![j(json!({"a": 2.0}))])))).await,
        [id(2)]
    );
}
