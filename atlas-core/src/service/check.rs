//! The schema rules that need the store: unique fields and data relations.
//! The schema declares them (pure data); the service checks them here
//! against the live records before it writes.
//! They report [`Issues`] with Eve's wording (`value 'X' is not unique`,
//! `value '<id>' must exist in resource 'code', field '_id'.`); the store's
//! own unique enforcement at commit remains the backstop against races.

use std::collections::HashMap;

use serde_json::Value;

use crate::error::StoreError;
use crate::model::{Body, Id, Resource};
use crate::query::{Filter, FindQuery};
use crate::schema::issues::{self as msg, Issues};
use crate::schema::{unique_keys, Kind, Rules, Schema, UniqueKey};
use crate::store::Store;

/// Checks `body` (as it will be stored) against the live records of the
/// store.
///
/// # Behavior
/// - Each unique key of [`unique_keys`] whose values are all present and
///   non-null must not be held by another live record (soft-deleted ones
///   never count; `self_id`, the record being written, is skipped). A
///   compound key (`meta`) is reported as
///   `value 'name: drupal, version: 7.42, code_type: core' is not unique`.
///   Keys that only apply to current items (`meta.is_current`) are left to
///   the code rules, which un-current the previous item in the same batch.
/// - Each objectid with a data relation must name a live record of the
///   target resource; list items are reported under their index.
///
/// # Errors
/// The store's errors; the issues found are the `Ok` value (empty when the
/// body passes).
pub(crate) async fn check_against_store(
    store: &dyn Store,
    res: Resource,
    body: &Body,
    self_id: Option<&Id>,
) -> Result<Issues, StoreError> {
    check(store, res, body, None, self_id, &[]).await
}

/// [`check_against_store`] except for the fields in `verified`: unique
/// keys (by their `field`) and data relations (by dotted field path) whose
/// values the caller established itself — a value it generated, an id it
/// just read or inserts in the same batch. The store's own unique
/// enforcement at commit still applies to them.
///
/// # Errors
/// The store's errors.
pub(crate) async fn check_against_store_except(
    store: &dyn Store,
    res: Resource,
    body: &Body,
    self_id: Option<&Id>,
    verified: &[&str],
) -> Result<Issues, StoreError> {
    check(store, res, body, None, self_id, verified).await
}

/// [`check_against_store`] for a PATCH: `merged` is the record with the
/// patch applied, and only the constraints on paths the `patch` touches are
/// checked (as Eve validates only the updated fields).
///
/// # Errors
/// The store's errors.
pub(crate) async fn check_changes_against_store(
    store: &dyn Store,
    res: Resource,
    merged: &Body,
    patch: &Body,
    self_id: &Id,
) -> Result<Issues, StoreError> {
    check(store, res, merged, Some(patch), Some(self_id), &[]).await
}

async fn check(
    store: &dyn Store,
    res: Resource,
    body: &Body,
    patch: Option<&Body>,
    self_id: Option<&Id>,
    verified: &[&str],
) -> Result<Issues, StoreError> {
    let touched = |path: &str| patch.is_none_or(|p| touches(p, path)) && !verified.contains(&path);
    let mut issues = Issues::new();

    for key in unique_keys(res) {
        if key.only_when_true.is_some()
            || verified.contains(&key.field)
            || !key.paths.iter().any(|p| touched(p))
        {
            continue;
        }
        if let Some(message) = unique_clash(store, res, key, body, self_id).await? {
            issues.add(key.field, message);
        }
    }

    let mut refs = Vec::new();
    collect_refs(crate::schema::schema(res), body, &mut Vec::new(), &mut refs);
    let mut live: HashMap<(Resource, Id), bool> = HashMap::new();
    for r in refs {
        if !touched(&r.field_path) {
            continue;
        }
        let Ok(id) = Id::parse(&r.id) else {
            // Not an id: the validator reports it; nothing to look up.
            continue;
        };
        let exists = match live.get(&(r.target, id)) {
            Some(e) => *e,
            None => {
                let e = store.get(r.target, &id).await?.is_some_and(|d| !d.deleted);
                live.insert((r.target, id), e);
                e
            }
        };
        if !exists {
            issues.add_at(&r.segments, msg::must_exist(&r.id, r.target.as_str()));
        }
    }
    Ok(issues)
}

/// The message for `key` when another live record holds the same values.
async fn unique_clash(
    store: &dyn Store,
    res: Resource,
    key: &UniqueKey,
    body: &Body,
    self_id: Option<&Id>,
) -> Result<Option<String>, StoreError> {
    let mut values = Vec::with_capacity(key.paths.len());
    for path in key.paths {
        match get_path(body, path) {
            Some(v) if !v.is_null() => values.push((*path, v)),
            // A key with a missing or null part is not enforced.
            _ => return Ok(None),
        }
    }
    let mut conditions: Vec<Filter> = values.iter().map(|(p, v)| Filter::eq(*p, (*v).clone())).collect();
    let filter = if conditions.len() == 1 {
        conditions.remove(0)
    } else {
        Filter::and(conditions)
    };
    let page = store.find(res, &FindQuery::all_matching(filter)).await?;
    let clash = page.items.iter().any(|d| !d.deleted && Some(&d.id) != self_id);
    if !clash {
        return Ok(None);
    }
    let shown = match values.as_slice() {
        [(_, v)] => msg::render(v),
        many => many
            .iter()
            .map(|(p, v)| format!("{}: {}", p.rsplit('.').next().unwrap_or(p), msg::render(v)))
            .collect::<Vec<_>>()
            .join(", "),
    };
    Ok(Some(msg::not_unique(&shown)))
}

/// An objectid found in a body.
#[derive(Debug)]
struct Ref {
    /// Where to report it (`meta`, `dependency`, `0`).
    segments: Vec<String>,
    /// The field's dotted path without list indexes (`meta.dependency`).
    field_path: String,
    /// The id as sent.
    id: String,
    /// The resource it must exist in.
    target: Resource,
}

fn collect_refs(schema: &Schema, obj: &Body, segments: &mut Vec<String>, out: &mut Vec<Ref>) {
    for f in schema.fields() {
        let Some(v) = obj.get(f.name) else { continue };
        segments.push(f.name.to_owned());
        collect_value(&f.rules, v, segments, &field_path(segments), out);
        segments.pop();
    }
}

fn collect_value(rules: &Rules, v: &Value, segments: &mut Vec<String>, path: &str, out: &mut Vec<Ref>) {
    match (&rules.kind, v) {
        (Kind::ObjectId, Value::String(id)) => {
            if let Some(rel) = rules.relation {
                out.push(Ref {
                    segments: segments.clone(),
                    field_path: path.to_owned(),
                    id: id.clone(),
                    target: rel.resource,
                });
            }
        }
        (Kind::Dict(s), Value::Object(o)) => collect_refs(s, o, segments, out),
        (Kind::List(Some(item)), Value::Array(items)) => {
            for (i, x) in items.iter().enumerate() {
                segments.push(i.to_string());
                collect_value(item, x, segments, path, out);
                segments.pop();
            }
        }
        _ => {}
    }
}

fn field_path(segments: &[String]) -> String {
    segments.join(".")
}

/// The value at a dotted path, without array traversal.
fn get_path<'a>(body: &'a Body, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut cur = body.get(parts.next()?)?;
    for p in parts {
        cur = cur.as_object()?.get(p)?;
    }
    Some(cur)
}

/// Whether a (normalised, nested) `patch` sets `path` or one of its
/// ancestors or descendants.
fn touches(patch: &Body, path: &str) -> bool {
    let mut cur = patch;
    for seg in path.split('.') {
        match cur.get(seg) {
            None => return false,
            Some(Value::Object(next)) => cur = next,
            Some(_) => return true,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::Batch;
    use crate::model::Timestamp;
    use crate::MemoryStore;
    use serde_json::json;

    const HASH: &str = "9ee4a3c9b3fcd2a1b3c5d6e7f8091a2b3c4d5e6f";

    fn now() -> Timestamp {
        Timestamp::parse("2026-11-25 01:36:55 GMT").unwrap()
    }

    fn body(v: Value) -> Body {
        v.as_object().unwrap().clone()
    }

    fn core(hash: &str, version: &str) -> Body {
        body(
            json!({"git_url": "https://github.com/drupal/drupal.git", "commit_hash": hash,
                    "meta": {"name": "drupal", "version": version, "code_type": "core", "is_current": false}}),
        )
    }

    async fn insert(store: &MemoryStore, res: Resource, b: Body) -> Id {
        let id = Id::generate(now());
        let mut batch = Batch::new(now());
        batch.insert(res, id, b);
        store.commit(batch).await.unwrap();
        id
    }

    async fn delete(store: &MemoryStore, res: Resource, id: Id) {
        let mut batch = Batch::new(now());
        batch.delete(res, id, None);
        store.commit(batch).await.unwrap();
    }

    #[tokio::test]
    async fn unique_field_held_by_another_record_is_not_unique() {
        let store = MemoryStore::new();
        insert(&store, Resource::Code, core(HASH, "7.42")).await;
        let issues = check_against_store(&store, Resource::Code, &core(HASH, "7.43"), None)
            .await
            .unwrap();
        assert_eq!(
            issues.to_json(),
            json!({"commit_hash": format!("value '{HASH}' is not unique")})
        );
    }

    #[tokio::test]
    async fn verified_fields_are_left_to_the_caller() {
        let store = MemoryStore::new();
        insert(
            &store,
            Resource::Instance,
            body(json!({"sid": "p1abcdef0123", "path": "p1abcdef0123"})),
        )
        .await;
        let missing = Id::from_bytes([7; 12]).to_string();
        let b = body(json!({"sid": "p1abcdef0123", "path": "p1abcdef0123", "statistics": missing}));
        let all = check_against_store(&store, Resource::Instance, &b, None)
            .await
            .unwrap();
        assert_eq!(all.entries().len(), 3, "{all}");
        let some = check_against_store_except(&store, Resource::Instance, &b, None, &["sid", "statistics"])
            .await
            .unwrap();
        assert_eq!(
            some.to_json(),
            json!({"path": "value 'p1abcdef0123' is not unique"})
        );
    }

    #[tokio::test]
    async fn a_record_does_not_clash_with_itself() {
        let store = MemoryStore::new();
        let id = insert(&store, Resource::Code, core(HASH, "7.42")).await;
        let issues = check_against_store(&store, Resource::Code, &core(HASH, "7.42"), Some(&id))
            .await
            .unwrap();
        assert!(issues.is_empty(), "{issues}");
    }

    #[tokio::test]
    async fn soft_deleted_records_do_not_count_for_uniqueness() {
        let store = MemoryStore::new();
        let id = insert(
            &store,
            Resource::Instance,
            body(json!({"sid": "p1abcdef0123", "path": "p1abcdef0123"})),
        )
        .await;
        delete(&store, Resource::Instance, id).await;
        let again = body(json!({"sid": "p1abcdef0123", "path": "p1abcdef0123"}));
        let issues = check_against_store(&store, Resource::Instance, &again, None)
            .await
            .unwrap();
        assert!(issues.is_empty(), "{issues}");
    }

    #[tokio::test]
    async fn duplicate_name_version_and_type_is_reported_readably_under_meta() {
        let store = MemoryStore::new();
        insert(&store, Resource::Code, core(HASH, "7.42")).await;
        let other_hash = "0000000000000000000000000000000000000001";
        let issues = check_against_store(&store, Resource::Code, &core(other_hash, "7.42"), None)
            .await
            .unwrap();
        assert_eq!(
            issues.to_json(),
            json!({"meta": "value 'name: drupal, version: 7.42, code_type: core' is not unique"})
        );
    }

    #[tokio::test]
    async fn keys_with_a_missing_part_are_not_enforced() {
        let store = MemoryStore::new();
        insert(&store, Resource::Instance, body(json!({"status": "pending"}))).await;
        let issues = check_against_store(
            &store,
            Resource::Instance,
            &body(json!({"status": "pending"})),
            None,
        )
        .await
        .unwrap();
        assert!(issues.is_empty(), "{issues}");
    }

    #[tokio::test]
    async fn relation_to_a_missing_record_must_exist_and_list_items_report_their_index() {
        let store = MemoryStore::new();
        let dep = insert(&store, Resource::Code, core(HASH, "7.42")).await;
        let missing = "5f1f00000000000000000000";
        let mut b = core("0000000000000000000000000000000000000001", "7.43");
        b["meta"]["dependency"] = json!([dep.to_string(), missing]);
        let issues = check_against_store(&store, Resource::Code, &b, None)
            .await
            .unwrap();
        assert_eq!(
            issues.to_json(),
            json!({"meta": {"dependency": {"1": format!("value '{missing}' must exist in resource 'code', field '_id'.")}}})
        );
    }

    #[tokio::test]
    async fn relation_to_a_soft_deleted_record_does_not_count() {
        let store = MemoryStore::new();
        let inst = insert(&store, Resource::Instance, body(json!({"status": "pending"}))).await;
        delete(&store, Resource::Instance, inst).await;
        let stats = body(json!({"instance": inst.to_string()}));
        let issues = check_against_store(&store, Resource::Statistics, &stats, None)
            .await
            .unwrap();
        assert_eq!(
            issues.to_json(),
            json!({"instance": format!("value '{inst}' must exist in resource 'instance', field '_id'.")})
        );
    }

    #[tokio::test]
    async fn relation_to_a_live_record_passes() {
        let store = MemoryStore::new();
        let core_id = insert(&store, Resource::Code, core(HASH, "7.42")).await;
        let inst = body(json!({"code": {"core": core_id.to_string(), "package": [core_id.to_string()]}}));
        let issues = check_against_store(&store, Resource::Instance, &inst, None)
            .await
            .unwrap();
        assert!(issues.is_empty(), "{issues}");
    }

    #[tokio::test]
    async fn patch_checks_only_the_constraints_it_touches() {
        let store = MemoryStore::new();
        let core_id = insert(&store, Resource::Code, core(HASH, "7.42")).await;
        let inst = body(json!({"status": "installed", "code": {"core": core_id.to_string()}}));
        let inst_id = insert(&store, Resource::Instance, inst.clone()).await;
        delete(&store, Resource::Code, core_id).await;

        let patch = body(json!({"status": "launching"}));
        let mut merged = inst.clone();
        crate::model::merge_patch(&mut merged, &patch);
        let issues = check_changes_against_store(&store, Resource::Instance, &merged, &patch, &inst_id)
            .await
            .unwrap();
        assert!(issues.is_empty(), "{issues}");

        let patch = body(json!({"code": {"core": core_id.to_string()}}));
        let issues = check_changes_against_store(&store, Resource::Instance, &inst, &patch, &inst_id)
            .await
            .unwrap();
        assert_eq!(
            issues.to_json(),
            json!({"code": {"core": format!("value '{core_id}' must exist in resource 'code', field '_id'.")}})
        );
    }

    #[test]
    fn touches_sees_ancestors_and_descendants() {
        let patch = body(json!({"meta": {"version": "1"}, "tag": ["a"]}));
        assert!(touches(&patch, "meta.version"));
        assert!(!touches(&patch, "meta.name"));
        assert!(touches(&patch, "tag"));
        assert!(touches(&body(json!({"meta": {}})), "meta"));
        assert!(!touches(&patch, "commit_hash"));
    }
}
