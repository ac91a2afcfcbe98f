//! [`LenientTarget`]: lets a raw `"`, `<`, `>`, `` ` `` or space in a
//! request's URL through, as Eve did (`curl "$A/code?where={"a": 1}"`).
//!
//! hyper refuses those bytes in the request target with a bare 400 before
//! any application code runs, and offers no hook for its parse errors. So
//! the connection's bytes pass through this reader on their way to hyper,
//! and in each HTTP/1 request line those bytes of the target are
//! percent-encoded (`"` → `%22`, space → `%20`), which decodes to the same
//! query value.
//!
//! To find each request line on a kept-alive connection, the reader follows
//! the message framing by hyper's own rules: the head (parsed with
//! `httparse`, as hyper does), then `Content-Length` bytes or a chunked body
//! (sizes, extensions, trailers). Whatever it does not recognise with
//! certainty (a malformed head, conflicting lengths, `Transfer-Encoding` on
//! HTTP/1.0, `CONNECT`, `Upgrade`, the HTTP/2 preface, an over-long line)
//! switches it to passing bytes through untouched for the rest of the
//! connection, which is exactly what hyper saw before: the rewrite never
//! applies where the framing is in doubt.
//!
//! # Contracts
//! - Only request-target bytes are changed, only the five above, and only
//!   in an origin-form target (`/…`) of a well-formed `METHOD SP target SP
//!   HTTP/1.x` line. Every other byte reaches hyper unchanged and in order.
//! - Writes are not touched.

use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Longest request line held back while looking for its end (hyper refuses
/// targets from 64 KiB on); a longer one passes through untouched.
const MAX_LINE: usize = 70 * 1024;
/// Longest head followed (hyper's read buffer is about 400 KiB).
const MAX_HEAD: usize = 512 * 1024;
/// Headers a head may have (hyper's limit).
const MAX_HEADERS: usize = 100;

/// Whether `b` in a request target is one the rewrite encodes.
fn needs_encoding(b: u8) -> bool {
    matches!(b, b' ' | b'"' | b'<' | b'>' | b'`')
}

/// The request line with its target's offending bytes percent-encoded, or
/// `None` when `line` (without its line ending) is not a request line to
/// touch.
fn rewrite_line(line: &[u8]) -> Option<Vec<u8>> {
    let first = line.iter().position(|&b| b == b' ')?;
    let last = line.iter().rposition(|&b| b == b' ')?;
    let (method, version) = (&line[..first], &line[last + 1..]);
    let target = line.get(first + 1..last)?;
    let is_token = !method.is_empty() && method.iter().all(|b| b.is_ascii_alphabetic() || *b == b'-');
    if !is_token || !(version == b"HTTP/1.1" || version == b"HTTP/1.0") || !target.starts_with(b"/") {
        return None;
    }
    if !target.iter().copied().any(needs_encoding) {
        return None;
    }
    let mut out = Vec::with_capacity(line.len() + 16);
    out.extend_from_slice(method);
    out.push(b' ');
    for &b in target {
        if needs_encoding(b) {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        } else {
            out.push(b);
        }
    }
    out.push(b' ');
    out.extend_from_slice(version);
    Some(out)
}

/// The end of the head in `head` (just past its empty line), looking from
/// `from` on.
fn head_end(head: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(off) = head.get(i..)?.iter().position(|&b| b == b'\n') {
        let nl = i + off;
        match head.get(nl + 1..) {
            Some([b'\n', ..]) => return Some(nl + 2),
            Some([b'\r', b'\n', ..]) => return Some(nl + 3),
            _ => i = nl + 1,
        }
    }
    None
}

/// How the body after a head is framed.
#[derive(Debug, PartialEq, Eq)]
enum Framing {
    Length(u64),
    Chunked,
    /// Not followed: pass everything through from here on.
    Unknown,
}

/// hyper's request framing (RFC 9112 §6.3) for a parsed head.
fn framing(req: &httparse::Request<'_, '_>) -> Framing {
    let http11 = req.version == Some(1);
    if req.method.is_some_and(|m| m.eq_ignore_ascii_case("CONNECT")) {
        return Framing::Unknown;
    }
    let (mut te, mut chunked, mut len) = (false, false, None::<u64>);
    for h in req.headers.iter() {
        if h.name.eq_ignore_ascii_case("upgrade") {
            return Framing::Unknown;
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            if !http11 {
                return Framing::Unknown;
            }
            te = true;
            len = None;
            chunked = h
                .value
                .rsplit(|&b| b == b',')
                .next()
                .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if h.name.eq_ignore_ascii_case("content-length") && !te {
            let digits = h.value;
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return Framing::Unknown;
            }
            let Some(n) = std::str::from_utf8(digits)
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
            else {
                return Framing::Unknown;
            };
            if len.is_some_and(|prev| prev != n) {
                return Framing::Unknown;
            }
            len = Some(n);
        }
    }
    match (te, chunked) {
        (true, true) => Framing::Chunked,
        (true, false) => Framing::Unknown,
        _ => Framing::Length(len.unwrap_or(0)),
    }
}

/// Where in a chunked body the reader is (hyper's `ChunkedState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    Start,
    Size(u64),
    SizeLws(u64),
    Extension(u64),
    SizeLf(u64),
    Data(u64),
    DataCr,
    DataLf,
    EndCr,
    EndLf,
    Trailer,
    TrailerLf,
}

#[derive(Debug)]
enum State {
    /// Expecting a request line; its bytes so far (held back).
    Line(Vec<u8>),
    /// In a head; everything of it so far, request line included (already
    /// passed on).
    Head(Vec<u8>),
    /// Body bytes still to pass.
    Body(u64),
    /// In a chunked body.
    Chunked(Chunk),
    /// Not following the framing any more.
    Passthrough,
}

/// The byte-stream rewrite, without I/O.
#[derive(Debug)]
struct Rewriter {
    state: State,
}

impl Rewriter {
    fn new() -> Self {
        Self {
            state: State::Line(Vec::new()),
        }
    }

    /// Processes `input`, appending what hyper should read to `out`.
    fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        while !input.is_empty() {
            let used = match &mut self.state {
                State::Passthrough => {
                    out.extend_from_slice(input);
                    input.len()
                }
                State::Line(held) => {
                    let Some(nl) = input.iter().position(|&b| b == b'\n') else {
                        held.extend_from_slice(input);
                        if held.len() > MAX_LINE {
                            out.append(held);
                            self.state = State::Passthrough;
                        }
                        return;
                    };
                    held.extend_from_slice(&input[..=nl]);
                    let line = std::mem::take(held);
                    self.end_of_line(line, out);
                    nl + 1
                }
                State::Head(head) => {
                    let before = head.len();
                    head.extend_from_slice(input);
                    // Look for the empty line only in what is new (and the
                    // two bytes before it): each byte is scanned once.
                    let Some(end) = head_end(head, before.saturating_sub(2)) else {
                        out.extend_from_slice(input);
                        if head.len() > MAX_HEAD {
                            self.state = State::Passthrough;
                        }
                        return;
                    };
                    let used = end - before;
                    out.extend_from_slice(&input[..used]);
                    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
                    let mut req = httparse::Request::new(&mut headers);
                    self.state = match req.parse(&head[..end]) {
                        Ok(httparse::Status::Complete(n)) if n == end => match framing(&req) {
                            Framing::Length(0) => State::Line(Vec::new()),
                            Framing::Length(n) => State::Body(n),
                            Framing::Chunked => State::Chunked(Chunk::Start),
                            Framing::Unknown => State::Passthrough,
                        },
                        _ => State::Passthrough,
                    };
                    used
                }
                State::Body(left) => {
                    let n = usize::try_from(*left).unwrap_or(usize::MAX).min(input.len());
                    out.extend_from_slice(&input[..n]);
                    *left -= n as u64;
                    if *left == 0 {
                        self.state = State::Line(Vec::new());
                    }
                    n
                }
                State::Chunked(chunk) => {
                    let (used, next) = step_chunk(*chunk, input);
                    out.extend_from_slice(&input[..used]);
                    self.state = match next {
                        Some(Some(c)) => State::Chunked(c),
                        Some(None) => State::Line(Vec::new()),
                        None => State::Passthrough,
                    };
                    used
                }
            };
            input = &input[used..];
        }
    }

    /// A complete line (with its `\n`) in the request-line position.
    fn end_of_line(&mut self, line: Vec<u8>, out: &mut Vec<u8>) {
        let body = line.strip_suffix(b"\n").unwrap_or(&line);
        let (body, ending): (&[u8], &[u8]) = match body.strip_suffix(b"\r") {
            Some(b) => (b, b"\r\n"),
            None => (body, b"\n"),
        };
        if body.is_empty() {
            // hyper skips empty lines before a request.
            out.extend_from_slice(&line);
            return;
        }
        if body.starts_with(b"PRI ") {
            out.extend_from_slice(&line);
            self.state = State::Passthrough;
            return;
        }
        let request_line = match rewrite_line(body) {
            Some(mut fixed) => {
                fixed.extend_from_slice(ending);
                fixed
            }
            None => line,
        };
        out.extend_from_slice(&request_line);
        self.state = State::Head(request_line);
    }

    /// End of input: whatever was held back goes on unchanged.
    fn finish(&mut self, out: &mut Vec<u8>) {
        if let State::Line(held) = &mut self.state {
            out.append(held);
        }
        self.state = State::Passthrough;
    }
}

/// One step of hyper's chunked decoder over `input`: the bytes consumed and
/// the next state (`Some(None)`: the body ended; `None`: hyper would refuse
/// it, stop following).
fn step_chunk(state: Chunk, input: &[u8]) -> (usize, Option<Option<Chunk>>) {
    fn hex(b: u8) -> Option<u64> {
        (b as char).to_digit(16).map(u64::from)
    }
    fn grow(size: u64, b: u8) -> Option<Chunk> {
        let d = hex(b)?;
        size.checked_mul(16)?.checked_add(d).map(Chunk::Size)
    }
    if let Chunk::Data(left) = state {
        let n = usize::try_from(left).unwrap_or(usize::MAX).min(input.len());
        let left = left - n as u64;
        return (
            n,
            Some(Some(if left == 0 {
                Chunk::DataCr
            } else {
                Chunk::Data(left)
            })),
        );
    }
    let b = input[0];
    let next = match (state, b) {
        (Chunk::Start, _) => grow(0, b).map(Some),
        (Chunk::Size(s), b'\t' | b' ') => Some(Some(Chunk::SizeLws(s))),
        (Chunk::Size(s) | Chunk::SizeLws(s), b';') => Some(Some(Chunk::Extension(s))),
        (Chunk::Size(s) | Chunk::SizeLws(s) | Chunk::Extension(s), b'\r') => Some(Some(Chunk::SizeLf(s))),
        (Chunk::Size(s), _) => grow(s, b).map(Some),
        (Chunk::SizeLws(s), b'\t' | b' ') => Some(Some(Chunk::SizeLws(s))),
        (Chunk::Extension(_), b'\n') => None,
        (Chunk::Extension(s), _) => Some(Some(Chunk::Extension(s))),
        (Chunk::SizeLf(0), b'\n') => Some(Some(Chunk::EndCr)),
        (Chunk::SizeLf(s), b'\n') => Some(Some(Chunk::Data(s))),
        (Chunk::DataCr, b'\r') => Some(Some(Chunk::DataLf)),
        (Chunk::DataLf, b'\n') => Some(Some(Chunk::Start)),
        (Chunk::EndCr, b'\r') => Some(Some(Chunk::EndLf)),
        (Chunk::Trailer, b'\r') => Some(Some(Chunk::TrailerLf)),
        (Chunk::EndCr | Chunk::Trailer, _) => Some(Some(Chunk::Trailer)),
        (Chunk::TrailerLf, b'\n') => Some(Some(Chunk::EndCr)),
        (Chunk::EndLf, b'\n') => Some(None),
        _ => None,
    };
    (1, next)
}

/// A connection whose request lines are rewritten as the module says.
#[derive(Debug)]
pub(crate) struct LenientTarget<T> {
    inner: T,
    rewriter: Rewriter,
    /// Rewritten bytes not yet read by hyper, from `ready_at` on.
    ready: Vec<u8>,
    ready_at: usize,
    eof: bool,
}

impl<T> LenientTarget<T> {
    /// Wraps `inner`.
    pub(crate) fn new(inner: T) -> Self {
        Self {
            inner,
            rewriter: Rewriter::new(),
            ready: Vec::new(),
            ready_at: 0,
            eof: false,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for LenientTarget<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if this.ready_at < this.ready.len() {
                let n = (this.ready.len() - this.ready_at).min(buf.remaining());
                buf.put_slice(&this.ready[this.ready_at..this.ready_at + n]);
                this.ready_at += n;
                if this.ready_at == this.ready.len() {
                    this.ready.clear();
                    this.ready_at = 0;
                }
                return Poll::Ready(Ok(()));
            }
            if this.eof {
                return Poll::Ready(Ok(()));
            }
            // Uninitialised: the inner reader writes what it fills and
            // `ReadBuf` tracks it, so the 8 KiB are not zeroed on every
            // read (that was an eighth of the instructions of a GET).
            let mut raw = [MaybeUninit::<u8>::uninit(); 8192];
            let mut raw_buf = ReadBuf::uninit(&mut raw);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut raw_buf))?;
            let got = raw_buf.filled();
            if got.is_empty() {
                this.eof = true;
                this.rewriter.finish(&mut this.ready);
            } else {
                this.rewriter.feed(got, &mut this.ready);
            }
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for LenientTarget<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in pieces of `step` bytes, then ends it.
    fn run(input: &[u8], step: usize) -> String {
        let mut r = Rewriter::new();
        let mut out = Vec::new();
        for piece in input.chunks(step) {
            r.feed(piece, &mut out);
        }
        r.finish(&mut out);
        String::from_utf8(out).unwrap()
    }

    fn every_split(input: &str, expected: &str) {
        for step in 1..=input.len() {
            assert_eq!(run(input.as_bytes(), step), expected, "pieces of {step}");
        }
    }

    #[test]
    fn quotes_spaces_and_angle_brackets_in_a_target_are_percent_encoded() {
        every_split(
            "GET /code?where={\"a\": \"<b>`\"} HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /code?where={%22a%22:%20%22%3Cb%3E%60%22} HTTP/1.1\r\nHost: x\r\n\r\n",
        );
    }

    #[test]
    fn clean_requests_pass_unchanged() {
        let input = "GET /code?where=%7B%7D HTTP/1.1\r\nHost: x\r\n\r\nPOST /code HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}";
        every_split(input, input);
    }

    #[test]
    fn the_next_request_after_a_sized_body_is_rewritten_but_the_body_is_not() {
        every_split(
            "POST /code HTTP/1.1\r\nContent-Length: 17\r\n\r\nGET /\"x\" HTTP/1.1GET /\"y\" HTTP/1.1\r\n\r\n",
            "POST /code HTTP/1.1\r\nContent-Length: 17\r\n\r\nGET /\"x\" HTTP/1.1GET /%22y%22 HTTP/1.1\r\n\r\n",
        );
    }

    #[test]
    fn chunked_bodies_with_extensions_and_trailers_are_followed() {
        every_split(
            "POST /c HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5;x=1\r\nGET /\r\n0\r\nT: \"v\"\r\n\r\nGET /\"z\" HTTP/1.1\r\n\r\n",
            "POST /c HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5;x=1\r\nGET /\r\n0\r\nT: \"v\"\r\n\r\nGET /%22z%22 HTTP/1.1\r\n\r\n",
        );
    }

    #[test]
    fn doubtful_framing_stops_the_rewrite_for_the_connection() {
        for head in [
            "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
            "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\n",
            "GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n",
            "CONNECT /x HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1\r\nBad Header\r\n\r\n",
        ] {
            let input = format!("{head}GET /\"a\" HTTP/1.1\r\n\r\n");
            every_split(&input, &input);
        }
    }

    #[test]
    fn the_http2_preface_and_malformed_lines_are_left_alone() {
        let preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\nGET /\"a\" HTTP/1.1\r\n";
        every_split(preface, preface);
        for line in [
            "GET \"a\" HTTP/1.1\r\n\r\n",
            "G\"T /\"a\" HTTP/1.1\r\n\r\n",
            "GET /\"a\" HTTP/2\r\n\r\n",
        ] {
            every_split(line, line);
        }
    }

    #[test]
    fn empty_lines_before_a_request_and_bare_line_feeds_are_kept() {
        every_split("\r\n\nGET /\"a\" HTTP/1.1\n\n", "\r\n\nGET /%22a%22 HTTP/1.1\n\n");
    }

    #[test]
    fn an_unfinished_line_is_passed_on_at_the_end() {
        every_split("GET /\"a\" HTT", "GET /\"a\" HTT");
    }
}
