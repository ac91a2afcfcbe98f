//! Header names on HTTP/1.1 as Eve's server wrote them: `Content-Type`,
//! `Last-Modified`, `ETag`, `WWW-Authenticate`, … (clients of the original
//! compare names case-sensitively). HTTP/2 stays lower case, as it must.
//!
//! hyper writes names in lower case, or title case with
//! `title_case_headers` (which [`crate::serve`] turns on). Title case gives
//! `Etag` and `Www-Authenticate`, so these two need their exact spelling.
//! hyper's only way to write a given spelling is its `preserve_header_case`
//! extension: the spellings it records from a request it parsed, which a
//! response may carry back ("forward the cases in a proxy-like fashion").
//! The extension's type is private to hyper, so [`eve_spellings`] has hyper
//! parse, once, an in-memory request whose header names are the spellings
//! wanted, and keeps that request's extensions; [`crate::serve`] copies them
//! into every response.

use std::convert::Infallible;

use axum::http::{Extensions, Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

/// The names whose title case differs from Eve's spelling.
const SPELLINGS: &[&str] = &["ETag", "WWW-Authenticate"];

/// Extensions carrying hyper's record of [`SPELLINGS`] (empty if hyper did
/// not record them; responses then use plain title case).
pub(crate) async fn eve_spellings() -> Extensions {
    match record().await {
        Ok(ext) => ext,
        Err(e) => {
            tracing::warn!(error = %e, "header spellings not recorded; ETag is sent as Etag");
            Extensions::new()
        }
    }
}

async fn record() -> std::io::Result<Extensions> {
    let (mut client, server) = tokio::io::duplex(1024);
    let (tx, rx) = oneshot::channel::<Extensions>();
    let tx = std::sync::Mutex::new(Some(tx));
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        if let Some(tx) = tx.lock().ok().and_then(|mut t| t.take()) {
            let _ = tx.send(req.extensions().clone());
        }
        async { Ok::<_, Infallible>(Response::new(http_body_util::Empty::<axum::body::Bytes>::new())) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .preserve_header_case(true)
        .serve_connection(TokioIo::new(server), service);
    let mut request = String::from("GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for name in SPELLINGS {
        request.push_str(name);
        request.push_str(": x\r\n");
    }
    request.push_str("\r\n");
    let talk = async {
        client.write_all(request.as_bytes()).await?;
        let mut sink = Vec::new();
        client.read_to_end(&mut sink).await?;
        Ok::<_, std::io::Error>(())
    };
    let (served, talked) = tokio::join!(conn, talk);
    talked?;
    served.map_err(std::io::Error::other)?;
    rx.await
        .map_err(|_| std::io::Error::other("the recording request was not served"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header;

    /// Serves one response carrying `ext` over an in-memory connection and
    /// returns the raw bytes written.
    async fn written_with(ext: Extensions) -> String {
        let (mut client, server) = tokio::io::duplex(4096);
        let service = hyper::service::service_fn(move |_req: Request<Incoming>| {
            let ext = ext.clone();
            async move {
                let mut res = Response::new(http_body_util::Full::new(axum::body::Bytes::from_static(b"{}")));
                res.headers_mut().insert(header::ETAG, "\"e\"".parse().unwrap());
                res.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, "Basic realm=\"eve\"".parse().unwrap());
                res.headers_mut()
                    .insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
                res.extensions_mut().extend(ext);
                Ok::<_, Infallible>(res)
            }
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .title_case_headers(true)
            .serve_connection(TokioIo::new(server), service);
        let talk = async {
            client
                .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .await
                .unwrap();
            let mut out = Vec::new();
            client.read_to_end(&mut out).await.unwrap();
            String::from_utf8(out).unwrap()
        };
        let (_, out) = tokio::join!(conn, talk);
        out
    }

    #[tokio::test]
    async fn recorded_spellings_give_etag_and_www_authenticate_as_eve_wrote_them() {
        let out = written_with(eve_spellings().await).await;
        assert!(out.contains("\r\nETag: \"e\"\r\n"), "{out}");
        assert!(out.contains("\r\nWWW-Authenticate: Basic"), "{out}");
        assert!(out.contains("\r\nContent-Type: application/json\r\n"), "{out}");
    }

    #[tokio::test]
    async fn title_case_alone_would_write_etag_as_etag() {
        let out = written_with(Extensions::new()).await;
        assert!(out.contains("\r\nEtag: "), "{out}");
    }
}
