//! The [`Notifier`] port: tells people what Atlas did (Slack and e-mail
//! adapters plug in here).

use std::fmt;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// How a notification should be presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Routine information.
    Info,
    /// Something finished well.
    Success,
    /// Something needs a look.
    Warning,
    /// Something failed.
    Error,
}

/// A message for people.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// Presentation level.
    pub level: Level,
    /// One-line title.
    pub title: String,
    /// Body text.
    pub text: String,
    /// Link to the record concerned (an instance URL, say).
    pub link: Option<String>,
    /// Name/value details (`environment`, `version`, …).
    pub fields: Vec<(String, String)>,
}

impl Notification {
    /// A notification without link or fields.
    pub fn new(level: Level, title: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            level,
            title: title.into(),
            text: text.into(),
            link: None,
            fields: Vec::new(),
        }
    }

    /// Adds a name/value field.
    pub fn field(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.fields.push((name.into(), value.into()));
        self
    }

    /// Adds a name/value field when there is a value.
    pub fn field_if(self, name: impl Into<String>, value: Option<impl Into<String>>) -> Self {
        match value {
            Some(v) => self.field(name, v),
            None => self,
        }
    }

    /// Sets the link.
    pub fn link(mut self, url: impl Into<String>) -> Self {
        self.link = Some(url.into());
        self
    }
}

/// Why a notification was not delivered.
#[derive(Debug, thiserror::Error)]
#[error("notification not delivered through {channel}: {reason}")]
pub struct NotifyError {
    /// The channel (`slack`, `email`, …).
    pub channel: &'static str,
    /// Why.
    pub reason: String,
}

/// Delivers notifications. A failure to notify must never fail a job: the
/// engine logs it and goes on.
#[async_trait]
pub trait Notifier: Send + Sync + fmt::Debug + 'static {
    /// Delivers `n`.
    ///
    /// # Errors
    /// [`NotifyError`] when the channel refused or could not be reached.
    async fn notify(&self, n: &Notification) -> Result<(), NotifyError>;
}

/// Drops every notification (the default when none is configured).
#[derive(Debug, Clone, Copy, Default)]
pub struct NullNotifier;

#[async_trait]
impl Notifier for NullNotifier {
    async fn notify(&self, _n: &Notification) -> Result<(), NotifyError> {
        Ok(())
    }
}

/// Keeps every notification in memory, for tests and embedders.
#[derive(Debug, Clone, Default)]
pub struct RecordingNotifier(Arc<Mutex<Vec<Notification>>>);

impl RecordingNotifier {
    /// The notifications so far.
    pub fn sent(&self) -> Vec<Notification> {
        self.0.lock().expect("recording notifier poisoned").clone()
    }
}

#[async_trait]
impl Notifier for RecordingNotifier {
    async fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
        self.0
            .lock()
            .expect("recording notifier poisoned")
            .push(n.clone());
        Ok(())
    }
}

#[async_trait]
impl<N: Notifier + ?Sized> Notifier for Arc<N> {
    async fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
        (**self).notify(n).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn recording_notifier_keeps_what_it_was_sent() {
        let r = RecordingNotifier::default();
        r.notify(&Notification::new(Level::Error, "Provision failed", "p1abc").field("env", "local"))
            .await
            .unwrap();
        assert_eq!(r.sent().len(), 1);
        assert_eq!(r.sent()[0].fields, vec![("env".to_owned(), "local".to_owned())]);
    }
}
