//! The jobs page: running, queued and dead jobs; retrying a dead one.

use atlas_core::testing::RecordingExecutor;
use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::harness::Harness;

#[tokio::test]
async fn the_jobs_page_needs_signing_in() {
    let h = Harness::new().await;
    let page = h.get("/ui/jobs", None).await;
    assert!(page.html.contains("Sign in to see the job queue"));
}

#[tokio::test]
async fn a_dead_job_is_listed_and_retried_through_the_api() {
    let h = Harness::with(RecordingExecutor::new().fail_from("deploy_code", 1), "").await;
    let (_, code) = h
        .api(
            Method::POST,
            "/code",
            None,
            Some(json!({
                "meta": {"name": "drupal", "version": "1.0", "code_type": "core", "is_current": true},
                "git_url": "https://example.invalid/drupal.git", "commit_hash": "d".repeat(40),
            })),
        )
        .await;
    assert!(code["_id"].is_string());
    h.settle().await;
    let (_, dead) = h
        .api(
            Method::GET,
            "/jobs?where=%7B%22status%22%3A%22dead%22%7D",
            None,
            None,
        )
        .await;
    assert_eq!(dead["_meta"]["total"], 1, "{dead}");
    let id = dead["_items"][0]["_id"].as_str().unwrap().to_owned();

    let b = h.sign_in().await;
    let page = h.get("/ui/jobs", Some(&b)).await;
    assert!(page.html.contains("Dead (1)"), "{}", page.html);
    assert!(page.html.contains(&format!("/ui/jobs/{id}/retry")));
    let overview = h.get("/ui/", Some(&b)).await;
    assert!(
        overview
            .html
            .contains("<dd id=\"failed-24h\"><a href=\"/ui/jobs#dead\">1</a></dd>"),
        "{}",
        overview.html
    );

    let res = h.act(&format!("/ui/jobs/{id}/retry"), &b, &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.html);
    let (_, job) = h.api(Method::GET, &format!("/jobs/{id}"), None, None).await;
    assert_eq!(job["status"], "queued");
    let page = h.get("/ui/jobs", Some(&b)).await;
    assert!(
        page.html.contains("Dead (0)") && page.html.contains("Queued (1)"),
        "{}",
        page.html
    );
}
