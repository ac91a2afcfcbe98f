//! The request span: `request` with `method`, `route` (the matched
//! template, see [`crate::metering`]), `path`, and — filled in as the request
//! goes — `user` (once credentials are verified), `status` and
//! `duration_ms`; one `request finished` event closes it.

use std::time::Duration;

use axum::http::{Request, Response};
use tracing::field::Empty;
use tracing::Span;

/// Opens the span of a request (its `route` comes with [`record_route`],
/// once the caller made the label: a disabled span needs none).
pub(crate) fn make_span<B>(req: &Request<B>) -> Span {
    tracing::info_span!(
        "request",
        method = %req.method(),
        route = Empty,
        path = %req.uri().path(),
        user = Empty,
        status = Empty,
        duration_ms = Empty,
    )
}

/// Records the route label (see [`crate::metering`]) on the span.
pub(crate) fn record_route(span: &Span, route: &str) {
    span.record("route", tracing::field::display(route));
}

/// Records the answer on the request's span.
pub(crate) fn on_response<B>(res: &Response<B>, latency: Duration, span: &Span) {
    let status = res.status().as_u16();
    let ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
    span.record("status", status);
    span.record("duration_ms", ms);
    tracing::info!(parent: span, status, duration_ms = ms, "request finished");
}

/// Records the authenticated user on the current request's span.
pub(crate) fn record_user(user: &str) {
    Span::current().record("user", user);
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use axum::body::Body;

    use super::*;

    /// A writer keeping what the subscriber prints.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn request_span_carries_method_route_user_status_and_duration() {
        let buf = Buffer::default();
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let req = Request::builder()
                .method("PATCH")
                .uri("/instance/0123456789abcdef01234567?x=1")
                .body(Body::empty())
                .unwrap();
            let span = make_span(&req);
            record_route(&span, &crate::metering::route_label(&req));
            span.in_scope(|| record_user("alice"));
            let res = Response::builder().status(412).body(Body::empty()).unwrap();
            on_response(&res, Duration::from_millis(12), &span);
        });
        let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        for field in [
            "method=PATCH",
            "route=unmatched",
            "path=/instance/0123456789abcdef01234567",
            "user=\"alice\"",
            "status=412",
            "duration_ms=12",
            "request finished",
        ] {
            assert!(out.contains(field), "{field} not in {out}");
        }
    }
}
