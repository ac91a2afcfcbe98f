//! The reference evaluator: [`Filter::matches`]. Its behaviour *is* the
//! semantics of a `where` clause, documented in the `query` module doc
//! ("Semantics of `where`"); every store reproduces it exactly.

use std::cmp::Ordering;

use serde_json::{Number, Value};

use super::path::resolve;
use super::{Filter, Op, Operand, Pattern};
use crate::model::Timestamp;

impl Filter {
    /// Whether `doc` (a document's JSON) satisfies the filter. See the
    /// module documentation for the exact semantics.
    pub fn matches(&self, doc: &Value) -> bool {
        match self {
            Filter::All => true,
            Filter::And(fs) => fs.iter().all(|f| f.matches(doc)),
            Filter::Or(fs) => fs.iter().any(|f| f.matches(doc)),
            Filter::Nor(fs) => !fs.iter().any(|f| f.matches(doc)),
            Filter::Field { path, op } => op_matches(op, &resolve(doc, path)),
        }
    }
}

fn op_matches(op: &Op, found: &[Option<&Value>]) -> bool {
    match op {
        Op::Eq(x) => eq_any(x, found),
        Op::Ne(x) => !eq_any(x, found),
        Op::In(xs) => xs.iter().any(|x| eq_any(x, found)),
        Op::Nin(xs) => !xs.iter().any(|x| eq_any(x, found)),
        Op::Gt(x) => range_any(x, found, |o| o == Ordering::Greater, false),
        Op::Gte(x) => range_any(x, found, |o| o != Ordering::Less, true),
        Op::Lt(x) => range_any(x, found, |o| o == Ordering::Less, false),
        Op::Lte(x) => range_any(x, found, |o| o != Ordering::Greater, true),
        Op::Exists(want) => found.iter().any(Option::is_some) == *want,
        Op::Regex(p) => found.iter().flatten().any(|v| regex_matches(p, v)),
    }
}

fn eq_any(x: &Operand, found: &[Option<&Value>]) -> bool {
    found.iter().any(|v| match v {
        None => matches!(x, Operand::Json(Value::Null)),
        Some(v) => {
            operand_eq(v, x) || matches!(v, Value::Array(items) if items.iter().any(|e| operand_eq(e, x)))
        }
    })
}

fn operand_eq(v: &Value, x: &Operand) -> bool {
    match x {
        Operand::Json(o) => json_eq(v, o),
        Operand::Date(ts) => as_date(v) == Some(*ts),
    }
}

/// JSON equality with numbers compared numerically and key order ignored.
pub(crate) fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => num_cmp(x, y) == Ordering::Equal,
        (Value::Array(xs), Value::Array(ys)) => {
            xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| json_eq(x, y))
        }
        (Value::Object(xs), Value::Object(ys)) => {
            xs.len() == ys.len() && xs.iter().all(|(k, x)| ys.get(k).is_some_and(|y| json_eq(x, y)))
        }
        _ => a == b,
    }
}

fn range_any(
    x: &Operand,
    found: &[Option<&Value>],
    accept: impl Fn(Ordering) -> bool,
    inclusive: bool,
) -> bool {
    if matches!(x, Operand::Json(Value::Null)) {
        return inclusive && eq_any(x, found);
    }
    found.iter().flatten().any(|v| match v {
        Value::Array(items) => items.iter().any(|e| class_cmp(e, x).is_some_and(&accept)),
        _ => class_cmp(v, x).is_some_and(&accept),
    })
}

/// `v` compared with `x` when both are of the same class, else `None`.
fn class_cmp(v: &Value, x: &Operand) -> Option<Ordering> {
    match x {
        Operand::Date(ts) => as_date(v).map(|d| d.cmp(ts)),
        Operand::Json(o) => match (v, o) {
            (Value::Number(a), Value::Number(b)) => Some(num_cmp(a, b)),
            (Value::String(a), Value::String(b)) => Some(a.as_str().cmp(b.as_str())),
            (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
            _ => None,
        },
    }
}

fn as_date(v: &Value) -> Option<Timestamp> {
    v.as_str().and_then(|s| Timestamp::parse(s).ok())
}

fn regex_matches(p: &Pattern, v: &Value) -> bool {
    match v {
        Value::String(s) => p.regex.is_match(s),
        Value::Array(items) => items
            .iter()
            .any(|e| e.as_str().is_some_and(|s| p.regex.is_match(s))),
        _ => false,
    }
}

/// Exact numeric comparison of two JSON numbers (integers exactly, floats
/// against integers without rounding the integer).
pub(crate) fn num_cmp(a: &Number, b: &Number) -> Ordering {
    match (as_int(a), as_int(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(x), None) => int_float_cmp(x, b.as_f64().unwrap_or(0.0)),
        (None, Some(y)) => int_float_cmp(y, a.as_f64().unwrap_or(0.0)).reverse(),
        (None, None) => {
            let (x, y) = (a.as_f64().unwrap_or(0.0), b.as_f64().unwrap_or(0.0));
            // JSON numbers are finite, so `partial_cmp` always answers.
            x.partial_cmp(&y).unwrap_or(Ordering::Equal)
        }
    }
}

fn as_int(n: &Number) -> Option<i128> {
    n.as_i64().map(i128::from).or_else(|| n.as_u64().map(i128::from))
}

fn int_float_cmp(i: i128, f: f64) -> Ordering {
    // JSON integers fit in 65 bits, far inside ±1e38; beyond that the float
    // decides alone. Inside it, `floor` converts to i128 exactly.
    let floor = f.floor();
    if floor >= 1e38 {
        return Ordering::Less;
    }
    if floor <= -1e38 {
        return Ordering::Greater;
    }
    #[allow(clippy::cast_possible_truncation)]
    let fi = floor as i128;
    match i.cmp(&fi) {
        Ordering::Equal if f > floor => Ordering::Less,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{json, Value};

    use super::super::fixtures::{self, core_code, instance, module_code, CORE, OTHER, PKG1, PKG2};
    use super::super::parse_where;
    use super::*;

    fn q(s: &str) -> Filter {
        match parse_where(s) {
            Ok(f) => f,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    fn hits(s: &str, doc: &Value) -> bool {
        q(s).matches(doc)
    }

    #[test]
    fn all_matches_every_document() {
        assert!(Filter::All.matches(&instance()));
        assert!(Filter::All.matches(&json!({})));
    }

    #[test]
    fn eq_matches_a_top_level_string() {
        assert!(hits(r#"{"status": "installed"}"#, &instance()));
        assert!(!hits(r#"{"status": "launched"}"#, &instance()));
    }

    #[test]
    fn eq_matches_a_dotted_path() {
        assert!(hits(r#"{"meta.name": "drupal"}"#, &core_code()));
        assert!(!hits(r#"{"meta.name": "Drupal"}"#, &core_code()));
    }

    #[test]
    fn eq_matches_an_id_inside_a_package_list() {
        let doc = instance();
        assert!(hits(&format!(r#"{{"code.package": "{PKG2}"}}"#), &doc));
        assert!(!hits(&format!(r#"{{"code.package": "{OTHER}"}}"#), &doc));
    }

    #[test]
    fn eq_matches_an_id_field_with_a_24_hex_string() {
        assert!(hits(&format!(r#"{{"code.core": "{CORE}"}}"#), &instance()));
        assert!(hits(&format!(r#"{{"_id": "{CORE}"}}"#), &core_code()));
    }

    #[test]
    fn eq_matches_a_whole_array_in_order_only() {
        let doc = instance();
        assert!(hits(
            &format!(r#"{{"code.package": ["{PKG1}", "{PKG2}"]}}"#),
            &doc
        ));
        assert!(!hits(
            &format!(r#"{{"code.package": ["{PKG2}", "{PKG1}"]}}"#),
            &doc
        ));
    }

    #[test]
    fn eq_with_explicit_operator_matches_like_a_bare_value() {
        assert!(hits(r#"{"meta.is_current": {"$eq": true}}"#, &core_code()));
        assert!(!hits(r#"{"meta.is_current": {"$eq": true}}"#, &module_code()));
    }

    #[test]
    fn eq_null_matches_missing_and_null_fields() {
        let doc = instance();
        assert!(hits(r#"{"dates.assigned": null}"#, &doc));
        assert!(hits(r#"{"dates.launched": null}"#, &doc));
        assert!(hits(r#"{"site": null}"#, &doc));
        assert!(!hits(r#"{"status": null}"#, &doc));
    }

    #[test]
    fn eq_object_matches_only_the_exact_object_whatever_the_key_order() {
        let doc = json!({"settings": {"a": 1, "b": 2}});
        assert!(hits(r#"{"settings": {"b": 2, "a": 1}}"#, &doc));
        assert!(!hits(r#"{"settings": {"a": 1}}"#, &doc));
        assert!(!hits(r#"{"settings": {"a": 1, "b": 2, "c": 3}}"#, &doc));
    }

    #[test]
    fn eq_compares_integers_and_floats_numerically() {
        assert!(hits(r#"{"update_group": 2.0}"#, &instance()));
        assert!(!hits(r#"{"update_group": 2.5}"#, &instance()));
    }

    #[test]
    fn eq_does_not_compare_across_types() {
        assert!(!hits(r#"{"update_group": "2"}"#, &instance()));
        assert!(!hits(r#"{"meta.is_current": 1}"#, &core_code()));
    }

    #[test]
    fn eq_reaches_fields_of_objects_inside_arrays() {
        let doc = json!({"users": [{"name": "ann", "role": "owner"}, {"name": "bob"}]});
        assert!(hits(r#"{"users.name": "bob"}"#, &doc));
        assert!(!hits(r#"{"users.name": "cy"}"#, &doc));
        assert!(hits(r#"{"users.role": null}"#, &doc), "bob has no role");
    }

    #[test]
    fn numeric_segment_indexes_an_array() {
        let doc = instance();
        assert!(hits(&format!(r#"{{"code.package.0": "{PKG1}"}}"#), &doc));
        assert!(!hits(&format!(r#"{{"code.package.0": "{PKG2}"}}"#), &doc));
    }

    #[test]
    fn eq_date_matches_the_same_instant_in_any_accepted_format() {
        let doc = instance();
        assert!(hits(r#"{"dates.created": "2026-11-25 01:36:55 GMT"}"#, &doc));
        assert!(hits(r#"{"dates.created": "2026-11-25T01:36:55Z"}"#, &doc));
        assert!(hits(r#"{"dates.created": "2026-11-25T03:36:55+02:00"}"#, &doc));
        assert!(!hits(r#"{"dates.created": "2026-11-25 01:36:56 GMT"}"#, &doc));
    }

    #[test]
    fn ne_matches_other_values_and_missing_fields() {
        let doc = instance();
        assert!(hits(r#"{"status": {"$ne": "launched"}}"#, &doc));
        assert!(!hits(r#"{"status": {"$ne": "installed"}}"#, &doc));
        assert!(hits(r#"{"site": {"$ne": "x"}}"#, &doc));
    }

    #[test]
    fn ne_rejects_an_array_that_holds_the_value() {
        let doc = instance();
        assert!(!hits(
            &format!(r#"{{"code.package": {{"$ne": "{PKG1}"}}}}"#),
            &doc
        ));
        assert!(hits(
            &format!(r#"{{"code.package": {{"$ne": "{OTHER}"}}}}"#),
            &doc
        ));
    }

    #[test]
    fn ne_null_matches_only_present_non_null_fields() {
        let doc = instance();
        assert!(hits(r#"{"status": {"$ne": null}}"#, &doc));
        assert!(!hits(r#"{"dates.assigned": {"$ne": null}}"#, &doc));
        assert!(!hits(r#"{"site": {"$ne": null}}"#, &doc));
    }

    #[test]
    fn gt_and_gte_compare_numbers() {
        let doc = instance();
        assert!(hits(r#"{"update_group": {"$gt": 1}}"#, &doc));
        assert!(!hits(r#"{"update_group": {"$gt": 2}}"#, &doc));
        assert!(hits(r#"{"update_group": {"$gte": 2}}"#, &doc));
        assert!(!hits(r#"{"update_group": {"$gte": 2.5}}"#, &doc));
    }

    #[test]
    fn lt_and_lte_compare_numbers() {
        let doc = instance();
        assert!(hits(r#"{"settings.page_cache_maximum_age": {"$lt": 301}}"#, &doc));
        assert!(!hits(
            r#"{"settings.page_cache_maximum_age": {"$lt": 300}}"#,
            &doc
        ));
        assert!(hits(
            r#"{"settings.page_cache_maximum_age": {"$lte": 300}}"#,
            &doc
        ));
        assert!(!hits(
            r#"{"settings.page_cache_maximum_age": {"$lte": 299.5}}"#,
            &doc
        ));
    }

    #[test]
    fn range_operators_compare_strings_bytewise() {
        let doc = core_code();
        assert!(hits(r#"{"meta.version": {"$gt": "7.1"}}"#, &doc));
        assert!(hits(r#"{"meta.version": {"$lt": "8"}}"#, &doc));
        assert!(
            !hits(r#"{"meta.name": {"$lt": "D"}}"#, &doc),
            "lowercase sorts after uppercase"
        );
    }

    #[test]
    fn range_operators_never_compare_across_types() {
        let doc = instance();
        assert!(!hits(r#"{"update_group": {"$gt": "1"}}"#, &doc));
        assert!(!hits(r#"{"update_group": {"$lt": "9"}}"#, &doc));
        assert!(!hits(r#"{"status": {"$gt": 0}}"#, &doc));
        assert!(!hits(r#"{"meta.is_current": {"$gt": 0}}"#, &core_code()));
    }

    #[test]
    fn range_operators_compare_booleans() {
        assert!(hits(r#"{"meta.is_current": {"$gt": false}}"#, &core_code()));
        assert!(!hits(r#"{"meta.is_current": {"$gt": false}}"#, &module_code()));
    }

    #[test]
    fn range_operators_match_when_any_array_element_does() {
        let doc = json!({"scores": [1, 10]});
        assert!(hits(r#"{"scores": {"$gt": 5}}"#, &doc));
        assert!(hits(r#"{"scores": {"$lt": 5}}"#, &doc));
        assert!(!hits(r#"{"scores": {"$gt": 10}}"#, &doc));
    }

    #[test]
    fn range_on_a_missing_field_matches_nothing() {
        assert!(!hits(r#"{"nope": {"$gt": 0}}"#, &instance()));
        assert!(!hits(r#"{"nope": {"$lt": 0}}"#, &instance()));
    }

    #[test]
    fn range_with_null_operand_is_inclusive_equality_with_null() {
        let doc = instance();
        assert!(hits(r#"{"dates.assigned": {"$gte": null}}"#, &doc));
        assert!(hits(r#"{"site": {"$lte": null}}"#, &doc));
        assert!(!hits(r#"{"dates.assigned": {"$gt": null}}"#, &doc));
        assert!(!hits(r#"{"status": {"$gte": null}}"#, &doc));
    }

    #[test]
    fn date_operands_compare_stored_dates_as_instants() {
        let doc = instance();
        assert!(hits(
            r#"{"dates.created": {"$gte": "2026-11-25 00:00:00 GMT"}}"#,
            &doc
        ));
        assert!(hits(
            r#"{"dates.created": {"$lt": "2026-11-25T02:00:00Z"}}"#,
            &doc
        ));
        assert!(hits(
            r#"{"dates.created": {"$gt": "2026-11-25T02:00:00+02:00"}}"#,
            &doc
        ));
        assert!(!hits(
            r#"{"dates.created": {"$gt": "2026-11-26 00:00:00 GMT"}}"#,
            &doc
        ));
    }

    #[test]
    fn date_operands_ignore_strings_that_are_not_dates() {
        assert!(!hits(
            r#"{"status": {"$lt": "2030-01-01 00:00:00 GMT"}}"#,
            &instance()
        ));
        assert!(!hits(
            r#"{"status": {"$gt": "2000-01-01 00:00:00 GMT"}}"#,
            &instance()
        ));
    }

    #[test]
    fn in_matches_any_listed_value() {
        let doc = instance();
        assert!(hits(r#"{"status": {"$in": ["installed", "launched"]}}"#, &doc));
        assert!(!hits(r#"{"status": {"$in": ["available", "launched"]}}"#, &doc));
        assert!(!hits(r#"{"status": {"$in": []}}"#, &doc));
    }

    #[test]
    fn in_matches_array_fields_sharing_an_element() {
        let doc = instance();
        assert!(hits(
            &format!(r#"{{"code.package": {{"$in": ["{OTHER}", "{PKG2}"]}}}}"#),
            &doc
        ));
        assert!(!hits(
            &format!(r#"{{"code.package": {{"$in": ["{OTHER}"]}}}}"#),
            &doc
        ));
    }

    #[test]
    fn in_with_null_matches_missing_fields() {
        assert!(hits(r#"{"site": {"$in": [null, "x"]}}"#, &instance()));
    }

    #[test]
    fn nin_matches_when_no_listed_value_is_present() {
        let doc = instance();
        assert!(hits(r#"{"status": {"$nin": ["available", "launched"]}}"#, &doc));
        assert!(!hits(r#"{"status": {"$nin": ["installed"]}}"#, &doc));
        assert!(hits(r#"{"site": {"$nin": ["x"]}}"#, &doc));
        assert!(!hits(r#"{"tag": {"$nin": ["news"]}}"#, &doc));
    }

    #[test]
    fn exists_true_matches_present_fields_including_null() {
        let doc = instance();
        assert!(hits(r#"{"routes.primary_route": {"$exists": true}}"#, &doc));
        assert!(hits(r#"{"dates.assigned": {"$exists": true}}"#, &doc));
        assert!(!hits(r#"{"dates.launched": {"$exists": true}}"#, &doc));
    }

    #[test]
    fn exists_false_matches_missing_fields() {
        let doc = instance();
        assert!(hits(r#"{"dates.launched": {"$exists": false}}"#, &doc));
        assert!(!hits(r#"{"status": {"$exists": false}}"#, &doc));
    }

    #[test]
    fn exists_through_an_array_holds_when_any_element_has_the_field() {
        let doc = json!({"users": [{"name": "ann", "role": "owner"}, {"name": "bob"}]});
        assert!(hits(r#"{"users.role": {"$exists": true}}"#, &doc));
        assert!(!hits(r#"{"users.role": {"$exists": false}}"#, &doc));
    }

    #[test]
    fn regex_matches_strings_unanchored() {
        assert!(hits(r#"{"meta.name": {"$regex": "^mod_"}}"#, &module_code()));
        assert!(!hits(r#"{"meta.name": {"$regex": "^mod_"}}"#, &core_code()));
        assert!(hits(r#"{"meta.name": {"$regex": "rup"}}"#, &core_code()));
    }

    #[test]
    fn regex_option_i_ignores_case() {
        assert!(!hits(r#"{"meta.name": {"$regex": "^DRUPAL$"}}"#, &core_code()));
        assert!(hits(
            r#"{"meta.name": {"$regex": "^DRUPAL$", "$options": "i"}}"#,
            &core_code()
        ));
    }

    #[test]
    fn regex_matches_string_elements_of_arrays() {
        assert!(hits(
            r#"{"meta.tag": {"$regex": "^event", "$options": "i"}}"#,
            &module_code()
        ));
        assert!(!hits(
            r#"{"meta.tag": {"$regex": "^event", "$options": "i"}}"#,
            &core_code()
        ));
    }

    #[test]
    fn regex_never_matches_non_strings_or_missing_fields() {
        assert!(!hits(r#"{"update_group": {"$regex": "2"}}"#, &instance()));
        assert!(!hits(r#"{"site": {"$regex": ".*"}}"#, &instance()));
    }

    #[test]
    fn several_operators_on_one_field_must_all_hold() {
        let doc = instance();
        assert!(hits(r#"{"update_group": {"$gt": 1, "$lt": 5}}"#, &doc));
        assert!(!hits(r#"{"update_group": {"$gt": 2, "$lt": 5}}"#, &doc));
    }

    #[test]
    fn implicit_and_requires_every_key() {
        let doc = instance();
        assert!(hits(r#"{"status": "installed", "type": "express"}"#, &doc));
        assert!(!hits(r#"{"status": "installed", "type": "custom"}"#, &doc));
    }

    #[test]
    fn and_requires_every_clause() {
        let doc = instance();
        assert!(hits(
            r#"{"$and": [{"status": "installed"}, {"tag": "lab"}]}"#,
            &doc
        ));
        assert!(!hits(
            r#"{"$and": [{"status": "installed"}, {"tag": "x"}]}"#,
            &doc
        ));
    }

    #[test]
    fn or_requires_one_clause() {
        let doc = instance();
        assert!(hits(r#"{"$or": [{"status": "launched"}, {"tag": "lab"}]}"#, &doc));
        assert!(!hits(r#"{"$or": [{"status": "launched"}, {"tag": "x"}]}"#, &doc));
    }

    #[test]
    fn nor_requires_no_clause() {
        let doc = instance();
        assert!(hits(r#"{"$nor": [{"status": "launched"}, {"tag": "x"}]}"#, &doc));
        assert!(!hits(
            r#"{"$nor": [{"status": "launched"}, {"tag": "lab"}]}"#,
            &doc
        ));
    }

    #[test]
    fn empty_boolean_lists_follow_their_identities() {
        let doc = instance();
        assert!(Filter::And(vec![]).matches(&doc));
        assert!(!Filter::Or(vec![]).matches(&doc));
        assert!(Filter::Nor(vec![]).matches(&doc));
    }

    #[test]
    fn deleted_flag_is_an_ordinary_field_for_the_filter() {
        assert!(hits(r#"{"_deleted": false}"#, &instance()));
        assert!(!hits(r#"{"_deleted": true}"#, &instance()));
    }

    #[test]
    fn num_cmp_orders_mixed_integers_and_floats_exactly() {
        let n = |v: Value| match v {
            Value::Number(n) => n,
            _ => unreachable!(),
        };
        assert_eq!(num_cmp(&n(json!(2)), &n(json!(2.0))), Ordering::Equal);
        assert_eq!(num_cmp(&n(json!(2)), &n(json!(2.5))), Ordering::Less);
        assert_eq!(num_cmp(&n(json!(-2)), &n(json!(-2.5))), Ordering::Greater);
        assert_eq!(
            num_cmp(&n(json!(u64::MAX)), &n(json!(i64::MIN))),
            Ordering::Greater
        );
        assert_eq!(
            num_cmp(
                &n(json!(9_007_199_254_740_993u64)),
                &n(json!(9_007_199_254_740_992.0))
            ),
            Ordering::Greater
        );
        assert_eq!(num_cmp(&n(json!(1)), &n(json!(1e300))), Ordering::Less);
    }

    proptest! {
        #[test]
        fn in_is_an_or_of_eq(path in fixtures::path(), xs in prop::collection::vec(fixtures::operand(), 0..4), d in fixtures::doc()) {
            let lhs = Filter::field(path.clone(), Op::In(xs.clone()));
            let rhs = Filter::Or(xs.into_iter().map(|x| Filter::field(path.clone(), Op::Eq(x))).collect());
            prop_assert_eq!(lhs.matches(&d), rhs.matches(&d));
        }

        #[test]
        fn nin_is_not_in(path in fixtures::path(), xs in prop::collection::vec(fixtures::operand(), 0..4), d in fixtures::doc()) {
            let nin = Filter::field(path.clone(), Op::Nin(xs.clone()));
            let isin = Filter::field(path, Op::In(xs));
            prop_assert_eq!(nin.matches(&d), !isin.matches(&d));
        }

        #[test]
        fn ne_is_not_eq(path in fixtures::path(), x in fixtures::operand(), d in fixtures::doc()) {
            let ne = Filter::field(path.clone(), Op::Ne(x.clone()));
            let eq = Filter::field(path, Op::Eq(x));
            prop_assert_eq!(ne.matches(&d), !eq.matches(&d));
        }

        #[test]
        fn nor_is_not_or(fs in prop::collection::vec(fixtures::filter(), 0..4), d in fixtures::doc()) {
            prop_assert_eq!(Filter::Nor(fs.clone()).matches(&d), !Filter::Or(fs).matches(&d));
        }

        #[test]
        fn and_is_the_intersection(fs in prop::collection::vec(fixtures::filter(), 0..4), d in fixtures::doc()) {
            let each = fs.iter().all(|f| f.matches(&d));
            prop_assert_eq!(Filter::And(fs).matches(&d), each);
        }

        #[test]
        fn exists_false_is_not_exists_true(path in fixtures::path(), d in fixtures::doc()) {
            let yes = Filter::field(path.clone(), Op::Exists(true));
            let no = Filter::field(path, Op::Exists(false));
            prop_assert_eq!(no.matches(&d), !yes.matches(&d));
        }

        #[test]
        fn gte_is_gt_or_eq_for_scalars(x in (-3i64..4).prop_map(Value::from), v in (-3i64..4).prop_map(Value::from)) {
            let d = json!({"n": v});
            let x = Operand::Json(x);
            let gte = Filter::field("n", Op::Gte(x.clone()));
            let gt_or_eq = Filter::Or(vec![Filter::field("n", Op::Gt(x.clone())), Filter::field("n", Op::Eq(x))]);
            prop_assert_eq!(gte.matches(&d), gt_or_eq.matches(&d));
        }
    }
}
