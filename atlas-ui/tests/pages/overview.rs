//! The overview's counts equal the API's totals.

use axum::http::Method;
use serde_json::json;

use crate::harness::Harness;

fn cell(html: &str, status: &str) -> u64 {
    let marker = format!("data-status=\"{status}\">");
    let start = html.find(&marker).unwrap() + marker.len();
    let end = html[start..].find('<').unwrap() + start;
    html[start..end].trim().parse().unwrap()
}

#[tokio::test]
async fn the_overview_counts_instances_per_status_as_the_api_totals_them() {
    let h = Harness::new().await;
    h.seed_code().await;
    h.installed_instance().await;
    h.available_instance().await;
    h.available_instance().await;
    let page = h.get("/ui/", None).await;
    for status in ["available", "installed", "launched", "pending"] {
        let (_, api) = h
            .api(
                Method::GET,
                &format!("/instance?where=%7B%22status%22%3A%22{status}%22%7D"),
                None,
                None,
            )
            .await;
        assert_eq!(
            cell(&page.html, status),
            api["_meta"]["total"].as_u64().unwrap(),
            "{status}"
        );
    }
    assert_eq!(cell(&page.html, "available"), 2);
    assert_eq!(cell(&page.html, "installed"), 1);
}

#[tokio::test]
async fn the_queue_and_periodic_tasks_need_signing_in_and_then_show() {
    let h = Harness::new().await;
    let anonymous = h.get("/ui/", None).await;
    assert!(anonymous.html.contains("Sign in to see the job queue"));
    assert!(!anonymous.html.contains("id=\"queue-depth\""));
    let (_, v) = h
        .api(
            Method::POST,
            "/code",
            None,
            Some(json!({
                "meta": {"name": "drupal", "version": "1.0", "code_type": "core", "is_current": true},
                "git_url": "https://example.invalid/drupal.git", "commit_hash": "c".repeat(40),
            })),
        )
        .await;
    assert!(v["_id"].is_string());
    let b = h.sign_in().await;
    let page = h.get("/ui/", Some(&b)).await;
    assert!(
        page.html.contains("<dd id=\"queue-depth\">1</dd>"),
        "{}",
        page.html
    );
    assert!(page.html.contains("Periodic tasks"));
    assert!(page.html.contains("Running work"));
}
