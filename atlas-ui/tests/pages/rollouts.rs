//! The rollouts page: listing and pausing and resuming one.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::harness::Harness;

#[tokio::test]
async fn a_running_rollout_is_paused_and_resumed_from_the_page() {
    let h = Harness::new().await;
    let (_, from) = h.seed_code().await;
    let (_, to) = h
        .api(
            Method::POST,
            "/code",
            None,
            Some(json!({
                "meta": {"name": "express", "version": "2.0", "code_type": "profile", "is_current": false},
                "git_url": "https://example.invalid/express.git", "commit_hash": "f".repeat(40),
            })),
        )
        .await;
    h.available_instance().await;
    h.available_instance().await;
    let (status, r) = h
        .api(
            Method::POST,
            "/rollout",
            None,
            Some(json!({
                "from": from, "to": to["_id"], "wave_size": 1, "pause_between": 600,
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    let id = r["_id"].as_str().unwrap();
    h.app.drain().await.unwrap();

    let anonymous = h.get("/ui/rollouts", None).await;
    assert!(
        anonymous
            .html
            .contains("express 1.0 (profile) → express 2.0 (profile)"),
        "{}",
        anonymous.html
    );
    assert!(!anonymous.html.contains("/pause"));

    let b = h.sign_in().await;
    let page = h.get("/ui/rollouts", Some(&b)).await;
    assert!(
        page.html.contains(&format!("/ui/rollouts/{id}/pause")),
        "{}",
        page.html
    );
    let res = h.act(&format!("/ui/rollouts/{id}/pause"), &b, &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.html);
    let (_, doc) = h.api(Method::GET, &format!("/rollout/{id}"), None, None).await;
    assert_eq!(doc["state"], "paused");
    assert_eq!(doc["modified_by"], "alice");
    let res = h.act(&format!("/ui/rollouts/{id}/resume"), &b, &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.html);
    let (_, doc) = h.api(Method::GET, &format!("/rollout/{id}"), None, None).await;
    assert_eq!(doc["state"], "running");
}
