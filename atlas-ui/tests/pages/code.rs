//! The code page: items by name, the current one, and their users.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::harness::Harness;

#[tokio::test]
async fn code_items_are_grouped_by_name_with_the_current_one_and_their_instance_counts() {
    let h = Harness::new().await;
    h.seed_code().await;
    h.installed_instance().await;
    h.available_instance().await;
    let (status, v) = h
        .api(
            Method::POST,
            "/code",
            None,
            Some(json!({
                "meta": {"name": "express", "version": "2.0", "code_type": "profile", "is_current": false},
                "git_url": "https://example.invalid/express.git", "commit_hash": "e".repeat(40),
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    h.settle().await;
    let page = h.get("/ui/code", None).await;
    let express = &page.html[page.html.find("express <small>").unwrap()..];
    let current_row = &express[express.find("<th scope=\"row\">1.0</th>").unwrap()..];
    assert!(
        current_row.starts_with(
            "<th scope=\"row\">1.0</th>\n        <td><strong>current</strong></td>\n        <td>2</td>"
        ),
        "{current_row}"
    );
    let new_row = &express[express.find("<th scope=\"row\">2.0</th>").unwrap()..];
    assert!(
        new_row.starts_with("<th scope=\"row\">2.0</th>\n        <td>no</td>\n        <td>0</td>"),
        "{new_row}"
    );
}
