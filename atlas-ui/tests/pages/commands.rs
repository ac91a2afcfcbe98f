//! Command items: running one from the dashboard and its per-instance
//! outcomes.

use atlas_core::testing::RecordingExecutor;
use atlas_core::CommandOutput;
use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::harness::Harness;

#[tokio::test]
async fn running_a_command_shows_one_outcome_per_matching_instance() {
    let out = CommandOutput {
        exit_status: Some(0),
        stdout: "files listed\n".into(),
        ..CommandOutput::default()
    };
    let h = Harness::with(RecordingExecutor::new().with_command_output(out), "").await;
    h.seed_code().await;
    let one = h.installed_instance().await;
    let two = h.installed_instance().await;
    h.available_instance().await;
    let (status, cmd) = h
        .api(
            Method::POST,
            "/commands",
            None,
            Some(json!({
                "name": "List files", "command": "ls -la", "query": "{\"status\": \"installed\"}",
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{cmd}");
    let id = cmd["_id"].as_str().unwrap();

    assert!(h
        .get("/ui/commands", None)
        .await
        .html
        .contains("Sign in to see command items"));
    let b = h.sign_in().await;
    let list = h.get("/ui/commands", Some(&b)).await;
    assert!(list.html.contains("List files") && list.html.contains(&format!("/ui/commands/{id}/run")));

    let res = h.act(&format!("/ui/commands/{id}/run"), &b, &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.html);
    let run_page = res.location().to_owned();
    h.settle().await;
    let page = h.get(&run_page, Some(&b)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(
        page.html.contains("<strong id=\"run-status\">succeeded</strong>"),
        "{}",
        page.html
    );
    for doc in [&one, &two] {
        assert!(page.html.contains(doc["sid"].as_str().unwrap()), "{}", page.html);
    }
    assert_eq!(page.html.matches("files listed").count(), 2);
    assert!(page.html.contains("alice"));
    let list = h.get("/ui/commands", Some(&b)).await;
    assert!(list.html.contains(&run_page));
}
