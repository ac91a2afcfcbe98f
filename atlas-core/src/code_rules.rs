//! Code release rules, as pure functions over typed views (no store access):
//! one current item per `(name, code_type)`, the uniqueness messages, the
//! delete-in-use refusal, the transitive package dependency closure, the
//! guide's POST-or-PATCH recommendation, the default core and profile of
//! new instances, and which instances use an item ([`instances_using`]).

use std::collections::{HashSet, VecDeque};
use std::fmt;

use serde_json::{Map, Value};

use crate::model::{Body, Code, CodeMeta, CodeType, Id, Sid};
use crate::query::Filter;

/// The ids of the other current items of `new_meta`'s `(name, code_type)`,
/// which must be un-current in the same batch that stores item `new_id`.
///
/// # Behavior
/// Empty when `new_meta.is_current` is false. `current_items` may hold any
/// code items; only current ones of the same name and type (other than
/// `new_id`) are returned, once each, in the given order.
pub(crate) fn uncurrent_previous(new_id: &Id, new_meta: &CodeMeta, current_items: &[Code]) -> Vec<Id> {
    if !new_meta.is_current {
        return Vec::new();
    }
    let mut out: Vec<Id> = Vec::new();
    for c in current_items {
        let same = c.meta.is_current
            && c.id != *new_id
            && c.meta.name == new_meta.name
            && c.meta.code_type == new_meta.code_type;
        if same && !out.contains(&c.id) {
            out.push(c.id);
        }
    }
    out
}

/// The patch that un-currents an item: `{"meta": {"is_current": false}}`.
pub(crate) fn uncurrent_patch() -> Body {
    let mut meta = Map::new();
    meta.insert("is_current".into(), Value::Bool(false));
    let mut m = Map::new();
    m.insert("meta".into(), Value::Object(meta));
    m
}

/// Why a code item may not be deleted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", in_use_message(self))]
pub(crate) struct CodeInUse {
    /// The item, as messages name it (`'drupal' 7.42 (core, <id>)`).
    pub code: String,
    /// Sids of the instances using it.
    pub instances: Vec<Sid>,
    /// Code items declaring it a dependency, as messages name them.
    pub dependents: Vec<String>,
}

fn in_use_message(e: &CodeInUse) -> String {
    let mut msg = format!("cannot delete code item {}: it is in use.", e.code);
    if !e.instances.is_empty() {
        let sids: Vec<&str> = e.instances.iter().map(Sid::as_str).collect();
        msg.push_str(&format!(
            " Instances using it: {}; move those instances to another code item first.",
            sids.join(", ")
        ));
    }
    if !e.dependents.is_empty() {
        msg.push_str(&format!(
            " Code items declaring it a dependency: {}; remove the dependency from those items first.",
            e.dependents.join(", ")
        ));
    }
    msg
}

/// Checks that `code` may be deleted.
///
/// # Behavior
/// `instances_using` are the sids of the live instances whose core, profile
/// or packages name the item. Of `dependents`, the items (other than `code`
/// itself) whose `meta.dependency` holds its id block the delete.
///
/// # Errors
/// [`CodeInUse`] listing every blocking instance and code item.
pub(crate) fn check_delete(
    code: &Code,
    instances_using: &[Sid],
    dependents: &[Code],
) -> Result<(), CodeInUse> {
    let deps: Vec<String> = dependents
        .iter()
        .filter(|d| d.id != code.id && d.meta.dependency.contains(&code.id))
        .map(Code::to_string)
        .collect();
    if instances_using.is_empty() && deps.is_empty() {
        return Ok(());
    }
    Err(CodeInUse {
        code: code.to_string(),
        instances: instances_using.to_vec(),
        dependents: deps,
    })
}

/// Why a dependency closure could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum ClosureError {
    /// An item named in the closure does not exist.
    #[error("{}", missing_message(.id, .required_by.as_ref()))]
    Missing {
        /// The id that names no code item.
        id: Id,
        /// The item that declared it a dependency (`None` for a root).
        required_by: Option<Id>,
    },
}

fn missing_message(id: &Id, by: Option<&Id>) -> String {
    match by {
        Some(by) => format!("code item {id} does not exist (it is a dependency of code item {by})"),
        None => format!("code item {id} does not exist"),
    }
}

/// The full transitive dependency set of `roots`.
///
/// # Behavior
/// `deps_of(id)` gives an item's declared dependencies, `None` when the item
/// does not exist. The result holds every item once: the roots first in the
/// given order, then their dependencies breadth-first, each list in declared
/// order. Cycles are safe: an item already in the result is not visited
/// again.
///
/// # Errors
/// [`ClosureError::Missing`] naming the first id that exists nowhere, and
/// which item required it.
pub(crate) fn dependency_closure(
    roots: &[Id],
    deps_of: impl Fn(&Id) -> Option<Vec<Id>>,
) -> Result<Vec<Id>, ClosureError> {
    let mut seen: HashSet<Id> = HashSet::new();
    let mut out = Vec::new();
    let mut queue: VecDeque<(Id, Option<Id>)> = VecDeque::new();
    for r in roots {
        if seen.insert(*r) {
            queue.push_back((*r, None));
        }
    }
    while let Some((id, required_by)) = queue.pop_front() {
        let deps = deps_of(&id).ok_or(ClosureError::Missing { id, required_by })?;
        out.push(id);
        for d in deps {
            if seen.insert(d) {
                queue.push_back((d, Some(id)));
            }
        }
    }
    Ok(out)
}

/// What is known of the current version of a code item, for
/// [`recommend`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CurrentVersion {
    /// The current version has an error that the new version fixes.
    pub has_error: bool,
    /// The fix needs an update hook (`hook_update_N`) to run.
    pub fix_needs_update_hook: bool,
}

/// Why a new item should be POSTed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostReason {
    /// There is no current version.
    NoCurrentVersion,
    /// The current version is stable.
    CurrentIsStable,
    /// The fix needs an update hook.
    FixNeedsUpdateHook,
}

/// The guide's choice between creating a new code item and patching the
/// current one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recommendation {
    /// POST a new code item (then PATCH instances onto it).
    PostNew(PostReason),
    /// PATCH the existing code item in place.
    PatchExisting,
}

impl Recommendation {
    /// The HTTP method to use on `/code`.
    pub fn method(&self) -> &'static str {
        match self {
            Recommendation::PostNew(_) => "POST",
            Recommendation::PatchExisting => "PATCH",
        }
    }
}

impl fmt::Display for Recommendation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Recommendation::PostNew(PostReason::NoCurrentVersion) => {
                "POST a new code item: there is no current version to update"
            }
            Recommendation::PostNew(PostReason::CurrentIsStable) => {
                "POST a new code item: the current version is stable, so keep it and move \
                 instances to the new item by PATCHing them"
            }
            Recommendation::PostNew(PostReason::FixNeedsUpdateHook) => {
                "POST a new code item: the fix needs an update hook, and database updates run \
                 when instances are PATCHed onto a new item"
            }
            Recommendation::PatchExisting => {
                "PATCH the existing code item: the current version has an error and the fix needs \
                 no update hook, so redeploying the item in place fixes every instance using it"
            }
        })
    }
}

/// The guide's POST-or-PATCH recommendation for releasing new code.
///
/// # Behavior
/// No current version → POST; a stable current version → POST; a current
/// version with an error whose fix needs no update hook → PATCH; one whose
/// fix needs an update hook → POST.
pub fn recommend(current: Option<CurrentVersion>) -> Recommendation {
    match current {
        None => Recommendation::PostNew(PostReason::NoCurrentVersion),
        Some(CurrentVersion { has_error: false, .. }) => Recommendation::PostNew(PostReason::CurrentIsStable),
        Some(CurrentVersion {
            has_error: true,
            fix_needs_update_hook: false,
        }) => Recommendation::PatchExisting,
        Some(CurrentVersion {
            has_error: true,
            fix_needs_update_hook: true,
        }) => Recommendation::PostNew(PostReason::FixNeedsUpdateHook),
    }
}

/// The core and profile a new instance gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DefaultCode {
    /// Core item.
    pub core: Id,
    /// Profile item.
    pub profile: Id,
}

/// No current item of the configured default name exists.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("code items need to be created before instances: no current {code_type} named '{name}'")]
pub(crate) struct NoCurrentCode {
    /// `core` or `profile`.
    pub code_type: CodeType,
    /// The configured default name.
    pub name: String,
}

/// Chooses a new instance's core and profile: the given ones, else the
/// current core named `core_name` and the current profile named
/// `profile_name` among `current_items`.
///
/// # Behavior
/// Only current items of the right type and name qualify; should several
/// (wrongly) be current, the newest id wins.
///
/// # Errors
/// [`NoCurrentCode`] naming the missing type and name (a given id needs no
/// lookup, so its absence is never an error here).
pub(crate) fn default_code_for_instance(
    core: Option<Id>,
    profile: Option<Id>,
    core_name: &str,
    profile_name: &str,
    current_items: &[Code],
) -> Result<DefaultCode, NoCurrentCode> {
    let pick = |given: Option<Id>, code_type: CodeType, name: &str| {
        given
            .or_else(|| {
                current_items
                    .iter()
                    .filter(|c| c.meta.is_current && c.meta.code_type == code_type && c.meta.name == name)
                    .map(|c| c.id)
                    .max()
            })
            .ok_or_else(|| NoCurrentCode {
                code_type,
                name: name.to_owned(),
            })
    };
    Ok(DefaultCode {
        core: pick(core, CodeType::Core, core_name)?,
        profile: pick(profile, CodeType::Profile, profile_name)?,
    })
}

/// The instances that use code item `id`, as core, profile or package.
pub(crate) fn instances_using(id: &Id) -> Filter {
    let id = id.to_string();
    Filter::or(vec![
        Filter::eq("code.core", id.clone()),
        Filter::eq("code.profile", id.clone()),
        Filter::eq("code.package", id),
    ])
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn id(n: u8) -> Id {
        Id::from_bytes([n; 12])
    }

    fn code(n: u8, name: &str, version: &str, code_type: CodeType, is_current: bool) -> Code {
        Code {
            id: id(n),
            meta: CodeMeta {
                name: name.into(),
                version: version.into(),
                code_type,
                label: None,
                is_current,
                tag: vec![],
                dependency: vec![],
            },
            git_url: format!("/srv/git/{name}.git"),
            commit_hash: format!("hash{n}"),
            created_by: None,
            modified_by: None,
        }
    }

    fn depending_on(mut c: Code, deps: &[Id]) -> Code {
        c.meta.dependency = deps.to_vec();
        c
    }

    fn sid(s: &str) -> Sid {
        Sid::parse(s).unwrap()
    }

    // One current item per (name, code_type).

    #[test]
    fn a_new_current_item_uncurrents_the_previous_current_of_its_name_and_type() {
        let old = code(1, "drupal", "7.41", CodeType::Core, true);
        let new = code(2, "drupal", "7.42", CodeType::Core, true);
        assert_eq!(uncurrent_previous(&new.id, &new.meta, &[old]), [id(1)]);
    }

    #[test]
    fn a_new_item_that_is_not_current_uncurrents_nothing() {
        let old = code(1, "drupal", "7.41", CodeType::Core, true);
        let new = code(2, "drupal", "7.42", CodeType::Core, false);
        assert!(uncurrent_previous(&new.id, &new.meta, &[old]).is_empty());
    }

    #[test]
    fn uncurrenting_leaves_other_names_other_types_and_the_item_itself_alone() {
        let items = [
            code(1, "drupal", "7.41", CodeType::Core, true),
            code(3, "drupal", "1.0", CodeType::Profile, true),
            code(4, "express", "2.0", CodeType::Core, true),
            code(5, "drupal", "7.40", CodeType::Core, false),
            code(2, "drupal", "7.42", CodeType::Core, true),
        ];
        let new = code(2, "drupal", "7.42", CodeType::Core, true);
        assert_eq!(uncurrent_previous(&new.id, &new.meta, &items), [id(1)]);
    }

    #[test]
    fn uncurrenting_lists_every_stray_current_item_once() {
        let a = code(1, "drupal", "7.40", CodeType::Core, true);
        let b = code(3, "drupal", "7.41", CodeType::Core, true);
        let new = code(2, "drupal", "7.42", CodeType::Core, true);
        let items = [a.clone(), b, a];
        assert_eq!(uncurrent_previous(&new.id, &new.meta, &items), [id(1), id(3)]);
    }

    #[test]
    fn uncurrent_patch_clears_only_the_current_flag() {
        assert_eq!(
            Value::Object(uncurrent_patch()),
            serde_json::json!({"meta": {"is_current": false}})
        );
    }

    // Uniqueness.

    // Delete refusal.

    #[test]
    fn deleting_an_unused_item_is_allowed() {
        let c = code(1, "cu_module", "1.0", CodeType::Module, false);
        let unrelated = depending_on(code(2, "other", "1", CodeType::Module, false), &[id(9)]);
        assert_eq!(check_delete(&c, &[], &[unrelated]), Ok(()));
    }

    #[test]
    fn deleting_an_item_used_by_instances_is_refused_listing_their_sids() {
        let c = code(1, "drupal", "7.42", CodeType::Core, true);
        let e = check_delete(&c, &[sid("p1aaaaaaaaaa"), sid("p1bbbbbbbbbb")], &[]).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.starts_with(&format!(
                "cannot delete code item 'drupal' 7.42 (core, {})",
                id(1)
            )),
            "{msg}"
        );
        assert!(
            msg.contains("Instances using it: p1aaaaaaaaaa, p1bbbbbbbbbb"),
            "{msg}"
        );
        assert!(msg.contains("move those instances"), "{msg}");
        assert!(!msg.contains("dependency"), "{msg}");
    }

    #[test]
    fn deleting_a_dependency_of_other_items_is_refused_listing_them() {
        let c = code(1, "jquery", "3", CodeType::Library, false);
        let dep = depending_on(code(2, "cu_slider", "1.2", CodeType::Module, false), &[id(1)]);
        let e = check_delete(&c, &[], &[dep]).unwrap_err();
        assert_eq!(e.dependents, [format!("'cu_slider' 1.2 (module, {})", id(2))]);
        let msg = e.to_string();
        assert!(
            msg.contains(&format!(
                "declaring it a dependency: 'cu_slider' 1.2 (module, {})",
                id(2)
            )),
            "{msg}"
        );
        assert!(msg.contains("remove the dependency"), "{msg}");
        assert!(!msg.contains("Instances"), "{msg}");
    }

    #[test]
    fn deleting_an_item_that_only_depends_on_itself_is_allowed() {
        let c = depending_on(code(1, "odd", "1", CodeType::Module, false), &[id(1)]);
        assert_eq!(check_delete(&c, &[], std::slice::from_ref(&c)), Ok(()));
    }

    // Dependency closure.

    fn graph(edges: &[(u8, &[u8])]) -> HashMap<Id, Vec<Id>> {
        edges
            .iter()
            .map(|(n, deps)| (id(*n), deps.iter().map(|d| id(*d)).collect()))
            .collect()
    }

    #[test]
    fn closure_is_transitive_beyond_one_level() {
        let g = graph(&[(1, &[2]), (2, &[3]), (3, &[4]), (4, &[])]);
        let out = dependency_closure(&[id(1)], |i| g.get(i).cloned()).unwrap();
        assert_eq!(out, [id(1), id(2), id(3), id(4)]);
    }

    #[test]
    fn closure_lists_roots_first_then_dependencies_breadth_first() {
        let g = graph(&[(1, &[3, 4]), (2, &[5]), (3, &[6]), (4, &[]), (5, &[]), (6, &[])]);
        let out = dependency_closure(&[id(1), id(2)], |i| g.get(i).cloned()).unwrap();
        assert_eq!(out, [id(1), id(2), id(3), id(4), id(5), id(6)]);
    }

    #[test]
    fn closure_survives_cycles_and_includes_each_item_once() {
        let g = graph(&[(1, &[2]), (2, &[3]), (3, &[1, 2])]);
        let out = dependency_closure(&[id(1)], |i| g.get(i).cloned()).unwrap();
        assert_eq!(out, [id(1), id(2), id(3)]);
    }

    #[test]
    fn closure_includes_shared_dependencies_and_repeated_roots_once() {
        let g = graph(&[(1, &[3]), (2, &[3]), (3, &[])]);
        let out = dependency_closure(&[id(1), id(2), id(1)], |i| g.get(i).cloned()).unwrap();
        assert_eq!(out, [id(1), id(2), id(3)]);
    }

    #[test]
    fn closure_of_nothing_is_empty() {
        assert_eq!(dependency_closure(&[], |_| None), Ok(vec![]));
    }

    #[test]
    fn closure_names_a_missing_dependency_and_who_required_it() {
        let g = graph(&[(1, &[2]), (2, &[7])]);
        let e = dependency_closure(&[id(1)], |i| g.get(i).cloned()).unwrap_err();
        assert_eq!(
            e,
            ClosureError::Missing {
                id: id(7),
                required_by: Some(id(2))
            }
        );
        assert_eq!(
            e.to_string(),
            format!(
                "code item {} does not exist (it is a dependency of code item {})",
                id(7),
                id(2)
            )
        );
    }

    #[test]
    fn closure_names_a_missing_root() {
        let e = dependency_closure(&[id(8)], |_| None).unwrap_err();
        assert_eq!(e.to_string(), format!("code item {} does not exist", id(8)));
    }

    // The guide's four cases.

    #[test]
    fn no_current_version_recommends_posting_a_new_item() {
        let r = recommend(None);
        assert_eq!(r, Recommendation::PostNew(PostReason::NoCurrentVersion));
        assert_eq!(r.method(), "POST");
        assert!(r.to_string().contains("no current version"), "{r}");
    }

    #[test]
    fn a_stable_current_version_recommends_posting_a_new_item() {
        let r = recommend(Some(CurrentVersion {
            has_error: false,
            fix_needs_update_hook: false,
        }));
        assert_eq!(r, Recommendation::PostNew(PostReason::CurrentIsStable));
        assert!(r.to_string().contains("stable"), "{r}");
    }

    #[test]
    fn an_error_whose_fix_needs_no_update_hook_recommends_patching_the_item() {
        let r = recommend(Some(CurrentVersion {
            has_error: true,
            fix_needs_update_hook: false,
        }));
        assert_eq!(r, Recommendation::PatchExisting);
        assert_eq!(r.method(), "PATCH");
        assert!(r.to_string().contains("no update hook"), "{r}");
    }

    #[test]
    fn an_error_whose_fix_needs_an_update_hook_recommends_posting_a_new_item() {
        let r = recommend(Some(CurrentVersion {
            has_error: true,
            fix_needs_update_hook: true,
        }));
        assert_eq!(r, Recommendation::PostNew(PostReason::FixNeedsUpdateHook));
        assert!(r.to_string().contains("needs an update hook"), "{r}");
    }

    // Defaults for new instances.

    #[test]
    fn new_instances_get_the_current_default_core_and_profile() {
        let items = [
            code(1, "drupal", "7.41", CodeType::Core, false),
            code(2, "drupal", "7.42", CodeType::Core, true),
            code(3, "express", "2.0", CodeType::Profile, true),
            code(4, "express", "2.0", CodeType::Core, true),
            code(5, "other", "1.0", CodeType::Profile, true),
        ];
        let d = default_code_for_instance(None, None, "drupal", "express", &items).unwrap();
        assert_eq!(
            d,
            DefaultCode {
                core: id(2),
                profile: id(3)
            }
        );
    }

    #[test]
    fn given_core_and_profile_are_kept() {
        let items = [code(2, "drupal", "7.42", CodeType::Core, true)];
        let d = default_code_for_instance(None, Some(id(9)), "drupal", "express", &items).unwrap();
        assert_eq!(
            d,
            DefaultCode {
                core: id(2),
                profile: id(9)
            }
        );
        let d = default_code_for_instance(Some(id(8)), Some(id(9)), "drupal", "express", &[]).unwrap();
        assert_eq!(
            d,
            DefaultCode {
                core: id(8),
                profile: id(9)
            }
        );
    }

    #[test]
    fn instances_without_a_current_core_are_refused_with_a_clear_message() {
        let items = [
            code(1, "drupal", "7.41", CodeType::Core, false),
            code(3, "express", "2.0", CodeType::Profile, true),
        ];
        let e = default_code_for_instance(None, None, "drupal", "express", &items).unwrap_err();
        assert_eq!(
            e.to_string(),
            "code items need to be created before instances: no current core named 'drupal'"
        );
    }

    #[test]
    fn instances_without_a_current_profile_are_refused_naming_the_profile() {
        let items = [code(2, "drupal", "7.42", CodeType::Core, true)];
        let e = default_code_for_instance(None, None, "drupal", "express", &items).unwrap_err();
        assert_eq!(
            e,
            NoCurrentCode {
                code_type: CodeType::Profile,
                name: "express".into()
            }
        );
        assert!(e.to_string().ends_with("no current profile named 'express'"));
    }
}
