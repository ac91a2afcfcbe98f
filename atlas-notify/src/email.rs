//! [`EmailNotifier`]: sends each notification as one plain-text e-mail to
//! the configured recipients through an SMTP server (`lettre` on tokio;
//! STARTTLS, implicit TLS with rustls, or none; optional authentication).

use async_trait::async_trait;
use atlas_core::{Notification, Notifier, NotifyError};
use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{EmailConfig, NotifyConfigError, SmtpTls};

/// The channel name in errors.
const CHANNEL: &str = "email";

/// Sends notifications by e-mail.
pub struct EmailNotifier {
    config: EmailConfig,
    from: Mailbox,
    to: Vec<Mailbox>,
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl std::fmt::Debug for EmailNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailNotifier")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl EmailNotifier {
    /// A notifier sending through `config.smtp_host`.
    ///
    /// # Errors
    /// [`NotifyConfigError::Invalid`] for an empty host, a sender or
    /// recipient that is not an address, or TLS parameters that cannot be
    /// built for the host.
    pub fn new(config: EmailConfig) -> Result<Self, NotifyConfigError> {
        let host = config.smtp_host.trim().to_owned();
        if host.is_empty() {
            return Err(NotifyConfigError::invalid(
                "email.smtp_host",
                "set the SMTP server",
            ));
        }
        let from: Mailbox = config
            .from
            .parse()
            .map_err(|e| NotifyConfigError::invalid("email.from", format!("'{}': {e}", config.from)))?;
        let to = config
            .to
            .iter()
            .map(|a| {
                a.parse::<Mailbox>()
                    .map_err(|e| NotifyConfigError::invalid("email.to", format!("'{a}': {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let tls_params = || {
            TlsParameters::new(host.clone())
                .map_err(|e| NotifyConfigError::invalid("email.tls", e.to_string()))
        };
        let tls = match config.tls {
            SmtpTls::None => Tls::None,
            SmtpTls::Starttls => Tls::Required(tls_params()?),
            SmtpTls::Tls => Tls::Wrapper(tls_params()?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.as_str())
            .port(config.smtp_port)
            .tls(tls)
            .timeout(Some(config.timeout()));
        if !config.username.is_empty() {
            builder = builder.credentials(Credentials::new(config.username.clone(), config.password.clone()));
        }
        Ok(Self {
            transport: builder.build(),
            config,
            from,
            to,
        })
    }
}

#[async_trait]
impl Notifier for EmailNotifier {
    async fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
        if !self.config.min_level.admits(n.level) {
            return Ok(());
        }
        let failed = |reason: String| NotifyError {
            channel: CHANNEL,
            reason,
        };
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(subject(&self.config.subject_prefix, n))
            .header(ContentType::TEXT_PLAIN);
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        let message = builder
            .body(body(n))
            .map_err(|e| failed(format!("the message could not be built: {e}")))?;
        self.transport
            .send(message)
            .await
            .map_err(|e| failed(format!("the SMTP server did not take the message: {e}")))?;
        Ok(())
    }
}

/// `<prefix> <title>` (just the title without a prefix).
pub fn subject(prefix: &str, n: &Notification) -> String {
    let prefix = prefix.trim();
    if prefix.is_empty() {
        n.title.clone()
    } else {
        format!("{prefix} {}", n.title)
    }
}

/// The plain-text body: the text, a blank line, one `Name: value` line per
/// field, and the link last.
pub fn body(n: &Notification) -> String {
    let mut out = String::new();
    out.push_str(&n.text);
    out.push('\n');
    if !n.fields.is_empty() {
        out.push('\n');
        for (k, v) in &n.fields {
            out.push_str(&format!("{k}: {v}\n"));
        }
    }
    if let Some(link) = &n.link {
        out.push('\n');
        out.push_str(link);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use atlas_core::Level;

    use super::*;

    fn note() -> Notification {
        Notification::new(
            Level::Warning,
            "Outdated Statistics",
            "2 statistics items are old.",
        )
        .link("https://atlas.example.edu/statistics")
        .field("Environment", "test")
        .field("Instances", "p1aaaaaaaaaa, p1bbbbbbbbbb")
    }

    #[test]
    fn body_lists_text_fields_then_link() {
        assert_eq!(
            body(&note()),
            "2 statistics items are old.\n\nEnvironment: test\nInstances: p1aaaaaaaaaa, p1bbbbbbbbbb\n\n\
             https://atlas.example.edu/statistics\n"
        );
    }

    #[test]
    fn subject_is_the_prefixed_title() {
        assert_eq!(subject("[Atlas]", &note()), "[Atlas] Outdated Statistics");
        assert_eq!(subject(" ", &note()), "Outdated Statistics");
    }

    #[test]
    fn an_empty_smtp_host_or_bad_sender_is_refused() {
        let e = EmailNotifier::new(EmailConfig {
            smtp_host: " ".into(),
            to: vec!["a@example.edu".into()],
            ..EmailConfig::default()
        })
        .unwrap_err();
        assert!(e.to_string().contains("notify.email.smtp_host"), "{e}");
        let e = EmailNotifier::new(EmailConfig {
            from: "atlas".into(),
            to: vec!["a@example.edu".into()],
            ..EmailConfig::default()
        })
        .unwrap_err();
        assert!(e.to_string().contains("notify.email.from"), "{e}");
    }
}
