//! Plain HTTP/1.1 for the tests that start `atlas serve` and talk to it as
//! any client would: one request per connection (the request line, `Host`,
//! the caller's headers, `Content-Length`, `Connection: close`), the whole
//! answer read back. Shared by the test binaries as `mod raw_http;` (each
//! uses its own part of it).
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use base64::Engine as _;

/// Sends `method path` with `headers` (each `Name: value`) and `body` to
/// `addr`; answers the whole response (status line, headers, body).
pub fn request(addr: &str, method: &str, path: &str, headers: &[String], body: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\n");
    for h in headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// `GET path` without credentials; the whole response.
pub fn get(addr: &str, path: &str) -> String {
    request(addr, "GET", path, &[], "")
}

/// The `Authorization` header of Basic credentials.
pub fn basic(user: &str, password: &str) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Authorization: Basic {token}")
}

/// The status code of a whole response.
pub fn status(answer: &str) -> u16 {
    answer
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status in {answer}"))
}

/// The body of a whole response (empty when it has none).
pub fn body(answer: &str) -> &str {
    answer.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}
