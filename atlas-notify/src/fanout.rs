//! [`FanoutNotifier`]: delivers each notification to every configured
//! channel at once; one channel failing never keeps the others from
//! delivering.

use std::sync::Arc;

use async_trait::async_trait;
use atlas_core::{Notification, Notifier, NotifyError};
use futures::future::join_all;

/// Sends to every channel.
#[derive(Debug, Clone)]
pub struct FanoutNotifier {
    channels: Vec<Arc<dyn Notifier>>,
}

impl FanoutNotifier {
    /// A notifier sending to each of `channels`.
    pub fn new(channels: Vec<Arc<dyn Notifier>>) -> Self {
        Self { channels }
    }

    /// How many channels it sends to.
    pub fn len(&self) -> usize {
        self.channels.len()
    }

    /// Whether it sends nowhere.
    pub fn is_empty(&self) -> bool {
        self.channels.is_empty()
    }
}

#[async_trait]
impl Notifier for FanoutNotifier {
    /// # Behavior
    /// Sends to all channels concurrently and waits for all of them.
    ///
    /// # Errors
    /// When one channel failed, its error; when several did, one
    /// [`NotifyError`] on channel `fanout` naming each.
    async fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
        let results = join_all(self.channels.iter().map(|c| c.notify(n))).await;
        let mut errors: Vec<NotifyError> = results.into_iter().filter_map(Result::err).collect();
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.remove(0)),
            _ => Err(NotifyError {
                channel: "fanout",
                reason: errors
                    .iter()
                    .map(|e| format!("{}: {}", e.channel, e.reason))
                    .collect::<Vec<_>>()
                    .join("; "),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use atlas_core::{Level, RecordingNotifier};

    use super::*;

    #[derive(Debug)]
    struct Refusing(&'static str);

    #[async_trait]
    impl Notifier for Refusing {
        async fn notify(&self, _n: &Notification) -> Result<(), NotifyError> {
            Err(NotifyError {
                channel: self.0,
                reason: "down".into(),
            })
        }
    }

    fn note() -> Notification {
        Notification::new(Level::Info, "t", "x")
    }

    #[tokio::test]
    async fn fanout_delivers_to_every_channel() {
        let (a, b) = (RecordingNotifier::default(), RecordingNotifier::default());
        let f = FanoutNotifier::new(vec![Arc::new(a.clone()), Arc::new(b.clone())]);
        f.notify(&note()).await.unwrap();
        assert_eq!((a.sent().len(), b.sent().len()), (1, 1));
    }

    #[tokio::test]
    async fn one_failing_channel_does_not_stop_the_others_and_is_reported() {
        let ok = RecordingNotifier::default();
        let f = FanoutNotifier::new(vec![Arc::new(Refusing("slack")), Arc::new(ok.clone())]);
        let e = f.notify(&note()).await.unwrap_err();
        assert_eq!(e.channel, "slack");
        assert_eq!(ok.sent().len(), 1);
    }

    #[tokio::test]
    async fn several_failures_are_named_together() {
        let f = FanoutNotifier::new(vec![Arc::new(Refusing("slack")), Arc::new(Refusing("email"))]);
        let e = f.notify(&note()).await.unwrap_err();
        assert_eq!(e.channel, "fanout");
        assert_eq!(e.reason, "slack: down; email: down");
    }
}
