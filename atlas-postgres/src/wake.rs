//! Waking the workers of every node once jobs became claimable: the
//! `NOTIFY` on the store's channel is sent *after* the transaction that
//! enqueued (or requeued) them committed, as a statement of its own, and
//! wake-ups asked for while one is being sent are folded into one next
//! `NOTIFY`.
//!
//! Why not inside the writing transaction, where it would be delivered at
//! commit? PostgreSQL serialises the commits of all transactions that
//! notify in a database: the notification queue's lock is held until the
//! commit record is flushed. Every instance create enqueues a job, so
//! concurrent creates could no longer share a WAL flush and their
//! throughput fell to the disk's fsync rate (about 400 per second here).
//! Sent on its own, a `NOTIFY` writes no WAL and holds that lock only for
//! a moment.
//!
//! A wake-up that is lost (the node stops between the commit and the
//! `NOTIFY`, or the statement fails) delays the jobs until the workers'
//! next poll; the jobs themselves are committed already.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use deadpool_postgres::Pool;
use tokio::sync::watch;

/// Sends the coalesced wake-ups of one store (and its clones).
pub(crate) struct Waker {
    signal: watch::Sender<()>,
    /// The sender task's end of the signal, until the first wake-up starts
    /// it (the store may be built outside a runtime).
    idle: Mutex<Option<Idle>>,
}

struct Idle {
    signal: watch::Receiver<()>,
    pool: Pool,
    channel: Arc<str>,
}

impl std::fmt::Debug for Waker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Waker").finish_non_exhaustive()
    }
}

impl Waker {
    /// A waker notifying `channel` on connections of `pool`. The sender
    /// task starts at the first wake-up and ends when the waker is dropped.
    pub(crate) fn new(pool: Pool, channel: Arc<str>) -> Waker {
        let (signal, rx) = watch::channel(());
        Waker {
            signal,
            idle: Mutex::new(Some(Idle {
                signal: rx,
                pool,
                channel,
            })),
        }
    }

    /// Asks for a `NOTIFY` (call it after the commit). Returns at once.
    pub(crate) fn wake(&self) {
        let idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(Idle {
            signal,
            pool,
            channel,
        }) = idle
        {
            tokio::spawn(coalesce(signal, move || notify(pool.clone(), channel.clone())));
        }
        self.signal.send_replace(());
    }
}

/// Calls `send` once per burst of signals: signals that arrive while
/// `send` runs lead to exactly one more call. Ends when the sender is
/// dropped.
async fn coalesce<F, Fut>(mut signal: watch::Receiver<()>, mut send: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    while signal.changed().await.is_ok() {
        send().await;
    }
}

/// One `NOTIFY` on a pooled connection; a failure is logged (the workers'
/// poll picks the jobs up).
async fn notify(pool: Pool, channel: Arc<str>) {
    let sent = async {
        let client = pool.get().await.map_err(|e| e.to_string())?;
        client
            .execute("SELECT pg_notify($1, '')", &[&&*channel])
            .await
            .map_err(|e| e.to_string())
    };
    if let Err(e) = sent.await {
        tracing::warn!(error = %e, "could not notify the workers of new jobs; they find them at their next poll");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::sync::Semaphore;

    #[tokio::test]
    async fn signals_during_a_send_are_folded_into_one_more_send() {
        let (tx, rx) = watch::channel(());
        let sends = Arc::new(AtomicUsize::new(0));
        // Each send waits for one permit: the test decides when it ends.
        let gate = Arc::new(Semaphore::new(0));
        let started = Arc::new(tokio::sync::Notify::new());
        let task = tokio::spawn({
            let (sends, gate, started) = (sends.clone(), gate.clone(), started.clone());
            coalesce(rx, move || {
                let (sends, gate, started) = (sends.clone(), gate.clone(), started.clone());
                async move {
                    sends.fetch_add(1, Ordering::SeqCst);
                    started.notify_one();
                    gate.acquire().await.expect("gate").forget();
                }
            })
        });
        tx.send_replace(());
        started.notified().await;
        assert_eq!(sends.load(Ordering::SeqCst), 1);
        for _ in 0..100 {
            tx.send_replace(());
        }
        gate.add_permits(1);
        started.notified().await;
        assert_eq!(sends.load(Ordering::SeqCst), 2, "100 signals, one more send");
        gate.add_permits(1);
        drop(tx);
        task.await.expect("ends when the sender is gone");
        assert_eq!(sends.load(Ordering::SeqCst), 2, "nothing left to send");
    }
}
