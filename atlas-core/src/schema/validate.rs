//! The validator: checks a client body against a resource [`Schema`] and
//! reports *all* issues at once ([`Issues`]), applying defaults on create
//! and replace, and normalising values (dates to `DATE_FORMAT`, dotted PATCH
//! keys to nested objects). Store-backed rules (unique, data relations) are
//! in the service (`service/check.rs`).

use serde_json::{Map, Value};

use super::field::{Kind, Rules, Schema};
use super::issues::{self as msg, Issues};
use crate::model::{Body, Id, Resource, Timestamp};

/// A valid create or replace body.
#[derive(Debug, Clone, PartialEq)]
pub struct Validated {
    /// The `_id` the client chose, if it sent one.
    pub id: Option<Id>,
    /// The normalised body with defaults applied (without `_id`).
    pub body: Body,
}

/// The key issues about the body as a whole are reported under (a body
/// that is not a JSON object).
pub const DOCUMENT_KEY: &str = "document";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// POST and PUT: required enforced, defaults applied.
    Full,
    /// PATCH: neither.
    Partial,
}

/// Validates a POST body of `res`.
///
/// # Behavior
/// Every issue is reported (unknown fields, types, allowed values, lengths,
/// patterns, `null`s, missing required fields). Defaults are applied to
/// absent fields, in nested dicts only when the dict is sent (as Eve). A
/// client `_id` must be an id and is returned apart from the body.
///
/// # Errors
/// The [`Issues`] found.
pub fn validate_create(res: Resource, body: &Value) -> Result<Validated, Issues> {
    validate_full(res, body)
}

/// Validates a PUT body of `res`: the create rules, defaults re-applied.
///
/// # Errors
/// The [`Issues`] found.
pub fn validate_replace(res: Resource, body: &Value) -> Result<Validated, Issues> {
    validate_full(res, body)
}

/// Validates a PATCH of `res` and returns it normalised.
///
/// # Behavior
/// Required fields are not enforced and no default is applied; every other
/// rule is. Dotted keys (`{"meta.is_current": false}`) are expanded into
/// nested objects, so the result merges with
/// [`crate::model::merge_patch`]. `_id` is read-only.
///
/// # Errors
/// The [`Issues`] found.
pub fn validate_patch(res: Resource, patch: &Value) -> Result<Body, Issues> {
    let schema = super::schema(res);
    let mut issues = Issues::new();
    let Some(obj) = patch.as_object() else {
        issues.add(DOCUMENT_KEY, msg::wrong_type("dict"));
        return Err(issues);
    };
    let expanded = expand_dotted(obj, &mut issues);
    let mut path = Vec::new();
    let mut out = Map::new();
    for (k, v) in &expanded {
        if k == "_id" {
            issues.add_at([k], msg::READ_ONLY);
            continue;
        }
        check_entry(schema, k, v, Mode::Partial, &mut path, &mut issues, &mut out);
    }
    if issues.is_empty() {
        Ok(out)
    } else {
        Err(issues)
    }
}

fn validate_full(res: Resource, body: &Value) -> Result<Validated, Issues> {
    let schema = super::schema(res);
    let mut issues = Issues::new();
    let Some(obj) = body.as_object() else {
        issues.add(DOCUMENT_KEY, msg::wrong_type("dict"));
        return Err(issues);
    };
    let mut id = None;
    let mut rest = Map::new();
    for (k, v) in obj {
        if k == "_id" {
            match v.as_str().map(Id::parse) {
                Some(Ok(parsed)) => id = Some(parsed),
                _ => issues.add_at([k], msg::wrong_type("objectid")),
            }
        } else {
            rest.insert(k.clone(), v.clone());
        }
    }
    let body = check_object(schema, &rest, Mode::Full, &mut Vec::new(), &mut issues);
    if issues.is_empty() {
        Ok(Validated { id, body })
    } else {
        Err(issues)
    }
}

/// Expands `{"a.b": 1}` into `{"a": {"b": 1}}`, merging keys that share a
/// prefix. A dotted key whose prefix is also sent as a non-object is an
/// issue on that prefix.
fn expand_dotted(obj: &Map<String, Value>, issues: &mut Issues) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in obj {
        if !k.contains('.') {
            match (out.get_mut(k), v) {
                (Some(Value::Object(existing)), Value::Object(new)) => {
                    for (nk, nv) in new {
                        existing.insert(nk.clone(), nv.clone());
                    }
                }
                _ => {
                    out.insert(k.clone(), v.clone());
                }
            }
            continue;
        }
        let segs: Vec<&str> = k.split('.').collect();
        if let Err(depth) = insert_dotted(&mut out, &segs, v.clone()) {
            issues.add_at(&segs[..=depth], msg::wrong_type("dict"));
        }
    }
    out
}

/// Inserts `v` at the path `segs`, creating objects on the way; fails with
/// the depth of an ancestor that is already a non-object.
fn insert_dotted(out: &mut Map<String, Value>, segs: &[&str], v: Value) -> Result<(), usize> {
    let Some((last, parents)) = segs.split_last() else {
        return Ok(());
    };
    let mut node = out;
    for (i, seg) in parents.iter().enumerate() {
        let entry = node
            .entry((*seg).to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        node = match entry {
            Value::Object(m) => m,
            _ => return Err(i),
        };
    }
    node.insert((*last).to_owned(), v);
    Ok(())
}

/// Validates one present key of an object against `schema` into `out`.
fn check_entry(
    schema: &Schema,
    key: &str,
    value: &Value,
    mode: Mode,
    path: &mut Vec<String>,
    issues: &mut Issues,
    out: &mut Map<String, Value>,
) {
    path.push(key.to_owned());
    match schema.field(key) {
        None => issues.add_at(path.iter(), msg::UNKNOWN),
        Some(f) if f.rules.readonly => issues.add_at(path.iter(), msg::READ_ONLY),
        Some(f) => {
            let v = match (&f.rules.default, value) {
                // Cerberus: a non-nullable field sent as null takes its
                // default — unless it is required: `null` is then a type
                // error like any other (`single_server: null` is refused,
                // not read as the default).
                (Some(d), Value::Null) if mode == Mode::Full && !f.rules.nullable && !f.rules.required => {
                    d.clone()
                }
                _ => check_value(&f.rules, value, mode, path, issues),
            };
            out.insert(key.to_owned(), v);
        }
    }
    path.pop();
}

fn check_object(
    schema: &Schema,
    obj: &Map<String, Value>,
    mode: Mode,
    path: &mut Vec<String>,
    issues: &mut Issues,
) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in obj {
        check_entry(schema, k, v, mode, path, issues, &mut out);
    }
    if mode == Mode::Full {
        for f in schema.fields() {
            if obj.contains_key(f.name) {
                continue;
            }
            if let Some(d) = &f.rules.default {
                out.insert(f.name.to_owned(), d.clone());
            } else if f.rules.required {
                path.push(f.name.to_owned());
                issues.add_at(path.iter(), msg::REQUIRED);
                path.pop();
            }
        }
    }
    out
}

/// Checks one value; returns it normalised (best effort when invalid).
fn check_value(rules: &Rules, v: &Value, mode: Mode, path: &mut Vec<String>, issues: &mut Issues) -> Value {
    if v.is_null() {
        if !rules.nullable {
            issues.add_at(path.iter(), msg::NULL_NOT_ALLOWED);
        }
        return Value::Null;
    }
    let type_error = |issues: &mut Issues, path: &[String]| {
        issues.add_at(path, msg::wrong_type(rules.kind.type_name()));
    };
    match &rules.kind {
        Kind::String => match v.as_str() {
            Some(s) => {
                check_allowed(rules, v, path, issues);
                check_length(rules, s.chars().count(), path, issues);
                if let Some(p) = &rules.regex {
                    if !p.is_match(s) {
                        let message = match rules.regex_description {
                            Some(d) => msg::not_like(d),
                            None => msg::no_match(p.source()),
                        };
                        issues.add_at(path.iter(), message);
                    }
                }
            }
            None => type_error(issues, path),
        },
        Kind::Integer => {
            if v.is_i64() || v.is_u64() {
                check_allowed(rules, v, path, issues);
            } else {
                type_error(issues, path);
            }
        }
        Kind::Number => {
            if v.is_number() {
                check_allowed(rules, v, path, issues);
            } else {
                type_error(issues, path);
            }
        }
        Kind::Boolean => {
            if !v.is_boolean() {
                type_error(issues, path);
            }
        }
        Kind::ObjectId => {
            if !v.as_str().is_some_and(Id::is_id) {
                type_error(issues, path);
            }
        }
        Kind::Datetime => match v.as_str().map(Timestamp::parse) {
            Some(Ok(t)) => return Value::String(t.to_string()),
            _ => type_error(issues, path),
        },
        Kind::Dict(schema) => match v.as_object() {
            Some(obj) => return Value::Object(check_object(schema, obj, mode, path, issues)),
            None => type_error(issues, path),
        },
        Kind::Map(values) => match v.as_object() {
            Some(obj) => {
                let mut out = Map::new();
                for (k, x) in obj {
                    path.push(k.clone());
                    out.insert(k.clone(), check_value(values, x, mode, path, issues));
                    path.pop();
                }
                return Value::Object(out);
            }
            None => type_error(issues, path),
        },
        Kind::AnyDict => {
            if !v.is_object() {
                type_error(issues, path);
            }
        }
        Kind::List(items) => match v.as_array() {
            Some(arr) => {
                check_length(rules, arr.len(), path, issues);
                if let Some(item) = items {
                    let mut out = Vec::with_capacity(arr.len());
                    for (i, x) in arr.iter().enumerate() {
                        path.push(i.to_string());
                        out.push(check_value(item, x, mode, path, issues));
                        path.pop();
                    }
                    return Value::Array(out);
                }
            }
            None => type_error(issues, path),
        },
    }
    v.clone()
}

fn check_allowed(rules: &Rules, v: &Value, path: &[String], issues: &mut Issues) {
    if !rules.allowed.is_empty() && !rules.allowed.contains(v) {
        issues.add_at(path, msg::unallowed(v));
    }
}

fn check_length(rules: &Rules, len: usize, path: &[String], issues: &mut Issues) {
    if let Some(min) = rules.minlength {
        if len < min {
            issues.add_at(path, msg::min_length(min));
        }
    }
    if let Some(max) = rules.maxlength {
        if len > max {
            issues.add_at(path, msg::max_length(max));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::SAFE_PATH_PATTERN;
    use serde_json::json;

    const HASH: &str = "9ee4a3c9b3fcd2a1b3c5d6e7f8091a2b3c4d5e6f";

    fn core() -> Value {
        json!({"git_url": "https://github.com/drupal/drupal.git", "commit_hash": HASH,
               "meta": {"name": "drupal", "version": "7.42", "code_type": "core", "is_current": true}})
    }

    fn issues_of(res: Resource, body: Value) -> Value {
        validate_create(res, &body).unwrap_err().to_json()
    }

    fn patch_issues(res: Resource, body: Value) -> Value {
        validate_patch(res, &body).unwrap_err().to_json()
    }

    fn with(mut base: Value, key: &str, v: Value) -> Value {
        base[key] = v;
        base
    }

    #[test]
    fn create_accepts_the_seed_core_and_profile() {
        let v = validate_create(Resource::Code, &core()).unwrap();
        assert_eq!(v.id, None);
        assert_eq!(Value::Object(v.body), core());
        let profile = json!({"git_url": "git@github.com:CuBoulder/express.git",
            "commit_hash": "0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c",
            "meta": {"name": "express", "version": "2.2.5", "code_type": "profile", "is_current": true}});
        assert!(validate_create(Resource::Code, &profile).is_ok());
    }

    #[test]
    fn create_of_empty_code_reports_only_the_top_level_required_fields() {
        // As the original: `meta` is optional in the schema (the service
        // requires it once the rest passes).
        assert_eq!(
            issues_of(Resource::Code, json!({})),
            json!({"git_url": "required field", "commit_hash": "required field"})
        );
    }

    #[test]
    fn create_reports_required_nested_fields_when_the_parent_is_sent() {
        let body = with(core(), "meta", json!({}));
        assert_eq!(
            issues_of(Resource::Code, body),
            json!({"meta": {"name": "required field", "version": "required field",
                            "code_type": "required field"}})
        );
    }

    #[test]
    fn create_refuses_a_value_outside_the_enumeration() {
        let body = with(
            core(),
            "meta",
            json!({"name": "drupal", "version": "7", "code_type": "plugin"}),
        );
        assert_eq!(
            issues_of(Resource::Code, body),
            json!({"meta": {"code_type": "unallowed value plugin"}})
        );
    }

    #[test]
    fn create_reports_min_length() {
        let body = with(
            core(),
            "meta",
            json!({"name": "dr", "version": "7", "code_type": "core"}),
        );
        assert_eq!(
            issues_of(Resource::Code, body),
            json!({"meta": {"name": "min length is 3"}})
        );
    }

    #[test]
    fn a_too_long_sid_gets_max_length_and_regex_as_a_list() {
        assert_eq!(
            issues_of(Resource::Instance, json!({"sid": "p1abcdef0123456"})),
            json!({"sid": ["max length is 14", "value does not match regex '^[a-z0-9_]{9,14}$'"]})
        );
        assert_eq!(
            issues_of(Resource::Instance, json!({"sid": "P1ABCDEF012"})),
            json!({"sid": "value does not match regex '^[a-z0-9_]{9,14}$'"})
        );
        assert!(validate_create(Resource::Instance, &json!({"sid": "p1abcdef0123"})).is_ok());
    }

    #[test]
    fn create_reports_unknown_fields_top_level_and_nested() {
        let mut body = core();
        body["foo"] = json!(1);
        body["meta"]["bar"] = json!("x");
        assert_eq!(
            issues_of(Resource::Code, body),
            json!({"foo": "unknown field", "meta": {"bar": "unknown field"}})
        );
    }

    #[test]
    fn create_reports_a_dotted_key_as_one_unknown_field() {
        let body = with(core(), "meta.is_current", json!(false));
        assert_eq!(
            issues_of(Resource::Code, body),
            json!({"meta.is_current": "unknown field"})
        );
    }

    #[test]
    fn git_url_must_match_the_whole_pattern() {
        let msg = "value is not a git URL: use https://host/path.git, ssh://host/path.git, \
                   git@host:path.git, or a local path or file:// URL ending in .git"
            .to_owned();
        for bad in [
            "not a url",
            "https://github.com/drupal/drupal.git; rm -rf /",
            "https://github.com/drupal/drupal",
            "relative/path/repo.git",
        ] {
            assert_eq!(
                issues_of(Resource::Code, with(core(), "git_url", json!(bad))),
                json!({"git_url": msg}),
                "{bad}"
            );
        }
        for good in [
            "https://github.com/drupal/drupal.git",
            "http://example.com/a/b.git/",
            "ssh://git@example.com/repo.git",
            "git://example.com/repo.git",
            "git@github.com:CuBoulder/express.git",
            "/srv/git/drupal.git",
            "file:///srv/git/drupal.git",
        ] {
            assert!(
                validate_create(Resource::Code, &with(core(), "git_url", json!(good))).is_ok(),
                "{good}"
            );
        }
    }

    #[test]
    fn wrong_types_name_the_expected_type() {
        let body = json!({"sid": 5, "update_group": "2", "import_from_inventory": "no", "settings": [],
                          "tag": "a", "site": "xyz", "dates": {"created": "yesterday"}});
        assert_eq!(
            issues_of(Resource::Instance, body),
            json!({"sid": "must be of string type", "update_group": "must be of integer type",
                   "import_from_inventory": "must be of boolean type", "settings": "must be of dict type",
                   "tag": "must be of list type", "site": "must be of objectid type",
                   "dates": {"created": "must be of datetime type"}})
        );
    }

    #[test]
    fn integers_refuse_booleans_and_fractions() {
        assert_eq!(
            issues_of(Resource::Instance, json!({"update_group": true})),
            json!({"update_group": "must be of integer type"})
        );
        assert_eq!(
            issues_of(Resource::Instance, json!({"update_group": 1.5})),
            json!({"update_group": "must be of integer type"})
        );
    }

    #[test]
    fn number_kind_accepts_integers_and_fractions_but_not_strings() {
        let rules = Rules::of(Kind::Number);
        let mut issues = Issues::new();
        let mut path = vec!["n".to_owned()];
        check_value(&rules, &json!(1.5), Mode::Full, &mut path, &mut issues);
        check_value(&rules, &json!(2), Mode::Full, &mut path, &mut issues);
        assert!(issues.is_empty());
        check_value(&rules, &json!("2"), Mode::Full, &mut path, &mut issues);
        assert_eq!(issues.to_json(), json!({"n": "must be of number type"}));
    }

    #[test]
    fn null_is_refused_unless_the_field_is_nullable() {
        assert_eq!(
            issues_of(Resource::Instance, json!({"path": null})),
            json!({"path": "null value not allowed"})
        );
        let stats = json!({"instance": "6b063bb73e47cec0540baa24", "nodes_total": null,
                           "users": {"counts": {"site_owner": null}}});
        assert!(validate_create(Resource::Statistics, &stats).is_ok());
    }

    #[test]
    fn tags_hold_any_json_values_as_the_original_accepted() {
        let tags = json!(["lts", 7, {"team": "web"}, true, null]);
        let code = json!({"git_url": "https://git.example.edu/d.git", "commit_hash": "0123abc",
                          "meta": {"name": "cu_mod", "version": "1.0", "code_type": "module", "tag": tags}});
        assert_eq!(
            validate_create(Resource::Code, &code).unwrap().body["meta"]["tag"],
            tags
        );
        for res in [Resource::Instance, Resource::Route, Resource::Site] {
            let v = validate_patch(res, &json!({ "tag": tags })).unwrap();
            assert_eq!(v["tag"], tags, "{res}");
        }
        assert!(
            validate_patch(Resource::Instance, &json!({"tag": "a"})).is_err(),
            "still a list"
        );
    }

    #[test]
    fn code_items_the_executor_would_refuse_are_refused_at_creation() {
        let code = |name: &str, version: &str, hash: &str| {
            json!({"git_url": "https://git.example.edu/d.git", "commit_hash": hash,
                   "meta": {"name": name, "version": version, "code_type": "module"}})
        };
        for hash in ["--output=/tmp/x", "$(touch /tmp/x)", "abcd\nef", "main"] {
            let issues = issues_of(Resource::Code, code("cu_mod", "1.0", hash));
            assert!(issues.get("commit_hash").is_some(), "{hash:?}: {issues}");
        }
        let issues = issues_of(Resource::Code, code("my.mod+1", "1.0", "0123abc"));
        assert!(issues["meta"].get("name").is_some(), "{issues}");
        let issues = issues_of(Resource::Code, code("cu_mod", "1..0", "0123abc"));
        assert!(issues["meta"].get("version").is_some(), "{issues}");
        assert!(validate_create(Resource::Code, &code("cu_mod", "7.x-1.0+rc1", "0123abc")).is_ok());
    }

    #[test]
    fn null_for_a_required_boolean_is_refused_even_with_a_default() {
        let code = json!({"git_url": "https://git.example.edu/d.git", "commit_hash": "0123456",
                          "meta": {"name": "drupal", "version": "7", "code_type": "core", "is_current": null}});
        assert_eq!(
            issues_of(Resource::Code, code),
            json!({"meta": {"is_current": "null value not allowed"}})
        );
        let cmd = json!({"name": "cc all", "command": "drush cc all", "single_server": null});
        assert_eq!(
            issues_of(Resource::Commands, cmd),
            json!({"single_server": "null value not allowed"})
        );
        let patch = validate_patch(Resource::Commands, &json!({"single_server": null}));
        assert!(patch.is_err(), "a PATCH to null is refused too");
    }

    #[test]
    fn null_for_a_field_with_a_default_takes_the_default() {
        let v = validate_create(Resource::Instance, &json!({"pool": null})).unwrap();
        assert_eq!(v.body["pool"], json!("poolb-express"));
    }

    #[test]
    fn create_reports_every_issue_at_once() {
        let body = json!({"git_url": "nope", "meta": {"name": "x", "code_type": "plugin", "is_current": "yes"},
                          "foo": 1});
        let issues = validate_create(Resource::Code, &body).unwrap_err();
        let paths: Vec<String> = issues.entries().into_iter().map(|(p, _)| p).collect();
        for expected in [
            "git_url",
            "meta.name",
            "meta.code_type",
            "meta.is_current",
            "meta.version",
            "foo",
            "commit_hash",
        ] {
            assert!(
                paths.iter().any(|p| p == expected),
                "{expected} missing from {paths:?}"
            );
        }
    }

    #[test]
    fn pending_instance_gets_the_documented_defaults() {
        let v = validate_create(Resource::Instance, &json!({"status": "pending"})).unwrap();
        assert_eq!(
            Value::Object(v.body),
            json!({"status": "pending", "type": "express", "pool": "poolb-express",
                   "import_from_inventory": false})
        );
    }

    #[test]
    fn nested_defaults_apply_only_when_the_parent_is_sent() {
        let v = validate_create(Resource::Instance, &json!({"settings": {"siteimprove_site": 7}})).unwrap();
        assert_eq!(
            v.body["settings"],
            json!({"siteimprove_site": 7, "page_cache_maximum_age": 300})
        );
        let v = validate_create(Resource::Instance, &json!({})).unwrap();
        assert!(!v.body.contains_key("settings"));
    }

    #[test]
    fn code_is_current_defaults_to_false() {
        let mut body = core();
        body["meta"].as_object_mut().unwrap().remove("is_current");
        let v = validate_create(Resource::Code, &body).unwrap();
        assert_eq!(v.body["meta"]["is_current"], json!(false));
    }

    #[test]
    fn route_and_command_defaults_are_applied() {
        let v = validate_create(
            Resource::Route,
            &json!({"route_type": "redirect", "source": "lab/atlas"}),
        )
        .unwrap();
        assert_eq!(v.body["route_status"], json!("inactive"));
        assert_eq!(v.body["active_on_launch"], json!(false));
        assert_eq!(v.body["regex"], json!(false));
        assert_eq!(v.body["path_preserving"], json!(false));
        let v = validate_create(
            Resource::Commands,
            &json!({"name": "clear_apc", "command": "clear_apc"}),
        )
        .unwrap();
        assert_eq!(v.body["single_server"], json!(true));
    }

    #[test]
    fn client_id_is_honoured_and_kept_out_of_the_body() {
        let body = with(core(), "_id", json!("6b063bb73e47cec0540baa24"));
        let v = validate_create(Resource::Code, &body).unwrap();
        assert_eq!(v.id, Some(Id::parse("6b063bb73e47cec0540baa24").unwrap()));
        assert!(!v.body.contains_key("_id"));
        for bad in [json!("6B063BB73E47CEC0540BAA24"), json!("123"), json!(5)] {
            assert_eq!(
                issues_of(Resource::Code, with(core(), "_id", bad)),
                json!({"_id": "must be of objectid type"})
            );
        }
    }

    #[test]
    fn datetimes_accept_rfc3339_and_are_stored_in_date_format() {
        let v = validate_create(
            Resource::Instance,
            &json!({"dates": {"created": "2017-07-14T12:00:00Z",
            "assigned": "2017-07-15 08:00:00 GMT"}}),
        )
        .unwrap();
        assert_eq!(
            v.body["dates"],
            json!({"created": "2017-07-14 12:00:00 GMT", "assigned": "2017-07-15 08:00:00 GMT"})
        );
    }

    #[test]
    fn list_item_issues_sit_under_their_index() {
        let mut body = core();
        body["meta"]["dependency"] = json!(["6b063bb73e47cec0540baa24", "nope"]);
        assert_eq!(
            issues_of(Resource::Code, body),
            json!({"meta": {"dependency": {"1": "must be of objectid type"}}})
        );
    }

    #[test]
    fn body_must_be_an_object() {
        assert_eq!(
            issues_of(Resource::Code, json!([1])),
            json!({"document": "must be of dict type"})
        );
        assert_eq!(
            patch_issues(Resource::Code, json!("x")),
            json!({"document": "must be of dict type"})
        );
    }

    #[test]
    fn internal_db_key_is_read_only_for_clients() {
        assert_eq!(
            issues_of(Resource::Instance, json!({"db_key": "secret"})),
            json!({"db_key": "field is read-only"})
        );
        assert_eq!(
            patch_issues(Resource::Instance, json!({"db_key": "secret"})),
            json!({"db_key": "field is read-only"})
        );
    }

    #[test]
    fn response_code_is_an_integer_among_the_redirect_codes() {
        let base = json!({"route_type": "redirect", "source": "old/page"});
        assert!(validate_create(Resource::Route, &with(base.clone(), "response_code", json!(301))).is_ok());
        assert_eq!(
            issues_of(Resource::Route, with(base.clone(), "response_code", json!(303))),
            json!({"response_code": "unallowed value 303"})
        );
        assert_eq!(
            issues_of(Resource::Route, with(base, "response_code", json!("301"))),
            json!({"response_code": "must be of integer type"})
        );
    }

    #[test]
    fn route_source_allows_only_safe_relative_paths() {
        let msg = format!("value does not match regex '{SAFE_PATH_PATTERN}'");
        for bad in [
            "../etc", "/abs", "a//b", "a/../b", "a/", ".hidden", "a b", "a;b", "",
        ] {
            assert_eq!(
                issues_of(Resource::Route, json!({"route_type": "legacy", "source": bad})),
                json!({"source": msg}),
                "{bad:?}"
            );
        }
        for good in ["domainroot", "lab/atlas", "foo-bar_baz", "news/page.html"] {
            assert!(
                validate_create(Resource::Route, &json!({"route_type": "legacy", "source": good})).is_ok(),
                "{good}"
            );
        }
    }

    #[test]
    fn statistics_accept_the_original_nested_fields_with_free_type_names() {
        let stats = json!({
            "instance": "6b063bb73e47cec0540baa24",
            "nodes_total": 12, "nodes_by_type": {"page": 3, "some_new_type": 9},
            "beans_total": 1, "beans_by_type": {"hero_unit": 1},
            "context": {"condition": {"path": 2}, "reaction": {"block": 4}},
            "days_since_last_edit": 3, "days_since_last_login": 4,
            "variable_cron_last": 1500000000, "variable_theme_default": "cu_minimal",
            "users": {"email_address": {"site_owner": ["a@example.com"]},
                      "username": {"content_editor": ["bob"]}, "counts": {"site_owner": 1},
                      "no_valid_owner": false},
            "bundles": {"cu_events_bundle": {"schema_version": 7100}, "other": "x"},
            "webforms": {"total_submissions": 4, "active_forms": 1, "inactive_forms": 0},
            "overridden_features": {"anything": {"goes": true}},
            "theme_is_responsive": true
        });
        assert!(validate_create(Resource::Statistics, &stats).is_ok());
        assert_eq!(
            issues_of(Resource::Statistics, json!({"nodes_by_type": {"page": "three"}})),
            json!({"instance": "required field", "nodes_by_type": {"page": "must be of integer type"}})
        );
    }

    #[test]
    fn site_takes_instances_a_type_and_users_by_role() {
        let site = json!({"instance": ["6b063bb73e47cec0540baa24"], "site_type": "express",
                          "users": {"site_owner": ["alice"], "content_editor": []}, "tag": ["x"]});
        assert!(validate_create(Resource::Site, &site).is_ok());
        assert_eq!(
            issues_of(
                Resource::Site,
                json!({"site_type": "blog", "users": {"site_owner": "alice"}})
            ),
            json!({"site_type": "unallowed value blog", "users": {"site_owner": "must be of list type"}})
        );
    }

    #[test]
    fn commands_require_name_and_command_of_three_characters() {
        assert_eq!(
            issues_of(Resource::Commands, json!({"name": "ab"})),
            json!({"name": "min length is 3", "command": "required field"})
        );
    }

    #[test]
    fn patch_does_not_enforce_required_fields_or_apply_defaults() {
        let p = validate_patch(Resource::Instance, &json!({"status": "installed"})).unwrap();
        assert_eq!(Value::Object(p), json!({"status": "installed"}));
        let p = validate_patch(Resource::Instance, &json!({"settings": {"siteimprove_site": 1}})).unwrap();
        assert_eq!(Value::Object(p), json!({"settings": {"siteimprove_site": 1}}));
        let p = validate_patch(Resource::Code, &json!({"meta": {"version": "7.43"}})).unwrap();
        assert_eq!(Value::Object(p), json!({"meta": {"version": "7.43"}}));
    }

    #[test]
    fn patch_enforces_every_other_rule() {
        assert_eq!(
            patch_issues(
                Resource::Instance,
                json!({"status": "gone", "foo": 1, "sid": "x"})
            ),
            json!({"status": "unallowed value gone", "foo": "unknown field",
                   "sid": ["min length is 9", "value does not match regex '^[a-z0-9_]{9,14}$'"]})
        );
        assert_eq!(
            patch_issues(Resource::Code, json!({"meta": {"bar": 1}})),
            json!({"meta": {"bar": "unknown field"}})
        );
    }

    #[test]
    fn patch_expands_dotted_keys_into_nested_objects() {
        let p = validate_patch(Resource::Code, &json!({"meta.is_current": false})).unwrap();
        assert_eq!(Value::Object(p), json!({"meta": {"is_current": false}}));
        let p = validate_patch(
            Resource::Instance,
            &json!({"code.core": "6b063bb73e47cec0540baa24", "code": {"profile": "6b063bb73e47cec0540baa25"}}),
        )
        .unwrap();
        assert_eq!(
            Value::Object(p),
            json!({"code": {"core": "6b063bb73e47cec0540baa24", "profile": "6b063bb73e47cec0540baa25"}})
        );
    }

    #[test]
    fn patch_reports_dotted_key_issues_nested() {
        assert_eq!(
            patch_issues(
                Resource::Code,
                json!({"meta.code_type": "plugin", "meta.nope": 1})
            ),
            json!({"meta": {"code_type": "unallowed value plugin", "nope": "unknown field"}})
        );
        assert_eq!(
            patch_issues(Resource::Code, json!({"git_url.x": 1})),
            json!({"git_url": "must be of string type"})
        );
    }

    #[test]
    fn patch_refuses_a_dotted_key_below_a_scalar_sent_alongside() {
        assert_eq!(
            patch_issues(Resource::Code, json!({"meta": 5, "meta.name": "drupal"})),
            json!({"meta": "must be of dict type"})
        );
    }

    #[test]
    fn patch_treats_id_as_read_only() {
        assert_eq!(
            patch_issues(Resource::Code, json!({"_id": "6b063bb73e47cec0540baa24"})),
            json!({"_id": "field is read-only"})
        );
    }

    #[test]
    fn patch_normalises_dates() {
        let p = validate_patch(
            Resource::Instance,
            &json!({"dates.launched": "2017-07-14T12:00:00+02:00"}),
        )
        .unwrap();
        assert_eq!(
            Value::Object(p),
            json!({"dates": {"launched": "2017-07-14 10:00:00 GMT"}})
        );
    }

    #[test]
    fn replace_reapplies_defaults_and_enforces_required() {
        let v = validate_replace(Resource::Instance, &json!({"sid": "p1abcdef0123"})).unwrap();
        assert_eq!(v.body["type"], json!("express"));
        assert_eq!(v.body["status"], json!("pending"));
        assert_eq!(
            validate_replace(Resource::Route, &json!({"source": "a"}))
                .unwrap_err()
                .to_json(),
            json!({"route_type": "required field"})
        );
    }
}
