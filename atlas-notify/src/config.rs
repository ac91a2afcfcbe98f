//! [`NotifyConfig`]: which channels Atlas notifies through and how to reach
//! them, read by `atlas-bin` from the `[notify]` section of its
//! configuration, and [`NotifyConfig::build`], which turns it into one
//! [`Notifier`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use atlas_core::{Level, Notifier, NullNotifier};
use serde::{Deserialize, Serialize};

use crate::email::EmailNotifier;
use crate::fanout::FanoutNotifier;
use crate::slack::SlackNotifier;

/// Shown instead of a secret in `Debug` output.
const REDACTED: &str = "<redacted>";

/// Why a notifier cannot be built from its configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NotifyConfigError {
    /// A setting has a value the channel cannot use.
    #[error("notify.{setting}: {reason}")]
    Invalid {
        /// The setting, as `section.key` under `[notify]`.
        setting: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

impl NotifyConfigError {
    pub(crate) fn invalid(setting: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            setting,
            reason: reason.into(),
        }
    }
}

/// The least important [`Level`] a channel still delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MinLevel {
    /// Everything.
    #[default]
    Info,
    /// Successes, warnings and errors.
    Success,
    /// Warnings and errors.
    Warning,
    /// Errors only.
    Error,
}

impl MinLevel {
    /// Whether a notification of `level` passes.
    pub fn admits(self, level: Level) -> bool {
        let rank = match level {
            Level::Info => MinLevel::Info,
            Level::Success => MinLevel::Success,
            Level::Warning => MinLevel::Warning,
            Level::Error => MinLevel::Error,
        };
        rank >= self
    }
}

/// The `[notify]` section: every channel that is configured gets every
/// notification at or above its `min_level`.
///
/// ```toml
/// [notify.slack]
/// webhook_url = "https://hooks.slack.com/services/T000/B000/XXXX"
///
/// [notify.email]
/// smtp_host = "smtp.example.edu"
/// tls = "starttls"
/// from = "atlas@example.edu"
/// to = ["web-team@example.edu"]
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifyConfig {
    /// The Slack incoming webhook (off while `webhook_url` is empty).
    pub slack: SlackConfig,
    /// E-mail through SMTP (off while `to` is empty).
    pub email: EmailConfig,
}

impl NotifyConfig {
    /// One notifier delivering to every configured channel: a
    /// [`FanoutNotifier`], or a [`NullNotifier`] when no channel is
    /// configured.
    ///
    /// # Errors
    /// [`NotifyConfigError::Invalid`] naming the first unusable setting (a
    /// webhook URL that is not `http(s)://`, an address that does not
    /// parse, a missing SMTP host).
    pub fn build(&self) -> Result<Arc<dyn Notifier>, NotifyConfigError> {
        let mut channels: Vec<Arc<dyn Notifier>> = Vec::new();
        if self.slack.is_enabled() {
            channels.push(Arc::new(SlackNotifier::new(self.slack.clone())?));
        }
        if self.email.is_enabled() {
            channels.push(Arc::new(EmailNotifier::new(self.email.clone())?));
        }
        if channels.is_empty() {
            return Ok(Arc::new(NullNotifier));
        }
        Ok(Arc::new(FanoutNotifier::new(channels)))
    }

    /// The names of the configured channels (`slack`, `email`).
    pub fn channels(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.slack.is_enabled() {
            out.push("slack");
        }
        if self.email.is_enabled() {
            out.push("email");
        }
        out
    }
}

/// The `[notify.slack]` section: a Slack incoming webhook.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SlackConfig {
    /// The incoming webhook URL (it holds a token: a secret). Empty: Slack
    /// is off.
    pub webhook_url: String,
    /// Channel overriding the webhook's own (`#atlas`); empty: the
    /// webhook's channel.
    pub channel: String,
    /// Name the messages are posted as.
    pub username: String,
    /// Least important level delivered.
    pub min_level: MinLevel,
    /// Time limit of one POST, in seconds.
    pub timeout_secs: u64,
}

impl SlackConfig {
    /// Whether Slack is configured.
    pub fn is_enabled(&self) -> bool {
        !self.webhook_url.trim().is_empty()
    }

    /// The time limit of one POST.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs.max(1))
    }
}

impl Default for SlackConfig {
    fn default() -> Self {
        Self {
            webhook_url: String::new(),
            channel: String::new(),
            username: "Atlas".into(),
            min_level: MinLevel::Info,
            timeout_secs: 10,
        }
    }
}

impl fmt::Debug for SlackConfig {
    /// The webhook URL carries a token: only whether it is set is shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlackConfig")
            .field("webhook_url", &redacted(&self.webhook_url))
            .field("channel", &self.channel)
            .field("username", &self.username)
            .field("min_level", &self.min_level)
            .field("timeout_secs", &self.timeout_secs)
            .finish()
    }
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connection upgraded with `STARTTLS`, which is required (port
    /// 587, usually).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465, usually).
    Tls,
    /// No encryption (a local relay on port 25).
    None,
}

/// The `[notify.email]` section: plain-text mail through an SMTP server.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmailConfig {
    /// SMTP server host name.
    pub smtp_host: String,
    /// SMTP server port.
    pub smtp_port: u16,
    /// `starttls`, `tls` or `none`.
    pub tls: SmtpTls,
    /// SMTP user; empty: no authentication.
    pub username: String,
    /// SMTP password (a secret).
    pub password: String,
    /// Sender address (`Atlas <atlas@example.edu>` or a bare address).
    pub from: String,
    /// Recipients; empty: e-mail is off.
    pub to: Vec<String>,
    /// Text put before every subject.
    pub subject_prefix: String,
    /// Least important level delivered.
    pub min_level: MinLevel,
    /// Time limit of one SMTP conversation, in seconds.
    pub timeout_secs: u64,
}

impl EmailConfig {
    /// Whether e-mail is configured.
    pub fn is_enabled(&self) -> bool {
        !self.to.is_empty()
    }

    /// The time limit of one SMTP conversation.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs.max(1))
    }
}

impl Default for EmailConfig {
    fn default() -> Self {
        Self {
            smtp_host: "localhost".into(),
            smtp_port: 587,
            tls: SmtpTls::Starttls,
            username: String::new(),
            password: String::new(),
            from: "atlas@localhost".into(),
            to: Vec::new(),
            subject_prefix: "[Atlas]".into(),
            min_level: MinLevel::Info,
            timeout_secs: 30,
        }
    }
}

impl fmt::Debug for EmailConfig {
    /// The password is redacted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmailConfig")
            .field("smtp_host", &self.smtp_host)
            .field("smtp_port", &self.smtp_port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &redacted(&self.password))
            .field("from", &self.from)
            .field("to", &self.to)
            .field("subject_prefix", &self.subject_prefix)
            .field("min_level", &self.min_level)
            .field("timeout_secs", &self.timeout_secs)
            .finish()
    }
}

fn redacted(secret: &str) -> &'static str {
    if secret.is_empty() {
        ""
    } else {
        REDACTED
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_redacts_the_webhook_url_and_the_smtp_password() {
        let cfg = NotifyConfig {
            slack: SlackConfig {
                webhook_url: "https://hooks.slack.com/services/T0/B0/sekrit-token".into(),
                ..SlackConfig::default()
            },
            email: EmailConfig {
                password: "hunter2".into(),
                username: "atlas".into(),
                ..EmailConfig::default()
            },
        };
        let shown = format!("{cfg:?}");
        assert!(!shown.contains("sekrit-token"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains(REDACTED));
        assert!(
            shown.contains("atlas"),
            "non-secret settings stay visible: {shown}"
        );
    }

    #[test]
    fn no_configured_channel_builds_a_notifier_that_drops_everything() {
        let cfg = NotifyConfig::default();
        assert!(cfg.channels().is_empty());
        let n = cfg.build().unwrap();
        assert!(format!("{n:?}").contains("NullNotifier"));
    }

    #[test]
    fn configured_channels_are_built_into_one_fanout() {
        let cfg = NotifyConfig {
            slack: SlackConfig {
                webhook_url: "http://127.0.0.1:9/hook".into(),
                ..SlackConfig::default()
            },
            email: EmailConfig {
                to: vec!["ops@example.edu".into()],
                ..EmailConfig::default()
            },
        };
        assert_eq!(cfg.channels(), ["slack", "email"]);
        let n = cfg.build().unwrap();
        let shown = format!("{n:?}");
        assert!(
            shown.contains("FanoutNotifier")
                && shown.contains("SlackNotifier")
                && shown.contains("EmailNotifier"),
            "{shown}"
        );
    }

    #[test]
    fn unusable_settings_are_errors_naming_the_setting() {
        let bad_url = NotifyConfig {
            slack: SlackConfig {
                webhook_url: "hooks.slack.com/services/x".into(),
                ..SlackConfig::default()
            },
            ..NotifyConfig::default()
        };
        let e = bad_url.build().unwrap_err().to_string();
        assert!(e.contains("notify.slack.webhook_url"), "{e}");

        let bad_to = NotifyConfig {
            email: EmailConfig {
                to: vec!["not an address".into()],
                ..EmailConfig::default()
            },
            ..NotifyConfig::default()
        };
        let e = bad_to.build().unwrap_err().to_string();
        assert!(e.contains("notify.email.to"), "{e}");
    }

    #[test]
    fn config_rejects_unknown_keys() {
        let e = toml_like(r#"{"slack": {"webhook": "x"}}"#).unwrap_err();
        assert!(e.to_string().contains("webhook"), "{e}");
    }

    #[test]
    fn min_level_admits_its_level_and_more_important_ones() {
        assert!(MinLevel::Info.admits(Level::Info));
        assert!(MinLevel::Warning.admits(Level::Error));
        assert!(MinLevel::Warning.admits(Level::Warning));
        assert!(!MinLevel::Warning.admits(Level::Success));
        assert!(!MinLevel::Error.admits(Level::Warning));
    }

    fn toml_like(json: &str) -> Result<NotifyConfig, serde_json::Error> {
        serde_json::from_str(json)
    }
}
