//! Instance hooks: server fields, statistics and provision on create;
//! lifecycle requests, package and settings changes on update; removal on
//! delete.

use std::sync::Arc;

use serde_json::json;

use super::{conflict, invalid, issues_at, module_body, profile_body, route_body, t0, Env};
use crate::error::StoreError;
use crate::model::{Doc, Id, Resource, Status};
use crate::service::ServiceError;
use crate::store::Store;
use crate::testing::FailingStore;
use crate::MemoryStore;

/// An installed instance with an inactive route it may be launched on.
async fn installed_with_route(env: &Env) -> (Doc, Doc) {
    let inst = env.instance_in(Status::Installed).await;
    let sid = inst.str_field("sid").unwrap().to_owned();
    let route = env
        .create(Resource::Route, route_body(&sid, &inst.id, "inactive", true))
        .await;
    (inst, route)
}

/// The status as stored.
async fn status(env: &Env, inst: &Doc) -> String {
    env.stored(Resource::Instance, &inst.id)
        .await
        .str_field("status")
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn creating_an_instance_without_current_code_is_refused() {
    let env = Env::new();
    let (_, message) = conflict(
        env.create_err(Resource::Instance, json!({"status": "pending"}))
            .await,
    );
    assert!(
        message.starts_with("code items need to be created before instances"),
        "{message}"
    );
    env.create(Resource::Code, super::core_body("7.42", true)).await;
    let (_, message) = conflict(
        env.create_err(Resource::Instance, json!({"status": "pending"}))
            .await,
    );
    assert!(
        message.contains("profile") && message.contains("express"),
        "{message}"
    );
    assert!(env.all(Resource::Instance).await.is_empty());
    assert!(env.all(Resource::Statistics).await.is_empty());
}

#[tokio::test]
async fn creating_an_instance_fills_its_fields_statistics_and_provision_job_in_one_commit() {
    let store = Arc::new(FailingStore::new(Arc::new(MemoryStore::new()), 0));
    let env = Env::over(store.clone() as Arc<dyn Store>);
    let (core, profile) = env.current_code().await;
    let commits = store.commits();
    let inst = env.instance().await;
    assert_eq!(store.commits(), commits + 1, "one batch");

    let sid = inst.str_field("sid").unwrap();
    assert_eq!(sid.len(), 12);
    assert!(sid.starts_with("p1"), "{sid}");
    assert!(
        sid[2..]
            .bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
        "{sid}"
    );
    assert_eq!(inst.str_field("path"), Some(sid));
    assert!((0..=2).contains(&inst.body["update_group"].as_i64().unwrap()));
    assert_eq!(inst.str_field("status"), Some("pending"));
    assert_eq!(inst.str_field("dates.created"), Some(t0().to_string().as_str()));
    assert_eq!(inst.str_field("code.core"), Some(core.id.to_string().as_str()));
    assert_eq!(
        inst.str_field("code.profile"),
        Some(profile.id.to_string().as_str())
    );
    assert_eq!(inst.str_field("type"), Some("express"));
    assert_eq!(inst.str_field("pool"), Some("poolb-express"));
    assert_eq!(inst.str_field("created_by"), Some("alice"));

    let stats = env.all(Resource::Statistics).await;
    assert_eq!(stats.len(), 1);
    assert_eq!(
        inst.str_field("statistics"),
        Some(stats[0].id.to_string().as_str())
    );
    assert_eq!(stats[0].body["instance"], inst.id.to_string());

    let jobs = env.jobs_of("provision").await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].payload, json!({"instance": inst.id.to_string()}));
    assert_eq!(jobs[0].key, Some(format!("instance:{}", inst.id)));
}

#[tokio::test]
async fn a_failed_create_commit_leaves_no_instance_statistics_or_job() {
    let store = Arc::new(FailingStore::new(Arc::new(MemoryStore::new()), 3));
    let env = Env::over(store.clone() as Arc<dyn Store>);
    env.current_code().await;
    let e = env
        .create_err(Resource::Instance, json!({"status": "pending"}))
        .await;
    assert!(
        matches!(e, ServiceError::Store(StoreError::Backend { .. })),
        "{e:?}"
    );
    assert!(env.all(Resource::Instance).await.is_empty());
    assert!(env.all(Resource::Statistics).await.is_empty());
    assert!(env.jobs_of("provision").await.is_empty());
}

#[tokio::test]
async fn update_groups_are_drawn_between_zero_and_two() {
    let env = Env::new();
    env.current_code().await;
    let bodies: Vec<_> = (0..30).map(|_| json!({"status": "pending"})).collect();
    let docs = env
        .svc
        .create(Resource::Instance, &super::alice(), json!(bodies))
        .await
        .unwrap();
    let groups: Vec<i64> = docs
        .iter()
        .map(|d| d.body["update_group"].as_i64().unwrap())
        .collect();
    assert!(groups.iter().all(|g| (0..=2).contains(g)), "{groups:?}");
    assert!(
        groups.iter().any(|g| *g != groups[0]),
        "random, not constant: {groups:?}"
    );
}

#[tokio::test]
async fn given_core_and_profile_are_kept_and_must_be_of_the_right_type() {
    let env = Env::new();
    let (core, profile) = env.current_code().await;
    let old_profile = env.create(Resource::Code, profile_body("2.2.4", false)).await;
    let inst = env
        .create(
            Resource::Instance,
            json!({"code": {"profile": old_profile.id.to_string()}}),
        )
        .await;
    assert_eq!(
        inst.str_field("code.profile"),
        Some(old_profile.id.to_string().as_str())
    );
    assert_eq!(inst.str_field("code.core"), Some(core.id.to_string().as_str()));

    let swapped = json!({"code": {"core": profile.id.to_string(), "profile": core.id.to_string()}});
    let inv = invalid(env.create_err(Resource::Instance, swapped).await);
    let issues = inv.first().unwrap();
    assert!(
        issues.messages_at("code.core")[0].contains("type core"),
        "{issues}"
    );
    assert!(
        issues.messages_at("code.profile")[0].contains("type profile"),
        "{issues}"
    );
}

#[tokio::test]
async fn creating_an_instance_in_another_status_is_refused() {
    let env = Env::new();
    env.current_code().await;
    let msgs = issues_at(
        env.create_err(Resource::Instance, json!({"status": "installed"}))
            .await,
        "status",
    );
    assert_eq!(msgs.len(), 1);
    assert!(msgs[0].contains("pending"), "{msgs:?}");
    assert!(env.all(Resource::Instance).await.is_empty());
}

#[tokio::test]
async fn creating_an_instance_with_packages_is_refused() {
    let env = Env::new();
    env.current_code().await;
    let views = env.create(Resource::Code, module_body("views", "7.x-3.14")).await;
    let body = json!({"code": {"package": [views.id.to_string()]}});
    let (field, message) = conflict(env.create_err(Resource::Instance, body).await);
    assert_eq!(field, "code.package");
    assert!(message.contains(&views.id.to_string()), "{message}");
    assert!(env.all(Resource::Instance).await.is_empty());
}

#[tokio::test]
async fn creating_an_instance_with_a_taken_sid_is_invalid() {
    let env = Env::new();
    env.current_code().await;
    env.create(Resource::Instance, json!({"sid": "p1abcdef0123"}))
        .await;
    let e = env
        .create_err(Resource::Instance, json!({"sid": "p1abcdef0123"}))
        .await;
    let inv = invalid(e);
    assert_eq!(
        inv.items[0].messages_at("sid"),
        ["value 'p1abcdef0123' is not unique"]
    );
    assert!(
        inv.items[0].messages_at("path").is_empty(),
        "only the field the client sent is named: {:?}",
        inv.items[0].to_json()
    );
    assert_eq!(env.all(Resource::Instance).await.len(), 1);
    assert_eq!(env.all(Resource::Statistics).await.len(), 1);
}

#[tokio::test]
async fn requesting_installing_on_an_available_instance_stores_installing_and_enqueues_the_assign() {
    let env = Env::new();
    let inst = env.instance_in(Status::Available).await;
    let after = env
        .patch(Resource::Instance, &inst, json!({"status": "installing"}))
        .await
        .unwrap();
    assert_eq!(after.str_field("status"), Some("installing"));
    let jobs = env.jobs_of("install_assign").await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].key, Some(format!("instance:{}", inst.id)));
    assert_eq!(
        jobs[0].payload,
        json!({"instance": inst.id.to_string(), "from": "available"}),
        "the job knows where to put the instance back if it fails for good"
    );
}

#[tokio::test]
async fn requesting_installed_on_an_available_instance_does_the_installing_work() {
    let env = Env::new();
    let inst = env.instance_in(Status::Available).await;
    let after = env
        .patch(Resource::Instance, &inst, json!({"status": "installed"}))
        .await
        .unwrap();
    assert_eq!(after.str_field("status"), Some("installing"));
    assert_eq!(env.jobs_of("install_assign").await.len(), 1);
}

#[tokio::test]
async fn launching_without_a_primary_route_is_refused_naming_the_field() {
    let env = Env::new();
    let inst = env.instance_in(Status::Installed).await;
    let (field, message) = conflict(
        env.patch(Resource::Instance, &inst, json!({"status": "launching"}))
            .await
            .unwrap_err(),
    );
    assert_eq!(field, "routes.primary_route");
    assert!(message.contains("routes.primary_route"), "{message}");
    assert_eq!(status(&env, &inst).await, "installed");
    assert!(env.jobs_of("launch").await.is_empty());
}

#[tokio::test]
async fn launching_with_a_primary_route_stores_launching_and_enqueues_the_launch() {
    let env = Env::new();
    let (inst, route) = installed_with_route(&env).await;
    let patch = json!({"status": "launching", "routes": {"primary_route": route.id.to_string()}});
    let after = env.patch(Resource::Instance, &inst, patch).await.unwrap();
    assert_eq!(after.str_field("status"), Some("launching"));
    assert_eq!(
        after.str_field("routes.primary_route"),
        Some(route.id.to_string().as_str())
    );
    let jobs = env.jobs_of("launch").await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].key, Some(format!("instance:{}", inst.id)));
    assert!(
        env.jobs_of("instance_write_settings").await.is_empty(),
        "the launch rewrites settings"
    );
}

#[tokio::test]
async fn a_primary_route_that_does_not_exist_is_invalid() {
    let env = Env::new();
    let inst = env.instance_in(Status::Installed).await;
    let missing = crate::model::Id::generate(t0()).to_string();
    let patch = json!({"status": "launching", "routes": {"primary_route": missing}});
    let msgs = issues_at(
        env.patch(Resource::Instance, &inst, patch).await.unwrap_err(),
        "routes.primary_route",
    );
    assert!(msgs[0].contains("must exist in resource 'route'"), "{msgs:?}");
    assert!(env.jobs_of("launch").await.is_empty());
}

#[tokio::test]
async fn take_down_is_accepted_from_installed_and_launched() {
    let env = Env::new();
    for from in [Status::Installed, Status::Launched] {
        let inst = env.instance_in(from).await;
        let after = env
            .patch(Resource::Instance, &inst, json!({"status": "take_down"}))
            .await
            .unwrap();
        assert_eq!(after.str_field("status"), Some("take_down"), "from {from}");
    }
    assert_eq!(env.jobs_of("take_down").await.len(), 2);
}

#[tokio::test]
async fn restore_is_accepted_from_down() {
    let env = Env::new();
    let inst = env.instance_in(Status::Down).await;
    let after = env
        .patch(Resource::Instance, &inst, json!({"status": "restore"}))
        .await
        .unwrap();
    assert_eq!(after.str_field("status"), Some("restore"));
    let jobs = env.jobs_of("restore").await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].key, Some(format!("instance:{}", inst.id)));
}

#[tokio::test]
async fn refused_transitions_name_the_current_status_and_the_allowed_targets() {
    let env = Env::new();
    let pending = env.instance_in(Status::Pending).await;
    let (field, message) = conflict(
        env.patch(Resource::Instance, &pending, json!({"status": "installed"}))
            .await
            .unwrap_err(),
    );
    assert_eq!(field, "status");
    assert!(message.contains("'pending'"), "{message}");

    let installed = env.instance_in(Status::Installed).await;
    let (_, message) = conflict(
        env.patch(Resource::Instance, &installed, json!({"status": "down"}))
            .await
            .unwrap_err(),
    );
    assert!(
        message.contains("'installed'") && message.contains("'down'"),
        "{message}"
    );
    assert!(message.contains("launching, take_down"), "{message}");

    let available = env.instance_in(Status::Available).await;
    let (_, message) = conflict(
        env.patch(Resource::Instance, &available, json!({"status": "pending"}))
            .await
            .unwrap_err(),
    );
    assert!(message.contains("installing, installed"), "{message}");

    assert_eq!(status(&env, &installed).await, "installed");
    let lifecycle_jobs = ["install_assign", "launch", "take_down", "restore"];
    assert!(env
        .jobs()
        .await
        .iter()
        .all(|j| !lifecycle_jobs.contains(&j.kind.as_str())));
}

#[tokio::test]
async fn a_busy_instance_refuses_status_requests() {
    let env = Env::new();
    let inst = env.instance_in(Status::Available).await;
    let busy = env
        .patch(Resource::Instance, &inst, json!({"status": "installing"}))
        .await
        .unwrap();
    let (_, message) = conflict(
        env.patch(Resource::Instance, &busy, json!({"status": "take_down"}))
            .await
            .unwrap_err(),
    );
    assert!(
        message.contains("busy") && message.contains("'installing'"),
        "{message}"
    );
    assert_eq!(env.jobs_of("install_assign").await.len(), 1);
    assert!(env.jobs_of("take_down").await.is_empty());
}

#[tokio::test]
async fn adding_packages_to_an_available_instance_is_refused() {
    let env = Env::new();
    let inst = env.instance_in(Status::Available).await;
    let views = env.create(Resource::Code, module_body("views", "7.x-3.14")).await;
    let patch = json!({"code": {"package": [views.id.to_string()]}});
    let (field, message) = conflict(env.patch(Resource::Instance, &inst, patch).await.unwrap_err());
    assert_eq!(field, "code.package");
    assert!(message.contains("'available'"), "{message}");
    assert!(env.jobs_of("instance_switch_code").await.is_empty());
}

#[tokio::test]
async fn adding_packages_to_an_installed_instance_enqueues_a_switch() {
    let env = Env::new();
    let inst = env.instance_in(Status::Installed).await;
    let views = env.create(Resource::Code, module_body("views", "7.x-3.14")).await;
    let patch = json!({"code": {"package": [views.id.to_string()]}});
    let after = env.patch(Resource::Instance, &inst, patch).await.unwrap();
    assert_eq!(after.body["code"]["package"], json!([views.id.to_string()]));
    assert_eq!(
        after.body["code"]["core"], inst.body["code"]["core"],
        "the rest of code is kept"
    );
    let jobs = env.jobs_of("instance_switch_code").await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].key, Some(format!("instance:{}", inst.id)));
}

#[tokio::test]
async fn a_core_as_package_is_invalid() {
    let env = Env::new();
    let inst = env.instance_in(Status::Installed).await;
    let core = inst.str_field("code.core").unwrap().to_owned();
    let patch = json!({"code": {"package": [core]}});
    let msgs = issues_at(
        env.patch(Resource::Instance, &inst, patch).await.unwrap_err(),
        "code.package.0",
    );
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert!(env.jobs_of("instance_switch_code").await.is_empty());
}

#[tokio::test]
async fn changing_settings_of_an_installed_instance_enqueues_a_settings_rewrite() {
    let env = Env::new();
    let inst = env.instance_in(Status::Installed).await;
    let after = env
        .patch(
            Resource::Instance,
            &inst,
            json!({"settings": {"page_cache_maximum_age": 600}}),
        )
        .await
        .unwrap();
    assert_eq!(after.body["settings"]["page_cache_maximum_age"], 600);
    let jobs = env.jobs_of("instance_write_settings").await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].key, Some(format!("instance:{}", inst.id)));
}

#[tokio::test]
async fn changing_only_tags_enqueues_nothing() {
    let env = Env::new();
    let inst = env.instance_in(Status::Installed).await;
    let before = env.jobs().await.len();
    env.patch(Resource::Instance, &inst, json!({"tag": ["law"]}))
        .await
        .unwrap();
    assert_eq!(env.jobs().await.len(), before);
}

#[tokio::test]
async fn changing_the_sid_is_refused() {
    let env = Env::new();
    let inst = env.instance_in(Status::Installed).await;
    let (field, _) = conflict(
        env.patch(Resource::Instance, &inst, json!({"sid": "p1000000000a"}))
            .await
            .unwrap_err(),
    );
    assert_eq!(field, "sid");
    let same = inst.str_field("sid").unwrap().to_owned();
    env.patch(Resource::Instance, &inst, json!({"sid": same}))
        .await
        .unwrap();
}

#[tokio::test]
async fn deleting_an_instance_enqueues_its_removal_and_deletes_its_routes_in_the_same_batch() {
    let env = Env::new();
    let inst = env.instance_in(Status::Launched).await;
    let active = env
        .create(
            Resource::Route,
            route_body("lab/atlas", &inst.id, "active", false),
        )
        .await;
    let inactive = env
        .create(
            Resource::Route,
            route_body("lab/other", &inst.id, "inactive", false),
        )
        .await;
    let publishes = env.jobs_of("routes_publish").await.len();
    let inst = env.stored(Resource::Instance, &inst.id).await;
    env.delete_forced(Resource::Instance, &inst).await.unwrap();

    let deleted = env.stored(Resource::Instance, &inst.id).await;
    assert!(deleted.deleted);
    for route in [&active, &inactive] {
        let stored = env.stored(Resource::Route, &route.id).await;
        assert!(stored.deleted, "route {} is deleted with its instance", route.id);
        assert_eq!(stored.updated, deleted.updated, "in the same batch");
    }
    let removes = env.jobs_of("instance_remove").await;
    assert_eq!(removes.len(), 1);
    assert_eq!(removes[0].payload["instance"], json!(inst.id.to_string()));
    let backup = removes[0].payload["backup"].as_str().unwrap_or_default();
    assert!(
        Id::is_id(backup),
        "the pre_delete backup's id is chosen at delete: {backup}"
    );
    assert_eq!(removes[0].key, Some(format!("instance:{}", inst.id)));
    assert_eq!(env.jobs_of("routes_publish").await.len(), publishes + 1);
}

#[tokio::test]
async fn deleting_an_instance_without_active_routes_does_not_republish() {
    let env = Env::new();
    let inst = env.instance_in(Status::Available).await;
    env.delete(Resource::Instance, &inst).await.unwrap();
    assert_eq!(env.jobs_of("instance_remove").await.len(), 1);
    assert!(env.jobs_of("routes_publish").await.is_empty());
}

#[tokio::test]
async fn put_on_an_instance_keeps_its_server_fields() {
    let env = Env::new();
    let inst = env.instance_in(Status::Installed).await;
    let id = inst.id.to_string();
    let after = env
        .svc
        .replace(
            Resource::Instance,
            &id,
            Some(&inst.etag),
            &super::alice(),
            json!({"tag": ["law"]}),
        )
        .await
        .unwrap();
    for f in [
        "sid",
        "path",
        "status",
        "dates",
        "statistics",
        "update_group",
        "code",
        "created_by",
    ] {
        assert_eq!(after.body.get(f), inst.body.get(f), "{f}");
    }
    assert_eq!(after.body["tag"], json!(["law"]));
    assert_eq!(after.body["type"], "express", "default re-applied");
    let stored = env.stored(Resource::Instance, &inst.id).await;
    assert_eq!(stored.body.get("db_key"), inst.body.get("db_key"));
    assert!(stored.body.get("db_key").is_some());
}

#[tokio::test]
async fn put_without_routes_cannot_launch_an_instance() {
    let env = Env::new();
    let (inst, route) = installed_with_route(&env).await;
    let patch = json!({"routes": {"primary_route": route.id.to_string()}});
    let inst = env.patch(Resource::Instance, &inst, patch).await.unwrap();
    let id = inst.id.to_string();
    let put = json!({"status": "launching", "tag": ["law"]});
    let e = env
        .svc
        .replace(Resource::Instance, &id, Some(&inst.etag), &super::alice(), put)
        .await
        .unwrap_err();
    let (field, _) = conflict(e);
    assert_eq!(field, "routes.primary_route", "the PUT drops the primary route");
    assert!(env.jobs_of("launch").await.is_empty());
}

#[tokio::test]
async fn put_dropping_the_settings_of_an_installed_instance_rewrites_settings() {
    let env = Env::new();
    let inst = env.instance_in(Status::Installed).await;
    let inst = env
        .patch(
            Resource::Instance,
            &inst,
            json!({"settings": {"page_cache_maximum_age": 600}}),
        )
        .await
        .unwrap();
    assert_eq!(env.jobs_of("instance_write_settings").await.len(), 1);
    let id = inst.id.to_string();
    let after = env
        .svc
        .replace(
            Resource::Instance,
            &id,
            Some(&inst.etag),
            &super::alice(),
            json!({}),
        )
        .await
        .unwrap();
    assert_eq!(after.body.get("settings"), None);
    assert_eq!(env.jobs_of("instance_write_settings").await.len(), 2);
}

#[tokio::test]
async fn switching_the_core_of_an_installed_instance_enqueues_a_switch() {
    let env = Env::new();
    let inst = env.instance_in(Status::Installed).await;
    let newer = env.create(Resource::Code, super::core_body("7.43", true)).await;
    let after = env
        .patch(
            Resource::Instance,
            &inst,
            json!({"code.core": newer.id.to_string()}),
        )
        .await
        .unwrap();
    assert_eq!(after.str_field("code.core"), Some(newer.id.to_string().as_str()));
    assert_eq!(after.body["code"]["profile"], inst.body["code"]["profile"]);
    assert_eq!(env.jobs_of("instance_switch_code").await.len(), 1);
}

#[tokio::test]
async fn changing_the_code_of_a_pending_instance_enqueues_no_switch() {
    let env = Env::new();
    let inst = env.instance_in(Status::Pending).await;
    let newer = env.create(Resource::Code, super::core_body("7.43", false)).await;
    env.patch(
        Resource::Instance,
        &inst,
        json!({"code.core": newer.id.to_string()}),
    )
    .await
    .unwrap();
    assert!(
        env.jobs_of("instance_switch_code").await.is_empty(),
        "the provision uses the record as it is then"
    );
}
