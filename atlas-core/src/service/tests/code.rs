//! Code hooks: one current item per name and type, deploy / redeploy /
//! remove jobs, and the refusals to delete or rename code in use.

use serde_json::json;

use super::{
    alice, code_body, commit_hash, conflict, core_body, invalid, issues_at, module_body, profile_body, Env,
};
use crate::executor::CodeSpec;
use crate::model::{Code, Resource, Status};

#[tokio::test]
async fn creating_a_current_core_uncurrents_the_previous_current_core_in_the_same_batch() {
    let env = Env::new();
    let (old, profile) = env.current_code().await;
    env.advance(60);
    let new = env.create(Resource::Code, core_body("7.43", true)).await;
    let old_now = env.stored(Resource::Code, &old.id).await;
    assert_eq!(old_now.body["meta"]["is_current"], false);
    assert_eq!(old_now.version, 2);
    assert_eq!(old_now.updated, new.created, "written together with the new item");
    assert_eq!(new.body["meta"]["is_current"], true);
    let profile_now = env.stored(Resource::Code, &profile.id).await;
    assert_eq!(profile_now, profile, "another name is left alone");
}

#[tokio::test]
async fn creating_a_non_current_core_leaves_the_current_one_current() {
    let env = Env::new();
    let (core, _) = env.current_code().await;
    env.create(Resource::Code, core_body("7.43", false)).await;
    assert_eq!(env.stored(Resource::Code, &core.id).await, core);
}

#[tokio::test]
async fn bulk_with_two_current_items_of_one_name_is_refused_on_the_later_item() {
    let env = Env::new();
    let (core, _) = env.current_code().await;
    let e = env
        .svc
        .create(
            Resource::Code,
            &alice(),
            json!([core_body("7.43", true), core_body("7.44", true)]),
        )
        .await
        .unwrap_err();
    let inv = invalid(e);
    assert!(inv.bulk);
    assert!(inv.items[0].is_empty());
    assert_eq!(
        inv.items[1].messages_at("meta.is_current"),
        ["value 'drupal, core' is not unique"]
    );
    assert_eq!(env.all(Resource::Code).await.len(), 2, "nothing stored");
    assert_eq!(
        env.stored(Resource::Code, &core.id).await,
        core,
        "the current core is untouched"
    );
}

#[tokio::test]
async fn renaming_a_current_item_onto_a_name_with_a_current_item_uncurrents_that_item() {
    let env = Env::new();
    let (drupal, _) = env.current_code().await;
    let pressflow = env
        .create(Resource::Code, code_body("core", "pressflow", "6.38", true))
        .await;
    let after = env
        .patch(Resource::Code, &pressflow, json!({"meta.name": "drupal"}))
        .await
        .unwrap();
    assert_eq!(after.body["meta"]["is_current"], true);
    assert_eq!(
        env.stored(Resource::Code, &drupal.id).await.body["meta"]["is_current"],
        false
    );
}

#[tokio::test]
async fn creating_code_enqueues_a_deploy_keyed_by_its_name() {
    let env = Env::new();
    let core = env.create(Resource::Code, core_body("7.42", true)).await;
    let jobs = env.jobs().await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].kind, "code_deploy");
    assert_eq!(jobs[0].payload, json!({"code": core.id.to_string()}));
    assert_eq!(jobs[0].key.as_deref(), Some("code:drupal"));
    assert_eq!(jobs[0].run_at, core.created);
}

#[tokio::test]
async fn patching_the_commit_hash_enqueues_a_redeploy_with_the_previous_spec() {
    let env = Env::new();
    let core = env.create(Resource::Code, core_body("7.42", true)).await;
    let before = Code::from_doc(&core).unwrap();
    let new_hash = super::commit_hash();
    let after = env
        .patch(Resource::Code, &core, json!({"commit_hash": new_hash}))
        .await
        .unwrap();
    assert_eq!(after.body["commit_hash"], new_hash.as_str());
    let jobs = env.jobs_of("code_update").await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].key.as_deref(), Some("code:drupal"));
    assert_eq!(jobs[0].payload["code"], core.id.to_string());
    let previous: CodeSpec = serde_json::from_value(jobs[0].payload["previous"].clone()).unwrap();
    assert_eq!(previous.commit_hash, before.commit_hash);
    assert_eq!(
        (previous.name.as_str(), previous.version.as_str()),
        ("drupal", "7.42")
    );
    assert!(previous.is_current);
}

#[tokio::test]
async fn patching_only_the_label_enqueues_no_redeploy() {
    let env = Env::new();
    let core = env.create(Resource::Code, core_body("7.42", true)).await;
    env.patch(Resource::Code, &core, json!({"meta.label": "Drupal 7"}))
        .await
        .unwrap();
    assert!(env.jobs_of("code_update").await.is_empty());
}

#[tokio::test]
async fn patching_an_item_current_uncurrents_the_other_current_item() {
    let env = Env::new();
    let old = env.create(Resource::Code, core_body("7.42", true)).await;
    let new = env.create(Resource::Code, core_body("7.43", false)).await;
    let after = env
        .patch(Resource::Code, &new, json!({"meta.is_current": true}))
        .await
        .unwrap();
    assert_eq!(after.body["meta"]["is_current"], true);
    assert_eq!(
        env.stored(Resource::Code, &old.id).await.body["meta"]["is_current"],
        false
    );
    let jobs = env.jobs_of("code_update").await;
    assert_eq!(
        jobs.len(),
        1,
        "the new current item is redeployed to move the -current link"
    );
    assert_eq!(jobs[0].payload["code"], new.id.to_string());
}

#[tokio::test]
async fn deleting_code_used_by_an_instance_is_refused_naming_the_sid() {
    let env = Env::new();
    let (core, profile) = env.current_code().await;
    let inst = env.instance().await;
    let sid = inst.str_field("sid").unwrap();
    for code in [&core, &profile] {
        let e = env.delete(Resource::Code, code).await.unwrap_err();
        let (_, message) = conflict(e);
        assert!(message.contains(sid), "{message}");
        assert!(!env.stored(Resource::Code, &code.id).await.deleted);
    }
    assert!(env.jobs_of("code_remove").await.is_empty());
}

#[tokio::test]
async fn deleting_a_package_an_installed_instance_uses_is_refused() {
    let env = Env::new();
    let inst = env.instance_in(Status::Installed).await;
    let views = env.create(Resource::Code, module_body("views", "7.x-3.14")).await;
    let patch = json!({"code": {"package": [views.id.to_string()]}});
    env.patch(Resource::Instance, &inst, patch).await.unwrap();
    let (_, message) = conflict(env.delete(Resource::Code, &views).await.unwrap_err());
    assert!(message.contains(inst.str_field("sid").unwrap()), "{message}");
}

#[tokio::test]
async fn deleting_code_another_item_depends_on_is_refused_naming_it() {
    let env = Env::new();
    let ctools = env.create(Resource::Code, module_body("ctools", "7.x-1.9")).await;
    let mut views = module_body("views", "7.x-3.14");
    views["meta"]["dependency"] = json!([ctools.id.to_string()]);
    env.create(Resource::Code, views).await;
    let (_, message) = conflict(env.delete(Resource::Code, &ctools).await.unwrap_err());
    assert!(message.contains("views"), "{message}");
    assert!(!env.stored(Resource::Code, &ctools.id).await.deleted);
}

#[tokio::test]
async fn deleting_unused_code_enqueues_its_removal_with_the_spec() {
    let env = Env::new();
    let views = env.create(Resource::Code, module_body("views", "7.x-3.14")).await;
    env.delete(Resource::Code, &views).await.unwrap();
    assert!(env.stored(Resource::Code, &views.id).await.deleted);
    let jobs = env.jobs_of("code_remove").await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].key.as_deref(), Some("code:views"));
    let spec: CodeSpec = serde_json::from_value(jobs[0].payload["code"].clone()).unwrap();
    let code = Code::from_doc(&views).unwrap();
    assert_eq!(spec.id, views.id);
    assert_eq!((spec.name.as_str(), spec.version.as_str()), ("views", "7.x-3.14"));
    assert_eq!(spec.commit_hash, code.commit_hash);
    assert_eq!(spec.git_url, code.git_url);
}

#[tokio::test]
async fn code_used_only_by_a_deleted_instance_may_be_deleted() {
    let env = Env::new();
    let (_, profile) = env.current_code().await;
    let inst = env.instance().await;
    env.delete(Resource::Instance, &inst).await.unwrap();
    env.create(Resource::Code, profile_body("2.2.6", true)).await;
    let profile = env.stored(Resource::Code, &profile.id).await;
    env.delete(Resource::Code, &profile).await.unwrap();
    assert_eq!(env.jobs_of("code_remove").await.len(), 1);
}

#[tokio::test]
async fn renaming_an_item_in_use_is_refused() {
    let env = Env::new();
    let (core, _) = env.current_code().await;
    let inst = env.instance().await;
    let e = env
        .patch(Resource::Code, &core, json!({"meta.version": "7.99"}))
        .await
        .unwrap_err();
    let (field, message) = conflict(e);
    assert_eq!(field, "meta");
    assert!(message.contains(inst.str_field("sid").unwrap()), "{message}");
    assert_eq!(env.stored(Resource::Code, &core.id).await, core);
}

#[tokio::test]
async fn renaming_an_unused_item_redeploys_it_under_the_old_name_key() {
    let env = Env::new();
    let views = env.create(Resource::Code, module_body("views", "7.x-3.14")).await;
    env.patch(Resource::Code, &views, json!({"meta.name": "views_ui"}))
        .await
        .unwrap();
    let jobs = env.jobs_of("code_update").await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].key.as_deref(), Some("code:views"));
    assert_eq!(jobs[0].payload["previous"]["name"], "views");
}

#[tokio::test]
async fn a_code_item_without_meta_is_refused_once_the_schema_passes() {
    let env = Env::new();
    let e = env
        .create_err(
            Resource::Code,
            json!({"git_url": "https://git.example.edu/d.git", "commit_hash": commit_hash()}),
        )
        .await;
    assert_eq!(issues_at(e, "meta"), ["required field"]);
    assert!(env.all(Resource::Code).await.is_empty());
}
