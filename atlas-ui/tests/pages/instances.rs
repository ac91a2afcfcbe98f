//! The instance list (filters, search by sid and route source) and the
//! instance page (record, routes, code, operation log, take down).

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::harness::Harness;

#[tokio::test]
async fn the_list_filters_by_status_and_finds_instances_by_sid_or_route_source() {
    let h = Harness::new().await;
    h.seed_code().await;
    let installed = h.installed_instance().await;
    let available = h.available_instance().await;
    let (sid_i, sid_a) = (
        installed["sid"].as_str().unwrap(),
        available["sid"].as_str().unwrap(),
    );

    let all = h.get("/ui/instances", None).await;
    assert!(
        all.html.contains(sid_i) && all.html.contains(sid_a),
        "{}",
        all.html
    );
    let only = h.get("/ui/instances?status=installed", None).await;
    assert!(
        only.html.contains(sid_i) && !only.html.contains(sid_a),
        "{}",
        only.html
    );
    let by_sid = h.get(&format!("/ui/instances?q={}", &sid_a[..8]), None).await;
    assert!(by_sid.html.contains(sid_a));

    let (status, route) = h
        .api(
            Method::POST,
            "/route",
            None,
            Some(json!({
                "route_type": "poolb-express", "source": "lab/atlas",
                "instance_id": available["_id"], "route_status": "inactive",
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{route}");
    let by_route = h.get("/ui/instances?q=lab%2Fat", None).await;
    assert!(
        by_route.html.contains(sid_a) && !by_route.html.contains(sid_i),
        "{}",
        by_route.html
    );
    let none = h.get("/ui/instances?q=nothing.here", None).await;
    assert!(none.html.contains("No instance matches."));
}

#[tokio::test]
async fn the_instance_page_shows_the_record_routes_code_and_hides_the_log_from_visitors() {
    let h = Harness::new().await;
    let (core, _) = h.seed_code().await;
    let doc = h.installed_instance().await;
    let sid = doc["sid"].as_str().unwrap();
    let page = h.get(&format!("/ui/instances/{sid}"), None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page
        .html
        .contains("<strong id=\"instance-status\">installed</strong>"));
    assert!(page.html.contains(doc["path"].as_str().unwrap()));
    assert!(page.html.contains(&"a".repeat(40)), "the core's commit");
    assert!(page.html.contains("express"), "the profile");
    assert!(page.html.contains("Sign in to see the operation log"));
    assert!(!page.html.contains("id=\"action-take_down\""));
    assert!(!core.is_empty());
    let missing = h.get("/ui/instances/p1nosuchsite", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn taking_an_instance_down_changes_its_status_and_operation_log_as_the_user() {
    let h = Harness::new().await;
    h.seed_code().await;
    let doc = h.installed_instance().await;
    let sid = doc["sid"].as_str().unwrap();
    let b = h.sign_in().await;
    let before = h.get(&format!("/ui/instances/{sid}"), Some(&b)).await;
    assert!(before.html.contains("id=\"action-take_down\""), "{}", before.html);
    assert!(!before.html.contains("instance_take_down"));

    let res = h.act(&format!("/ui/instances/{sid}/take_down"), &b, &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.html);
    assert_eq!(res.location(), format!("/ui/instances/{sid}"));
    h.settle().await;

    let after = h.get(&format!("/ui/instances/{sid}"), Some(&b)).await;
    assert!(
        after
            .html
            .contains("<strong id=\"instance-status\">down</strong>"),
        "{}",
        after.html
    );
    assert!(after.html.contains("id=\"action-restore\""));
    let record = h.record(doc["_id"].as_str().unwrap()).await;
    assert_eq!(record["modified_by"], "alice");
    let (_, jobs) = h
        .api(Method::GET, &format!("/instance/{sid}/jobs"), None, None)
        .await;
    let newest = &jobs["_items"][0];
    assert!(
        after.html.contains(newest["kind"].as_str().unwrap()),
        "{}",
        after.html
    );
    assert!(after.html.contains(newest["created"].as_str().unwrap()));
}

#[tokio::test]
async fn a_refused_transition_shows_the_apis_message() {
    let h = Harness::new().await;
    h.seed_code().await;
    let doc = h.installed_instance().await;
    let sid = doc["sid"].as_str().unwrap();
    let b = h.sign_in().await;
    let res = h.act(&format!("/ui/instances/{sid}/restore"), &b, &[]).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.html);
    assert!(res.html.contains("installed"), "{}", res.html);
}

#[tokio::test]
async fn a_complete_backup_is_restored_from_the_instance_page() {
    let h = Harness::new().await;
    h.seed_code().await;
    let doc = h.installed_instance().await;
    let (sid, id) = (doc["sid"].as_str().unwrap(), doc["_id"].as_str().unwrap());
    let (status, backup) = h
        .api(Method::POST, "/backup", None, Some(json!({"instance": id})))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{backup}");
    h.settle().await;
    let backup_id = backup["_id"].as_str().unwrap();
    let b = h.sign_in().await;
    let page = h.get(&format!("/ui/instances/{sid}"), Some(&b)).await;
    assert!(
        page.html.contains(&format!("id=\"restore-backup-{backup_id}\"")),
        "{}",
        page.html
    );

    let res = h.act(&format!("/ui/backups/{backup_id}/restore"), &b, &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.html);
    assert_eq!(res.location(), format!("/ui/instances/{sid}"));
    let (_, jobs) = h
        .api(Method::GET, &format!("/instance/{sid}/jobs"), None, None)
        .await;
    assert_eq!(jobs["_items"][0]["kind"], "backup_restore", "{jobs}");
}
