//! Spec resolution: turns stored records into the fully resolved specs an
//! [`crate::Executor`] takes ([`InstanceSpec`], [`CodeSpec`], [`RouteSpec`],
//! [`RouteMap`]), reading code items, the package dependency closure,
//! routes, and opening the sealed database password.
//!
//! Soft-deleted records resolve too (a removal works from the deleted
//! instance and code items that were deleted since).

use std::collections::HashMap;

use crate::code_rules::{self, ClosureError};
use crate::error::StoreError;
use crate::executor::{CodeSpec, DatabaseSpec, InstanceSpec, RouteMap, RouteSpec, SiteSettings};
use crate::model::{Code, Id, Instance, InstanceType, Resource, Route, RouteStatus, Sid, Status, ViewError};
use crate::query::{Filter, FindQuery, Paging, SortKey};
use crate::secrets::SecretError;
use crate::service::Service;
use crate::worker::HandlerError;

/// Page cache lifetime written when an instance sets none (the schema default).
pub(crate) const DEFAULT_PAGE_CACHE_MAXIMUM_AGE: u32 = 300;

/// Why a spec could not be resolved.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ResolveError {
    /// Reading the store failed (worth a retry).
    #[error("reading the store failed: {0}")]
    Store(#[from] StoreError),
    /// A stored record does not fit its view.
    #[error(transparent)]
    View(#[from] ViewError),
    /// The instance names no core or profile, or one that does not exist.
    #[error("instance '{sid}' has no usable code.{field}: {problem}")]
    Code {
        /// The instance.
        sid: Sid,
        /// `core` or `profile`.
        field: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// A package or one of its dependencies does not exist.
    #[error("instance '{sid}': its packages cannot be resolved: {source}")]
    Closure {
        /// The instance.
        sid: Sid,
        /// The missing item.
        #[source]
        source: ClosureError,
    },
    /// The instance has no sealed database password.
    #[error("instance '{sid}' has no database password (db_key); it was not created through the service")]
    NoDbKey {
        /// The instance.
        sid: Sid,
    },
    /// The sealed password does not open under the configured key.
    #[error("instance '{sid}': {source}")]
    Secret {
        /// The instance.
        sid: Sid,
        /// Why it does not open.
        #[source]
        source: SecretError,
    },
}

impl ResolveError {
    /// A store failure may pass; everything else needs a person.
    pub(crate) fn into_handler(self) -> HandlerError {
        match self {
            ResolveError::Store(_) => HandlerError::retry(self.to_string()),
            _ => HandlerError::fatal(self.to_string()),
        }
    }
}

/// The executor's view of a route, with the instance it serves.
pub(crate) fn route_spec(route: &Route, instance: Option<&(Sid, InstanceType)>) -> RouteSpec {
    RouteSpec {
        id: route.id,
        source: route.source.clone(),
        route_type: route.route_type,
        route_status: route.route_status,
        destination: route.destination.clone(),
        response_code: route.response_code,
        regex: route.regex,
        path_preserving: route.path_preserving,
        instance_sid: instance.map(|(sid, _)| sid.clone()),
        instance_type: instance.map(|(_, t)| *t),
    }
}

/// A code item by id, soft-deleted ones included.
pub(crate) async fn load_code(svc: &Service, id: &Id) -> Result<Option<Code>, ResolveError> {
    match svc.store().get(Resource::Code, id).await? {
        Some(doc) => Ok(Some(Code::from_doc(&doc)?)),
        None => Ok(None),
    }
}

async fn required_code(
    svc: &Service,
    inst: &Instance,
    field: &'static str,
    id: Option<Id>,
) -> Result<CodeSpec, ResolveError> {
    let missing = |problem: String| ResolveError::Code {
        sid: inst.sid.clone(),
        field,
        problem,
    };
    let id = id.ok_or_else(|| missing("it is not set".into()))?;
    let code = load_code(svc, &id)
        .await?
        .ok_or_else(|| missing(format!("code item {id} does not exist")))?;
    Ok(CodeSpec::from(&code))
}

/// The full transitive dependency closure of `roots`, as code specs.
pub(crate) async fn package_closure(
    svc: &Service,
    sid: &Sid,
    roots: &[Id],
) -> Result<Vec<CodeSpec>, ResolveError> {
    let mut known: HashMap<Id, Option<Code>> = HashMap::new();
    let mut todo: Vec<Id> = roots.to_vec();
    while let Some(id) = todo.pop() {
        if known.contains_key(&id) {
            continue;
        }
        let code = load_code(svc, &id).await?;
        if let Some(c) = &code {
            todo.extend(c.meta.dependency.iter().copied());
        }
        known.insert(id, code);
    }
    let ids = code_rules::dependency_closure(roots, |id| {
        known
            .get(id)
            .and_then(Option::as_ref)
            .map(|c| c.meta.dependency.clone())
    })
    .map_err(|source| ResolveError::Closure {
        sid: sid.clone(),
        source,
    })?;
    Ok(ids
        .iter()
        .filter_map(|id| known.get(id).and_then(Option::as_ref))
        .map(CodeSpec::from)
        .collect())
}

fn by_source() -> Vec<SortKey> {
    vec![SortKey {
        path: "source".into(),
        descending: false,
    }]
}

/// The live routes serving `inst`, ordered by source.
pub(crate) async fn instance_routes(svc: &Service, inst: &Instance) -> Result<Vec<Route>, ResolveError> {
    let q = FindQuery {
        filter: Filter::eq("instance_id", inst.id.to_string()),
        sort: by_source(),
        paging: Paging::all(),
        show_deleted: false,
        count: true,
    };
    let page = svc.store().find(Resource::Route, &q).await?;
    Ok(page.items.iter().map(Route::from_doc).collect::<Result<_, _>>()?)
}

/// Everything the executor needs to act on `inst` for work that targets
/// `status`.
pub(crate) async fn instance_spec(
    svc: &Service,
    inst: &Instance,
    status: Status,
) -> Result<InstanceSpec, ResolveError> {
    let core = required_code(svc, inst, "core", inst.code.core).await?;
    let profile = required_code(svc, inst, "profile", inst.code.profile).await?;
    let packages = package_closure(svc, &inst.sid, &inst.code.package).await?;
    let served = (inst.sid.clone(), inst.instance_type);
    let routes = instance_routes(svc, inst).await?;
    let primary_route = match inst.routes.primary_route {
        None => None,
        Some(id) => match routes.iter().find(|r| r.id == id) {
            Some(r) => Some(r.source.clone()),
            None => match svc.store().get(Resource::Route, &id).await? {
                Some(doc) => Some(Route::from_doc(&doc)?.source),
                None => None,
            },
        },
    };
    let sealed = inst.db_key.as_deref().ok_or_else(|| ResolveError::NoDbKey {
        sid: inst.sid.clone(),
    })?;
    let password = svc
        .secret_key()
        .open(sealed)
        .map_err(|source| ResolveError::Secret {
            sid: inst.sid.clone(),
            source,
        })?;
    let settings = SiteSettings {
        page_cache_maximum_age: inst
            .settings
            .page_cache_maximum_age
            .map_or(DEFAULT_PAGE_CACHE_MAXIMUM_AGE, |a| {
                u32::try_from(a.max(0)).unwrap_or(u32::MAX)
            }),
        siteimprove_site: inst.settings.siteimprove_site,
        siteimprove_group: inst.settings.siteimprove_group,
    };
    Ok(InstanceSpec {
        id: inst.id,
        sid: inst.sid.clone(),
        path: inst.path.clone().unwrap_or_else(|| inst.sid.to_string()),
        instance_type: inst.instance_type,
        status,
        pool: inst.pool,
        update_group: inst
            .update_group
            .map_or(0, |g| u8::try_from(g.clamp(0, 255)).unwrap_or(0)),
        statistics_id: inst.statistics,
        core,
        profile,
        packages,
        settings,
        database: DatabaseSpec {
            name: inst.sid.to_string(),
            user: inst.sid.to_string(),
            password,
        },
        routes: routes.iter().map(|r| route_spec(r, Some(&served))).collect(),
        primary_route,
    })
}

/// The route map for the load balancer: every live `active` route, plus
/// `activated` (routes a launch is activating, not yet stored as active),
/// ordered by source.
pub(crate) async fn route_map(svc: &Service, activated: &[RouteSpec]) -> Result<RouteMap, ResolveError> {
    let q = FindQuery {
        filter: Filter::eq("route_status", RouteStatus::Active.as_str()),
        sort: by_source(),
        paging: Paging::all(),
        show_deleted: false,
        count: true,
    };
    let page = svc.store().find(Resource::Route, &q).await?;
    let mut served: HashMap<Id, Option<(Sid, InstanceType)>> = HashMap::new();
    let mut routes = Vec::with_capacity(page.items.len() + activated.len());
    for doc in &page.items {
        let route = Route::from_doc(doc)?;
        if activated.iter().any(|a| a.id == route.id) {
            continue;
        }
        let instance = match route.instance_id {
            None => None,
            Some(id) => {
                if let std::collections::hash_map::Entry::Vacant(slot) = served.entry(id) {
                    let found = match svc.store().get(Resource::Instance, &id).await? {
                        Some(d) => {
                            let i = Instance::from_doc(&d)?;
                            Some((i.sid, i.instance_type))
                        }
                        None => None,
                    };
                    slot.insert(found);
                }
                served.get(&id).and_then(Option::as_ref)
            }
        };
        routes.push(route_spec(&route, instance));
    }
    routes.extend(activated.iter().cloned().map(|mut r| {
        r.route_status = RouteStatus::Active;
        r
    }));
    routes.sort_by(|a, b| a.source.cmp(&b.source).then(a.id.cmp(&b.id)));
    Ok(RouteMap { routes })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::batch::Batch;
    use crate::clock::ManualClock;
    use crate::model::{Body, RouteType};
    use crate::secrets::{generate_password, SecretKey};
    use crate::service::ServiceConfig;
    use crate::store::Store;
    use crate::testing::fixtures;
    use crate::MemoryStore;

    fn svc() -> Service {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let clock = Arc::new(ManualClock::at(fixtures::fixture_time()));
        Service::new(store, clock, SecretKey::generate().0, ServiceConfig::default())
    }

    async fn insert(svc: &Service, res: Resource, body: Body) -> Id {
        let id = Id::generate(fixtures::fixture_time());
        let mut b = Batch::new(fixtures::fixture_time());
        b.insert(res, id, body);
        svc.store().commit(b).await.unwrap();
        id
    }

    async fn instance_view(svc: &Service, id: &Id) -> Instance {
        Instance::from_doc(&svc.store().get(Resource::Instance, id).await.unwrap().unwrap()).unwrap()
    }

    #[tokio::test]
    async fn instance_spec_expands_packages_to_their_full_transitive_closure() {
        let svc = svc();
        let core = insert(
            &svc,
            Resource::Code,
            fixtures::code().core("drupal", "7.42").build(),
        )
        .await;
        let profile = insert(
            &svc,
            Resource::Code,
            fixtures::code().profile("express", "2.8").build(),
        )
        .await;
        let leaf = insert(
            &svc,
            Resource::Code,
            fixtures::code().library("leaf", "1").build(),
        )
        .await;
        let mid = insert(
            &svc,
            Resource::Code,
            fixtures::code().module("mid", "1").dependencies([leaf]).build(),
        )
        .await;
        let top = insert(
            &svc,
            Resource::Code,
            fixtures::code().module("top", "1").dependencies([mid]).build(),
        )
        .await;
        let mut body = fixtures::instance()
            .core(core)
            .profile(profile)
            .packages([top])
            .build();
        let password = generate_password();
        body.insert("db_key".into(), json!(svc.secret_key().seal(&password)));
        let id = insert(&svc, Resource::Instance, body).await;

        let spec = instance_spec(&svc, &instance_view(&svc, &id).await, Status::Installed)
            .await
            .unwrap();

        let names: Vec<&str> = spec.packages.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["top", "mid", "leaf"]);
        assert_eq!(spec.core.name, "drupal");
        assert_eq!(spec.profile.name, "express");
        assert_eq!(spec.status, Status::Installed);
        assert_eq!(spec.database.password, password);
        assert_eq!(spec.database.name, spec.sid.as_str());
        assert_eq!(spec.settings.page_cache_maximum_age, 300);
    }

    #[tokio::test]
    async fn instance_spec_carries_its_routes_and_the_primary_route_source() {
        let svc = svc();
        let core = insert(
            &svc,
            Resource::Code,
            fixtures::code().core("drupal", "7.42").build(),
        )
        .await;
        let profile = insert(
            &svc,
            Resource::Code,
            fixtures::code().profile("express", "2.8").build(),
        )
        .await;
        let inst_id = Id::generate(fixtures::fixture_time());
        let route = insert(
            &svc,
            Resource::Route,
            fixtures::route().source("lab/atlas").instance(inst_id).build(),
        )
        .await;
        insert(&svc, Resource::Route, fixtures::route().source("other").build()).await;
        let mut body = fixtures::instance()
            .core(core)
            .profile(profile)
            .primary_route(route)
            .build();
        body.insert(
            "db_key".into(),
            json!(svc.secret_key().seal(&generate_password())),
        );
        let mut b = Batch::new(fixtures::fixture_time());
        b.insert(Resource::Instance, inst_id, body);
        svc.store().commit(b).await.unwrap();

        let spec = instance_spec(&svc, &instance_view(&svc, &inst_id).await, Status::Launched)
            .await
            .unwrap();

        assert_eq!(spec.primary_route.as_deref(), Some("lab/atlas"));
        assert_eq!(spec.routes.len(), 1);
        assert_eq!(spec.routes[0].instance_sid.as_ref(), Some(&spec.sid));
        assert_eq!(spec.routes[0].route_type, RouteType::PoolbExpress);
    }

    #[tokio::test]
    async fn instance_spec_refuses_an_instance_without_a_database_password() {
        let svc = svc();
        let core = insert(
            &svc,
            Resource::Code,
            fixtures::code().core("drupal", "7.42").build(),
        )
        .await;
        let profile = insert(
            &svc,
            Resource::Code,
            fixtures::code().profile("express", "2.8").build(),
        )
        .await;
        let id = insert(
            &svc,
            Resource::Instance,
            fixtures::instance().core(core).profile(profile).build(),
        )
        .await;
        let e = instance_spec(&svc, &instance_view(&svc, &id).await, Status::Available)
            .await
            .unwrap_err();
        assert!(matches!(e, ResolveError::NoDbKey { .. }), "{e}");
        assert!(!e.into_handler().retryable);
    }

    #[tokio::test]
    async fn instance_spec_names_a_missing_package_dependency() {
        let svc = svc();
        let core = insert(
            &svc,
            Resource::Code,
            fixtures::code().core("drupal", "7.42").build(),
        )
        .await;
        let profile = insert(
            &svc,
            Resource::Code,
            fixtures::code().profile("express", "2.8").build(),
        )
        .await;
        let ghost = Id::generate(fixtures::fixture_time());
        let pkg = insert(
            &svc,
            Resource::Code,
            fixtures::code().module("pkg", "1").dependencies([ghost]).build(),
        )
        .await;
        let mut body = fixtures::instance()
            .core(core)
            .profile(profile)
            .packages([pkg])
            .build();
        body.insert(
            "db_key".into(),
            json!(svc.secret_key().seal(&generate_password())),
        );
        let id = insert(&svc, Resource::Instance, body).await;
        let e = instance_spec(&svc, &instance_view(&svc, &id).await, Status::Installed)
            .await
            .unwrap_err();
        assert!(e.to_string().contains(&ghost.to_string()), "{e}");
    }

    #[tokio::test]
    async fn route_map_holds_only_active_routes_plus_those_being_activated_ordered_by_source() {
        let svc = svc();
        insert(
            &svc,
            Resource::Route,
            fixtures::route()
                .source("zeta")
                .status(RouteStatus::Active)
                .build(),
        )
        .await;
        insert(
            &svc,
            Resource::Route,
            fixtures::route()
                .source("beta")
                .status(RouteStatus::Inactive)
                .build(),
        )
        .await;
        let alpha_id = insert(&svc, Resource::Route, fixtures::route().source("alpha").build()).await;
        let alpha_doc = svc
            .store()
            .get(Resource::Route, &alpha_id)
            .await
            .unwrap()
            .unwrap();
        let alpha = route_spec(&Route::from_doc(&alpha_doc).unwrap(), None);

        let map = route_map(&svc, &[alpha]).await.unwrap();

        let sources: Vec<&str> = map.routes.iter().map(|r| r.source.as_str()).collect();
        assert_eq!(sources, ["alpha", "zeta"]);
        assert!(map.routes.iter().all(|r| r.route_status == RouteStatus::Active));
    }
}
