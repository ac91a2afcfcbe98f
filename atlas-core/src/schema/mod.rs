//! Resource schemas as data: one source of truth for validation, defaults,
//! unique constraints, data relations, OpenAPI and indexed paths.
//!
//! # Layout
//! - `field`: the field model ([`Schema`], [`Field`], [`Rules`], [`Kind`]).
//! - `resources`: the eight schemas (`code`, `instance`, `route`, `commands`,
//!   `statistics`, `site`, `backup`, `rollout`).
//! - [`issues`]: [`Issues`], Eve's `_issues` shape, and its messages.
//! - `validate`: [`validate_create`], [`validate_replace`], [`validate_patch`].
//!
//! Everything here is pure: the checks that need the store (unique values,
//! data relations) are the service's.
//! - `unique`: [`unique_keys`], the unique constraints every store enforces.

mod field;
mod idents;
pub mod issues;
mod resources;
mod unique;
mod validate;

use std::sync::OnceLock;

use crate::model::Resource;

pub use field::{Field, FieldPattern, Kind, Relation, Rules, Schema};
pub use idents::{
    check_code_name, check_commit_hash, check_version, IdentError, CODE_NAME_LEN, CODE_NAME_PATTERN,
    COMMIT_HASH_PATTERN, VERSION_LEN, VERSION_PATTERN,
};
pub use issues::Issues;
pub use resources::{GIT_URL_PATTERN, SAFE_PATH_PATTERN};
pub use unique::{unique_keys, unique_values, UniqueKey, UniqueValues};
pub use validate::{validate_create, validate_patch, validate_replace, Validated, DOCUMENT_KEY};

/// A schema with the views derived from it, built once per resource.
#[derive(Debug)]
struct Compiled {
    schema: Schema,
    hidden: Vec<&'static str>,
    relations: Vec<(String, Relation)>,
    indexed: Vec<String>,
}

impl Compiled {
    fn new(res: Resource) -> Self {
        let schema = resources::build(res);
        let hidden = schema
            .fields()
            .iter()
            .filter(|f| f.rules.internal)
            .map(|f| f.name)
            .collect();
        let mut relations = Vec::new();
        let mut indexed: Vec<String> = Vec::new();
        for (path, rules) in schema.walk() {
            if let Some(rel) = rules.relation {
                relations.push((path.clone(), rel));
            }
            if rules.indexed && !indexed.contains(&path) {
                indexed.push(path);
            }
        }
        Self {
            schema,
            hidden,
            relations,
            indexed,
        }
    }
}

fn compiled(res: Resource) -> &'static Compiled {
    static CELLS: [OnceLock<Compiled>; 8] = [
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
    ];
    let slot = match res {
        Resource::Code => 0,
        Resource::Instance => 1,
        Resource::Route => 2,
        Resource::Commands => 3,
        Resource::Statistics => 4,
        Resource::Site => 5,
        Resource::Backup => 6,
        Resource::Rollout => 7,
    };
    CELLS[slot].get_or_init(|| Compiled::new(res))
}

/// The schema of `res`.
pub fn schema(res: Resource) -> &'static Schema {
    &compiled(res).schema
}

/// Top-level fields of `res` that are never returned in responses
/// (`instance.db_key`).
pub fn hidden_fields(res: Resource) -> &'static [&'static str] {
    &compiled(res).hidden
}

/// The embeddable data relations of `res` as `(dotted path, target)`; a
/// list of ids is reported under the list's path (`meta.dependency`).
pub fn relations(res: Resource) -> Vec<(String, Resource)> {
    compiled(res)
        .relations
        .iter()
        .filter(|(_, r)| r.embeddable)
        .map(|(p, r)| (p.clone(), r.resource))
        .collect()
}

/// Every data relation of `res` (embeddable or not) as `(dotted path,
/// relation)`.
pub fn data_relations(res: Resource) -> &'static [(String, Relation)] {
    &compiled(res).relations
}

/// The dotted paths of `res` that stores should index: unique fields,
/// relations, enumerations and the fields lookups filter on.
pub fn indexed_paths(res: Resource) -> &'static [String] {
    &compiled(res).indexed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CodeType, Environment, InstanceType, Pool, RouteStatus, RouteType, Status};
    use serde_json::Value;

    fn allowed(res: Resource, path: &str) -> Vec<String> {
        schema(res)
            .rules_at(path)
            .unwrap_or_else(|| panic!("{res} has no {path}"))
            .allowed
            .iter()
            .map(|v| v.as_str().unwrap_or_default().to_owned())
            .collect()
    }

    fn strings<T: Copy>(all: &[T], f: fn(T) -> &'static str) -> Vec<String> {
        all.iter().map(|v| f(*v).to_owned()).collect()
    }

    #[test]
    fn every_schema_builds_with_valid_patterns() {
        for res in Resource::ALL {
            assert!(!schema(res).fields().is_empty(), "{res}");
        }
    }

    #[test]
    fn enumerations_are_the_model_enum_strings() {
        assert_eq!(
            allowed(Resource::Instance, "status"),
            strings(Status::ALL, Status::as_str)
        );
        assert_eq!(
            allowed(Resource::Instance, "type"),
            strings(InstanceType::ALL, InstanceType::as_str)
        );
        assert_eq!(
            allowed(Resource::Instance, "pool"),
            strings(Pool::ALL, Pool::as_str)
        );
        assert_eq!(
            allowed(Resource::Instance, "environment"),
            strings(Environment::ALL, Environment::as_str)
        );
        assert_eq!(
            allowed(Resource::Code, "meta.code_type"),
            strings(CodeType::ALL, CodeType::as_str)
        );
        assert_eq!(
            allowed(Resource::Route, "route_type"),
            strings(RouteType::ALL, RouteType::as_str)
        );
        assert_eq!(
            allowed(Resource::Route, "route_status"),
            strings(RouteStatus::ALL, RouteStatus::as_str)
        );
        assert_eq!(
            allowed(Resource::Site, "site_type"),
            strings(InstanceType::ALL, InstanceType::as_str)
        );
    }

    #[test]
    fn fields_declared_unique_are_the_unique_keys() {
        for res in Resource::ALL {
            let mut declared: Vec<String> = schema(res)
                .walk()
                .into_iter()
                .filter(|(_, r)| r.unique)
                .map(|(p, _)| p)
                .collect();
            let mut keys: Vec<String> = unique_keys(res)
                .iter()
                .filter(|k| k.only_when_true.is_none())
                .map(|k| k.field.to_owned())
                .collect();
            declared.sort();
            keys.sort();
            assert_eq!(declared, keys, "{res}");
            for k in unique_keys(res) {
                for p in k.paths {
                    assert!(schema(res).rules_at(p).is_some(), "{res}: {p}");
                }
            }
        }
    }

    #[test]
    fn only_the_instance_db_key_is_hidden() {
        assert_eq!(hidden_fields(Resource::Instance), ["db_key"]);
        for res in [
            Resource::Code,
            Resource::Route,
            Resource::Commands,
            Resource::Statistics,
            Resource::Site,
        ] {
            assert!(hidden_fields(res).is_empty(), "{res}");
        }
    }

    #[test]
    fn instance_relations_point_at_code_routes_site_statistics_and_its_backup() {
        assert_eq!(
            relations(Resource::Instance),
            [
                ("code.core".to_owned(), Resource::Code),
                ("code.profile".to_owned(), Resource::Code),
                ("code.package".to_owned(), Resource::Code),
                ("routes.primary_route".to_owned(), Resource::Route),
                ("routes.secondary_route".to_owned(), Resource::Route),
                ("site".to_owned(), Resource::Site),
                ("statistics".to_owned(), Resource::Statistics),
                ("restore_from".to_owned(), Resource::Backup),
            ]
        );
        assert_eq!(
            relations(Resource::Code),
            [("meta.dependency".to_owned(), Resource::Code)]
        );
        assert_eq!(
            relations(Resource::Route),
            [
                ("instance_id".to_owned(), Resource::Instance),
                ("site_id".to_owned(), Resource::Site)
            ]
        );
        assert_eq!(
            relations(Resource::Site),
            [("instance".to_owned(), Resource::Instance)]
        );
    }

    #[test]
    fn statistics_instance_is_a_relation_but_not_embeddable() {
        assert!(relations(Resource::Statistics).is_empty());
        let rels = data_relations(Resource::Statistics);
        assert_eq!(rels.len(), 1);
        assert_eq!(rels[0].0, "instance");
        assert_eq!(rels[0].1.resource, Resource::Instance);
        assert!(!rels[0].1.embeddable);
    }

    #[test]
    fn indexed_paths_cover_lookups_and_filters() {
        let has = |res: Resource, path: &str| indexed_paths(res).iter().any(|p| p == path);
        for p in [
            "sid",
            "path",
            "status",
            "type",
            "pool",
            "code.core",
            "code.profile",
            "code.package",
            "routes.primary_route",
            "update_group",
        ] {
            assert!(has(Resource::Instance, p), "instance {p}");
        }
        for p in [
            "meta.name",
            "meta.version",
            "meta.code_type",
            "meta.is_current",
            "commit_hash",
            "meta.dependency",
        ] {
            assert!(has(Resource::Code, p), "code {p}");
        }
        for p in ["source", "route_status", "route_type", "instance_id"] {
            assert!(has(Resource::Route, p), "route {p}");
        }
        assert!(has(Resource::Statistics, "instance"));
        assert!(has(Resource::Site, "instance"));
        let code_package = indexed_paths(Resource::Instance)
            .iter()
            .filter(|p| *p == "code.package")
            .count();
        assert_eq!(code_package, 1, "paths are listed once");
    }

    #[test]
    fn schema_fields_expose_types_and_constraints_for_openapi() {
        let s = schema(Resource::Code);
        let meta = s.field("meta").unwrap();
        assert!(
            !meta.rules.required && meta.rules.unique,
            "optional, as the original's"
        );
        let Kind::Dict(inner) = &meta.rules.kind else {
            panic!("meta is a dict")
        };
        let name = inner.field("name").unwrap();
        assert_eq!(name.rules.kind.type_name(), "string");
        assert_eq!(name.rules.minlength, Some(3));
        assert_eq!(
            inner.field("is_current").unwrap().rules.default,
            Some(Value::Bool(false))
        );
        let git = s.field("git_url").unwrap();
        assert_eq!(
            git.rules.regex.as_ref().map(FieldPattern::source),
            Some(GIT_URL_PATTERN)
        );
    }
}
