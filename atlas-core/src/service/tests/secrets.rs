//! The instance database password: generated at create, stored sealed,
//! opened only with the service's key, and never returned by any operation.

use serde_json::{json, Value};

use super::{alice, issues_at, route_body, Env};
use crate::model::{Doc, Resource, Status};
use crate::query::FindQuery;
use crate::service::Version;

fn assert_no_db_key(doc: &Doc, what: &str) {
    assert!(doc.body.get("db_key").is_none(), "{what} returned db_key");
    assert!(
        !doc.to_json().to_string().contains("v1:"),
        "{what} returned a sealed value"
    );
}

#[tokio::test]
async fn the_database_password_is_stored_sealed_and_opens_to_32_characters() {
    let env = Env::new();
    env.current_code().await;
    let inst = env.instance().await;
    let stored = env.stored(Resource::Instance, &inst.id).await;
    let sealed = stored.str_field("db_key").expect("db_key is stored");
    assert!(sealed.starts_with("v1:"), "{sealed}");
    let password = env
        .svc
        .secret_key()
        .open(sealed)
        .expect("opens with the service key");
    assert_eq!(password.expose().len(), 32);
    assert!(password.expose().chars().all(|c| c.is_ascii_alphanumeric()));
    assert!(!sealed.contains(password.expose()));
}

#[tokio::test]
async fn every_instance_gets_its_own_password() {
    let env = Env::new();
    env.current_code().await;
    let a = env.instance().await;
    let b = env.instance().await;
    let open = |d: &Doc| env.svc.secret_key().open(d.str_field("db_key").unwrap()).unwrap();
    let a = env.stored(Resource::Instance, &a.id).await;
    let b = env.stored(Resource::Instance, &b.id).await;
    assert_ne!(open(&a), open(&b));
}

#[tokio::test]
async fn writes_never_return_the_database_password() {
    let env = Env::new();
    env.current_code().await;
    let created = env
        .svc
        .create(Resource::Instance, &alice(), json!([{}, {"status": "pending"}]))
        .await
        .unwrap();
    for d in &created {
        assert_no_db_key(d, "create");
    }
    let inst = env
        .force(Resource::Instance, &created[0].id, json!({"status": "installed"}))
        .await;
    let patched = env
        .patch(Resource::Instance, &inst, json!({"tag": ["law"]}))
        .await
        .unwrap();
    assert_no_db_key(&patched, "update");
    let id = inst.id.to_string();
    let put = env
        .svc
        .replace(Resource::Instance, &id, Some(&patched.etag), &alice(), json!({}))
        .await
        .unwrap();
    assert_no_db_key(&put, "replace");
    assert!(
        env.stored(Resource::Instance, &inst.id)
            .await
            .str_field("db_key")
            .is_some(),
        "kept in the store"
    );
}

#[tokio::test]
async fn reads_never_return_the_database_password() {
    let env = Env::new();
    env.current_code().await;
    let inst = env.instance().await;
    env.patch(
        Resource::Instance,
        &env.stored(Resource::Instance, &inst.id).await,
        json!({"tag": ["law"]}),
    )
    .await
    .unwrap();
    let id = inst.id.to_string();
    assert_no_db_key(&env.svc.get(Resource::Instance, &id).await.unwrap(), "get by id");
    let sid = inst.str_field("sid").unwrap();
    assert_no_db_key(&env.svc.get(Resource::Instance, sid).await.unwrap(), "get by sid");
    let page = env
        .svc
        .find(Resource::Instance, &FindQuery::default())
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_no_db_key(&page.items[0], "find");
    let versions = env
        .svc
        .versions(Resource::Instance, &id, Version::All)
        .await
        .unwrap();
    assert_eq!(versions.len(), 2);
    for v in &versions {
        assert_no_db_key(v, "versions");
    }
    let one = env
        .svc
        .versions(Resource::Instance, &id, Version::Number(1))
        .await
        .unwrap();
    assert_no_db_key(&one[0], "version 1");
}

#[tokio::test]
async fn embedded_instances_never_hold_the_database_password() {
    let env = Env::new();
    let inst = env.instance_in(Status::Launched).await;
    let route = env
        .create(
            Resource::Route,
            route_body("lab/atlas", &inst.id, "active", false),
        )
        .await;
    let mut json = route.to_json();
    env.svc
        .embed(Resource::Route, &mut json, &["instance_id".to_owned()])
        .await
        .unwrap();
    let embedded = &json["instance_id"];
    assert_eq!(embedded["_id"], inst.id.to_string());
    assert_eq!(embedded["sid"], inst.body["sid"]);
    assert_eq!(embedded.get("db_key"), None);

    let site = env
        .create(
            Resource::Site,
            json!({"instance": [inst.id.to_string()], "site_type": "express"}),
        )
        .await;
    let mut json = site.to_json();
    env.svc
        .embed(Resource::Site, &mut json, &["instance".to_owned()])
        .await
        .unwrap();
    let Value::Array(items) = &json["instance"] else {
        panic!("instance list: {json}")
    };
    assert_eq!(items[0]["_id"], inst.id.to_string());
    assert_eq!(items[0].get("db_key"), None);
}

#[tokio::test]
async fn clients_cannot_set_the_database_password() {
    let env = Env::new();
    env.current_code().await;
    let e = env
        .create_err(Resource::Instance, json!({"db_key": "hunter2"}))
        .await;
    assert_eq!(issues_at(e, "db_key"), ["field is read-only"]);
    let inst = env.instance().await;
    let inst = env.stored(Resource::Instance, &inst.id).await;
    let e = env
        .patch(Resource::Instance, &inst, json!({"db_key": "hunter2"}))
        .await
        .unwrap_err();
    assert_eq!(issues_at(e, "db_key"), ["field is read-only"]);
    let id = inst.id.to_string();
    let e = env
        .svc
        .replace(
            Resource::Instance,
            &id,
            Some(&inst.etag),
            &alice(),
            json!({"db_key": "x"}),
        )
        .await;
    assert_eq!(issues_at(e.unwrap_err(), "db_key"), ["field is read-only"]);
    assert_eq!(env.stored(Resource::Instance, &inst.id).await, inst);
}
