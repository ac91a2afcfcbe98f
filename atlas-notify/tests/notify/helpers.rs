//! Real local receivers for the notifiers: [`WebhookReceiver`], a hyper
//! server on `127.0.0.1:0` keeping every POST it gets, and [`SmtpSink`], a
//! tiny SMTP server (greeting, EHLO/HELO, AUTH PLAIN, MAIL, RCPT, DATA,
//! RSET, NOOP, QUIT) keeping every message it accepts. Both are bound
//! before their task starts, so no test sleeps.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use atlas_notify::{EmailConfig, SlackConfig, SmtpTls};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One POST the webhook receiver got.
#[derive(Debug, Clone)]
pub struct Post {
    /// Request path.
    pub path: String,
    /// `Content-Type` header.
    pub content_type: String,
    /// The body, parsed as JSON.
    pub json: Value,
}

/// A hyper server capturing webhook POSTs.
pub struct WebhookReceiver {
    /// Where it listens.
    pub addr: SocketAddr,
    posts: Arc<Mutex<Vec<Post>>>,
}

impl WebhookReceiver {
    /// Starts a receiver answering `200 ok`.
    pub async fn start() -> Self {
        Self::answering(StatusCode::OK, "ok").await
    }

    /// Starts a receiver answering every POST with `status` and `body`.
    pub async fn answering(status: StatusCode, body: &'static str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let posts = Arc::new(Mutex::new(Vec::new()));
        let keep = posts.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let keep = keep.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req: Request<Incoming>| {
                        let keep = keep.clone();
                        async move {
                            let path = req.uri().path().to_owned();
                            let content_type = req
                                .headers()
                                .get("content-type")
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("")
                                .to_owned();
                            let bytes = req.into_body().collect().await.unwrap().to_bytes();
                            let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                            keep.lock().unwrap().push(Post {
                                path,
                                content_type,
                                json,
                            });
                            let mut res = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
                            *res.status_mut() = status;
                            Ok::<_, Infallible>(res)
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Self { addr, posts }
    }

    /// The webhook URL (`/services/T000/B000/XXXX` on this receiver).
    pub fn url(&self) -> String {
        format!("http://{}/services/T000/B000/XXXX", self.addr)
    }

    /// Slack settings pointing at this receiver.
    pub fn slack_config(&self) -> SlackConfig {
        SlackConfig {
            webhook_url: self.url(),
            ..SlackConfig::default()
        }
    }

    /// The POSTs so far.
    pub fn posts(&self) -> Vec<Post> {
        self.posts.lock().unwrap().clone()
    }
}

/// One message the SMTP sink accepted.
#[derive(Debug, Clone, Default)]
pub struct Mail {
    /// `MAIL FROM` address.
    pub from: String,
    /// `RCPT TO` addresses.
    pub to: Vec<String>,
    /// Decoded `AUTH PLAIN` credentials, if the client authenticated.
    pub auth: Option<(String, String)>,
    /// The message as sent after `DATA` (dot-stuffing removed).
    pub data: String,
}

impl Mail {
    /// The header block and body, split at the first blank line.
    fn parts(&self) -> (&str, &str) {
        self.data
            .split_once("\r\n\r\n")
            .unwrap_or((self.data.as_str(), ""))
    }

    /// A header's value (continuation lines unfolded), by case-insensitive
    /// name.
    pub fn header(&self, name: &str) -> Option<String> {
        let (headers, _) = self.parts();
        let mut unfolded: Vec<String> = Vec::new();
        for line in headers.split("\r\n") {
            if line.starts_with(' ') || line.starts_with('\t') {
                if let Some(last) = unfolded.last_mut() {
                    last.push_str(line);
                }
            } else {
                unfolded.push(line.to_owned());
            }
        }
        unfolded.into_iter().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }

    /// The body, decoded from its transfer encoding (7bit, 8bit or
    /// quoted-printable), with `\n` line ends.
    pub fn body(&self) -> String {
        let (_, body) = self.parts();
        let encoding = self
            .header("Content-Transfer-Encoding")
            .unwrap_or_else(|| "7bit".into())
            .to_ascii_lowercase();
        let text = match encoding.as_str() {
            "quoted-printable" => decode_quoted_printable(body),
            "7bit" | "8bit" => body.to_owned(),
            other => panic!("unexpected transfer encoding {other}"),
        };
        text.replace("\r\n", "\n")
    }
}

fn decode_quoted_printable(s: &str) -> String {
    let joined = s.replace("=\r\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
            if let Ok(b) = u8::from_str_radix(hex, 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// A minimal SMTP server keeping the messages it accepts.
pub struct SmtpSink {
    /// Where it listens.
    pub addr: SocketAddr,
    mails: Arc<Mutex<Vec<Mail>>>,
}

impl SmtpSink {
    /// Starts a sink that advertises `AUTH PLAIN` and accepts any
    /// credentials.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let keep = mails.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(session(stream, keep.clone()));
            }
        });
        Self { addr, mails }
    }

    /// E-mail settings pointing at this sink (no TLS, no auth), sending to
    /// `to`.
    pub fn email_config(&self, to: &[&str]) -> EmailConfig {
        EmailConfig {
            smtp_host: "127.0.0.1".into(),
            smtp_port: self.addr.port(),
            tls: SmtpTls::None,
            from: "Atlas <atlas@example.edu>".into(),
            to: to.iter().map(|s| (*s).to_owned()).collect(),
            timeout_secs: 5,
            ..EmailConfig::default()
        }
    }

    /// The messages accepted so far.
    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }
}

/// `<addr>` out of `MAIL FROM:<addr> …` / `RCPT TO:<addr>`.
fn angle_addr(arg: &str) -> String {
    let start = arg.find('<').map_or(0, |i| i + 1);
    let end = arg[start..].find('>').map_or(arg.len(), |i| start + i);
    arg[start..end].to_owned()
}

fn decode_plain(b64: &str) -> Option<(String, String)> {
    use base64_lite::decode;
    let raw = decode(b64.trim())?;
    let mut parts = raw.split(|b| *b == 0);
    let _authzid = parts.next()?;
    let user = String::from_utf8(parts.next()?.to_vec()).ok()?;
    let pass = String::from_utf8(parts.next()?.to_vec()).ok()?;
    Some((user, pass))
}

fn reply(w: &'static str) -> Vec<u8> {
    w.as_bytes().to_vec()
}

async fn session(stream: tokio::net::TcpStream, keep: Arc<Mutex<Vec<Mail>>>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    if write
        .write_all(&reply("220 sink.test ESMTP ready\r\n"))
        .await
        .is_err()
    {
        return;
    }
    let mut mail = Mail::default();
    let mut auth = None;
    loop {
        let mut line = String::new();
        match lines.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let line = line.trim_end_matches(['\r', '\n']).to_owned();
        let verb = line.split(' ').next().unwrap_or("").to_ascii_uppercase();
        let answer: Vec<u8> = match verb.as_str() {
            "EHLO" => reply("250-sink.test\r\n250-AUTH PLAIN\r\n250-8BITMIME\r\n250 SIZE 10485760\r\n"),
            "HELO" => reply("250 sink.test\r\n"),
            "AUTH" => {
                let mut args = line.split(' ').skip(1);
                let mech = args.next().unwrap_or("").to_ascii_uppercase();
                let initial = args.next().map(str::to_owned);
                if mech != "PLAIN" {
                    reply("504 mechanism not supported\r\n")
                } else {
                    let response = match initial {
                        Some(r) => r,
                        None => {
                            if write.write_all(b"334 \r\n").await.is_err() {
                                return;
                            }
                            let mut r = String::new();
                            if lines.read_line(&mut r).await.is_err() {
                                return;
                            }
                            r.trim().to_owned()
                        }
                    };
                    auth = decode_plain(&response);
                    if auth.is_some() {
                        reply("235 2.7.0 authenticated\r\n")
                    } else {
                        reply("535 bad credentials\r\n")
                    }
                }
            }
            "MAIL" => {
                mail = Mail {
                    from: angle_addr(&line),
                    auth: auth.clone(),
                    ..Mail::default()
                };
                reply("250 2.1.0 ok\r\n")
            }
            "RCPT" => {
                mail.to.push(angle_addr(&line));
                reply("250 2.1.5 ok\r\n")
            }
            "DATA" => {
                if write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await.is_err() {
                    return;
                }
                let mut data = String::new();
                loop {
                    let mut l = String::new();
                    match lines.read_line(&mut l).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                    if l == ".\r\n" || l == ".\n" {
                        break;
                    }
                    let l = l.strip_prefix('.').unwrap_or(&l);
                    data.push_str(l);
                }
                // The CRLF before the final "." belongs to the terminator.
                if data.ends_with("\r\n") {
                    data.truncate(data.len() - 2);
                }
                mail.data = data;
                keep.lock().unwrap().push(std::mem::take(&mut mail));
                reply("250 2.0.0 queued\r\n")
            }
            "RSET" => {
                mail = Mail::default();
                reply("250 ok\r\n")
            }
            "NOOP" => reply("250 ok\r\n"),
            "QUIT" => {
                let _ = write.write_all(b"221 bye\r\n").await;
                return;
            }
            _ => reply("502 command not implemented\r\n"),
        };
        if write.write_all(&answer).await.is_err() {
            return;
        }
    }
}

/// Standard base64 decoding, enough for `AUTH PLAIN`.
mod base64_lite {
    pub(super) fn decode(s: &str) -> Option<Vec<u8>> {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = Vec::new();
        let mut buf = 0u32;
        let mut bits = 0;
        for c in s.bytes().filter(|c| *c != b'=') {
            let v = ALPHABET.iter().position(|a| *a == c)? as u32;
            buf = (buf << 6) | v;
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                out.push((buf >> bits) as u8);
                buf &= (1 << bits) - 1;
            }
        }
        Some(out)
    }
}
