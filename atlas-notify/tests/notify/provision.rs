//! A provision that fails on every attempt, run by the real engine and
//! worker, reaches people exactly once per channel, on the last attempt.

use std::sync::Arc;
use std::time::Duration;

use atlas_core::model::{Environment, Id, Resource};
use atlas_core::query::{Filter, FindQuery};
use atlas_core::testing::{fixtures, ManualClock, RecordingExecutor};
use atlas_core::{
    Actor, App, AppConfig, Batch, Clock, JobStatus, MemoryStore, ServiceConfig, Store, WorkerConfig,
    DEFAULT_MAX_ATTEMPTS,
};
use atlas_notify::NotifyConfig;
use serde_json::json;

use crate::helpers::{SmtpSink, WebhookReceiver};

fn worker_config() -> WorkerConfig {
    WorkerConfig {
        owner: "notify-test".into(),
        backoff_base: Duration::from_secs(10),
        backoff_max: Duration::from_secs(40),
        ..WorkerConfig::default()
    }
}

#[tokio::test]
async fn failed_provision_produces_one_slack_post_and_one_email_naming_the_instance() {
    // Arrange: real receivers, the notifier built from configuration, and
    // an executor whose site install always fails.
    let hook = WebhookReceiver::start().await;
    let sink = SmtpSink::start().await;
    let notifier = NotifyConfig {
        slack: hook.slack_config(),
        email: sink.email_config(&["ops@example.edu", "web@example.edu"]),
    }
    .build()
    .unwrap();

    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let clock = ManualClock::at(fixtures::fixture_time());
    // Current core and profile, written directly: no deploy jobs, so no
    // other notifications.
    let now = clock.now();
    let mut seed = Batch::new(now);
    seed.insert(
        Resource::Code,
        Id::generate(now),
        fixtures::code().core("drupal", "7.42").current().build(),
    );
    seed.insert(
        Resource::Code,
        Id::generate(now),
        fixtures::code().profile("express", "2.8").current().build(),
    );
    store.commit(seed).await.unwrap();
    let exec = RecordingExecutor::new().fail_from("install", 1);
    let mut config = AppConfig {
        service: ServiceConfig {
            environment: Environment::Test,
            atlas_url: "https://atlas.example.edu/".into(),
            ..ServiceConfig::default()
        },
        worker: worker_config(),
        ..AppConfig::default()
    };
    config.scheduler.enabled = false;
    let app = App::builder(store.clone())
        .executor(Arc::new(exec.clone()))
        .notifier(notifier)
        .clock(Arc::new(clock.clone()))
        .config(config)
        .build()
        .unwrap();
    let (svc, worker) = (app.service(), app.worker());

    // Act: create an instance and run its provision through every attempt,
    // moving the clock over each retry delay.
    let inst = svc
        .create(Resource::Instance, &Actor("alice".into()), json!({}))
        .await
        .unwrap()
        .remove(0);
    let sid = inst.str_field("sid").unwrap().to_owned();
    let provision = FindQuery::all_matching(Filter::eq("kind", "provision"));
    for _ in 0..DEFAULT_MAX_ATTEMPTS * 2 {
        worker.drain().await.unwrap();
        let job = store.find_jobs(&provision).await.unwrap().items.remove(0);
        if job.status != JobStatus::Queued {
            break;
        }
        clock.set(job.run_at.max(clock.now()));
    }

    // Assert: the job gave up after every attempt…
    let job = store.find_jobs(&provision).await.unwrap().items.remove(0);
    assert_eq!(job.status, JobStatus::Dead);
    assert_eq!(job.attempts, DEFAULT_MAX_ATTEMPTS);
    assert_eq!(exec.subjects_of("install").len(), DEFAULT_MAX_ATTEMPTS as usize);
    let link = format!("https://atlas.example.edu/instance/{}", inst.id);

    // …one Slack POST, alerting the channel, red, linking to the instance…
    let posts = hook.posts();
    assert_eq!(posts.len(), 1, "{posts:#?}");
    let body = &posts[0].json;
    let text = body["text"].as_str().unwrap();
    assert!(
        text.starts_with(&format!(
            "<!channel> Instance provision - Error - {sid} failed after {DEFAULT_MAX_ATTEMPTS} attempt(s)"
        )),
        "{text}"
    );
    let a = &body["attachments"][0];
    assert_eq!(a["color"], "danger");
    assert_eq!(a["title"], "Instance provision - Error");
    assert_eq!(a["title_link"], link.as_str());
    let field = |name: &str| -> String {
        a["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["title"] == name)
            .and_then(|f| f["value"].as_str())
            .unwrap_or_else(|| panic!("no field {name} in {a}"))
            .to_owned()
    };
    assert_eq!(field("Instance"), sid);
    assert_eq!(field("Environment"), "test");
    assert!(field("Error message").contains("install"), "{a}");

    // …and one e-mail to both recipients with the same content.
    let mails = sink.mails();
    assert_eq!(mails.len(), 1, "{mails:#?}");
    let m = &mails[0];
    assert_eq!(m.to, ["ops@example.edu", "web@example.edu"]);
    assert_eq!(
        m.header("Subject").as_deref(),
        Some("[Atlas] Instance provision - Error")
    );
    let mail_body = m.body();
    assert!(
        mail_body.starts_with(&format!("Instance provision - Error - {sid} failed after")),
        "{mail_body}"
    );
    assert!(mail_body.contains(&format!("\nInstance: {sid}\n")), "{mail_body}");
    assert!(mail_body.contains("\nEnvironment: test\n"), "{mail_body}");
    assert!(mail_body.contains("\nError message: "), "{mail_body}");
    assert!(mail_body.trim_end().ends_with(&link), "{mail_body}");
}
