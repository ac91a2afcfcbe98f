//! Behaviour shared by every resource: create (single and bulk), etags,
//! PATCH merge and PUT replace, soft delete, versions, lookups, find,
//! embedding, store-backed validation, and the HTTP status of each error.

use serde_json::json;

use super::{
    alice, assert_not_found, code_body, commit_hash, core_body, invalid, issues_at, module_body, t0, Env,
};
use crate::error::StoreError;
use crate::model::{Etag, Id, Resource, Timestamp};
use crate::query::{parse_where, FindQuery};
use crate::service::{Actor, ServiceError, Version};

#[tokio::test]
async fn create_returns_the_stored_record_stamped_with_the_acting_user() {
    let env = Env::new();
    let doc = env.create(Resource::Code, core_body("7.42", true)).await;
    assert_eq!(doc.body["created_by"], "alice");
    assert_eq!(doc.body["meta"]["name"], "drupal");
    assert_eq!(doc.version, 1);
    assert_eq!((doc.created, doc.updated), (t0(), t0()));
    assert!(!doc.deleted);
    assert_eq!(env.stored(Resource::Code, &doc.id).await, doc);
}

#[tokio::test]
async fn bulk_create_stores_every_item_with_its_jobs() {
    let env = Env::new();
    let docs = env
        .svc
        .create(
            Resource::Code,
            &alice(),
            json!([module_body("views", "7.x-3.14"), module_body("ctools", "7.x-1.9")]),
        )
        .await
        .unwrap();
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0].body["meta"]["name"], "views");
    assert_eq!(docs[1].body["meta"]["name"], "ctools");
    assert_eq!(env.all(Resource::Code).await.len(), 2);
    assert_eq!(env.jobs_of("code_deploy").await.len(), 2);
}

#[tokio::test]
async fn bulk_create_with_one_invalid_item_stores_nothing_and_reports_issues_per_item() {
    let env = Env::new();
    let mut bad = module_body("views", "7.x-3.14");
    bad["meta"]["name"] = json!("ab");
    let e = env
        .svc
        .create(
            Resource::Code,
            &alice(),
            json!([module_body("ctools", "7.x-1.9"), bad]),
        )
        .await
        .unwrap_err();
    let inv = invalid(e);
    assert!(inv.bulk);
    assert_eq!(inv.items.len(), 2);
    assert!(inv.items[0].is_empty());
    assert_eq!(inv.items[1].messages_at("meta.name"), ["min length is 3"]);
    assert!(env.all(Resource::Code).await.is_empty());
    assert!(env.jobs().await.is_empty());
}

#[tokio::test]
async fn bulk_items_clashing_with_each_other_are_reported_on_the_later_item() {
    let env = Env::new();
    let hash = commit_hash();
    let mut a = module_body("views", "7.x-3.14");
    let mut b = module_body("ctools", "7.x-1.9");
    a["commit_hash"] = json!(hash);
    b["commit_hash"] = json!(hash);
    let inv = invalid(
        env.svc
            .create(Resource::Code, &alice(), json!([a, b]))
            .await
            .unwrap_err(),
    );
    assert!(inv.bulk);
    assert!(inv.items[0].is_empty());
    assert_eq!(
        inv.items[1].messages_at("commit_hash"),
        [format!("value '{hash}' is not unique")]
    );
    assert!(env.all(Resource::Code).await.is_empty());
    assert!(env.jobs().await.is_empty());
}

#[tokio::test]
async fn empty_bulk_insert_is_a_bad_request() {
    let env = Env::new();
    let e = env
        .svc
        .create(Resource::Code, &alice(), json!([]))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ServiceError::BadRequest(m) if m == "Empty bulk insert"),
        "{e:?}"
    );
}

#[tokio::test]
async fn a_body_that_is_not_an_object_is_a_bad_request() {
    let env = Env::new();
    let e = env
        .svc
        .create(Resource::Code, &alice(), json!("drupal"))
        .await
        .unwrap_err();
    assert!(matches!(e, ServiceError::BadRequest(_)), "{e:?}");
}

#[tokio::test]
async fn update_without_an_etag_is_precondition_required() {
    let env = Env::new();
    let doc = env.create(Resource::Code, core_body("7.42", false)).await;
    let e = env
        .svc
        .update(
            Resource::Code,
            &doc.id.to_string(),
            None,
            &alice(),
            json!({"meta.label": "Drupal"}),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, ServiceError::PreconditionRequired), "{e:?}");
    for e in [
        env.svc
            .replace(
                Resource::Code,
                &doc.id.to_string(),
                None,
                &alice(),
                core_body("7.42", false),
            )
            .await,
        env.svc
            .delete(Resource::Code, &doc.id.to_string(), None, &alice())
            .await
            .map(|_| doc.clone()),
    ] {
        assert!(matches!(e, Err(ServiceError::PreconditionRequired)), "{e:?}");
    }
    assert_eq!(env.stored(Resource::Code, &doc.id).await, doc);
}

#[tokio::test]
async fn update_with_a_stale_etag_is_precondition_failed() {
    let env = Env::new();
    let doc = env.create(Resource::Code, core_body("7.42", false)).await;
    let v2 = env
        .patch(Resource::Code, &doc, json!({"meta.label": "Drupal"}))
        .await
        .unwrap();
    let e = env
        .patch(Resource::Code, &doc, json!({"meta.label": "Drupal 7"}))
        .await
        .unwrap_err();
    assert!(matches!(e, ServiceError::PreconditionFailed), "{e:?}");
    let bogus = Etag::from_client("\"0000000000000000000000000000000000000000\"");
    let e = env
        .svc
        .delete(Resource::Code, &doc.id.to_string(), Some(&bogus), &alice())
        .await
        .unwrap_err();
    assert!(matches!(e, ServiceError::PreconditionFailed), "{e:?}");
    assert_eq!(env.stored(Resource::Code, &doc.id).await, v2);
}

#[tokio::test]
async fn concurrent_updates_with_the_same_etag_let_exactly_one_through() {
    let env = Env::new();
    let doc = env.create(Resource::Code, core_body("7.42", false)).await;
    let id = doc.id.to_string();
    let (alice, bob) = (alice(), Actor("bob".into()));
    let (a, b) = tokio::join!(
        env.svc.update(
            Resource::Code,
            &id,
            Some(&doc.etag),
            &alice,
            json!({"meta.label": "A"})
        ),
        env.svc.update(
            Resource::Code,
            &id,
            Some(&doc.etag),
            &bob,
            json!({"meta.label": "B"})
        ),
    );
    let (won, lost) = match (a, b) {
        (Ok(w), Err(l)) | (Err(l), Ok(w)) => (w, l),
        other => panic!("exactly one update must win: {other:?}"),
    };
    assert!(matches!(lost, ServiceError::PreconditionFailed), "{lost:?}");
    let stored = env.stored(Resource::Code, &doc.id).await;
    assert_eq!(stored.version, 2);
    assert_eq!(stored, won);
}

#[tokio::test]
async fn patch_with_a_dotted_key_merges_into_the_subdocument() {
    let env = Env::new();
    let doc = env.create(Resource::Code, core_body("7.42", true)).await;
    env.advance(60);
    let after = env
        .patch(Resource::Code, &doc, json!({"meta.is_current": false}))
        .await
        .unwrap();
    assert_eq!(
        after.body["meta"],
        json!({"name": "drupal", "version": "7.42", "code_type": "core", "is_current": false})
    );
    assert_eq!(after.body["git_url"], doc.body["git_url"]);
    assert_eq!(after.body["created_by"], "alice");
    assert_eq!(after.body["modified_by"], "alice");
    assert_eq!(after.version, 2);
    assert_eq!(after.created, t0());
    assert_eq!(after.updated, env.svc.clock().now());
    assert_ne!(after.etag, doc.etag);
}

#[tokio::test]
async fn patch_with_an_invalid_value_changes_nothing() {
    let env = Env::new();
    let doc = env.create(Resource::Code, core_body("7.42", false)).await;
    let e = env
        .patch(
            Resource::Code,
            &doc,
            json!({"meta.code_type": "plugin", "nope": 1}),
        )
        .await
        .unwrap_err();
    let inv = invalid(e);
    assert!(!inv.bulk);
    let issues = inv.first().unwrap();
    assert_eq!(issues.messages_at("meta.code_type"), ["unallowed value plugin"]);
    assert_eq!(issues.messages_at("nope"), ["unknown field"]);
    assert_eq!(env.stored(Resource::Code, &doc.id).await, doc);
}

#[tokio::test]
async fn put_replaces_the_body_dropping_unsent_fields_and_reapplying_defaults() {
    let env = Env::new();
    let mut body = core_body("7.42", true);
    body["meta"]["label"] = json!("Drupal 7");
    body["meta"]["tag"] = json!(["seed"]);
    let doc = env.create(Resource::Code, body.clone()).await;
    env.advance(60);
    let bob = Actor("bob".into());
    let put = json!({
        "git_url": body["git_url"],
        "commit_hash": body["commit_hash"],
        "meta": {"name": "drupal", "version": "7.42", "code_type": "core"},
    });
    let after = env
        .svc
        .replace(Resource::Code, &doc.id.to_string(), Some(&doc.etag), &bob, put)
        .await
        .unwrap();
    assert_eq!(
        after.body["meta"],
        json!({"name": "drupal", "version": "7.42", "code_type": "core", "is_current": false}),
        "label and tag dropped, is_current defaulted"
    );
    assert_eq!(after.body["created_by"], "alice");
    assert_eq!(after.body["modified_by"], "bob");
    assert_eq!(after.created, t0());
    assert_eq!(after.updated, env.svc.clock().now());
    assert_eq!(after.version, 2);
    assert_eq!(env.stored(Resource::Code, &doc.id).await, after);
}

#[tokio::test]
async fn put_may_not_change_the_id() {
    let env = Env::new();
    let doc = env.create(Resource::Code, core_body("7.42", false)).await;
    let mut body = core_body("7.42", false);
    body["_id"] = json!(Id::generate(t0()).to_string());
    let e = env
        .svc
        .replace(
            Resource::Code,
            &doc.id.to_string(),
            Some(&doc.etag),
            &alice(),
            body,
        )
        .await;
    assert!(!issues_at(e.unwrap_err(), "_id").is_empty());
}

#[tokio::test]
async fn deleted_record_is_not_found_by_get() {
    let env = Env::new();
    let doc = env.create(Resource::Code, module_body("views", "7.x-3.14")).await;
    env.delete(Resource::Code, &doc).await.unwrap();
    assert_not_found(
        env.svc
            .get(Resource::Code, &doc.id.to_string())
            .await
            .unwrap_err(),
    );
    let stored = env.stored(Resource::Code, &doc.id).await;
    assert!(stored.deleted);
    assert_eq!(stored.version, 2);
}

#[tokio::test]
async fn writes_to_a_deleted_record_are_not_found() {
    let env = Env::new();
    let doc = env.create(Resource::Code, module_body("views", "7.x-3.14")).await;
    env.delete(Resource::Code, &doc).await.unwrap();
    let deleted = env.stored(Resource::Code, &doc.id).await;
    let id = doc.id.to_string();
    let etag = Some(&deleted.etag);
    let patch = env
        .svc
        .update(Resource::Code, &id, etag, &alice(), json!({"meta.label": "x"}))
        .await;
    assert_not_found(patch.unwrap_err());
    let put = env
        .svc
        .replace(
            Resource::Code,
            &id,
            etag,
            &alice(),
            module_body("views", "7.x-3.14"),
        )
        .await;
    assert_not_found(put.unwrap_err());
    assert_not_found(
        env.svc
            .delete(Resource::Code, &id, etag, &alice())
            .await
            .unwrap_err(),
    );
    assert_eq!(
        env.stored(Resource::Code, &doc.id).await,
        deleted,
        "no write landed"
    );
}

#[tokio::test]
async fn versions_lists_every_version_reads_one_and_refuses_unknown_ones() {
    let env = Env::new();
    let v1 = env.create(Resource::Code, core_body("7.42", false)).await;
    let v2 = env
        .patch(Resource::Code, &v1, json!({"meta.label": "Drupal"}))
        .await
        .unwrap();
    let v3 = env
        .patch(Resource::Code, &v2, json!({"meta.label": "Drupal 7"}))
        .await
        .unwrap();
    let id = v1.id.to_string();
    let all = env.svc.versions(Resource::Code, &id, Version::All).await.unwrap();
    assert_eq!(all, [v1, v2.clone(), v3]);
    let second = env
        .svc
        .versions(Resource::Code, &id, Version::Number(2))
        .await
        .unwrap();
    assert_eq!(second, [v2]);
    assert_not_found(
        env.svc
            .versions(Resource::Code, &id, Version::Number(9))
            .await
            .unwrap_err(),
    );
    let unknown = Id::generate(t0()).to_string();
    assert_not_found(
        env.svc
            .versions(Resource::Code, &unknown, Version::All)
            .await
            .unwrap_err(),
    );
}

#[tokio::test]
async fn unknown_and_malformed_ids_are_not_found() {
    let env = Env::new();
    let doc = env.create(Resource::Code, core_body("7.42", false)).await;
    let unknown = Id::generate(t0()).to_string();
    let upper = doc.id.to_string().to_uppercase();
    for id in [unknown.as_str(), "nope", upper.as_str(), ""] {
        assert_not_found(env.svc.get(Resource::Code, id).await.unwrap_err());
        assert_not_found(env.svc.get(Resource::Instance, id).await.unwrap_err());
        let e = env
            .svc
            .update(Resource::Code, id, Some(&doc.etag), &alice(), json!({}))
            .await;
        assert_not_found(e.unwrap_err());
        assert_not_found(
            env.svc
                .delete(Resource::Code, id, Some(&doc.etag), &alice())
                .await
                .unwrap_err(),
        );
    }
}

#[tokio::test]
async fn an_instance_is_found_by_its_sid_too() {
    let env = Env::new();
    env.current_code().await;
    let inst = env.instance().await;
    let sid = inst.str_field("sid").unwrap().to_owned();
    assert_eq!(env.svc.get(Resource::Instance, &sid).await.unwrap(), inst);
    assert_eq!(
        env.svc
            .get(Resource::Instance, &inst.id.to_string())
            .await
            .unwrap(),
        inst
    );
    assert_not_found(env.svc.get(Resource::Instance, "p1ffffffffff").await.unwrap_err());
    assert_not_found(env.svc.get(Resource::Code, &sid).await.unwrap_err());
}

#[tokio::test]
async fn get_by_sid_skips_a_deleted_instance_and_finds_the_live_one_sharing_it() {
    let env = Env::new();
    env.current_code().await;
    let old = env
        .create(Resource::Instance, json!({"sid": "p1abcdef0123"}))
        .await;
    env.delete(Resource::Instance, &old).await.unwrap();
    assert_not_found(env.svc.get(Resource::Instance, "p1abcdef0123").await.unwrap_err());
    let new = env
        .create(Resource::Instance, json!({"sid": "p1abcdef0123"}))
        .await;
    assert_eq!(
        env.svc.get(Resource::Instance, "p1abcdef0123").await.unwrap().id,
        new.id
    );
}

#[tokio::test]
async fn find_hides_deleted_records_unless_show_deleted() {
    let env = Env::new();
    let kept = env.create(Resource::Code, module_body("views", "7.x-3.14")).await;
    let gone = env.create(Resource::Code, module_body("ctools", "7.x-1.9")).await;
    env.delete(Resource::Code, &gone).await.unwrap();
    let live = env.svc.find(Resource::Code, &FindQuery::default()).await.unwrap();
    assert_eq!(live.total, 1);
    assert_eq!(live.items[0].id, kept.id);
    let q = FindQuery {
        show_deleted: true,
        ..FindQuery::default()
    };
    let all = env.svc.find(Resource::Code, &q).await.unwrap();
    assert_eq!(all.total, 2);
    assert!(all.items.iter().any(|d| d.id == gone.id && d.deleted));
    let q = FindQuery::all_matching(parse_where(r#"{"_deleted": true}"#).unwrap());
    let deleted = env.svc.find(Resource::Code, &q).await.unwrap();
    assert_eq!(deleted.items.iter().map(|d| d.id).collect::<Vec<_>>(), [gone.id]);
}

#[tokio::test]
async fn embed_replaces_relation_ids_by_the_referenced_records() {
    let env = Env::new();
    let (core, profile) = env.current_code().await;
    let inst = env.instance().await;
    let mut json = inst.to_json();
    let paths: Vec<String> = ["code.core", "code.profile", "sid", "nope.nested"]
        .map(String::from)
        .to_vec();
    env.svc
        .embed(Resource::Instance, &mut json, &paths)
        .await
        .unwrap();
    assert_eq!(json["code"]["core"], core.to_json());
    assert_eq!(json["code"]["profile"], profile.to_json());
    assert_eq!(json["sid"], inst.body["sid"], "not a relation: left alone");

    let ctools = env.create(Resource::Code, module_body("ctools", "7.x-1.9")).await;
    let mut views = module_body("views", "7.x-3.14");
    views["meta"]["dependency"] = json!([ctools.id.to_string()]);
    let views = env.create(Resource::Code, views).await;
    let mut json = views.to_json();
    env.svc
        .embed(Resource::Code, &mut json, &["meta.dependency".to_owned()])
        .await
        .unwrap();
    assert_eq!(json["meta"]["dependency"], json!([ctools.to_json()]));
}

#[tokio::test]
async fn a_duplicate_unique_value_is_an_issue_on_its_field() {
    let env = Env::new();
    let first = env.create(Resource::Code, core_body("7.42", false)).await;
    let hash = first.str_field("commit_hash").unwrap().to_owned();
    let mut again = core_body("7.43", false);
    again["commit_hash"] = json!(hash);
    let e = env.create_err(Resource::Code, again).await;
    let inv = invalid(e);
    assert!(!inv.bulk);
    assert_eq!(inv.items.len(), 1);
    assert_eq!(
        inv.items[0].messages_at("commit_hash"),
        [format!("value '{hash}' is not unique")]
    );
    assert_eq!(env.all(Resource::Code).await.len(), 1);

    let same_meta = core_body("7.42", false);
    let msgs = issues_at(env.create_err(Resource::Code, same_meta).await, "meta");
    assert_eq!(
        msgs,
        ["value 'name: drupal, version: 7.42, code_type: core' is not unique"]
    );
}

#[tokio::test]
async fn a_relation_to_a_missing_record_is_an_issue() {
    let env = Env::new();
    let missing = Id::generate(t0()).to_string();
    let mut views = module_body("views", "7.x-3.14");
    views["meta"]["dependency"] = json!([missing]);
    let msgs = issues_at(env.create_err(Resource::Code, views).await, "meta.dependency.0");
    assert_eq!(
        msgs,
        [format!(
            "value '{missing}' must exist in resource 'code', field '_id'."
        )]
    );
    assert!(env.all(Resource::Code).await.is_empty());
}

#[tokio::test]
async fn a_relation_to_a_deleted_record_is_an_issue() {
    let env = Env::new();
    let ctools = env.create(Resource::Code, module_body("ctools", "7.x-1.9")).await;
    env.delete(Resource::Code, &ctools).await.unwrap();
    let mut views = code_body("module", "views", "7.x-3.14", false);
    views["meta"]["dependency"] = json!([ctools.id.to_string()]);
    let msgs = issues_at(env.create_err(Resource::Code, views).await, "meta.dependency.0");
    assert_eq!(msgs.len(), 1);
    assert!(msgs[0].contains("must exist in resource 'code'"), "{msgs:?}");
}

#[test]
fn store_errors_convert_to_the_service_errors_clients_understand() {
    let id = Id::generate(Timestamp::from_unix(0));
    let e: ServiceError = StoreError::not_found(Resource::Route, &id).into();
    assert!(matches!(&e, ServiceError::NotFound { res: Resource::Route, id: s } if *s == id.to_string()));
    let e: ServiceError = StoreError::PreconditionFailed {
        write: 0,
        res: Resource::Code,
        id,
        expected: "a".into(),
        found: "b".into(),
    }
    .into();
    assert!(matches!(e, ServiceError::PreconditionFailed));
    let e: ServiceError = StoreError::Backend {
        backend: "memory",
        source: "x".into(),
    }
    .into();
    assert!(matches!(e, ServiceError::Store(_)));
}

#[tokio::test]
async fn history_of_a_deleted_record_stays_readable_with_the_delete_as_last_version() {
    let env = Env::new();
    let doc = env.create(Resource::Code, core_body("7.42", false)).await;
    env.delete(Resource::Code, &doc).await.unwrap();
    let id = doc.id.to_string();
    let all = env.svc.versions(Resource::Code, &id, Version::All).await.unwrap();
    assert_eq!(all.len(), 2);
    assert!(!all[0].deleted);
    assert!(all[1].deleted);
    assert_eq!(all[1].version, 2);
    assert_not_found(env.svc.get(Resource::Code, &id).await.unwrap_err());
}
