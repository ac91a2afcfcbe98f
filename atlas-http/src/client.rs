//! [`Connection`]: the two ends of the TCP connection a request came on,
//! recorded by [`crate::serve`] for every request: the peer address counts
//! failed logins (see `gate`), the local address is the base of `Location`
//! when `http.public_url` is not set (never the client's `Host` header).
//! [`NoDelay`]: the listener `serve` accepts on (`TCP_NODELAY` set).

use std::io;
use std::net::SocketAddr;

use axum::extract::connect_info::ConnectInfo;
use axum::http::request::Parts;
use axum::serve::Listener;
use tokio::net::TcpStream;

/// The addresses of a request's connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Connection {
    /// The client.
    pub(crate) peer: SocketAddr,
    /// This server's end, as the client reached it.
    pub(crate) local: SocketAddr,
}

/// A TCP listener whose connections have `TCP_NODELAY` set.
#[derive(Debug)]
pub(crate) struct NoDelay(pub(crate) tokio::net::TcpListener);

impl Listener for NoDelay {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        let (tcp, addr) = Listener::accept(&mut self.0).await;
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set");
        }
        (tcp, addr)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

impl Connection {
    /// The connection of a request served by [`crate::serve`] (`None` when
    /// the router is driven some other way, e.g. in-process).
    pub(crate) fn of(parts: &Parts) -> Option<Connection> {
        Self::in_extensions(&parts.extensions)
    }

    /// The connection recorded in a request's extensions.
    pub(crate) fn in_extensions(ext: &axum::http::Extensions) -> Option<Connection> {
        ext.get::<ConnectInfo<Connection>>().map(|c| c.0)
    }
}
