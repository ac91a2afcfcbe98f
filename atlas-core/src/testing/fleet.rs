//! [`seed_fleet`]: a store holding what a running Atlas holds — a current
//! core and profile, made through the service as an operator would, and
//! many instances on them — for benchmarks and load tests.

use serde_json::Value;

use crate::batch::Batch;
use crate::model::{Id, Resource, Status, Timestamp};
use crate::service::{Actor, Service, ServiceError};
use crate::testing::fixtures;

/// Instances are inserted this many per batch.
const BATCH: u32 = 500;

/// The code items a seeded fleet runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fleet {
    /// The current core, `drupal` 7.42.
    pub core: Id,
    /// The current profile, `express` 2.2.5.
    pub profile: Id,
}

/// Creates a current core and profile through `service`, then `instances`
/// instance records on them straight in the store (no provisioning jobs),
/// the `n`-th with status `status(n)`.
///
/// # Errors
/// What the service or the store report.
pub async fn seed_fleet(
    service: &Service,
    instances: u32,
    status: impl Fn(u32) -> Status,
) -> Result<Fleet, ServiceError> {
    let core = create_code(service, fixtures::code().core("drupal", "7.42").current().build()).await?;
    let profile = create_code(
        service,
        fixtures::code().profile("express", "2.2.5").current().build(),
    )
    .await?;
    let mut n = 0;
    while n < instances {
        let mut batch = Batch::new(Timestamp::now());
        for _ in 0..BATCH.min(instances - n) {
            let body = fixtures::instance()
                .status(status(n))
                .core(core)
                .profile(profile)
                .build();
            batch.insert(Resource::Instance, Id::generate(Timestamp::now()), body);
            n += 1;
        }
        service.store().commit(batch).await?;
    }
    Ok(Fleet { core, profile })
}

async fn create_code(service: &Service, body: crate::model::Body) -> Result<Id, ServiceError> {
    let docs = service
        .create(Resource::Code, &Actor::system(), Value::Object(body))
        .await?;
    Ok(docs[0].id)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::query::{Filter, FindQuery};
    use crate::secrets::SecretKey;
    use crate::service::ServiceConfig;
    use crate::{MemoryStore, Store, SystemClock};

    #[tokio::test]
    async fn a_seeded_fleet_has_current_code_and_instances_of_each_status() {
        let store = Arc::new(MemoryStore::new());
        let service = Service::new(
            store.clone(),
            Arc::new(SystemClock),
            SecretKey::from_bytes([1; 32]),
            ServiceConfig::default(),
        );
        let fleet = seed_fleet(&service, 1_203, |n| {
            if n % 3 == 0 {
                Status::Installed
            } else {
                Status::Launched
            }
        })
        .await
        .unwrap();
        let count = |res, f| {
            let store = store.clone();
            async move { store.find(res, &FindQuery::all_matching(f)).await.unwrap().total }
        };
        let instances = |f| count(Resource::Instance, f);
        assert_eq!(instances(Filter::All).await, 1_203);
        assert_eq!(instances(Filter::eq("status", "installed")).await, 401);
        let on_profile = Filter::eq("code.profile", fleet.profile.to_string());
        assert_eq!(instances(on_profile).await, 1_203);
        assert_eq!(
            count(Resource::Code, Filter::eq("meta.is_current", true)).await,
            2
        );
    }
}
