//! Sign-ins through the real HTTP router against the test directory
//! (search-then-bind, disabled accounts filtered out, members of the group
//! by `memberOf`).

use atlas_ldap::testing::{ALICE_PASSWORD, BOB_PASSWORD, CAROL_PASSWORD, TWIN_PASSWORD};
use atlas_observe::testing::Exposition;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{binds, setup};

#[tokio::test]
async fn a_member_with_the_right_password_writes_and_is_recorded_by_the_directory_uid() {
    let Some((_slapd, server, metrics)) = setup(|_| {}).await else {
        return;
    };
    let created = server
        .write_expecting("Alice", ALICE_PASSWORD, 1, StatusCode::CREATED)
        .await;
    let id = created["_id"].as_str().unwrap();
    let doc: Value = server
        .client
        .get(server.url(&format!("/code/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["created_by"], "alice", "{doc}");
    let res = server
        .client
        .patch(server.url(&format!("/code/{id}")))
        .basic_auth("alice", Some(ALICE_PASSWORD))
        .header("If-Match", doc["_etag"].as_str().unwrap())
        .json(&json!({"meta": {"is_current": false}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let doc: Value = server
        .client
        .get(server.url(&format!("/code/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["modified_by"], "alice", "{doc}");
    assert_eq!(binds(&metrics, "accepted"), 2.0);
}

#[tokio::test]
async fn a_wrong_password_is_401() {
    let Some((_slapd, server, metrics)) = setup(|_| {}).await else {
        return;
    };
    server
        .write_expecting("alice", "wonderland!", 1, StatusCode::UNAUTHORIZED)
        .await;
    assert_eq!(binds(&metrics, "rejected"), 1.0);
}

#[tokio::test]
async fn an_unknown_user_is_401() {
    let Some((_slapd, server, _)) = setup(|_| {}).await else {
        return;
    };
    server
        .write_expecting("mallory", ALICE_PASSWORD, 1, StatusCode::UNAUTHORIZED)
        .await;
}

#[tokio::test]
async fn a_user_outside_the_required_group_is_401_though_the_directory_accepts_the_password() {
    let Some((_slapd, server, _)) = setup(|_| {}).await else {
        return;
    };
    server
        .write_expecting("bob", BOB_PASSWORD, 1, StatusCode::UNAUTHORIZED)
        .await;
}

#[tokio::test]
async fn a_disabled_account_is_401_though_its_password_is_right() {
    let Some((_slapd, server, _)) = setup(|_| {}).await else {
        return;
    };
    server
        .write_expecting("carol", CAROL_PASSWORD, 1, StatusCode::UNAUTHORIZED)
        .await;
}

#[tokio::test]
async fn a_filter_injection_in_the_name_is_401() {
    let Some((_slapd, server, _)) = setup(|_| {}).await else {
        return;
    };
    for name in ["*)(uid=*", "*", "alice)(|(uid=*", "*)(uid=alice"] {
        for password in [ALICE_PASSWORD, "x"] {
            server
                .write_expecting(name, password, 1, StatusCode::UNAUTHORIZED)
                .await;
        }
    }
}

#[tokio::test]
async fn an_empty_password_is_401_without_asking_the_directory() {
    let Some((_slapd, server, metrics)) = setup(|_| {}).await else {
        return;
    };
    server
        .write_expecting("alice", "", 1, StatusCode::UNAUTHORIZED)
        .await;
    for outcome in ["accepted", "rejected", "unavailable"] {
        assert_eq!(binds(&metrics, outcome), 0.0, "{outcome}");
    }
}

#[tokio::test]
async fn a_name_two_entries_share_is_401() {
    let Some((_slapd, server, _)) = setup(|_| {}).await else {
        return;
    };
    server
        .write_expecting("twin", TWIN_PASSWORD, 1, StatusCode::UNAUTHORIZED)
        .await;
}

#[tokio::test]
async fn a_remembered_sign_in_does_not_bind_again() {
    let Some((_slapd, server, metrics)) = setup(|_| {}).await else {
        return;
    };
    server
        .write_expecting("alice", ALICE_PASSWORD, 1, StatusCode::CREATED)
        .await;
    server
        .write_expecting("alice", ALICE_PASSWORD, 2, StatusCode::CREATED)
        .await;
    server
        .write_expecting("alice", ALICE_PASSWORD, 3, StatusCode::CREATED)
        .await;
    assert_eq!(binds(&metrics, "accepted"), 1.0);
}

#[tokio::test]
async fn a_directory_that_is_down_gets_503_naming_it_and_locks_nobody_out() {
    let Some((mut slapd, server, metrics)) = setup(|_| {}).await else {
        return;
    };
    let url = slapd.url();
    slapd.stop();
    // More attempts than the failed-login limit (10): none is counted.
    for _ in 0..12 {
        let res = server.write("alice", ALICE_PASSWORD, 1).await;
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(res.headers()["retry-after"], "30");
        let body: Value = res.json().await.unwrap();
        let message = body["_error"]["message"].as_str().unwrap();
        assert!(
            message.contains(&url) && message.contains("retry later"),
            "{message}"
        );
    }
    let exp = Exposition::parse(&metrics.encode());
    assert_eq!(
        exp.value("atlas_ldap_up", &[("directory", url.as_str())]),
        Some(0.0)
    );
    assert_eq!(binds(&metrics, "unavailable"), 12.0);
    slapd.restart();
    server
        .write_expecting("alice", ALICE_PASSWORD, 1, StatusCode::CREATED)
        .await;
    let exp = Exposition::parse(&metrics.encode());
    assert_eq!(
        exp.value("atlas_ldap_up", &[("directory", url.as_str())]),
        Some(1.0)
    );
}
