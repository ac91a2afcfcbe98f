//! Waking idle workers: [`JobListener`] keeps a dedicated connection in
//! `LISTEN` on the store's channel and calls its callback for each notification, so a
//! worker on any node starts on a job as soon as the transaction that
//! enqueued (or requeued) it commits, instead of at its next poll. A lost
//! connection is reopened after a second; polling covers the gap.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::task::JoinHandle;
use tokio_postgres::{AsyncMessage, Client, Connection, NoTls};

use crate::config::PgConfig;
use crate::error::Result;
use crate::tls::Connector;

/// A running listener; stops when dropped.
#[derive(Debug)]
pub struct JobListener {
    task: JoinHandle<()>,
}

impl Drop for JobListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl JobListener {
    /// Listens with `config`, calling `wake` on every notification (and
    /// once after each reconnect, for what was missed meanwhile).
    pub(crate) fn start(config: &PgConfig, wake: Arc<dyn Fn() + Send + Sync>) -> Result<Self> {
        let cfg = config.driver()?;
        let connector = config.connector()?;
        let channel = config.channel();
        let task = tokio::spawn(async move {
            loop {
                if let Err(e) = listen_once(&cfg, &connector, &channel, &wake).await {
                    tracing::warn!(error = %e, "job notifications lost; reconnecting in 1 s");
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        Ok(Self { task })
    }
}

async fn listen_once(
    cfg: &tokio_postgres::Config,
    connector: &Connector,
    channel: &str,
    wake: &Arc<dyn Fn() + Send + Sync>,
) -> Result<()> {
    match connector {
        Connector::Plain => {
            let (client, conn) = cfg.connect(NoTls).await?;
            listen_on(client, conn, channel, wake).await
        }
        Connector::Tls(tls) => {
            let (client, conn) = cfg.connect(tls.clone()).await?;
            listen_on(client, conn, channel, wake).await
        }
    }
}

/// Subscribes on `client` and wakes on each notification until the
/// connection ends.
async fn listen_on<S, T>(
    client: Client,
    mut conn: Connection<S, T>,
    channel: &str,
    wake: &Arc<dyn Fn() + Send + Sync>,
) -> Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
    T: AsyncRead + AsyncWrite + Unpin,
{
    let mut messages = futures::stream::poll_fn(move |cx| conn.poll_message(cx));
    let listen = format!("LISTEN {channel}");
    let subscribe = client.batch_execute(&listen);
    tokio::pin!(subscribe);
    // Drive the connection while the LISTEN runs.
    loop {
        tokio::select! {
            r = &mut subscribe => { r?; break; }
            m = messages.next() => match m {
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
                None => return Ok(()),
            },
        }
    }
    wake();
    while let Some(m) = messages.next().await {
        if let AsyncMessage::Notification(_) = m? {
            wake();
        }
    }
    Ok(())
}
