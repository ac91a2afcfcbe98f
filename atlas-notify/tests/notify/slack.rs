//! `SlackNotifier` over HTTP.

use atlas_core::{Level, Notification, Notifier};
use atlas_notify::{MinLevel, SlackConfig, SlackNotifier};
use hyper::StatusCode;

use crate::helpers::WebhookReceiver;

fn deploy_success() -> Notification {
    Notification::new(Level::Success, "Code Deploy - Success", "drupal - 7.42")
        .link("https://atlas.example.edu/code/0123456789abcdef01234567")
        .field("Name", "drupal")
        .field("Environment", "test")
        .field("Version", "7.42")
}

#[tokio::test]
async fn slack_notifier_posts_the_payload_as_json_to_the_webhook() {
    let hook = WebhookReceiver::start().await;
    let slack = SlackNotifier::new(hook.slack_config()).unwrap();

    slack.notify(&deploy_success()).await.unwrap();

    let posts = hook.posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].path, "/services/T000/B000/XXXX");
    assert!(posts[0].content_type.starts_with("application/json"));
    let body = &posts[0].json;
    assert_eq!(body["text"], "drupal - 7.42");
    let a = &body["attachments"][0];
    assert_eq!(a["color"], "good");
    assert_eq!(a["title"], "Code Deploy - Success");
    assert_eq!(
        a["title_link"],
        "https://atlas.example.edu/code/0123456789abcdef01234567"
    );
    let fields: Vec<(&str, &str)> = a["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["title"].as_str().unwrap(), f["value"].as_str().unwrap()))
        .collect();
    assert_eq!(
        fields,
        [("Name", "drupal"), ("Environment", "test"), ("Version", "7.42")]
    );
}

#[tokio::test]
async fn slack_notifier_reports_a_refusing_webhook_without_revealing_its_url() {
    let hook = WebhookReceiver::answering(StatusCode::FORBIDDEN, "invalid_token").await;
    let slack = SlackNotifier::new(hook.slack_config()).unwrap();

    let e = slack.notify(&deploy_success()).await.unwrap_err();

    assert_eq!(e.channel, "slack");
    assert!(
        e.reason.contains("403") && e.reason.contains("invalid_token"),
        "{e}"
    );
    assert!(!e.to_string().contains("XXXX"), "the token stays secret: {e}");
}

#[tokio::test]
async fn slack_notifier_reports_an_unreachable_webhook_without_revealing_its_url() {
    // Bind and drop: nothing listens on the port any more.
    let port = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap().port()
    };
    let slack = SlackNotifier::new(SlackConfig {
        webhook_url: format!("http://127.0.0.1:{port}/services/T000/B000/XXXX"),
        timeout_secs: 2,
        ..SlackConfig::default()
    })
    .unwrap();

    let e = slack.notify(&deploy_success()).await.unwrap_err();

    assert_eq!(e.channel, "slack");
    assert!(!e.to_string().contains("XXXX"), "{e}");
}

#[tokio::test]
async fn slack_notifier_skips_levels_below_its_minimum() {
    let hook = WebhookReceiver::start().await;
    let slack = SlackNotifier::new(SlackConfig {
        min_level: MinLevel::Error,
        ..hook.slack_config()
    })
    .unwrap();

    slack.notify(&deploy_success()).await.unwrap();

    assert!(hook.posts().is_empty());
}
