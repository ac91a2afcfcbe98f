//! [`SlackNotifier`]: posts notifications to a Slack incoming webhook in
//! the original Atlas's layout — the text (with `<!channel>` on failures),
//! one attachment coloured by level (`good`, `warning`, `danger`) whose
//! title links to the record, and the notification's fields as short
//! attachment fields.

use async_trait::async_trait;
use atlas_core::{Level, Notification, Notifier, NotifyError};
use serde_json::{json, Map, Value};

use crate::config::{NotifyConfigError, SlackConfig};

/// The channel name in errors.
const CHANNEL: &str = "slack";

/// Longest field value shown side by side with another.
const SHORT_FIELD: usize = 40;

/// Posts to a Slack incoming webhook.
pub struct SlackNotifier {
    config: SlackConfig,
    client: reqwest::Client,
}

impl std::fmt::Debug for SlackNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackNotifier")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl SlackNotifier {
    /// A notifier posting to `config.webhook_url`.
    ///
    /// # Errors
    /// [`NotifyConfigError::Invalid`] when the URL is not `http(s)://…` or
    /// the HTTP client cannot be built.
    pub fn new(config: SlackConfig) -> Result<Self, NotifyConfigError> {
        let url = config.webhook_url.trim();
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(NotifyConfigError::invalid(
                "slack.webhook_url",
                "use the webhook's http(s):// URL",
            ));
        }
        let client = reqwest::Client::builder()
            .timeout(config.timeout())
            .build()
            .map_err(|e| NotifyConfigError::invalid("slack", format!("no HTTP client: {e}")))?;
        Ok(Self { config, client })
    }
}

#[async_trait]
impl Notifier for SlackNotifier {
    async fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
        if !self.config.min_level.admits(n.level) {
            return Ok(());
        }
        let body = payload(&self.config, n);
        let failed = |reason: String| NotifyError {
            channel: CHANNEL,
            reason,
        };
        let res = self
            .client
            .post(self.config.webhook_url.trim())
            .json(&body)
            .send()
            .await
            // The URL holds the webhook's token: keep it out of errors.
            .map_err(|e| failed(format!("the webhook could not be reached: {}", e.without_url())))?;
        let status = res.status();
        if status.is_success() {
            return Ok(());
        }
        let text = res.text().await.unwrap_or_default();
        let excerpt: String = text.chars().take(200).collect();
        Err(failed(format!("the webhook answered {status}: {excerpt}")))
    }
}

/// The colour of a level's attachment (`None`: Slack's default grey).
pub fn color(level: Level) -> Option<&'static str> {
    match level {
        Level::Info => None,
        Level::Success => Some("good"),
        Level::Warning => Some("warning"),
        Level::Error => Some("danger"),
    }
}

/// Escapes the three characters Slack's message format reserves.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The webhook's JSON body for `n`.
///
/// # Behavior
/// - `text`: the notification's text, escaped, after `<!channel> ` when the
///   level is [`Level::Error`] (the original alerted the whole channel on
///   failures);
/// - one attachment: `fallback` (title and text, for clients without
///   attachments), `color` by level, `title` and `title_link` (the record's
///   URL, when there is one), and `fields` (`title`, `value`, `short` when
///   the value is short enough to sit beside another);
/// - `username`, and `channel` when configured.
pub fn payload(cfg: &SlackConfig, n: &Notification) -> Value {
    let text = escape(&n.text);
    let text = if n.level == Level::Error {
        format!("<!channel> {text}")
    } else {
        text
    };
    let fields: Vec<Value> = n
        .fields
        .iter()
        .map(|(k, v)| {
            json!({
                "title": k,
                "value": escape(v),
                "short": v.chars().count() <= SHORT_FIELD && !v.contains('\n'),
            })
        })
        .collect();
    let mut attachment = Map::new();
    attachment.insert("fallback".into(), json!(format!("{}: {}", n.title, n.text)));
    if let Some(c) = color(n.level) {
        attachment.insert("color".into(), json!(c));
    }
    attachment.insert("title".into(), json!(escape(&n.title)));
    if let Some(link) = &n.link {
        attachment.insert("title_link".into(), json!(link));
    }
    attachment.insert("fields".into(), Value::Array(fields));
    let mut body = Map::new();
    body.insert("text".into(), json!(text));
    body.insert("username".into(), json!(cfg.username));
    if !cfg.channel.trim().is_empty() {
        body.insert("channel".into(), json!(cfg.channel.trim()));
    }
    body.insert("attachments".into(), json!([Value::Object(attachment)]));
    Value::Object(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure() -> Notification {
        Notification::new(
            Level::Error,
            "Instance provision - Error",
            "p1abcdef0123 failed after 2 attempt(s)",
        )
        .link("https://atlas.example.edu/instance/0123456789abcdef01234567")
        .field("Instance", "p1abcdef0123")
        .field("Environment", "test")
        .field("Error message", "install failed: <drush> & co")
    }

    #[test]
    fn failure_payload_alerts_the_channel_in_red_and_links_to_the_instance() {
        let p = payload(&SlackConfig::default(), &failure());
        assert_eq!(p["text"], "<!channel> p1abcdef0123 failed after 2 attempt(s)");
        assert_eq!(p["username"], "Atlas");
        assert!(p.get("channel").is_none(), "no override configured");
        let a = &p["attachments"][0];
        assert_eq!(a["color"], "danger");
        assert_eq!(a["title"], "Instance provision - Error");
        assert_eq!(
            a["title_link"],
            "https://atlas.example.edu/instance/0123456789abcdef01234567"
        );
        assert_eq!(
            a["fields"][0],
            json!({"title": "Instance", "value": "p1abcdef0123", "short": true})
        );
        assert_eq!(a["fields"][1]["value"], "test");
    }

    #[test]
    fn payload_escapes_slack_markup_in_values() {
        let p = payload(&SlackConfig::default(), &failure());
        assert_eq!(
            p["attachments"][0]["fields"][2]["value"],
            "install failed: &lt;drush&gt; &amp; co"
        );
    }

    #[test]
    fn success_payload_is_green_without_channel_alert() {
        let n = Notification::new(Level::Success, "Code Deploy - Success", "drupal - 7.42")
            .field("Name", "drupal")
            .field("Environment", "local")
            .field("Version", "7.42");
        let cfg = SlackConfig {
            channel: "#atlas".into(),
            ..SlackConfig::default()
        };
        let p = payload(&cfg, &n);
        assert_eq!(p["text"], "drupal - 7.42");
        assert_eq!(p["channel"], "#atlas");
        let a = &p["attachments"][0];
        assert_eq!(a["color"], "good");
        assert!(a.get("title_link").is_none());
        let names: Vec<&str> = a["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["title"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["Name", "Environment", "Version"]);
    }

    #[test]
    fn levels_map_to_slack_colours() {
        assert_eq!(color(Level::Success), Some("good"));
        assert_eq!(color(Level::Warning), Some("warning"));
        assert_eq!(color(Level::Error), Some("danger"));
        assert_eq!(color(Level::Info), None);
    }

    #[test]
    fn long_field_values_are_not_short() {
        let n = Notification::new(Level::Info, "t", "x").field("Instances", "p1".repeat(30));
        let p = payload(&SlackConfig::default(), &n);
        assert_eq!(p["attachments"][0]["fields"][0]["short"], false);
        assert!(p["attachments"][0].get("color").is_none());
    }

    #[test]
    fn a_webhook_url_without_scheme_is_refused() {
        let e = SlackNotifier::new(SlackConfig {
            webhook_url: "hooks.slack.com/services/x".into(),
            ..SlackConfig::default()
        })
        .unwrap_err();
        assert!(e.to_string().contains("slack.webhook_url"));
    }
}
