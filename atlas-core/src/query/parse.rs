//! Parsing a `where` clause into a [`Filter`]: [`parse_where`] for the query
//! string, [`Filter::from_json`] for an already decoded value (command
//! items store their `query` as JSON).
//!
//! # Accepted syntax
//! - A JSON object; `{}` (or an empty string) matches everything. Several
//!   keys are an implicit `$and`.
//! - `$and`, `$or`, `$nor`: a non-empty array of objects.
//! - `"path": value` is equality; `"path": {"b": 1}` (no `$` keys) is
//!   equality with that object.
//! - `"path": {"$op": operand, …}` with `$eq $ne $gt $gte $lt $lte $in $nin
//!   $exists $regex` (+ `$options`); several operators are an `$and` of them.
//!   Mixing `$` and plain keys in one such object is an error.
//! - String operands that look like dates (`YYYY-MM-DD…`) and parse as
//!   `DATE_FORMAT` or RFC 3339 become [`Operand::Date`]; ids stay strings.
//!
//! # Refused (each a [`QueryError`] → 400)
//! `$where` anywhere (Eve's blacklist message), any other unknown `$`
//! operator (Eve's message naming it), text that is not JSON (Eve's message),
//! Eve's Python syntax (`meta.name=="drupal"`, with a message asking for
//! JSON), and structural mistakes (named in the message).

use serde_json::{Map, Value};

use super::{Filter, Op, Operand, Pattern, QueryError};

/// The operators a `where` may use.
const KNOWN_OPERATORS: &[&str] = &[
    "$and", "$or", "$nor", "$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists", "$regex",
    "$options",
];

/// Parses a command item's `query`: a `where` clause given as JSON
/// (`{"status": "launched"}`) or, as the operator guide writes it,
/// percent-encoded (`%7B%22status%22%3A%20%22launched%22%7D`).
///
/// # Errors
/// The JSON form's [`QueryError`] when neither form parses.
pub fn parse_command_query(q: &str) -> Result<Filter, QueryError> {
    match parse_where(q) {
        Ok(f) => Ok(f),
        Err(e) if q.contains('%') => match percent_encoding::percent_decode_str(q).decode_utf8() {
            Ok(decoded) if decoded != q => parse_where(&decoded).map_err(|_| e),
            _ => Err(e),
        },
        Err(e) => Err(e),
    }
}

/// Parses the `where` query parameter.
///
/// # Errors
/// See the module documentation; the error's `Display` is the 400 message.
pub fn parse_where(s: &str) -> Result<Filter, QueryError> {
    let trimmed = s.trim();
    if trimmed.is_empty() {
        return Ok(Filter::All);
    }
    let value: Value = serde_json::from_str(trimmed).map_err(|e| {
        if looks_like_python(trimmed) {
            QueryError::WherePythonSyntax
        } else {
            QueryError::WhereNotJson {
                detail: e.to_string(),
            }
        }
    })?;
    Filter::from_json(&value)
}

/// Eve's Python-expression `where` (`meta.name=="drupal"`).
fn looks_like_python(s: &str) -> bool {
    s.contains("==") || s.contains("!=")
}

impl Filter {
    /// Parses a decoded `where` document.
    ///
    /// # Errors
    /// [`QueryError::BannedOperator`] for `$where` anywhere,
    /// [`QueryError::UnknownOperator`] for any other unsupported `$` key
    /// anywhere, [`QueryError::InvalidWhere`] for structural mistakes.
    pub fn from_json(value: &Value) -> Result<Filter, QueryError> {
        if contains_key(value, "$where") {
            return Err(QueryError::BannedOperator);
        }
        if let Some(op) = first_unknown_operator(value) {
            return Err(QueryError::UnknownOperator(op.to_owned()));
        }
        match value {
            Value::Object(map) => parse_document(map),
            _ => Err(invalid(
                "`where` must be a JSON object, e.g. {\"status\": \"installed\"}",
            )),
        }
    }
}

fn invalid(reason: impl Into<String>) -> QueryError {
    QueryError::InvalidWhere(reason.into())
}

fn contains_key(value: &Value, key: &str) -> bool {
    match value {
        Value::Object(map) => map.iter().any(|(k, v)| k == key || contains_key(v, key)),
        Value::Array(items) => items.iter().any(|v| contains_key(v, key)),
        _ => false,
    }
}

fn first_unknown_operator(value: &Value) -> Option<&str> {
    match value {
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            if k.starts_with('$') && !KNOWN_OPERATORS.contains(&k.as_str()) {
                Some(k.as_str())
            } else {
                first_unknown_operator(v)
            }
        }),
        Value::Array(items) => items.iter().find_map(first_unknown_operator),
        _ => None,
    }
}

fn parse_document(map: &Map<String, Value>) -> Result<Filter, QueryError> {
    let mut parts = map
        .iter()
        .map(|(key, value)| parse_entry(key, value))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(match parts.len() {
        0 => Filter::All,
        1 => parts.remove(0),
        _ => Filter::And(parts),
    })
}

fn parse_entry(key: &str, value: &Value) -> Result<Filter, QueryError> {
    match key {
        "$and" => Ok(Filter::And(parse_list(key, value)?)),
        "$or" => Ok(Filter::Or(parse_list(key, value)?)),
        "$nor" => Ok(Filter::Nor(parse_list(key, value)?)),
        op if op.starts_with('$') => Err(invalid(format!(
            "{op} must be used on a field, e.g. {{\"meta.name\": {{\"{op}\": …}}}}"
        ))),
        path => {
            if path.split('.').any(str::is_empty) {
                return Err(invalid(format!("'{path}' is not a valid field path")));
            }
            parse_condition(path, value)
        }
    }
}

fn parse_list(op: &str, value: &Value) -> Result<Vec<Filter>, QueryError> {
    let need = || invalid(format!("{op} needs a non-empty array of objects"));
    let items = value.as_array().filter(|a| !a.is_empty()).ok_or_else(need)?;
    items
        .iter()
        .map(|item| item.as_object().ok_or_else(need).and_then(parse_document))
        .collect()
}

fn parse_condition(path: &str, value: &Value) -> Result<Filter, QueryError> {
    let Some(map) = value.as_object().filter(|m| m.keys().any(|k| k.starts_with('$'))) else {
        return Ok(Filter::field(path, Op::Eq(Operand::from_json(value.clone()))));
    };
    if let Some(plain) = map.keys().find(|k| !k.starts_with('$')) {
        return Err(invalid(format!(
            "the condition on '{path}' mixes operators with the field '{plain}'"
        )));
    }
    let options = match map.get("$options") {
        None => None,
        Some(Value::String(o)) => Some(o.as_str()),
        Some(_) => return Err(invalid(format!("$options on '{path}' must be a string"))),
    };
    if options.is_some() && !map.contains_key("$regex") {
        return Err(invalid(format!("$options on '{path}' needs a $regex")));
    }
    let mut parts = map
        .iter()
        .filter(|(op, _)| op.as_str() != "$options")
        .map(|(op, x)| parse_op(path, op, x, options).map(|op| Filter::field(path, op)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(if parts.len() == 1 {
        parts.remove(0)
    } else {
        Filter::And(parts)
    })
}

fn parse_op(path: &str, op: &str, x: &Value, options: Option<&str>) -> Result<Op, QueryError> {
    let operand = || Operand::from_json(x.clone());
    let operands = || {
        x.as_array()
            .map(|xs| xs.iter().cloned().map(Operand::from_json).collect::<Vec<_>>())
            .ok_or_else(|| invalid(format!("{op} on '{path}' needs an array")))
    };
    Ok(match op {
        "$eq" => Op::Eq(operand()),
        "$ne" => Op::Ne(operand()),
        "$gt" => Op::Gt(operand()),
        "$gte" => Op::Gte(operand()),
        "$lt" => Op::Lt(operand()),
        "$lte" => Op::Lte(operand()),
        "$in" => Op::In(operands()?),
        "$nin" => Op::Nin(operands()?),
        "$exists" => Op::Exists(match x {
            Value::Bool(b) => *b,
            Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
            _ => return Err(invalid(format!("$exists on '{path}' needs true or false"))),
        }),
        "$regex" => match x {
            Value::String(source) => Op::Regex(Pattern::new(source.as_str(), options.unwrap_or(""))?),
            _ => return Err(invalid(format!("$regex on '{path}' needs a string"))),
        },
        other => {
            return Err(invalid(format!(
                "{other} cannot be used inside the condition on '{path}'"
            )))
        }
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::super::fixtures::{self, PKG1};
    use super::*;

    #[test]
    fn a_command_query_may_be_json_or_percent_encoded_json() {
        let json = parse_command_query(r#"{"status": "launched"}"#).unwrap();
        let encoded = parse_command_query("%7B%22status%22%3A%20%22launched%22%7D").unwrap();
        assert_eq!(json, encoded);
        // JSON whose values hold a `%` stays JSON.
        let pct = parse_command_query(r#"{"path": {"$regex": "100%"}}"#).unwrap();
        assert!(matches!(pct, Filter::Field { .. }));
        // Neither form: the JSON form's error.
        let e = parse_command_query("%7Bnot json").unwrap_err();
        assert!(
            matches!(e, QueryError::WhereNotJson { .. } | QueryError::InvalidWhere(_)),
            "{e}"
        );
    }
    use crate::model::Timestamp;

    fn err(s: &str) -> String {
        match parse_where(s) {
            Ok(f) => panic!("{s} parsed as {f:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn parse_where_reads_empty_text_and_empty_object_as_all() {
        assert_eq!(parse_where(""), Ok(Filter::All));
        assert_eq!(parse_where("  "), Ok(Filter::All));
        assert_eq!(parse_where("{}"), Ok(Filter::All));
    }

    #[test]
    fn parse_where_reads_a_bare_value_as_equality() {
        assert_eq!(
            parse_where(r#"{"status": "installed"}"#),
            Ok(Filter::eq("status", "installed"))
        );
    }

    #[test]
    fn parse_where_reads_several_keys_as_an_and() {
        assert_eq!(
            parse_where(r#"{"status": "installed", "type": "express"}"#),
            Ok(Filter::And(vec![
                Filter::eq("status", "installed"),
                Filter::eq("type", "express")
            ]))
        );
    }

    #[test]
    fn parse_where_reads_several_operators_on_a_field_as_an_and() {
        assert_eq!(
            parse_where(r#"{"a": {"$gt": 1, "$lt": 5}}"#),
            Ok(Filter::And(vec![
                Filter::field("a", Op::Gt(Operand::Json(json!(1)))),
                Filter::field("a", Op::Lt(Operand::Json(json!(5)))),
            ]))
        );
    }

    #[test]
    fn parse_where_reads_an_object_without_operators_as_object_equality() {
        assert_eq!(
            parse_where(r#"{"a": {"b": 1}}"#),
            Ok(Filter::field("a", Op::Eq(Operand::Json(json!({"b": 1})))))
        );
    }

    #[test]
    fn parse_where_turns_date_strings_into_dates() {
        let ts = Timestamp::parse("2026-11-25 01:36:55 GMT").unwrap();
        assert_eq!(
            parse_where(r#"{"_created": {"$gte": "2026-11-25 01:36:55 GMT"}}"#),
            Ok(Filter::field("_created", Op::Gte(Operand::Date(ts))))
        );
        assert_eq!(
            parse_where(r#"{"_created": "2026-11-25T01:36:55Z"}"#),
            Ok(Filter::field("_created", Op::Eq(Operand::Date(ts))))
        );
        assert_eq!(
            parse_where(r#"{"x": {"$in": ["2026-11-25T01:36:55Z", "a"]}}"#),
            Ok(Filter::field(
                "x",
                Op::In(vec![Operand::Date(ts), Operand::Json(json!("a"))])
            ))
        );
    }

    #[test]
    fn parse_where_keeps_ids_sids_and_partial_dates_as_strings() {
        for s in [
            PKG1,
            "p1abc0123456",
            "2026-11-25",
            "2026-13-45 99:99:99 GMT",
            "1234-ab",
        ] {
            assert_eq!(
                parse_where(&json!({ "x": s }).to_string()),
                Ok(Filter::field("x", Op::Eq(Operand::Json(json!(s))))),
                "{s}"
            );
        }
    }

    #[test]
    fn parse_where_reads_boolean_lists() {
        let f = parse_where(r#"{"$or": [{"a": 1}, {"$nor": [{"b": 2}]}], "$and": [{}]}"#);
        assert_eq!(
            f,
            Ok(Filter::And(vec![
                Filter::Or(vec![Filter::eq("a", 1), Filter::Nor(vec![Filter::eq("b", 2)])]),
                Filter::And(vec![Filter::All]),
            ]))
        );
    }

    #[test]
    fn parse_where_reads_regex_with_options() {
        let Ok(Filter::Field {
            path,
            op: Op::Regex(p),
        }) = parse_where(r#"{"meta.name": {"$regex": "^mod_", "$options": "i"}}"#)
        else {
            panic!("not a regex field");
        };
        assert_eq!(
            (path.as_str(), p.source.as_str(), p.options.as_str()),
            ("meta.name", "^mod_", "i")
        );
        assert!(p.regex.is_match("MOD_x"));
    }

    #[test]
    fn parse_where_reads_exists_from_booleans_and_numbers() {
        assert_eq!(
            parse_where(r#"{"a": {"$exists": 0}}"#),
            Ok(Filter::field("a", Op::Exists(false)))
        );
        assert_eq!(
            parse_where(r#"{"a": {"$exists": 1}}"#),
            Ok(Filter::field("a", Op::Exists(true)))
        );
        assert_eq!(
            parse_where(r#"{"a": {"$exists": true}}"#),
            Ok(Filter::field("a", Op::Exists(true)))
        );
    }

    #[test]
    fn parse_where_refuses_text_that_is_not_json() {
        for text in ["{status: installed", "nope"] {
            let e = err(text);
            assert!(
                e.starts_with("Unable to parse `where` clause: it is not JSON ("),
                "{e}"
            );
            assert!(e.contains("line 1 column"), "says where it breaks: {e}");
            assert!(
                e.ends_with("send JSON such as {\"status\": \"installed\"}, URL-encoded"),
                "{e}"
            );
        }
    }

    #[test]
    fn parse_where_refuses_python_syntax_asking_for_json() {
        let msg = err(r#"meta.name=="drupal""#);
        assert!(msg.contains("must be JSON"), "{msg}");
        assert!(msg.contains(r#"{"status": "installed"}"#), "{msg}");
        assert_eq!(
            parse_where(r#"status != "x""#),
            Err(QueryError::WherePythonSyntax)
        );
    }

    #[test]
    fn parse_where_refuses_where_anywhere_with_the_blacklist_message() {
        let expected = "Query contains operators banned in MONGO_QUERY_BLACKLIST";
        assert_eq!(err(r#"{"$where": "this.a == 1"}"#), expected);
        assert_eq!(err(r#"{"$or": [{"a": 1}, {"$where": "1"}]}"#), expected);
        assert_eq!(err(r#"{"a": {"$eq": {"$where": "1"}}}"#), expected);
    }

    #[test]
    fn parse_where_refuses_unknown_operators_naming_them() {
        assert_eq!(
            err(r#"{"a": {"$bogus": 1}}"#),
            "Query contains unknown or unsupported operators: $bogus"
        );
        assert_eq!(
            err(r#"{"$or": [{"tag": {"$all": ["a"]}}]}"#),
            "Query contains unknown or unsupported operators: $all"
        );
        assert_eq!(
            parse_where(r#"{"$text": {"$search": "x"}}"#),
            Err(QueryError::UnknownOperator("$text".into()))
        );
    }

    #[test]
    fn parse_where_refuses_a_non_object_document() {
        assert!(err("[1]").contains("must be a JSON object"));
        assert!(err(r#""status""#).contains("must be a JSON object"));
    }

    #[test]
    fn parse_where_refuses_boolean_operators_without_a_non_empty_list_of_objects() {
        for s in [r#"{"$and": []}"#, r#"{"$or": {"a": 1}}"#, r#"{"$nor": [1]}"#] {
            let msg = err(s);
            assert!(msg.starts_with("Unable to parse `where` clause: $"), "{msg}");
            assert!(msg.contains("needs a non-empty array of objects"), "{msg}");
        }
    }

    #[test]
    fn parse_where_refuses_mixing_operators_and_fields() {
        let msg = err(r#"{"a": {"$gt": 1, "b": 2}}"#);
        assert!(msg.contains("mixes operators with the field 'b'"), "{msg}");
    }

    #[test]
    fn parse_where_refuses_field_operators_at_the_top_level() {
        assert!(err(r#"{"$gt": 1}"#).contains("$gt must be used on a field"));
    }

    #[test]
    fn parse_where_refuses_boolean_operators_inside_a_field_condition() {
        assert!(
            err(r#"{"a": {"$or": [{"b": 1}]}}"#).contains("$or cannot be used inside the condition on 'a'")
        );
    }

    #[test]
    fn parse_where_refuses_in_and_nin_without_an_array() {
        assert!(err(r#"{"a": {"$in": 1}}"#).contains("$in on 'a' needs an array"));
        assert!(err(r#"{"a": {"$nin": "x"}}"#).contains("$nin on 'a' needs an array"));
    }

    #[test]
    fn parse_where_refuses_exists_with_a_non_boolean() {
        assert!(err(r#"{"a": {"$exists": "yes"}}"#).contains("$exists on 'a' needs true or false"));
    }

    #[test]
    fn parse_where_refuses_bad_regexes_and_options() {
        let bad = err(r#"{"a": {"$regex": "("}}"#);
        assert!(
            bad.contains("$regex '(' is not a valid pattern: unclosed group"),
            "{bad}"
        );
        assert!(!bad.contains('\n'), "one line for an operator: {bad}");
        assert!(err(r#"{"a": {"$regex": 5}}"#).contains("$regex on 'a' needs a string"));
        assert!(err(r#"{"a": {"$regex": "x", "$options": "q"}}"#).contains("unknown $options flag 'q'"));
        assert!(err(r#"{"a": {"$options": "i"}}"#).contains("$options on 'a' needs a $regex"));
        assert!(err(r#"{"a": {"$regex": "x", "$options": 1}}"#).contains("must be a string"));
    }

    #[test]
    fn parse_where_refuses_empty_path_segments() {
        assert!(err(r#"{"a..b": 1}"#).contains("'a..b' is not a valid field path"));
        assert!(err(r#"{"": 1}"#).contains("'' is not a valid field path"));
    }

    #[test]
    fn from_json_parses_a_stored_command_query() {
        let f = Filter::from_json(&json!({"status": {"$in": ["installed", "launched"]}}));
        assert_eq!(
            f,
            Ok(Filter::field(
                "status",
                Op::In(vec![
                    Operand::Json(json!("installed")),
                    Operand::Json(json!("launched"))
                ])
            ))
        );
    }

    #[test]
    fn to_json_wraps_object_equality_in_eq() {
        let f = Filter::field("a", Op::Eq(Operand::Json(json!({"$gt": 1}))));
        assert_eq!(f.to_json(), json!({"a": {"$eq": {"$gt": 1}}}));
    }

    #[test]
    fn mentions_finds_paths_and_their_children_only() {
        let f = Filter::Or(vec![Filter::eq("status", "x"), Filter::eq("_deleted.at", 1)]);
        assert!(f.mentions("_deleted"));
        assert!(f.mentions("status"));
        assert!(!f.mentions("stat"));
        assert!(!Filter::eq("_deleted_by", 1).mentions("_deleted"));
    }

    proptest! {
        #[test]
        fn to_json_then_from_json_gives_the_same_filter(f in fixtures::filter()) {
            prop_assert_eq!(Filter::from_json(&f.to_json()), Ok(f));
        }

        #[test]
        fn to_json_text_then_parse_where_gives_the_same_filter(f in fixtures::filter()) {
            prop_assert_eq!(parse_where(&f.to_json().to_string()), Ok(f));
        }

        #[test]
        fn parse_where_never_panics_on_arbitrary_text(s in ".{0,64}") {
            let _ = parse_where(&s);
        }

        #[test]
        fn parse_where_never_panics_on_operator_soup(
            s in prop::collection::vec(prop::sample::select(vec![
                "{", "}", "[", "]", ",", ":", "\"$and\"", "\"$in\"", "\"$regex\"", "\"$options\"",
                "\"$exists\"", "\"a\"", "1", "null", "\"(\"",
            ]), 0..24)
        ) {
            let _ = parse_where(&s.concat());
        }
    }
}
