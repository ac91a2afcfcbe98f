//! [`serve`]: the accept loop. Each connection gets `TCP_NODELAY`, the
//! lenient request-target reader (`request_target`), hyper's HTTP/1 with
//! title-case header names and Eve's spellings of `ETag` and
//! `WWW-Authenticate` (`header_case`), and its addresses as
//! [`Connection`] in every request. On shutdown it stops accepting, lets
//! every connection finish its in-flight requests, and returns.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::pin;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Extensions, Request};
use axum::serve::Listener;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use tokio::sync::watch;
use tower::ServiceExt as _;

use crate::client::{Connection, NoDelay};
use crate::request_target::LenientTarget;
use crate::{header_case, router, AppState};

/// Serves [`router`] on `listener` until `shutdown` completes; then stops
/// accepting connections and returns once in-flight requests have been
/// answered.
///
/// # Errors
/// None today (accept errors are logged and retried); the `Result` keeps
/// the signature of a server that may fail to start.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    serve_router(listener, router(state), shutdown).await
}

/// Serves `app` as [`serve`] serves the API: for the API with more routes
/// in front of it (`atlas serve` puts the dashboard of `atlas-ui` under
/// `/ui/`, falling back to [`router`] for everything else).
///
/// # Errors
/// As [`serve`].
pub async fn serve_router(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let mut listener = NoDelay(listener);
    let spellings = header_case::eve_spellings().await;
    let (stop_tx, stop_rx) = watch::channel(());
    tokio::spawn(async move {
        shutdown.await;
        drop(stop_rx);
    });
    // Every connection task holds a receiver; all dropped = all finished.
    let (done_tx, done_rx) = watch::channel(());
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = stop_tx.closed() => break,
        };
        let local = tcp.local_addr().unwrap_or(peer);
        let info = ConnectInfo(Connection { peer, local });
        let io = TokioIo::new(LenientTarget::new(tcp));
        let (app, spellings, stop_tx, done_rx) =
            (app.clone(), spellings.clone(), stop_tx.clone(), done_rx.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                call(app.clone(), info, spellings.clone(), req)
            });
            let mut builder = Builder::new(TokioExecutor::new());
            builder.http1().title_case_headers(true);
            let mut conn = pin!(builder.serve_connection(io, service));
            let mut stopping = pin!(stop_tx.closed());
            let mut asked = false;
            loop {
                tokio::select! {
                    result = conn.as_mut() => {
                        if let Err(e) = result {
                            tracing::trace!(error = %e, "connection ended with an error");
                        }
                        break;
                    }
                    () = &mut stopping, if !asked => {
                        asked = true;
                        conn.as_mut().graceful_shutdown();
                    }
                }
            }
            drop(done_rx);
        });
    }
    drop(done_rx);
    drop(listener);
    done_tx.closed().await;
    Ok(())
}

/// One request through the router, with the connection's addresses in, and
/// the header spellings on the response.
async fn call(
    app: Router,
    info: ConnectInfo<Connection>,
    spellings: Extensions,
    req: Request<Incoming>,
) -> Result<axum::response::Response, Infallible> {
    let mut req = req.map(Body::new);
    req.extensions_mut().insert(info);
    let mut res = app.oneshot(req).await?;
    res.extensions_mut().extend(spellings);
    Ok(res)
}
