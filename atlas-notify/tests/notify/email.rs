//! `EmailNotifier` over SMTP.

use atlas_core::{Level, Notification, Notifier};
use atlas_notify::{EmailConfig, EmailNotifier, SmtpTls};

use crate::helpers::SmtpSink;

fn outdated() -> Notification {
    Notification::new(
        Level::Warning,
        "Outdated Statistics",
        "2 statistics items have not been updated in 36 hours.",
    )
    .link("https://atlas.example.edu/statistics")
    .field("Environment", "production")
    .field("Instances", "p1aaaaaaaaaa, p1bbbbbbbbbb")
}

#[tokio::test]
async fn email_notifier_sends_one_plain_text_message_to_every_recipient() {
    let sink = SmtpSink::start().await;
    let email =
        EmailNotifier::new(sink.email_config(&["ops@example.edu", "Web Team <web@example.edu>"])).unwrap();

    email.notify(&outdated()).await.unwrap();

    let mails = sink.mails();
    assert_eq!(mails.len(), 1);
    let m = &mails[0];
    assert_eq!(m.from, "atlas@example.edu");
    assert_eq!(m.to, ["ops@example.edu", "web@example.edu"]);
    assert_eq!(m.auth, None, "no credentials configured");
    assert_eq!(
        m.header("Subject").as_deref(),
        Some("[Atlas] Outdated Statistics")
    );
    assert!(m.header("Content-Type").unwrap().starts_with("text/plain"));
    assert_eq!(
        m.body(),
        "2 statistics items have not been updated in 36 hours.\n\n\
         Environment: production\nInstances: p1aaaaaaaaaa, p1bbbbbbbbbb\n\n\
         https://atlas.example.edu/statistics\n"
    );
}

#[tokio::test]
async fn email_notifier_authenticates_when_credentials_are_configured() {
    let sink = SmtpSink::start().await;
    let email = EmailNotifier::new(EmailConfig {
        username: "atlas".into(),
        password: "s3cret".into(),
        ..sink.email_config(&["ops@example.edu"])
    })
    .unwrap();

    email.notify(&outdated()).await.unwrap();

    let mails = sink.mails();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].auth, Some(("atlas".to_owned(), "s3cret".to_owned())));
}

#[tokio::test]
async fn email_notifier_requiring_starttls_refuses_a_server_without_it() {
    // The sink does not offer STARTTLS: nothing may be sent in the clear.
    let sink = SmtpSink::start().await;
    let email = EmailNotifier::new(EmailConfig {
        tls: SmtpTls::Starttls,
        ..sink.email_config(&["ops@example.edu"])
    })
    .unwrap();

    let e = email.notify(&outdated()).await.unwrap_err();

    assert_eq!(e.channel, "email");
    assert!(sink.mails().is_empty());
}

#[tokio::test]
async fn email_notifier_reports_an_unreachable_server() {
    let port = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap().port()
    };
    let email = EmailNotifier::new(EmailConfig {
        smtp_host: "127.0.0.1".into(),
        smtp_port: port,
        tls: SmtpTls::None,
        to: vec!["ops@example.edu".into()],
        timeout_secs: 2,
        ..EmailConfig::default()
    })
    .unwrap();

    let e = email.notify(&outdated()).await.unwrap_err();

    assert_eq!(e.channel, "email");
    assert!(e.reason.contains("SMTP"), "{e}");
}
